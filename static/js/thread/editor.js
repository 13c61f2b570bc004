// The rich-text box of the composer (and of editing a formatted message in place): bold,
// italic, strikethrough, links, lists and code, with the usual shortcuts, on a contenteditable
// element and the browser's own editing commands.
//
// Why no editor library: the ones that would do (ProseMirror/Tiptap, Quill, Trix) need a
// bundler or set inline styles, which the site's Content-Security-Policy forbids, and weigh
// 100-300 KB for seven commands. What leaves this box is reduced to the tags the server's
// sanitiser keeps (chat/sanitize.py, which stays the security boundary: it cleans again).
import { button, el } from "../lib/dom.js";

// Tags kept (mapped to the one the sanitiser allows); others are unwrapped, keeping their text.
const KEEP = {
  B: "b", STRONG: "b", I: "i", EM: "i", S: "s", STRIKE: "s", DEL: "s", U: "u", A: "a",
  UL: "ul", OL: "ol", LI: "li", P: "p", DIV: "p", BR: "br", CODE: "code", PRE: "pre",
  BLOCKQUOTE: "blockquote", SUB: "sub", SUP: "sup", H1: "p", H2: "p", H3: "p", H4: "p",
  H5: "p", H6: "p",
};
// Dropped with everything inside them.
const DROP = new Set([
  "SCRIPT", "STYLE", "TEMPLATE", "HEAD", "TITLE", "META", "LINK", "NOSCRIPT", "IFRAME",
  "OBJECT", "EMBED", "SVG", "MATH", "IMG", "PICTURE", "VIDEO", "AUDIO", "CANVAS", "BUTTON",
  "INPUT", "SELECT", "TEXTAREA", "FORM",
]);
const FORMATTING = "b,i,s,u,a,ul,ol,code,pre,blockquote,sub,sup,span[data-mention]";
const SAFE_URL = /^(https?:|mailto:)/i;

// Formatting some editors write as styles (Google Docs: <span style="font-weight:700">).
function styled(node) {
  const style = (node.getAttribute(STYLE) || "").toLowerCase();
  if (/font-weight:\s*(bold|[6-9]00)/.test(style)) return "b";
  if (/font-style:\s*italic/.test(style)) return "i";
  if (/text-decoration[^;]*line-through/.test(style)) return "s";
  return null;
}

function cleanInto(source, target) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.append(document.createTextNode(node.data));
      continue;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || DROP.has(node.tagName)) continue;
    if (node.tagName === "SPAN" && node.dataset.mention) {
      // A mention (mentions.js): kept as the server's sanitiser keeps it.
      const mention = document.createElement("span");
      mention.dataset.mention = node.dataset.mention;
      mention.textContent = node.textContent;
      target.append(mention);
      continue;
    }
    const normalWeight = /font-weight:\s*(normal|[1-4]00)/i.test(node.getAttribute(STYLE) || "");
    let tag = KEEP[node.tagName] ?? styled(node);
    if (tag === "b" && normalWeight) tag = null; // Google Docs wraps everything in <b style=normal>
    if (tag === "a") {
      const href = node.getAttribute("href") || "";
      if (!SAFE_URL.test(href.trim())) tag = null;
    }
    if (!tag) {
      cleanInto(node, target);
      continue;
    }
    const copy = document.createElement(tag);
    if (tag === "a") copy.setAttribute("href", node.getAttribute("href").trim());
    cleanInto(node, copy);
    target.append(copy);
  }
}

// Parsing counts against the page's Content-Security-Policy even in a DOMParser document (a
// style attribute is "applied", an image's onerror "executed"): inside tags, style, event
// handler and source attributes are renamed first, and styles only read as text.
const STYLE = "data-pasted-style";
const renameStyles = (html) => html.replace(/<[^>]*>/g, (tag) => tag
  .replace(/(\s)style(\s*=)/gi, `$1${STYLE}$2`)
  .replace(/(\s)(on\w+|src|srcset)(\s*=)/gi, "$1data-pasted-$2$3"));

// HTML (pasted, or kept as a draft) reduced to what a message may hold, as inert nodes.
export function cleanHtml(html) {
  const parsed = new DOMParser().parseFromString(renameStyles(html), "text/html");
  const fragment = document.createDocumentFragment();
  cleanInto(parsed.body, fragment);
  return fragment;
}

function hasFormatting(root) { return root.querySelector(FORMATTING) !== null; }

const isMac = /Mac|iPhone|iPad/.test(navigator.platform);
const mod = isMac ? "⌘" : "Ctrl+";

export class RichEditor {
  // onSubmit(): Enter (outside a list) or Ctrl/Cmd+Enter; onInput(); onKey(event) first.
  constructor({ label, placeholder, strings, onSubmit, onInput = () => {}, onKey = () => false }) {
    this.strings = strings;
    this.onSubmit = onSubmit;
    this.onInput = onInput;
    this.root = el("div", "rich-editor");
    this.toolbar = el("div", "rich-toolbar");
    this.toolbar.setAttribute("role", "toolbar");
    this.toolbar.setAttribute("aria-label", strings.formatting);
    this.box = el("div", "rich");
    this.box.contentEditable = "true";
    this.box.setAttribute("role", "textbox");
    this.box.setAttribute("aria-multiline", "true");
    this.box.setAttribute("aria-label", label);
    this.box.dataset.placeholder = placeholder || "";
    this.box.spellcheck = true;
    this.linkForm = null;
    this.buttons = {};
    const tools = [
      ["bold", "b", `${strings.bold} (${mod}B)`, () => this.exec("bold")],
      ["italic", "i", `${strings.italic} (${mod}I)`, () => this.exec("italic")],
      ["strike", "s", `${strings.strike} (${mod}Shift+X)`, () => this.exec("strikeThrough")],
      ["link", "link", `${strings.link} (${mod}K)`, () => this.openLink()],
      ["bullets", "bullets", `${strings.bullets} (${mod}Shift+8)`, () => this.exec("insertUnorderedList")],
      ["numbers", "numbers", `${strings.numbers} (${mod}Shift+7)`, () => this.exec("insertOrderedList")],
      ["code", "code", `${strings.code} (${mod}E)`, () => this.toggleCode()],
    ];
    for (const [name, icon, title, action] of tools) {
      // The face is drawn by CSS (rich-toolbar__icon--*): the name is the label alone.
      const b = button("", `rich-toolbar__icon rich-toolbar__icon--${icon}`);
      b.setAttribute("aria-label", title);
      b.title = title;
      if (!["link"].includes(name)) b.setAttribute("aria-pressed", "false");
      b.tabIndex = -1;
      // Keep the caret and selection in the box.
      b.addEventListener("mousedown", (event) => event.preventDefault());
      b.addEventListener("click", () => { action(); this.box.focus(); this.changed(); });
      this.buttons[name] = b;
      this.toolbar.append(b);
    }
    this.buttons.bold.tabIndex = 0;
    this.toolbar.addEventListener("keydown", (event) => this.toolbarKeys(event));
    this.root.append(this.toolbar, this.box);
    this.box.addEventListener("keydown", (event) => {
      if (onKey(event)) return;
      this.keys(event);
    });
    this.box.addEventListener("paste", (event) => this.paste(event));
    this.box.addEventListener("drop", (event) => event.preventDefault());
    this.box.addEventListener("input", () => this.changed());
    document.addEventListener("selectionchange", () => {
      if (document.activeElement === this.box) this.renderState();
    });
  }

  // Arrow keys move along the toolbar; it is one Tab stop.
  toolbarKeys(event) {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const all = Object.values(this.buttons);
    const at = all.indexOf(document.activeElement);
    let next = at;
    if (event.key === "ArrowRight") next = (at + 1) % all.length;
    if (event.key === "ArrowLeft") next = (at - 1 + all.length) % all.length;
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = all.length - 1;
    for (const b of all) b.tabIndex = -1;
    all[next].tabIndex = 0;
    all[next].focus();
    event.preventDefault();
  }

  exec(command, value = null) {
    this.box.focus();
    document.execCommand("styleWithCSS", false, "false");
    document.execCommand(command, false, value);
  }

  inside(tag) {
    const selection = document.getSelection();
    let node = selection?.anchorNode;
    while (node && node !== this.box) {
      if (node.nodeType === Node.ELEMENT_NODE && node.tagName === tag) return node;
      node = node.parentNode;
    }
    return null;
  }

  toggleCode() {
    const code = this.inside("CODE");
    if (code) {
      code.replaceWith(...code.childNodes);
      return;
    }
    const selection = document.getSelection();
    if (!selection.rangeCount || !this.box.contains(selection.anchorNode)) return;
    const range = selection.getRangeAt(0);
    const wrap = document.createElement("code");
    if (range.collapsed) {
      wrap.append(document.createTextNode("\u200b"));
      range.insertNode(wrap);
    } else {
      wrap.append(range.extractContents());
      range.insertNode(wrap);
    }
    selection.selectAllChildren(wrap);
    if (range.collapsed) selection.collapseToEnd();
  }

  openLink() {
    const selection = document.getSelection();
    const range = selection.rangeCount && this.box.contains(selection.anchorNode)
      ? selection.getRangeAt(0).cloneRange() : null;
    this.linkForm?.remove();
    const form = el("div", "rich-link");
    const input = el("input");
    input.type = "url";
    input.placeholder = "https://";
    input.setAttribute("aria-label", this.strings.linkPrompt);
    const problem = el("p", "rich-link__error");
    problem.setAttribute("role", "alert");
    problem.id = "rich-link-error";
    input.setAttribute("aria-describedby", problem.id);
    const done = () => {
      form.remove();
      this.linkForm = null;
      this.box.focus();
      // Back where the caret was, not at the start of the box.
      if (range) { const sel = document.getSelection(); sel.removeAllRanges(); sel.addRange(range); }
    };
    const add = () => {
      const typed = input.value.trim();
      let url = typed;
      // "example.com/page" means https://example.com/page, as in every other editor.
      if (/^[^\s:/@]+\.[^\s:/@]+(\/\S*)?$/.test(url)) url = `https://${url}`;
      if (!SAFE_URL.test(url)) {
        input.setAttribute("aria-invalid", "true");
        problem.textContent = this.strings.badLink;
        input.focus();
        return;
      }
      done();
      const sel = document.getSelection();
      sel.removeAllRanges();
      if (range) sel.addRange(range);
      if (!range || range.collapsed) {
        const a = document.createElement("a");
        a.href = url;
        a.textContent = typed;
        const r = range || document.createRange();
        if (!range) { r.selectNodeContents(this.box); r.collapse(false); }
        r.insertNode(a);
        sel.removeAllRanges();
        sel.selectAllChildren(a);
        sel.collapseToEnd();
      } else {
        this.exec("createLink", url);
      }
      this.changed();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); add(); }
      if (event.key === "Escape") { event.preventDefault(); done(); }
    });
    form.append(input, button(this.strings.addLink, "chat-button", add),
      button(this.strings.cancel, "chat-button chat-button--quiet", done), problem);
    this.toolbar.after(form);
    this.linkForm = form;
    input.focus();
  }

  keys(event) {
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && !event.altKey) {
      const shortcuts = {
        b: () => this.exec("bold"), i: () => this.exec("italic"), k: () => this.openLink(),
        e: () => this.toggleCode(),
      };
      const shifted = { x: () => this.exec("strikeThrough"), "*": () => this.exec("insertUnorderedList"),
        8: () => this.exec("insertUnorderedList"), "&": () => this.exec("insertOrderedList"),
        7: () => this.exec("insertOrderedList") };
      const action = event.shiftKey ? shifted[key] ?? shifted[event.code?.replace("Digit", "")] : shortcuts[key];
      if (key === "enter") { event.preventDefault(); this.onSubmit(); return; }
      if (action) { event.preventDefault(); action(); this.changed(); return; }
      if (key === "u") { event.preventDefault(); return; } // underline is not a chat format
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      // In a list, Enter starts the next item (and on an empty one, ends the list).
      if (this.inside("LI")) return;
      event.preventDefault();
      this.onSubmit();
    }
  }

  paste(event) {
    const data = event.clipboardData;
    if (!data) return;
    event.preventDefault();
    const html = data.getData("text/html");
    const text = data.getData("text/plain");
    const fragment = html ? cleanHtml(html) : null;
    const holder = el("div");
    if (fragment) holder.append(fragment.cloneNode(true));
    if (fragment && hasFormatting(holder)) {
      const selection = document.getSelection();
      if (!selection.rangeCount) return;
      const range = selection.getRangeAt(0);
      range.deleteContents();
      const last = fragment.lastChild;
      range.insertNode(fragment);
      if (last) { range.setStartAfter(last); range.collapse(true); }
      selection.removeAllRanges();
      selection.addRange(range);
    } else {
      document.execCommand("insertText", false, text || holder.textContent);
    }
    this.changed();
  }

  changed() {
    // An emptied box keeps a stray <br>; clear it so the placeholder shows.
    if (!this.box.textContent && !this.box.querySelector("li")) this.box.replaceChildren();
    this.renderState();
    this.onInput();
  }

  renderState() {
    const state = {
      bold: document.queryCommandState("bold"),
      italic: document.queryCommandState("italic"),
      strike: document.queryCommandState("strikeThrough"),
      bullets: document.queryCommandState("insertUnorderedList"),
      numbers: document.queryCommandState("insertOrderedList"),
      code: Boolean(this.inside("CODE")),
    };
    for (const [name, on] of Object.entries(state)) {
      this.buttons[name]?.setAttribute("aria-pressed", String(Boolean(on)));
    }
  }

  // What to send: plain text when nothing is formatted (so it stays text), else cleaned HTML.
  value() {
    const holder = el("div");
    cleanInto(this.box, holder);
    for (const node of holder.querySelectorAll("code")) {
      node.textContent = node.textContent.replaceAll("\u200b", "");
    }
    if (!hasFormatting(holder)) {
      const text = this.box.innerText.replaceAll("\u200b", "").replace(/\n+$/, "");
      return { content: text, format: "text" };
    }
    while (holder.lastChild?.nodeName === "BR") holder.lastChild.remove();
    return { content: holder.innerHTML, format: "html" };
  }

  isEmpty() { return !this.box.textContent.replaceAll("\u200b", "").trim(); }

  html() { return this.box.innerHTML; }

  setHtml(html) {
    this.box.replaceChildren(cleanHtml(html));
    this.renderState();
  }

  setText(text) { this.box.textContent = text; }

  clear() {
    this.box.replaceChildren();
    this.linkForm?.remove();
    this.renderState();
  }

  focus(atEnd = true) {
    this.box.focus();
    if (atEnd) {
      const selection = document.getSelection();
      selection.selectAllChildren(this.box);
      selection.collapseToEnd();
    }
  }

  set disabled(value) {
    this.box.contentEditable = value ? "false" : "true";
    this.box.setAttribute("aria-disabled", String(value));
    for (const b of Object.values(this.buttons)) b.disabled = value;
  }
}
