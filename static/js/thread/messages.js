// The message list of a conversation: markup from the server put in place by message id (an
// event for a message already shown replaces it), then laid out here: the user's own messages
// marked, messages grouped by sender and minute, a separator for each day, "seen by", the
// "new messages" line, and the button that says how many arrived below while scrolled up.
import { el, fill, fromMarkup, idNumber, nameList } from "../lib/dom.js";
import { dayKey, dayLabel, localiseTimes, minuteKey } from "../lib/times.js";

// Within this many pixels of the end counts as "at the bottom" (new messages scroll in).
const NEAR_BOTTOM = 80;
// Announcements kept in the screen readers' log region.
const ANNOUNCED_KEEP = 5;

export class MessageList {
  constructor(section, { me, strings, receipts }) {
    this.section = section;
    this.me = me;
    this.strings = strings;
    this.scroller = section.querySelector("[data-scroll]");
    this.list = section.querySelector("[data-messages]");
    this.jump = section.querySelector("[data-jump]");
    this.announcer = section.querySelector("[data-announce]");
    this.receipts = new Map((receipts || []).map((r) => [r.reader, r]));
    this.unseenBelow = [];
    this.onNewNode = () => {};
    this.scroller?.addEventListener("scroll", () => {
      if (this.atBottom()) this.clearJump();
    }, { passive: true });
    this.jump?.addEventListener("click", () => {
      const first = this.unseenBelow.find((node) => node.isConnected);
      this.clearJump();
      if (first) first.scrollIntoView({ block: "start" });
      this.scrollToBottom();
      (first || this.items().at(-1))?.focus({ preventScroll: true });
    });
  }

  items() { return [...this.list.querySelectorAll(":scope > li[data-message-id]")]; }

  byId(id) { return document.getElementById(`m-${id}`); }

  byClientId(clientId) {
    return [...this.list.querySelectorAll("li[data-client-id]")].find((li) => li.dataset.clientId === clientId);
  }

  isMine(node) { return Boolean(node.dataset.sender) && node.dataset.sender === this.me; }

  atBottom() {
    const s = this.scroller;
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM;
  }

  scrollToBottom() { if (this.scroller) this.scroller.scrollTop = this.scroller.scrollHeight; }

  hideEmpty() { this.section.querySelector("[data-empty]")?.remove(); }

  // A message from the server (page JSON or a live event): replace or place it; returns the
  // node, or null when this page does not show it (an edit of something not loaded).
  upsert(data, added) {
    const existing = this.byId(data.id) || (data.clientId && this.byClientId(data.clientId));
    if (!existing && !added) return null;
    if (!existing && this.section.querySelector("[data-load-older]")) {
      const first = this.items()[0];
      // Older than everything shown while older pages exist: it belongs to a page not loaded.
      if (first && idNumber(data.id) < idNumber(first.dataset.messageId)) return null;
    }
    const follow = this.atBottom();
    const node = fromMarkup(data.markup);
    if (existing) {
      // Editing in place survives a change that arrives meanwhile (another tab's, say).
      const editing = existing.querySelector(".msg-edit");
      if (editing && !data.deletedOn) {
        node.classList.add("is-editing");
        node.querySelector(".msg__body")?.setAttribute("hidden", "");
        node.append(editing);
      }
      const hadFocus = existing.contains(document.activeElement);
      existing.replaceWith(node);
      if (hadFocus && !editing) node.focus({ preventScroll: true });
    } else {
      this.place(node, data.id);
    }
    this.hideEmpty();
    localiseTimes(node);
    this.layout();
    this.onNewNode(node);
    if (added && !existing) {
      if (follow || this.isMine(node)) this.scrollToBottom();
      else if (!this.isMine(node)) this.noteBelow(node);
    }
    return node;
  }

  place(node, id) {
    const number = idNumber(id);
    const items = this.items().filter((li) => !li.dataset.pending);
    const after = [...items].reverse().find((li) => idNumber(li.dataset.messageId) <= number);
    if (after) after.after(node);
    else if (items.length) items[0].before(node);
    else this.list.prepend(node);
    // Messages still on their way stay last.
    for (const pending of this.list.querySelectorAll(":scope > li[data-pending]")) this.list.append(pending);
  }

  appendPending(node) {
    this.hideEmpty();
    this.list.append(node);
    this.layout();
    this.scrollToBottom();
  }

  // Older messages (the JSON of the page before): put in front, keeping what is in view still.
  prepend(messages) {
    const height = this.scroller.scrollHeight;
    const top = this.scroller.scrollTop;
    const fragment = document.createDocumentFragment();
    for (const message of messages) {
      if (!this.byId(message.id)) fragment.append(fromMarkup(message.markup));
    }
    const nodes = [...fragment.children];
    this.list.prepend(fragment);
    for (const node of nodes) { localiseTimes(node); this.onNewNode(node); }
    this.layout();
    this.scroller.scrollTop = top + this.scroller.scrollHeight - height;
  }

  // Own messages marked, groups, day separators, then "seen by".
  layout() {
    for (const sep of this.list.querySelectorAll(":scope > .chat-day")) sep.remove();
    let previous = null;
    let lastDay = null;
    for (const node of this.list.querySelectorAll(":scope > li.msg")) {
      node.classList.toggle("msg--mine", this.isMine(node));
      this.markMention(node);
      const when = new Date(node.dataset.created);
      const valid = !Number.isNaN(when.getTime());
      const day = valid ? dayKey(when) : lastDay;
      if (valid && day !== lastDay) {
        const sep = el("li", "chat-day");
        sep.append(el("span", "", dayLabel(when, this.strings)));
        node.before(sep);
        lastDay = day;
        previous = null;
      }
      const system = node.classList.contains("msg--system");
      const line = node.previousElementSibling?.classList.contains("chat-unread-line");
      const continued = Boolean(
        previous && !system && !line && !previous.classList.contains("msg--system")
        && previous.dataset.sender === node.dataset.sender && valid
        && minuteKey(new Date(previous.dataset.created)) === minuteKey(when),
      );
      node.classList.toggle("msg--continued", continued);
      previous = node;
    }
    this.updateSeen();
  }

  // A message that mentions the viewer (chat/mentions.py): marked, and said in words.
  markMention(node) {
    const me = this.me && node.querySelector(`.msg__body [data-mention="${CSS.escape(this.me)}"]`);
    const mentionsMe = Boolean(me) && !this.isMine(node) && !node.dataset.pending;
    node.classList.toggle("msg--mentions-me", mentionsMe);
    const flag = node.querySelector(".msg__flag--mention");
    if (mentionsMe && !flag) node.querySelector(".msg__meta")?.append(" ", el("span", "msg__flag msg__flag--mention", this.strings.mentionsYou));
    else if (!mentionsMe && flag) flag.remove();
  }

  // "Seen by" under the newest shown message each reader has read (never their own), as the
  // receipts say (a receipt for message N covers everything up to N).
  receipt(reader, name, messageId) {
    this.receipts.set(reader, { reader, name, messageId });
    this.updateSeen();
  }

  forgetReader(reader) {
    this.receipts.delete(reader);
    this.updateSeen();
  }

  updateSeen() {
    for (const line of this.list.querySelectorAll(".msg__seen")) line.remove();
    const shown = this.items().filter(
      (li) => !li.classList.contains("msg--system") && !li.classList.contains("msg--deleted") && !li.dataset.pending,
    );
    const names = new Map();
    const readers = [...this.receipts.values()].sort((a, b) => (a.reader < b.reader ? -1 : 1));
    for (const r of readers) {
      const last = idNumber(r.messageId);
      const seen = shown.filter((li) => idNumber(li.dataset.messageId) <= last && li.dataset.sender !== r.reader);
      const item = seen.at(-1);
      if (!item) continue;
      if (!names.has(item)) names.set(item, []);
      names.get(item).push(r.name);
    }
    for (const [item, readerNames] of names) {
      item.append(el("p", "msg__seen", fill(this.strings.seenBy, { names: nameList(readerNames, this.strings.and) })));
    }
  }

  // The first message from someone else after what the user has seen (their receipt, or
  // their own newest message): where the "new messages" line goes when the page opens.
  firstUnread(myRead) {
    let first = null;
    for (const node of this.items().reverse()) {
      if (node.classList.contains("msg--system")) continue;
      if (this.isMine(node) || idNumber(node.dataset.messageId) <= myRead) break;
      first = node;
    }
    return first;
  }

  markUnread(node) {
    const line = el("li", "chat-unread-line");
    line.append(el("span", "", this.strings.newMessages));
    node.before(line);
    this.layout();
    return line;
  }

  noteBelow(node) {
    this.unseenBelow.push(node);
    const count = this.unseenBelow.length;
    this.jump.textContent = count === 1 ? this.strings.jumpOne : fill(this.strings.jumpMany, { count });
    this.jump.hidden = false;
  }

  clearJump() {
    this.unseenBelow = [];
    if (this.jump) this.jump.hidden = true;
  }

  // New messages from others, told to screen readers (a polite log region).
  announce(text) {
    if (!this.announcer) return;
    this.announcer.append(el("p", "", text));
    while (this.announcer.childElementCount > ANNOUNCED_KEEP) this.announcer.firstElementChild.remove();
  }
}
