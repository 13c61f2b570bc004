// Builds the DOM for one message from the JSON that chat.rendering.message_json produces,
// matching templates/chat/_message.html. `message.html` is already safe (escaped text or
// sanitised HTML, made on the server); every other field is inserted as text.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeElement(iso) {
  const time = el("time", "", new Date(iso).toLocaleString());
  time.setAttribute("datetime", iso);
  time.dataset.localTime = "short";
  return time;
}

function nameList(names, and) {
  if (names.length < 2) return names.join("");
  return `${names.slice(0, -1).join(", ")} ${and} ${names[names.length - 1]}`;
}

export function renderMessage(message, strings, csrf) {
  const item = el("li", "msg");
  item.id = `m-${message.id}`;
  item.dataset.messageId = message.id;
  if (message.clientId) item.dataset.clientId = message.clientId;
  if (message.sender?.rawId) item.dataset.sender = message.sender.rawId;
  if (message.mine) item.classList.add("msg--mine");
  if (message.deletedOn) item.classList.add("msg--deleted");
  if (message.type === "system") {
    item.classList.add("msg--system");
    const line = el("p", "msg__system");
    const text = el("span", "msg__text");
    text.innerHTML = message.html;
    const when = el("span", "msg__time");
    when.append(timeElement(message.createdOn));
    line.append(text, " ", when);
    item.append(line);
    return item;
  }
  const bubble = el("div", "msg__bubble");
  const meta = el("p", "msg__meta");
  meta.append(el("span", "msg__sender", message.sender?.name ?? ""));
  const link = el("a", "msg__time");
  link.href = message.permalink;
  link.title = strings.link;
  link.append(timeElement(message.createdOn));
  meta.append(" ", link);
  if (message.deletedOn) meta.append(" ", el("span", "msg__flag", strings.deleted));
  else if (message.editedOn) meta.append(" ", el("span", "msg__flag", strings.edited));
  bubble.append(meta);
  if (message.deletedOn) {
    bubble.append(el("p", "msg__body msg__body--deleted", strings.deletedBody));
  } else {
    const body = el("div", "msg__body");
    body.innerHTML = message.html;
    bubble.append(body);
  }
  if (message.editUrl && message.deleteUrl) {
    const actions = el("div", "msg__actions");
    const edit = el("a", "", strings.edit);
    edit.href = message.editUrl;
    const form = el("form");
    form.method = "post";
    form.action = message.deleteUrl;
    form.dataset.confirm = strings.confirmDelete;
    const token = el("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrf;
    const button = el("button", "chat-link-button", strings.delete);
    button.type = "submit";
    form.append(token, button);
    actions.append(edit, form);
    bubble.append(actions);
  }
  item.append(bubble);
  if (message.seenBy?.length) {
    item.append(el("p", "msg__seen", strings.seenBy.replace("%(names)s", nameList(message.seenBy, strings.and))));
  }
  return item;
}
