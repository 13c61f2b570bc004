// The live thread page: one websocket to /ws/chat/, subscribed to this thread from the cursor
// the page was rendered at. Events are applied by message id, so one that is already on the
// page (it was in the snapshot, or arrives again after a reconnect) replaces itself instead of
// appearing twice. The connection comes back with exponential backoff and jitter and resumes
// from the last cursor; the server replays what was missed or asks for a reload (`resync`).
//
// Everything shown comes from the server's `html` field (escaped or sanitised there) or is set
// as text; nothing the user or another sender wrote is put into innerHTML here.
import { renderMessage } from "./chat-render.js";

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10000;
// After this many failed attempts in a row the page says "offline" rather than "reconnecting".
const OFFLINE_AFTER = 4;
// Without an answer to a send for this long, the message is shown as failed (retry is safe:
// it reuses the client id, and the server sends each client id once).
const SEND_TIMEOUT_MS = 20000;
// ACS allows five typing notifications per user and thread per 10 s.
const TYPING_EVERY_MS = 8000;
const TYPING_SHOWN_MS = 6000;
// ACS allows ten read receipts per user and thread per 10 s; one per 2 s is plenty.
const READ_EVERY_MS = 2000;

function nameList(names, and) {
  if (names.length < 2) return names.join("");
  return `${names.slice(0, -1).join(", ")} ${and} ${names[names.length - 1]}`;
}

const idNumber = (id) => (id && /^\d+$/.test(id) ? Number(id) : 0);

export function startLive(section, { localiseTimes, enhanceConfirms, csrfToken, post }) {
  const config = JSON.parse(document.getElementById(section.dataset.live).textContent);
  const strings = config.strings;
  const threadId = section.dataset.thread;
  const scroller = section.querySelector("[data-scroll-bottom]");
  const list = section.querySelector("[data-messages]");
  const statusEl = section.querySelector("[data-status]");
  const statusText = section.querySelector("[data-status-text]");
  const removedEl = section.querySelector("[data-removed]");
  const typingEl = section.querySelector("[data-typing]");
  const composer = section.querySelector("[data-composer]");
  const textarea = composer?.querySelector("textarea");
  const format = composer?.querySelector("select[name=format]");
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.socket}`;

  let cursor = config.cursor;
  let socket = null;
  let subscribed = false;
  let attempt = 0;
  let retryTimer = null;
  let stopped = false;
  const pending = new Map(); // client id -> {content, format, item, timer, state}
  const receipts = new Map((config.receipts || []).map((r) => [r.reader, r]));
  const typists = new Map(); // raw id -> {name, timer}
  let lastTyping = 0;
  let myRead = idNumber(config.myRead);
  let readTimer = null;
  let readWanted = 0;

  // --- Connection status -----------------------------------------------------------------------

  function setStatus(state, text) {
    statusEl.hidden = false;
    statusEl.dataset.status = state;
    statusText.textContent = text ?? strings[state] ?? "";
  }

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    retryTimer = null;
    if (stopped) return;
    subscribed = false;
    const ws = new WebSocket(url);
    socket = ws;
    ws.addEventListener("open", () => {
      send({ action: "subscribe", thread: threadId, cursor });
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      handle(frame);
    });
    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      socket = null;
      subscribed = false;
      if (stopped) return;
      if (event.code === 4401) {
        stop();
        setStatus("offline", strings.signedOut);
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (retryTimer || stopped) return;
    attempt += 1;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
    // "Equal jitter": never sooner than half the ceiling, so retries stay spread out.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    setStatus(attempt >= OFFLINE_AFTER || !navigator.onLine ? "offline" : "reconnecting");
    retryTimer = setTimeout(connect, delay);
  }

  function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    if (socket) socket.close();
    socket = null;
    for (const entry of pending.values()) markFailed(entry, "");
  }

  window.addEventListener("online", () => {
    if (!socket && !stopped) { clearTimeout(retryTimer); retryTimer = null; connect(); }
  });
  window.addEventListener("offline", () => { if (!subscribed) setStatus("offline"); });

  // --- Frames from the server ------------------------------------------------------------------

  function handle(frame) {
    if (frame.thread !== undefined && frame.thread !== threadId) return;
    switch (frame.type) {
      case "subscribed":
        subscribed = true;
        attempt = 0;
        if (frame.cursor > cursor) cursor = frame.cursor;
        setStatus("connected");
        for (const entry of pending.values()) if (entry.state === "pending") transmit(entry);
        flushRead();
        break;
      case "event":
        if (frame.cursor <= cursor) return;
        cursor = frame.cursor;
        apply(frame.kind, frame.data);
        break;
      case "typing":
        showTyping(frame.user, frame.name);
        break;
      case "resync":
        stopped = true;
        location.reload();
        break;
      case "removed":
        stop();
        section.dataset.removed = "1";
        removedEl.textContent = strings.removed;
        removedEl.hidden = false;
        statusEl.hidden = true;
        if (composer) for (const field of composer.elements) field.disabled = true;
        break;
      case "ack":
        acknowledged(frame);
        break;
      default:
        break;
    }
  }

  // --- Applying events -------------------------------------------------------------------------

  function atBottom() {
    return !scroller || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function messageList() {
    if (list.hidden) list.hidden = false;
    section.querySelector(".chat-empty")?.remove();
    return list;
  }

  function place(node, id) {
    const target = messageList();
    const number = idNumber(id);
    const items = [...target.querySelectorAll(":scope > li[data-message-id]")];
    const after = items.reverse().find((li) => idNumber(li.dataset.messageId) <= number);
    if (after) after.after(node);
    else if (items.length) target.prepend(node);
    else target.append(node);
    // Messages still on their way stay last.
    for (const entry of pending.values()) if (entry.item.isConnected) target.append(entry.item);
  }

  function showMessage(data, added) {
    const existing = document.getElementById(`m-${data.id}`)
      || (data.clientId && pending.get(data.clientId)?.item);
    if (!existing && !added) return; // an edit or deletion of a message this page does not show
    if (!existing && section.querySelector("[data-load-older]")) {
      const first = list.querySelector(":scope > li[data-message-id]");
      // Older than everything shown while older pages exist: it belongs to a page not loaded.
      if (first && idNumber(data.id) < idNumber(first.dataset.messageId)) return;
    }
    const follow = atBottom();
    const node = renderMessage(data, strings, csrfToken());
    if (existing) existing.replaceWith(node);
    else place(node, data.id);
    if (data.clientId && pending.has(data.clientId)) {
      clearTimeout(pending.get(data.clientId).timer);
      pending.delete(data.clientId);
    }
    localiseTimes(node);
    enhanceConfirms(node);
    observeRead(node);
    if (follow && scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  function apply(kind, data) {
    switch (kind) {
      case "message.added":
        showMessage(data, true);
        if (data.sender) typingStopped(data.sender.rawId);
        updateSeen();
        break;
      case "message.edited":
      case "message.deleted":
        showMessage(data, false);
        updateSeen();
        break;
      case "receipt":
        if (!data.me) {
          receipts.set(data.reader, { reader: data.reader, name: data.name, messageId: data.messageId });
          updateSeen();
        }
        break;
      case "topic.changed":
        for (const el of section.querySelectorAll("[data-topic]")) el.textContent = data.topic;
        document.title = data.topic;
        break;
      case "participants.added":
      case "participants.removed":
        updatePeople(kind, data.participants);
        break;
      default:
        break;
    }
  }

  const people = new Map((config.participants || []).map((p) => [p.rawId, p.name]));

  function updatePeople(kind, participants) {
    for (const p of participants) {
      if (kind === "participants.added") people.set(p.rawId, p.name);
      else { people.delete(p.rawId); receipts.delete(p.rawId); }
    }
    const line = section.querySelector("[data-people]");
    if (line) line.textContent = [...people.values()].sort((a, b) => a.localeCompare(b)).join(", ");
    updateSeen();
  }

  // "Seen by" goes under the newest shown message each reader has read (not their own), as
  // chat.rendering.add_seen_by does on the server.
  function updateSeen() {
    for (const el of list.querySelectorAll(".msg__seen")) el.remove();
    const shown = [...list.querySelectorAll(":scope > li[data-message-id]")].filter(
      (li) => !li.classList.contains("msg--system") && !li.classList.contains("msg--deleted"),
    );
    const names = new Map();
    for (const r of [...receipts.values()].sort((a, b) => (a.reader < b.reader ? -1 : 1))) {
      const last = idNumber(r.messageId);
      const seen = shown.filter(
        (li) => idNumber(li.dataset.messageId) <= last && li.dataset.sender !== r.reader,
      );
      const item = seen[seen.length - 1];
      if (!item) continue;
      if (!names.has(item)) names.set(item, []);
      names.get(item).push(r.name);
    }
    for (const [item, readers] of names) {
      const line = document.createElement("p");
      line.className = "msg__seen";
      line.textContent = strings.seenBy.replace("%(names)s", nameList(readers, strings.and));
      item.append(line);
    }
  }

  // --- Typing ----------------------------------------------------------------------------------

  function renderTyping() {
    const names = [...typists.values()].map((t) => t.name);
    typingEl.textContent = names.length
      ? strings.typing.replace("%(names)s", nameList(names, strings.and))
      : "";
  }

  function showTyping(user, name) {
    clearTimeout(typists.get(user)?.timer);
    typists.set(user, { name, timer: setTimeout(() => typingStopped(user), TYPING_SHOWN_MS) });
    renderTyping();
  }

  function typingStopped(user) {
    if (!typists.has(user)) return;
    clearTimeout(typists.get(user).timer);
    typists.delete(user);
    renderTyping();
  }

  // --- Sending ---------------------------------------------------------------------------------

  function pendingItem(entry) {
    const item = document.createElement("li");
    item.className = "msg msg--mine msg--pending";
    item.dataset.pending = "1";
    item.dataset.clientId = entry.clientId;
    const bubble = document.createElement("div");
    bubble.className = "msg__bubble";
    const body = document.createElement("div");
    body.className = "msg__body";
    const text = document.createElement("p");
    text.textContent = entry.content; // the user's own input, shown as text until sent
    body.append(text);
    bubble.append(body);
    const state = document.createElement("p");
    state.className = "msg__state";
    state.dataset.state = "";
    item.append(bubble, state);
    return item;
  }

  function setItemState(entry, label, error) {
    const state = entry.item.querySelector(".msg__state");
    state.replaceChildren();
    const words = document.createElement("span");
    words.textContent = error ? `${label} ${error}` : label;
    state.append(words);
    if (entry.state === "failed") {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "chat-link-button";
      retry.dataset.retry = "";
      retry.textContent = strings.retry;
      retry.addEventListener("click", () => {
        entry.state = "pending";
        entry.item.classList.replace("msg--failed", "msg--pending");
        setItemState(entry, strings.sending);
        transmit(entry);
      });
      state.append(retry);
    }
  }

  function markFailed(entry, error) {
    clearTimeout(entry.timer);
    if (!entry.item.isConnected || entry.state === "sent") return;
    entry.state = "failed";
    entry.item.classList.remove("msg--pending");
    entry.item.classList.add("msg--failed");
    setItemState(entry, strings.failed, error);
  }

  function transmit(entry) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => markFailed(entry, ""), SEND_TIMEOUT_MS);
    if (!subscribed) return; // sent again when the connection is back (same client id)
    send({
      action: "send",
      thread: threadId,
      request: entry.clientId,
      clientId: entry.clientId,
      content: entry.content,
      format: entry.format,
    });
  }

  function acknowledged(frame) {
    const entry = pending.get(frame.request);
    if (!entry) return;
    if (!frame.ok) {
      if (frame.status === 409) return; // the same send is still in progress elsewhere
      markFailed(entry, frame.error || "");
      return;
    }
    clearTimeout(entry.timer);
    entry.state = "sent";
    // The message event replaces the item; until then it waits under its real id.
    const id = frame.result.id;
    if (document.getElementById(`m-${id}`)) {
      entry.item.remove();
      pending.delete(entry.clientId);
    } else {
      entry.item.id = `m-${id}`;
      entry.item.dataset.messageId = id;
      entry.item.querySelector(".msg__state")?.remove();
      pending.delete(entry.clientId);
    }
  }

  function submit(event) {
    if (!subscribed) {
      // No live connection (yet): the form posts as it does without this script.
      for (const b of composer.querySelectorAll("button[type=submit]")) b.disabled = true;
      return;
    }
    event.preventDefault();
    const content = textarea.value;
    if (!content.trim()) return;
    const entry = {
      clientId: crypto.randomUUID(),
      content,
      format: format?.value || "text",
      state: "pending",
      timer: null,
    };
    entry.item = pendingItem(entry);
    pending.set(entry.clientId, entry);
    messageList().append(entry.item);
    setItemState(entry, strings.sending);
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
    textarea.value = "";
    transmit(entry);
  }

  if (composer && textarea) {
    composer.addEventListener("submit", submit);
    textarea.addEventListener("input", () => {
      const now = Date.now();
      if (now - lastTyping < TYPING_EVERY_MS || !textarea.value.trim()) return;
      lastTyping = now;
      send({ action: "typing", thread: threadId });
    });
  }

  // --- Read receipts for what is visible ---------------------------------------------------------

  function flushRead() {
    readTimer = null;
    if (readWanted <= myRead || document.visibilityState !== "visible") return;
    if (send({ action: "read", thread: threadId, message: String(readWanted) })) {
      myRead = readWanted;
    }
  }

  function wantRead(id) {
    if (id <= readWanted) return;
    readWanted = id;
    if (!readTimer) readTimer = setTimeout(flushRead, READ_EVERY_MS);
  }

  const visible = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) wantRead(idNumber(entry.target.dataset.messageId));
      }
    }, { root: scroller })
    : null;

  function observeRead(node) {
    if (!visible || !node.dataset.messageId || node.classList.contains("msg--mine")) return;
    visible.observe(node);
  }

  for (const item of list.querySelectorAll(":scope > li[data-message-id]")) observeRead(item);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !readTimer) flushRead();
  });

  window.kwebbelLive = {
    get socket() { return socket; },
    get cursor() { return cursor; },
  };
  setStatus("connecting");
  connect();
}
