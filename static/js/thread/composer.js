// The composer: the rich-text box in place of the form's text area, Enter to send (never a
// form post on a live page), a count near the limit and a refusal past it, typing
// notifications, Up to edit one's last message, and a draft kept across reloads.
import { el, fill } from "../lib/dom.js";
import { load, remove, save, storeKey } from "../lib/store.js";
import { RichEditor } from "./editor.js";
import { Mentions } from "./mentions.js";

// ACS allows five typing notifications per user and thread per 10 s.
const TYPING_EVERY_MS = 8000;
const DRAFT_SAVE_MS = 400;

export class Composer {
  constructor({ form, me, thread, strings, maxLength, onSend, onTyping, onEditLast, people, onEscape, attachments }) {
    this.form = form;
    this.attachments = attachments; // the files for the next message (attachments.js), if any
    this.strings = strings;
    this.maxLength = maxLength;
    this.onSend = onSend;
    this.onTyping = onTyping;
    this.onEditLast = onEditLast;
    this.draftKey = storeKey(me, "draft", thread);
    this.lastTyping = 0;
    this.draftTimer = null;
    const area = form.querySelector("textarea");
    this.count = form.querySelector("[data-count]");
    this.sendButton = form.querySelector("button[type=submit]");
    this.error = el("p", "chat-composer__error");
    this.error.setAttribute("role", "alert");
    this.editor = new RichEditor({
      label: area.labels?.[0]?.textContent || strings.message,
      placeholder: area.placeholder,
      strings,
      onSubmit: () => this.submit(),
      onInput: () => this.changed(),
      onKey: (event) => this.keys(event),
    });
    this.editor.box.id = "composer-box";
    // @mentions of the thread's participants (people(): [{rawId, name}]).
    this.mentions = people ? new Mentions({ editor: this.editor, people, me, strings }) : null;
    this.onEscape = onEscape || (() => false);
    area.hidden = true;
    area.removeAttribute("data-limit");
    area.nextElementSibling?.classList.contains("chat-count") && area.nextElementSibling.remove();
    area.after(this.editor.root);
    this.editor.root.after(this.error);
    this.error.hidden = true;
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    // The skip link lands in the box itself.
    const skip = document.querySelector(".skip-link");
    if (skip) {
      skip.href = "#composer-box";
      skip.addEventListener("click", (event) => { event.preventDefault(); this.editor.focus(); });
    }
    const draft = load(this.draftKey, null);
    if (draft) this.editor.setHtml(draft);
    this.changed(false);
  }

  keys(event) {
    if (this.mentions?.keys(event)) return true;
    if (event.key === "Escape" && this.onEscape()) { event.preventDefault(); return true; }
    if (event.key === "ArrowUp" && this.editor.isEmpty() && !event.shiftKey) {
      if (this.onEditLast()) { event.preventDefault(); return true; }
    }
    return false;
  }

  length() {
    return this.editor.isEmpty() ? 0 : this.editor.value().content.length;
  }

  changed(typed = true) {
    const length = this.length();
    const over = length > this.maxLength;
    const near = length >= this.maxLength * 0.9;
    this.count.textContent = over
      ? `${length.toLocaleString(document.documentElement.lang)} / ${this.maxLength.toLocaleString(document.documentElement.lang)} · ${fill(this.strings.tooLong, { count: (length - this.maxLength).toLocaleString(document.documentElement.lang) })}`
      : near ? `${length.toLocaleString(document.documentElement.lang)} / ${this.maxLength.toLocaleString(document.documentElement.lang)}` : "";
    this.count.classList.toggle("is-over", over);
    this.sendButton.setAttribute("aria-disabled", String(over));
    this.editor.box.setAttribute("aria-invalid", String(over));
    if (!over) this.error.hidden = true;
    if (!typed) return;
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => {
      if (this.editor.isEmpty()) remove(this.draftKey);
      else save(this.draftKey, this.editor.html());
    }, DRAFT_SAVE_MS);
    const now = Date.now();
    if (length && now - this.lastTyping >= TYPING_EVERY_MS) {
      this.lastTyping = now;
      this.onTyping();
    }
  }

  submit() {
    const files = this.attachments?.ready() ?? [];
    if (this.attachments?.busy()) {
      this.error.textContent = this.attachments.strings.stillUploading;
      this.error.hidden = false;
      return;
    }
    if (this.disabled || (this.editor.isEmpty() && !files.length)) return;
    const { content, format } = this.editor.isEmpty() ? { content: "", format: "text" } : this.editor.value();
    if (content.length > this.maxLength) {
      this.error.textContent = fill(this.strings.tooLong, { count: (content.length - this.maxLength).toLocaleString(document.documentElement.lang) });
      this.error.hidden = false;
      return;
    }
    this.onSend(content, format, files);
    this.attachments?.clear();
    this.editor.clear();
    clearTimeout(this.draftTimer);
    remove(this.draftKey);
    this.lastTyping = 0;
    this.changed(false);
    this.editor.focus();
  }

  // Put a message back to be corrected (one that was refused).
  restore(content, format) {
    if (format === "html") this.editor.setHtml(content);
    else this.editor.setText(content);
    this.changed();
    this.editor.focus();
  }

  disable() {
    this.disabled = true;
    this.editor.disabled = true;
    this.sendButton.disabled = true;
    this.attachments?.disable();
  }
}
