// Files for the next message: picked with the button, dropped on the thread or the composer, or
// pasted (images from the clipboard). Each file uploads at once in a request of its own
// (XMLHttpRequest, for its upload progress, which fetch does not report), with a Cancel; the
// message then goes out with the ids of the uploaded ones (websocket "send", "attachments").
// The limits are checked here first so a file that cannot be sent is not uploaded at all; the
// server checks them again.
import { button, el, fill } from "../lib/dom.js";

const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
const extensionOf = (name) => (name.includes(".") ? name.split(".").pop().toLowerCase() : "");

function sizeText(bytes) {
  const lang = document.documentElement.lang;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toLocaleString(lang, { maximumFractionDigits: 1 })} MB`;
  return `${Math.max(1, Math.round(bytes / 1024)).toLocaleString(lang)} KB`;
}

export class Attachments {
  constructor({ root, form, dropZones, config }) {
    this.disabled = false;
    this.root = root;
    this.config = config;
    this.strings = config.strings;
    this.url = root.dataset.uploadUrl;
    this.csrf = form.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
    this.input = root.querySelector("input[type=file]");
    this.list = root.querySelector("[data-files-list]");
    this.entries = [];
    this.status = el("p", "visually-hidden");
    this.status.setAttribute("role", "status");
    root.append(this.status);
    // The script uploads each file itself; the form post never carries them.
    this.input.removeAttribute("name");
    this.input.addEventListener("change", () => {
      this.add([...this.input.files]);
      this.input.value = "";
    });
    for (const zone of dropZones) {
      zone.addEventListener("dragover", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        zone.classList.add("is-dropping");
      });
      zone.addEventListener("dragleave", () => zone.classList.remove("is-dropping"));
      zone.addEventListener("drop", (event) => {
        zone.classList.remove("is-dropping");
        if (!event.dataTransfer?.files?.length) return;
        event.preventDefault();
        this.add([...event.dataTransfer.files]);
      });
    }
    // Before the editor's own paste handling (capture): pasted files become attachments.
    form.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length) return;
      event.preventDefault();
      event.stopPropagation();
      this.add(files);
    }, true);
    this.hide();
  }

  // Signed out: no more uploads (the picker, drops and pastes all stop).
  disable() {
    this.disabled = true;
    this.input.disabled = true;
    this.root.querySelector("label, button")?.setAttribute("aria-disabled", "true");
  }

  hide() {
    this.list.hidden = !this.entries.length;
  }

  announce(text) {
    this.status.textContent = text;
  }

  refusal(file) {
    const { maxBytes, maxCount, extensions } = this.config;
    if (this.entries.length >= maxCount) return fill(this.strings.tooMany, { max: maxCount });
    const extension = extensionOf(file.name);
    if (!extensions.includes(extension)) return fill(this.strings.badType, { extension: extension || "?" });
    if (file.size > maxBytes) return fill(this.strings.tooLarge, { name: file.name, max: sizeText(maxBytes) });
    return null;
  }

  add(files) {
    if (this.disabled) return;
    for (const file of files) {
      const refused = this.refusal(file);
      const entry = { file, name: file.name || "image.png", state: refused ? "failed" : "uploading", error: refused };
      entry.item = this.item(entry);
      this.entries.push(entry);
      this.list.append(entry.item);
      if (refused) this.announce(fill(this.strings.failed, { name: entry.name, error: refused }));
      else this.upload(entry);
      this.render(entry);
    }
    this.hide();
  }

  item(entry) {
    const item = el("li", "chat-file");
    item.append(el("span", "chat-file__name", entry.name), el("span", "chat-file__size", sizeText(entry.file.size)));
    entry.progress = el("progress", "chat-file__progress");
    entry.progress.max = 100;
    entry.progress.value = 0;
    entry.progress.setAttribute("aria-label", fill(this.strings.uploading, { name: entry.name, percent: 0 }));
    entry.message = el("span", "chat-file__state");
    entry.action = button(this.strings.cancel, "chat-link-button chat-file__remove", () => this.remove(entry));
    item.append(entry.progress, entry.message, entry.action);
    return item;
  }

  render(entry) {
    entry.item.dataset.state = entry.state;
    entry.progress.hidden = entry.state !== "uploading";
    entry.message.textContent = entry.state === "failed" ? entry.error : "";
    entry.message.classList.toggle("is-error", entry.state === "failed");
    entry.action.textContent = entry.state === "uploading" ? this.strings.cancel : this.strings.remove;
    entry.action.setAttribute("aria-label", `${entry.action.textContent}: ${entry.name}`);
  }

  upload(entry) {
    const xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    xhr.open("POST", this.url);
    xhr.setRequestHeader("X-CSRFToken", this.csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(entry.name));
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      entry.progress.value = percent;
      entry.progress.setAttribute("aria-label", fill(this.strings.uploading, { name: entry.name, percent }));
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201 && xhr.response?.id) {
        entry.state = "ready";
        entry.id = xhr.response.id;
        this.announce(fill(this.strings.uploaded, { name: entry.name }));
      } else {
        this.failed(entry, xhr.response?.error || `${xhr.status}`);
      }
      this.render(entry);
    });
    xhr.addEventListener("error", () => { this.failed(entry, ""); this.render(entry); });
    const body = new FormData();
    body.append("file", entry.file, entry.name);
    xhr.send(body);
  }

  failed(entry, error) {
    entry.state = "failed";
    entry.error = error;
    this.announce(fill(this.strings.failed, { name: entry.name, error }));
  }

  remove(entry) {
    if (entry.state === "uploading") entry.xhr?.abort();
    entry.item.remove();
    this.entries = this.entries.filter((e) => e !== entry);
    this.hide();
  }

  busy() {
    return this.entries.some((e) => e.state === "uploading");
  }

  // The uploaded files, for the message: [{id, name}].
  ready() {
    return this.entries.filter((e) => e.state === "ready").map(({ id, name }) => ({ id, name }));
  }

  // The message took them: the list starts empty again (refused ones go too).
  clear() {
    for (const entry of this.entries) entry.item.remove();
    this.entries = [];
    this.hide();
  }
}

// Images in messages open large in a dialog (a modal <dialog>: Escape and the Close button
// close it, and focus goes back to the image); the link still opens the image on its own.
export function imageViewer(container, strings) {
  let dialog = null;
  const open = (link) => {
    if (!dialog) {
      dialog = el("dialog", "chat-lightbox");
      dialog.setAttribute("aria-label", strings.imageDialog);
      const close = button(strings.close, "chat-button chat-lightbox__close", () => dialog.close());
      const image = el("img", "chat-lightbox__image");
      const full = el("a", "chat-lightbox__link", strings.openFull);
      full.target = "_blank";
      full.rel = "noopener";
      dialog.append(close, image, full);
      dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
      document.body.append(dialog);
    }
    const image = dialog.querySelector("img");
    image.src = link.href;
    image.alt = link.dataset.imageName || "";
    dialog.querySelector("a").href = link.href;
    dialog.showModal();
    dialog.querySelector("button").focus();
  };
  container.addEventListener("click", (event) => {
    const link = event.target.closest?.("a.msg__image-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    open(link);
  });
}
