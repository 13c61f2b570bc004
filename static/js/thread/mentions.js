// @mentions in the composer: typing "@" (after a space or at the start) offers the thread's
// participants in a listbox under the box, narrowed by what follows the "@". Arrow keys move,
// Enter or Tab insert, Escape closes; a click inserts too. The mention is inserted as
// <span data-mention="RAW_ID">@Name</span>, the form the server's sanitiser keeps (and keeps
// only for participants: chat/mentions.py).
import { el } from "../lib/dom.js";

// Options shown at most; typing more narrows them.
const MAX_OPTIONS = 8;
const TRIGGER = /(?:^|\s)@([^\s@]{0,32})$/u;

export class Mentions {
  constructor({ editor, people, me, strings }) {
    this.editor = editor;
    this.people = people; // () => [{rawId, name}]
    this.me = me;
    this.strings = strings;
    this.options = [];
    this.active = 0;
    this.at = null; // {node, start, end}: the "@query" text being replaced
    this.listbox = el("ul", "mention-list");
    this.listbox.id = `mention-list-${Math.random().toString(36).slice(2, 8)}`;
    this.listbox.setAttribute("role", "listbox");
    this.listbox.setAttribute("aria-label", strings.mentionSomeone);
    this.listbox.hidden = true;
    editor.root.append(this.listbox);
    editor.box.setAttribute("aria-controls", this.listbox.id);
    editor.box.addEventListener("input", () => this.update());
    // Focus gone elsewhere in the page closes it (not the window losing focus: the box keeps it).
    editor.box.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== editor.box) this.close();
    }, 150));
    // Keep the caret in the box while choosing with the mouse.
    this.listbox.addEventListener("mousedown", (event) => event.preventDefault());
    this.listbox.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.choose(Number(option.dataset.index));
    });
  }

  get open() { return !this.listbox.hidden; }

  // The "@query" just before the caret, if any.
  query() {
    const selection = document.getSelection();
    if (!selection?.rangeCount || !selection.isCollapsed) return null;
    const node = selection.anchorNode;
    if (node?.nodeType !== Node.TEXT_NODE || !this.editor.box.contains(node)) return null;
    if (node.parentElement?.closest("[data-mention], code, pre, a")) return null;
    const before = node.data.slice(0, selection.anchorOffset);
    const match = TRIGGER.exec(before);
    if (!match) return null;
    return { node, start: selection.anchorOffset - match[1].length - 1, end: selection.anchorOffset, text: match[1] };
  }

  update() {
    this.at = this.query();
    if (!this.at) { this.close(); return; }
    const wanted = this.at.text.toLocaleLowerCase();
    this.options = this.people()
      .filter((p) => p.rawId !== this.me && p.name.toLocaleLowerCase().split(/\s+/).concat(p.name.toLocaleLowerCase()).some((w) => w.startsWith(wanted)))
      .sort((a, b) => a.name.localeCompare(b.name))
      .slice(0, MAX_OPTIONS);
    if (!this.options.length) { this.close(); return; }
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  render() {
    this.listbox.replaceChildren(...this.options.map((person, index) => {
      const option = el("li", "mention-list__option", `@${person.name}`);
      option.id = `${this.listbox.id}-${index}`;
      option.dataset.index = String(index);
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(index === this.active));
      return option;
    }));
    this.listbox.hidden = false;
    this.editor.box.setAttribute("aria-activedescendant", `${this.listbox.id}-${this.active}`);
  }

  close() {
    if (this.listbox.hidden) return;
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.editor.box.removeAttribute("aria-activedescendant");
  }

  // The composer's keys first: true when the list took the key.
  keys(event) {
    if (!this.open) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.options.length) % this.options.length;
      this.render();
      return true;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      this.choose(this.active);
      return true;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      return true;
    }
    return false;
  }

  choose(index) {
    const person = this.options[index];
    const at = this.at && this.at.node.isConnected ? this.at : this.query();
    if (!person || !at) { this.close(); return; }
    const range = document.createRange();
    range.setStart(at.node, at.start);
    range.setEnd(at.node, at.end);
    range.deleteContents();
    const mention = el("span", "", `@${person.name}`);
    mention.dataset.mention = person.rawId;
    mention.contentEditable = "false";
    const space = document.createTextNode("\u00a0");
    range.insertNode(space);
    range.insertNode(mention);
    const selection = document.getSelection();
    selection.removeAllRanges();
    const after = document.createRange();
    after.setStartAfter(space);
    after.collapse(true);
    selection.addRange(after);
    this.close();
    this.editor.changed();
  }
}
