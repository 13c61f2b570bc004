// Enhancements for the chat pages. Every page works without this script; it adds local
// times, scrolling to the newest message, Enter-to-send, "load older" in place, typing and
// read notifications, confirmations and the history date toggle. On the newest page of a
// thread, chat-live.js adds the live connection (and sends through it).
import { renderMessage } from "./chat-render.js";
import { startLive } from "./chat-live.js";

const csrfToken = () => document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";

function post(url, data = {}) {
  const body = new URLSearchParams(data);
  return fetch(url, {
    method: "POST",
    body,
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    credentials: "same-origin",
  });
}

export function localiseTimes(root = document) {
  const lang = document.documentElement.lang || undefined;
  for (const el of root.querySelectorAll("time[data-local-time]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    const long = el.dataset.localTime === "long";
    const sameDay = new Date().toDateString() === when.toDateString();
    const options = long || !sameDay
      ? { dateStyle: "medium", timeStyle: "short" }
      : { timeStyle: "short" };
    el.textContent = new Intl.DateTimeFormat(lang, options).format(when);
    el.title = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "long" }).format(when);
  }
}

function enhanceConfirms(root = document) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    if (form.dataset.confirmReady) continue;
    form.dataset.confirmReady = "1";
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function enhancePicker() {
  for (const picker of document.querySelectorAll("[data-picker]")) {
    for (const row of picker.querySelectorAll(".chat-picker__row")) {
      const select = row.querySelector("select");
      const since = row.querySelector("input[type=datetime-local]");
      if (!select || !since) continue;
      const sync = () => { since.hidden = select.value !== "since"; };
      select.addEventListener("change", sync);
      sync();
    }
    const filter = picker.querySelector("[data-picker-filter]");
    if (filter) {
      filter.hidden = false;
      filter.addEventListener("input", () => {
        const term = filter.value.trim().toLowerCase();
        for (const row of picker.querySelectorAll(".chat-picker__row")) {
          row.hidden = term !== "" && !row.dataset.name.includes(term);
        }
      });
    }
  }
}

function enhanceForms() {
  for (const form of document.querySelectorAll("form[data-once]")) {
    // The idempotency token makes a double submit harmless; this just avoids the wait twice.
    form.addEventListener("submit", () => {
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
    });
  }
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  for (const el of document.querySelectorAll("[data-hide-with-js]")) el.hidden = true;
}

function enhanceThread(section) {
  const scroller = section.querySelector("[data-scroll-bottom]");
  const composer = section.querySelector("[data-composer]");
  const textarea = composer?.querySelector("textarea");
  const clientId = composer?.querySelector("input[name=client_id]");
  if (scroller) {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && scroller.contains(target)) target.scrollIntoView({ block: "center" });
    else scroller.scrollTop = scroller.scrollHeight;
  }
  if (clientId && !clientId.value) clientId.value = crypto.randomUUID();
  if (textarea) {
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
  }
  if (textarea && section.dataset.live) {
    startLive(section, { localiseTimes, enhanceConfirms, csrfToken, post });
  } else if (textarea) {
    composer.addEventListener("submit", () => {
      for (const b of composer.querySelectorAll("button[type=submit]")) b.disabled = true;
    });
  }
  const older = section.querySelector("[data-load-older]");
  if (older && scroller) {
    older.addEventListener("click", async (event) => {
      event.preventDefault();
      const url = new URL(older.href);
      url.searchParams.set("format", "json");
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) { location.href = older.href; return; }
      const data = await response.json();
      const list = section.querySelector("[data-messages]");
      const height = scroller.scrollHeight;
      const fragment = document.createDocumentFragment();
      for (const message of data.messages) {
        fragment.append(renderMessage(message, data.strings, csrfToken()));
      }
      list.prepend(fragment);
      localiseTimes(list);
      enhanceConfirms(list);
      scroller.scrollTop = scroller.scrollHeight - height;
      if (data.olderUrl) older.href = data.olderUrl;
      else older.closest(".chat-older").remove();
    });
  }
}

localiseTimes();
enhanceConfirms();
enhancePicker();
enhanceForms();
const thread = document.querySelector("[data-thread]");
if (thread) enhanceThread(thread);
