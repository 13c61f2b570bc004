// Enhancements for every page's forms. Each form works without this script.
import { el, fill } from "./lib/dom.js";

// Fields with data-limit: a count near the limit, and a clear refusal past it (never a silent
// cut, which is what maxlength does to a paste). The server refuses the same with a message.
export function enhanceLimits(root = document, words = {}) {
  for (const field of root.querySelectorAll("[data-limit]")) {
    if (field.dataset.limitReady) continue;
    field.dataset.limitReady = "1";
    const limit = Number(field.dataset.limit);
    const count = el("span", "chat-count");
    count.id = `${field.id || field.name}-count-${Math.random().toString(36).slice(2, 7)}`;
    count.setAttribute("aria-live", "polite");
    field.after(count);
    field.setAttribute("aria-describedby", [field.getAttribute("aria-describedby"), count.id].filter(Boolean).join(" "));
    const update = () => {
      const length = field.value.length;
      const over = length > limit;
      count.hidden = length < limit * 0.8;
      count.textContent = over
        ? `${length} / ${limit} · ${fill(words.tooLong || "%(count)s", { count: length - limit })}`
        : `${length} / ${limit}`;
      count.classList.toggle("is-over", over);
      field.setAttribute("aria-invalid", String(over));
      for (const b of field.form?.querySelectorAll("button[type=submit]") || []) b.disabled = over;
    };
    field.addEventListener("input", update);
    update();
  }
}

export function enhanceConfirms(root = document) {
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

function enhanceMenu() {
  const header = document.querySelector("[data-site-header]");
  const toggle = header?.querySelector("[data-menu-toggle]");
  if (!toggle) return;
  document.documentElement.classList.add("has-menu");
  toggle.hidden = false;
  const close = () => { header.classList.remove("is-open"); toggle.setAttribute("aria-expanded", "false"); };
  toggle.addEventListener("click", () => {
    const open = !header.classList.contains("is-open");
    header.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
  document.addEventListener("click", (event) => { if (!header.contains(event.target)) close(); });
}

function enhanceProfile() {
  const form = document.querySelector("[data-profile-form]");
  const note = form?.querySelector("[data-browser-zone]");
  if (!note) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  note.querySelector("[data-zone]").textContent = zone;
  note.hidden = !zone;
}

export function enhanceForms() {
  for (const form of document.querySelectorAll("form[data-once]")) {
    // The idempotency token makes a double submit harmless; this just avoids the wait twice.
    form.addEventListener("submit", () => {
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
    });
  }
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  for (const node of document.querySelectorAll("[data-hide-with-js]")) node.hidden = true;
  enhanceConfirms();
  enhancePicker();
  enhanceMenu();
  enhanceProfile();
}
