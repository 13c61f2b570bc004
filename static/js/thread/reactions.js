// Reactions on messages: the server's markup (templates/chat/_reactions.html) marked with the
// viewer's own (aria-pressed), a click toggling one over the websocket, the picker of the fixed
// set in the message's action bar, and `message.reactions` events replacing a message's bar
// whole (they carry all of its reactions, so order and repeats cannot corrupt it).
import { button, el, fromMarkup, toast } from "../lib/dom.js";

export class Reactions {
  constructor({ list, connection, thread, me, strings, emoji }) {
    this.list = list;
    this.connection = connection;
    this.thread = thread;
    this.me = me;
    this.strings = strings;
    this.emoji = emoji || [];
    list.list.addEventListener("click", (event) => {
      const chip = event.target.closest?.("button.reaction");
      const node = chip?.closest("li.msg[data-message-id]");
      if (!chip || !node || node.dataset.pending) return;
      event.preventDefault();
      this.toggle(node, chip.dataset.emoji, chip.getAttribute("aria-pressed") !== "true");
    });
  }

  // The viewer's own reactions pressed (the markup is the same for everyone).
  mark(root) {
    for (const chip of root.querySelectorAll("button.reaction[data-users]")) {
      const users = chip.dataset.users.split(" ").filter(Boolean);
      chip.setAttribute("aria-pressed", String(users.includes(this.me)));
    }
  }

  mine(node, emoji) {
    const chip = [...node.querySelectorAll("[data-reactions] button.reaction")].find((b) => b.dataset.emoji === emoji);
    return chip?.getAttribute("aria-pressed") === "true";
  }

  async toggle(node, emoji, on) {
    const ack = await this.connection.request({
      action: "react", thread: this.thread, message: node.dataset.messageId, emoji, on,
    });
    if (!ack.ok) toast(ack.error || this.strings.failed);
  }

  // A `message.reactions` event: the message's whole bar, as the server rendered it.
  apply(data) {
    const node = this.list.byId(data.messageId);
    const bar = node?.querySelector("[data-reactions]");
    if (!bar) return;
    const fresh = fromMarkup(data.markup);
    const focused = bar.contains(document.activeElement) ? document.activeElement.dataset.emoji : null;
    bar.replaceWith(fresh);
    this.mark(fresh);
    if (focused) [...fresh.querySelectorAll("button.reaction")].find((b) => b.dataset.emoji === focused)?.focus();
  }

  // The picker, opened from the action bar: one button per emoji (a toolbar, arrow keys move).
  picker(node, onDone) {
    const box = el("div", "reaction-picker");
    box.setAttribute("role", "toolbar");
    box.setAttribute("aria-label", this.strings.react);
    const buttons = this.emoji.map((emoji) => {
      const b = button(emoji, "reaction-picker__emoji", () => {
        this.toggle(node, emoji, !this.mine(node, emoji));
        onDone();
      });
      b.setAttribute("aria-label", `${this.strings.react} ${emoji}`);
      b.setAttribute("aria-pressed", String(this.mine(node, emoji)));
      return b;
    });
    box.append(...buttons);
    box.addEventListener("keydown", (event) => {
      const at = buttons.indexOf(document.activeElement);
      if (event.key === "Escape") { event.preventDefault(); onDone(true); return; }
      const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 };
      if (event.key in moves) {
        event.preventDefault();
        buttons[(moves[event.key] + buttons.length) % buttons.length].focus();
      }
    });
    return box;
  }
}
