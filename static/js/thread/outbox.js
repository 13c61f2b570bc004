// Messages on their way: shown at once, kept in this browser until the server has them, and
// sent (again) whenever the connection is up, always under their client id, so the server
// creates each one once however often it is sent (chat.actions.live._send_once).
//
// States: "waiting" (no connection, or the page was closed first: sent when it is back),
// "sending" (sent, no answer yet), "failed" (refused; Retry only where it can succeed).
import { button, el, fill } from "../lib/dom.js";
import { load, save, storeKey } from "../lib/store.js";
import { cleanHtml } from "./editor.js";

// Without an answer to a send for this long the socket is taken for dead and opened again
// (the send goes out again on the new one; the server answers "busy" itself after 15 s).
const SEND_TIMEOUT_MS = 20000;
// "The same send is still in progress" (409): ask again after this long.
const IN_PROGRESS_RETRY_MS = 3000;
// Statuses a send may succeed at later: busy or unavailable (and 0, no answer at all).
const RETRYABLE = new Set([0, 500, 502, 503, 504]);

export class Outbox {
  constructor({ me, thread, strings, list, connection, onEdit }) {
    this.key = storeKey(me, "outbox", thread);
    this.thread = thread;
    this.strings = strings;
    this.list = list;
    this.connection = connection;
    this.onEdit = onEdit;
    this.entries = new Map(); // client id -> entry
    this.ready = false; // subscribed: sends go out
    this.ended = null; // why nothing can be sent any more (removed, deleted)
  }

  // What was kept from an earlier visit, unless it arrived meanwhile.
  restore() {
    for (const kept of load(this.key, []) || []) {
      if (this.list.byClientId(kept.clientId)) continue;
      const entry = { ...kept, state: kept.state === "failed" && !kept.retryable ? "failed" : "waiting" };
      this.show(entry);
    }
    this.persist();
  }

  persist() {
    const kept = [...this.entries.values()].map(({ clientId, content, format, replyTo, state, error, retryable, files }) => (
      { clientId, content, format, replyTo, state, error, retryable, files }
    ));
    save(this.key, kept);
  }

  add(content, format, replyTo = null, files = []) {
    const entry = { clientId: crypto.randomUUID(), content, format, replyTo, state: "waiting", files };
    this.show(entry);
    this.persist();
    this.transmit(entry);
    return entry;
  }

  show(entry) {
    entry.item = this.item(entry);
    this.entries.set(entry.clientId, entry);
    this.list.appendPending(entry.item);
    this.render(entry);
  }

  // The user's own words, as they will look (HTML reduced to the allowed tags; never parsed
  // as markup of the page).
  item(entry) {
    const item = el("li", "msg msg--mine msg--pending");
    item.dataset.pending = "1";
    item.dataset.clientId = entry.clientId;
    item.dataset.sender = this.list.me;
    item.dataset.created = new Date().toISOString();
    const bubble = el("div", "msg__bubble");
    const body = el("div", "msg__body");
    body.dir = "auto";
    if (entry.format === "html") body.append(cleanHtml(entry.content));
    else body.append(el("p", "", entry.content));
    if (entry.files?.length) body.append(el("p", "msg__pending-files", entry.files.map((f) => f.name).join(", ")));
    bubble.append(body);
    item.append(bubble, el("p", "msg__state"));
    return item;
  }

  render(entry) {
    const state = entry.item.querySelector(".msg__state");
    state.replaceChildren();
    entry.item.classList.toggle("msg--failed", entry.state === "failed");
    entry.item.classList.toggle("msg--pending", entry.state !== "failed");
    entry.item.dataset.state = entry.state;
    if (entry.state === "failed") {
      state.append(el("span", "", [this.strings.failed, entry.error].filter(Boolean).join(" ")));
      if (entry.retryable && !this.ended) {
        state.append(button(this.strings.retry, "chat-link-button", () => {
          entry.state = "waiting";
          this.transmit(entry);
        }));
      }
      if (!this.ended) {
        state.append(button(this.strings.editAgain, "chat-link-button", () => {
          this.drop(entry);
          this.onEdit(entry);
        }));
      }
      state.append(button(this.strings.discard, "chat-link-button", () => this.drop(entry)));
      return;
    }
    state.append(el("span", "", entry.state === "sending" ? this.strings.sending : this.strings.waiting));
  }

  transmit(entry) {
    clearTimeout(entry.timer);
    if (this.ended) return;
    if (!this.ready) {
      entry.state = "waiting";
      this.render(entry);
      this.persist();
      return;
    }
    entry.state = "sending";
    this.render(entry);
    this.persist();
    this.connection.send({
      action: "send", thread: this.thread, request: entry.clientId, clientId: entry.clientId,
      content: entry.content, format: entry.format, replyTo: entry.replyTo || undefined,
      ...(entry.files?.length ? { attachments: entry.files.map((f) => f.id) } : {}),
    });
    entry.timer = setTimeout(() => {
      if (entry.state === "sending") this.connection.reconnectNow();
    }, SEND_TIMEOUT_MS);
  }

  // Subscribed: everything not yet refused goes out, in the order it was written.
  flush() {
    this.ready = true;
    for (const entry of this.entries.values()) {
      if (entry.state !== "failed" || entry.retryable) this.transmit(entry);
    }
  }

  disconnected() {
    this.ready = false;
    for (const entry of this.entries.values()) {
      if (entry.state === "sending") { entry.state = "waiting"; this.render(entry); }
    }
  }

  // An ack for a send; true when it was one.
  ack(frame) {
    const entry = this.entries.get(frame.request);
    if (!entry) return false;
    clearTimeout(entry.timer);
    if (frame.ok) {
      const id = frame.result.id;
      this.entries.delete(entry.clientId);
      this.persist();
      if (this.list.byId(id)) entry.item.remove();
      else {
        // The message event replaces it; until then it waits under its real id.
        entry.item.id = `m-${id}`;
        entry.item.dataset.messageId = id;
        entry.item.querySelector(".msg__state")?.remove();
        entry.item.classList.remove("msg--pending");
      }
      return true;
    }
    if (frame.status === 409) {
      entry.timer = setTimeout(() => this.transmit(entry), IN_PROGRESS_RETRY_MS);
      return true;
    }
    this.fail(entry, frame.error || "", RETRYABLE.has(frame.status));
    return true;
  }

  fail(entry, error, retryable) {
    entry.state = "failed";
    entry.error = error;
    entry.retryable = retryable;
    this.render(entry);
    this.persist();
  }

  // The message arrived (from this page's send, or another tab's): it is no longer ours.
  delivered(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(clientId);
    this.persist();
  }

  drop(entry) {
    clearTimeout(entry.timer);
    entry.item.remove();
    this.entries.delete(entry.clientId);
    this.persist();
  }

  // Nothing can be sent here any more (removed, or the conversation deleted): say so, and
  // forget them (no Retry: it cannot succeed).
  end(reason) {
    this.ended = reason;
    for (const entry of this.entries.values()) this.fail(entry, reason, false);
    save(this.key, []);
  }

}
