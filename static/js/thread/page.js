// A conversation, live: one websocket to /ws/chat/, subscribed to this thread from the cursor
// the page was rendered at. Events are applied by message id, so one already on the page (in
// the snapshot, or arriving again after a reconnect) replaces itself instead of appearing
// twice; the server replays what was missed or asks for a reload (`resync`: drafts and unsent
// messages are kept in the browser, so a reload loses nothing).
import { fill, idNumber, nameList, readJson } from "../lib/dom.js";
import { Connection, statusView } from "../live/connection.js";
import { titleKeeper } from "../live/notify.js";
import { MessageActions } from "./actions.js";
import { Attachments, imageViewer } from "./attachments.js";
import { Composer } from "./composer.js";
import { MessageList } from "./messages.js";
import { Outbox } from "./outbox.js";
import { Reactions } from "./reactions.js";
import { ReadReceipts } from "./receipts.js";
import { Replies } from "./replies.js";

const TYPING_SHOWN_MS = 6000;

export function startThread(section, page) {
  const config = readJson(section.dataset.live);
  const list = new MessageList(section, {
    me: page.me, strings: config?.strings ?? page.strings, receipts: config?.receipts,
  });
  list.layout();
  enableLoadOlder(section, list);
  if (!config) { list.scrollToBottom(); return; } // an older page: not live
  const strings = config.strings;
  const thread = config.thread;
  const { unread, notifier } = page;
  const title = titleKeeper(config.topic);
  let cursor = config.cursor;
  let hiddenNew = 0; // messages from others that arrived while the tab was hidden
  const showTitle = () => title.show(unread.total(thread) + hiddenNew);
  unread.onChange(showTitle);
  unread.set(thread, 0);

  const setStatus = statusView(section.querySelector("[data-status]"), strings);
  const connection = new Connection({
    path: page.socket,
    onOpen: () => connection.send({ action: "subscribe", thread, cursor }),
    onFrame: (frame) => handle(frame),
    onStatus: (state) => {
      setStatus(state);
      if (state !== "connected") { outbox.disconnected(); }
      if (state === "signedOut") signedOut();
    },
  });
  const reactions = new Reactions({
    list, connection, thread, me: page.me, strings, emoji: config.emoji,
  });
  reactions.mark(list.list);
  const actions = new MessageActions({
    list, strings, thread, connection, maxLength: config.maxLength,
    onReply: (node) => replies.start(node),
    reactions,
  });
  const receipts = new ReadReceipts({
    list, connection, thread, myRead: idNumber(config.myRead),
    onRead: () => { unread.set(thread, 0); hiddenNew = 0; showTitle(); },
  });
  list.onNewNode = (node) => { receipts.observe(node); actions.resetRoving(); reactions.mark(node); };
  for (const node of list.items()) receipts.observe(node);
  actions.resetRoving();
  const outbox = new Outbox({
    me: page.me, thread, strings, list, connection,
    onEdit: (entry) => composer.restore(entry.content, entry.format),
  });
  const form = section.querySelector("[data-composer]");
  const filesRoot = form.querySelector("[data-files]");
  const attachments = filesRoot && config.files ? new Attachments({
    root: filesRoot, form, config: config.files,
    dropZones: [form, section.querySelector("[data-scroll]")].filter(Boolean),
  }) : null;
  if (config.files) imageViewer(section, config.files.strings);
  const composer = new Composer({
    attachments,
    form, me: page.me, thread, strings, maxLength: config.maxLength,
    onSend: (content, format, files) => outbox.add(content, format, replies.take(), files),
    onTyping: () => connection.send({ action: "typing", thread }),
    onEditLast: () => {
      const last = actions.lastOwn();
      if (last) actions.startEdit(last);
      return Boolean(last);
    },
    people: () => [...members].map(([rawId, name]) => ({ rawId, name })),
    onEscape: () => { if (!replies.target) return false; replies.cancel(); return true; },
  });
  const replies = new Replies({ list, composer, strings });
  outbox.restore();

  // --- Where the page opens ------------------------------------------------------------
  const target = config.around && list.byId(config.around);
  const firstUnread = list.firstUnread(idNumber(config.myRead));
  if (target) {
    target.classList.add("msg--highlight");
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  } else if (firstUnread) {
    const line = list.markUnread(firstUnread);
    list.scrollToBottom();
    if (line.offsetTop < list.scroller.scrollTop) line.scrollIntoView({ block: "start" });
  } else {
    list.scrollToBottom();
  }

  // --- Frames ------------------------------------------------------------------------------
  function handle(frame) {
    if (frame.type === "inbox") { otherThread(frame); return; }
    if (frame.thread !== undefined && frame.thread !== thread) return;
    switch (frame.type) {
      case "subscribed":
        if (frame.cursor > cursor) cursor = frame.cursor;
        connection.confirmed();
        outbox.flush();
        receipts.flush();
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
        connection.stop();
        location.reload();
        break;
      case "removed":
        ended(strings.noAccess);
        break;
      case "deleted":
        ended(strings.deletedThread);
        break;
      case "ack":
        outbox.ack(frame);
        break;
      default:
        break;
    }
  }

  function apply(kind, data) {
    switch (kind) {
      case "message.added": {
        const node = list.upsert(data, true);
        if (data.clientId) outbox.delivered(data.clientId);
        if (data.sender) typingStopped(data.sender.rawId);
        if (node && data.sender && data.sender.rawId !== page.me) fromSomeoneElse(data, node);
        break;
      }
      case "message.edited":
      case "message.deleted":
        list.upsert(data, false);
        if (kind === "message.deleted") replies.deleted(data.id);
        else replies.edited(data.id);
        break;
      case "message.reactions":
        reactions.apply(data);
        break;
      case "receipt":
        if (data.me) receipts.confirmed(idNumber(data.messageId));
        else list.receipt(data.reader, data.name, data.messageId);
        break;
      case "topic.changed":
        for (const node of section.querySelectorAll("[data-topic]")) node.textContent = data.topic;
        section.querySelector(".chat-thread-header h1")?.setAttribute("title", data.topic);
        title.setBase(data.topic);
        showTitle();
        break;
      case "participants.added":
      case "participants.removed":
        people(kind, data.participants);
        break;
      case "relay.stopped": {
        const note = section.querySelector("[data-relay-stopped]");
        note.textContent = strings.relayStopped;
        note.hidden = false;
        break;
      }
      default:
        break;
    }
  }

  function fromSomeoneElse(data, node) {
    const text = node.querySelector(".msg__body")?.textContent.trim() || "";
    const mention = (data.mentions || []).includes(page.me);
    list.announce(`${data.sender.name}: ${text}`);
    if (document.visibilityState !== "visible") {
      hiddenNew += 1;
      showTitle();
      notifier.message({ thread, topic: config.topic, sender: data.sender.name, preview: text, mention });
    }
  }

  // Another conversation of the user's (inbox frames): counts, the title, notifications.
  function otherThread(frame) {
    if (frame.thread === thread) return;
    if (frame.kind === "message" && !frame.mine) {
      unread.add(frame.thread);
      notifier.message({
        thread: frame.thread, topic: frame.topic, sender: frame.sender.name, preview: frame.preview,
        url: `/chat/t/${encodeURIComponent(frame.thread)}/`, mention: frame.mentionsMe,
      });
    } else if (frame.kind === "read" || (frame.kind === "message" && frame.mine)) {
      unread.set(frame.thread, 0);
    } else if (frame.kind === "deleted" || (frame.kind === "removed" && frame.me)) {
      unread.set(frame.thread, 0);
    }
  }

  // --- Who is in it --------------------------------------------------------------------------
  const members = new Map((config.participants || []).map((p) => [p.rawId, p.name]));
  function people(kind, participants) {
    for (const p of participants) {
      if (kind === "participants.added") members.set(p.rawId, p.name);
      else { members.delete(p.rawId); list.forgetReader(p.rawId); }
    }
    const line = section.querySelector("[data-people]");
    if (line) {
      line.textContent = [...members].filter(([raw]) => raw !== page.me).map(([, name]) => name)
        .sort((a, b) => a.localeCompare(b)).join(", ");
    }
  }

  // --- Typing (outside the list, so it never moves what is read) ----------------------------
  const typingEl = section.querySelector("[data-typing]");
  const typists = new Map(); // raw id -> {name, timer}
  function renderTyping() {
    const names = [...typists.values()].map((t) => t.name);
    const template = names.length > 1 ? strings.typingMany : strings.typing;
    typingEl.textContent = names.length ? fill(template, { names: nameList(names, strings.and) }) : "";
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

  // --- The end of the conversation for this page -----------------------------------------
  function ended(message) {
    connection.stop();
    section.dataset.threadEnded = "1";
    const note = section.querySelector("[data-ended]");
    note.querySelector("[data-ended-text]").textContent = message;
    note.hidden = false;
    section.querySelector("[data-status]").hidden = true;
    outbox.end(message);
    composer.disable();
    actions.disable();
    const settings = section.querySelector("[data-settings-link]");
    settings?.removeAttribute("href");
    settings?.setAttribute("aria-disabled", "true");
    members.delete(page.me);
    unread.set(thread, 0);
  }

  function signedOut() {
    const note = section.querySelector("[data-signed-out]");
    note.replaceChildren(strings.signedOut, " ");
    const link = document.createElement("a");
    link.href = `/accounts/login/?next=${encodeURIComponent(location.pathname)}`;
    link.textContent = strings.signIn;
    note.append(link);
    note.hidden = false;
    // Nothing can be sent any more; what waits in the outbox is kept for after signing in.
    composer.disable();
    actions.disable();
    // The header no longer speaks for a signed-in user: only signing in again is left.
    for (const item of document.querySelectorAll(".site-me, [data-sign-out], .site-nav a[href$='/password_change/']")) {
      item.hidden = true;
    }
    note.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { hiddenNew = 0; showTitle(); }
  });
  showTitle();
  connection.start();
}

// "Load older messages" in place: the page before, as JSON with each message's markup.
function enableLoadOlder(section, list) {
  const older = section.querySelector("[data-load-older]");
  if (!older || !list.scroller) return;
  older.addEventListener("click", async (event) => {
    event.preventDefault();
    const url = new URL(older.href);
    url.searchParams.set("format", "json");
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) { location.href = older.href; return; }
    const data = await response.json();
    list.prepend(data.messages);
    if (data.olderUrl) older.href = data.olderUrl;
    else older.closest(".chat-older").remove();
  });
}
