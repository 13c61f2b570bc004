// What can be done to a message, on the message itself: one action bar (copy link; edit and
// delete for the user's own), shown on the message under the pointer or with focus, or after
// a long press on a touch screen; never a row of links on every message.
//
// Keyboard: the list is one Tab stop (the newest message); arrow keys, Home and End move
// between messages; Tab then reaches that message's actions, and the composer after them.
// Editing happens in place (Enter saves, Escape cancels); deleting asks once, in place.
import { button, el, toast } from "../lib/dom.js";
import { RichEditor } from "./editor.js";

const LONG_PRESS_MS = 500;

export class MessageActions {
  constructor({ list, strings, thread, connection, maxLength, onReply = null, reactions = null }) {
    this.list = list;
    this.strings = strings;
    this.thread = thread;
    this.connection = connection;
    this.maxLength = maxLength;
    this.bar = el("div", "msg-actions");
    this.bar.setAttribute("role", "toolbar");
    this.bar.setAttribute("aria-label", strings.messageActions);
    // Reply and react (replies.js, reactions.js): on every message that is not deleted.
    this.reactions = reactions;
    this.replyButton = button(strings.reply, "", () => onReply?.(this.current));
    this.reactButton = button(strings.react, "", () => this.openPicker(this.current));
    this.reactButton.setAttribute("aria-haspopup", "true");
    this.copyButton = button(strings.copyLink, "", () => this.copyLink());
    this.editButton = button(strings.edit, "", () => this.startEdit(this.current));
    this.deleteButton = button(strings.delete, "msg-actions__danger", () => this.confirmDelete(this.current));
    this.bar.append(this.replyButton, this.reactButton, this.copyButton, this.editButton, this.deleteButton);
    this.current = null;
    this.enabled = true;
    const root = list.list;
    root.addEventListener("pointerover", (event) => {
      if (event.pointerType === "mouse") this.attach(this.messageOf(event.target));
    });
    root.addEventListener("focusin", (event) => {
      const node = this.messageOf(event.target);
      if (node) { this.attach(node); this.rove(node); }
    });
    root.addEventListener("keydown", (event) => this.keys(event));
    this.longPress(root);
  }

  messageOf(target) {
    const node = target?.closest?.("li.msg[data-message-id]");
    return node && !node.dataset.pending && this.list.list.contains(node) ? node : null;
  }

  editable(node) {
    return Boolean(node) && this.list.isMine(node) && !node.classList.contains("msg--deleted")
      && !node.classList.contains("msg--system") && !node.dataset.pending;
  }

  attach(node) {
    if (!node || !this.enabled || node.classList.contains("msg--system")) return;
    if (node.classList.contains("is-editing") || node.querySelector(".msg-confirm")) return;
    this.current = node;
    for (const open of this.list.list.querySelectorAll(".reaction-picker")) if (!node.contains(open)) open.remove();
    const mine = this.editable(node);
    const live = !node.classList.contains("msg--deleted");
    this.replyButton.hidden = !live || !this.reactions;
    this.reactButton.hidden = !live || !this.reactions;
    this.editButton.hidden = !mine;
    this.deleteButton.hidden = !mine;
    if (this.bar.parentNode !== node) node.append(this.bar);
  }

  // The roving Tab stop: the message last focused (the newest one to begin with).
  rove(node) {
    for (const item of this.list.list.querySelectorAll("li.msg[tabindex='0']")) {
      if (item !== node) item.tabIndex = -1;
    }
    node.tabIndex = 0;
  }

  resetRoving() {
    const items = this.list.items().filter((li) => !li.dataset.pending);
    if (!items.some((li) => li.tabIndex === 0) && items.length) items.at(-1).tabIndex = 0;
  }

  keys(event) {
    const node = this.messageOf(event.target);
    if (!node) return;
    if (event.target !== node) {
      if (event.key === "Escape") { event.preventDefault(); node.focus(); }
      return;
    }
    const items = this.list.items().filter((li) => !li.dataset.pending);
    const at = items.indexOf(node);
    const moves = { ArrowUp: at - 1, ArrowDown: at + 1, Home: 0, End: items.length - 1 };
    if (event.key in moves) {
      const next = items[Math.max(0, Math.min(items.length - 1, moves[event.key]))];
      event.preventDefault();
      if (next) { this.rove(next); next.focus(); }
    } else if (event.key === "Enter" && this.editable(node)) {
      event.preventDefault();
      this.startEdit(node);
    } else if (event.key === "Delete" && this.editable(node)) {
      event.preventDefault();
      this.confirmDelete(node);
    }
  }

  longPress(root) {
    let timer = null;
    root.addEventListener("pointerdown", (event) => {
      if (event.pointerType !== "touch") return;
      const node = this.messageOf(event.target);
      clearTimeout(timer);
      timer = setTimeout(() => {
        for (const other of root.querySelectorAll(".msg.is-active")) other.classList.remove("is-active");
        if (node) { node.classList.add("is-active"); this.attach(node); }
      }, LONG_PRESS_MS);
    });
    for (const type of ["pointerup", "pointercancel", "pointermove"]) {
      root.addEventListener(type, (event) => {
        if (type !== "pointermove" || Math.abs(event.movementY) > 4) clearTimeout(timer);
      });
    }
    document.addEventListener("pointerdown", (event) => {
      if (!event.target.closest?.(".msg.is-active")) {
        for (const other of root.querySelectorAll(".msg.is-active")) other.classList.remove("is-active");
      }
    });
    root.addEventListener("contextmenu", (event) => { if (event.target.closest(".msg.is-active")) event.preventDefault(); });
  }

  openPicker(node) {
    if (!node || !this.reactions) return;
    node.querySelector(".reaction-picker")?.remove();
    const picker = this.reactions.picker(node, (cancelled) => {
      picker.remove();
      (cancelled ? this.reactButton : node).focus();
    });
    this.bar.after(picker);
    picker.querySelector("button")?.focus();
  }

  async copyLink() {
    const link = this.current?.querySelector("a.msg__time")?.href;
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link);
      toast(this.strings.linkCopied);
    } catch {
      toast(link);
    }
  }

  // --- Editing in place ------------------------------------------------------------------

  lastOwn() {
    return this.list.items().reverse().find((li) => this.editable(li)) || null;
  }

  startEdit(node) {
    if (!this.editable(node) || node.classList.contains("is-editing")) return;
    this.bar.remove();
    const body = node.querySelector(".msg__body");
    const html = node.dataset.format === "html";
    const original = html ? body.innerHTML : textOf(body);
    const box = el("div", "msg-edit");
    const error = el("span", "msg-edit__error");
    error.setAttribute("role", "alert");
    let editor = null;
    let area = null;
    const finish = () => {
      // The message may have been replaced meanwhile (an edit event), with this box moved in.
      const current = box.closest("li.msg") || this.list.byId(node.dataset.messageId) || node;
      box.remove();
      current.querySelector(".msg__body")?.removeAttribute("hidden");
      current.classList.remove("is-editing");
      current.focus();
    };
    const save = async () => {
      const content = html ? editor.value().content : area.value;
      if (content === original || !content.trim()) { finish(); return; }
      if (content.length > this.maxLength) {
        error.textContent = this.strings.tooLong.replace("%(count)s", content.length - this.maxLength);
        return;
      }
      error.textContent = this.strings.saving;
      const ack = await this.connection.request({
        action: "edit", thread: this.thread, message: node.dataset.messageId, content,
      });
      if (ack.ok) {
        // The edit event replaces the message (and this box) for everyone, this page too.
        if (box.isConnected) finish();
        return;
      }
      error.textContent = ack.error || this.strings.failed;
    };
    const keys = (event) => {
      if (event.key === "Escape") { event.preventDefault(); finish(); return true; }
      return false;
    };
    if (html) {
      editor = new RichEditor({
        label: this.strings.edit, strings: this.strings, onSubmit: save, onKey: keys,
      });
      editor.setHtml(original);
      box.append(editor.root);
    } else {
      area = el("textarea");
      area.value = original;
      area.rows = Math.min(8, original.split("\n").length + 1);
      area.setAttribute("aria-label", this.strings.edit);
      area.addEventListener("keydown", (event) => {
        if (keys(event)) return;
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); save(); }
      });
      box.append(area);
    }
    const bar = el("div", "msg-edit__bar");
    bar.append(el("span", "msg-edit__hint", this.strings.editHint), error,
      button(this.strings.cancel, "chat-button chat-button--quiet", finish),
      button(this.strings.save, "chat-button", save));
    box.append(bar);
    body.hidden = true;
    node.classList.add("is-editing");
    node.append(box);
    if (editor) editor.focus(); else { area.focus(); area.setSelectionRange(area.value.length, area.value.length); }
  }

  confirmDelete(node) {
    if (!this.editable(node) || node.querySelector(".msg-confirm")) return;
    this.bar.remove();
    const box = el("div", "msg-confirm");
    const error = el("span", "msg-edit__error");
    error.setAttribute("role", "alert");
    const cancel = () => { box.remove(); node.focus(); };
    const yes = button(this.strings.delete, "chat-button chat-button--danger", async () => {
      yes.disabled = true;
      const ack = await this.connection.request({
        action: "delete", thread: this.thread, message: node.dataset.messageId,
      });
      if (ack.ok) { if (box.isConnected) box.remove(); return; }
      yes.disabled = false;
      error.textContent = ack.error || this.strings.failed;
    });
    box.append(el("span", "", this.strings.confirmDelete), yes,
      button(this.strings.cancel, "chat-button chat-button--quiet", cancel), error);
    box.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); cancel(); } });
    node.append(box);
    yes.focus();
  }

  disable() {
    this.enabled = false;
    this.bar.remove();
    for (const box of this.list.list.querySelectorAll(".msg-edit, .msg-confirm")) box.remove();
  }
}

// The text of a text message from its markup (Django's linebreaks: paragraphs, <br> lines).
function textOf(body) {
  return [...body.querySelectorAll("p")].map((p) => {
    const copy = p.cloneNode(true);
    for (const br of copy.querySelectorAll("br")) br.replaceWith("\n");
    return copy.textContent;
  }).join("\n\n");
}
