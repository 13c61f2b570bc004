// Replies: "Reply" on a message puts a quote of it above the composer (Escape or × takes it
// away); the next message sent answers it (`replyTo`, kept by the server in the message's ACS
// metadata). A quote in the list jumps to its original when this page shows it, else its link
// opens the original's own page. An original deleted meanwhile is no longer quoted.
import { button, el } from "../lib/dom.js";

// The start of the original shown while replying, in characters (the server's quote is 100).
const QUOTE_LENGTH = 100;

export class Replies {
  constructor({ list, composer, strings }) {
    this.list = list;
    this.composer = composer;
    this.strings = strings;
    this.target = null;
    this.bar = el("div", "chat-replying");
    this.bar.hidden = true;
    this.label = el("span", "chat-replying__text");
    this.bar.append(this.label, button("×", "chat-link-button chat-replying__cancel", () => this.cancel()));
    this.bar.lastChild.setAttribute("aria-label", strings.cancelReply);
    composer.editor.root.before(this.bar);
    list.list.addEventListener("click", (event) => {
      const quote = event.target.closest?.("a.msg__reply[data-reply-to]");
      if (!quote) return;
      const original = this.list.byId(quote.dataset.replyTo);
      if (!original || quote.classList.contains("msg__reply--hidden")) return;
      event.preventDefault();
      original.scrollIntoView({ block: "center" });
      original.classList.remove("msg--highlight");
      void original.offsetWidth; // restart the highlight
      original.classList.add("msg--highlight");
      original.focus({ preventScroll: true });
    });
  }

  start(node) {
    const name = node.querySelector(".msg__sender")?.textContent || "";
    const text = (node.querySelector(".msg__body")?.textContent || "").replace(/\s+/g, " ").trim();
    this.target = node.dataset.messageId;
    this.label.textContent = `${this.strings.replyingTo} ${name}: ${text.length > QUOTE_LENGTH ? `${text.slice(0, QUOTE_LENGTH - 1)}…` : text}`;
    this.bar.hidden = false;
    this.composer.editor.focus();
  }

  cancel() {
    this.target = null;
    this.bar.hidden = true;
    this.composer.editor.focus();
  }

  // The message being written answers this (then the quote goes).
  take() {
    const target = this.target;
    this.target = null;
    this.bar.hidden = true;
    return target;
  }

  // An original was edited: quotes of it say what it says now.
  edited(messageId) {
    const text = (this.list.byId(messageId)?.querySelector(".msg__body")?.textContent || "").replace(/\s+/g, " ").trim();
    if (!text) return;
    const start = text.length > QUOTE_LENGTH ? `${text.slice(0, QUOTE_LENGTH - 1)}…` : text;
    for (const quote of this.list.list.querySelectorAll(`a.msg__reply[data-reply-to="${CSS.escape(messageId)}"]:not(.msg__reply--hidden)`)) {
      const shown = quote.querySelector(".msg__reply-text");
      if (shown && quote.querySelector(".msg__reply-name")) shown.textContent = start;
    }
  }

  // An original was deleted: replies to it show nothing of it any more.
  deleted(messageId) {
    for (const quote of this.list.list.querySelectorAll(`a.msg__reply[data-reply-to="${CSS.escape(messageId)}"]`)) {
      quote.classList.add("msg__reply--hidden");
      quote.replaceChildren(el("span", "msg__reply-text", this.strings.replyHidden));
    }
    if (this.target === messageId) this.take();
  }
}
