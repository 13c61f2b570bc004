// Small DOM helpers shared by the page scripts. Text from people is only ever set as text;
// the only markup put in place is the server's (message markup, rendered and escaped there).

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(label, className = "", onClick = null) {
  const node = el("button", className, label);
  node.type = "button";
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

// The JSON a template put in a <script type="application/json"> (Django's json_script).
export function readJson(id) {
  const node = id && document.getElementById(id);
  if (!node) return null;
  try { return JSON.parse(node.textContent); } catch { return null; }
}

// "%(name)s" placeholders, as Django's translations write them.
export function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ""));
}

export function nameList(names, and) {
  if (names.length < 2) return names.join("");
  return `${names.slice(0, -1).join(", ")} ${and} ${names[names.length - 1]}`;
}

// Message ids are their creation time in epoch milliseconds, so they order messages.
export const idNumber = (id) => (id && /^\d+$/.test(id) ? Number(id) : 0);

// Server-rendered markup (trusted: escaped and sanitised where it was made) to nodes.
export function fromMarkup(markup) {
  const template = document.createElement("template");
  template.innerHTML = markup.trim();
  return template.content.firstElementChild;
}

let toastTimer = null;
export function toast(text) {
  let node = document.querySelector(".chat-toast");
  if (!node) {
    node = el("p", "chat-toast");
    node.setAttribute("role", "status");
    document.body.append(node);
  }
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 2500);
}
