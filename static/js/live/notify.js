// The unread total in the tab title, and opt-in desktop notifications.
//
// Unread counts per conversation are kept in localStorage for the user, so every open page
// (the list, a conversation, settings) shows the same total and updates when another tab
// changes it. Notifications are for messages from others in conversations the page is not
// showing, or in any conversation while the tab is hidden; the user turns them on (the
// browser asks once), and one per conversation replaces the last (tag = the conversation).
import { fill } from "../lib/dom.js";
import { load, save, storeKey } from "../lib/store.js";

export class Unread {
  constructor(me) {
    this.key = storeKey(me, "unread");
    this.counts = load(this.key, {}) || {};
    this.listeners = [];
    window.addEventListener("storage", (event) => {
      if (event.key !== this.key) return;
      this.counts = load(this.key, {}) || {};
      this.changed();
    });
  }

  onChange(listener) { this.listeners.push(listener); }

  changed() { for (const listener of this.listeners) listener(); }

  set(thread, count) {
    if ((this.counts[thread] || 0) === count) return;
    if (count > 0) this.counts[thread] = count;
    else delete this.counts[thread];
    save(this.key, this.counts);
    this.changed();
  }

  add(thread, count = 1) { this.set(thread, (this.counts[thread] || 0) + count); }

  get(thread) { return this.counts[thread] || 0; }

  // Everything the list knows, replacing what was kept (the list page read it from ACS).
  replace(counts) {
    this.counts = { ...counts };
    save(this.key, this.counts);
    this.changed();
  }

  total(except = null) {
    return Object.entries(this.counts)
      .filter(([thread]) => thread !== except)
      .reduce((sum, [, count]) => sum + count, 0);
  }
}

// "(3) Topic" while there is something unread; the page's own title otherwise.
export function titleKeeper(base) {
  let title = base;
  return {
    setBase(text) { title = text; },
    show(count) { document.title = count > 0 ? `(${count}) ${title}` : title; },
  };
}

export class Notifier {
  constructor(me, strings) {
    this.key = storeKey(me, "notify");
    this.strings = strings;
    this.mentionsKey = storeKey(me, "notify-mentions");
    this.toggle = document.querySelector("[data-notify-toggle]");
    this.mentionsToggle = document.querySelector("[data-notify-mentions]");
    this.supported = "Notification" in window;
    if (this.toggle && this.supported) {
      this.toggle.hidden = false;
      this.toggle.addEventListener("click", () => this.flip());
      this.mentionsToggle?.addEventListener("click", () => {
        save(this.mentionsKey, !this.mentionsOnly);
        this.render();
      });
      this.render();
    }
  }

  get wanted() { return load(this.key, false) === true; }

  // Only messages that mention the user notify (the other messages still count as unread).
  get mentionsOnly() { return load(this.mentionsKey, false) === true; }

  get enabled() { return this.supported && this.wanted && Notification.permission === "granted"; }

  async flip() {
    if (this.wanted && Notification.permission === "granted") {
      save(this.key, false);
    } else if (Notification.permission === "denied") {
      save(this.key, false);
    } else {
      const answer = Notification.permission === "granted"
        ? "granted" : await Notification.requestPermission();
      save(this.key, answer === "granted");
    }
    this.render();
  }

  render() {
    if (!this.toggle) return;
    const on = this.enabled;
    const blocked = this.supported && Notification.permission === "denied";
    this.toggle.setAttribute("aria-pressed", String(on));
    this.toggle.textContent = on ? this.strings.notifyOn : this.strings.notifyOff;
    this.toggle.title = blocked ? this.strings.notifyBlocked : "";
    if (this.mentionsToggle) {
      this.mentionsToggle.hidden = !on;
      this.mentionsToggle.setAttribute("aria-pressed", String(this.mentionsOnly));
    }
  }

  // A message from someone else: {thread, topic, sender, preview, url, mention}.
  message({ thread, topic, sender, preview, url, mention = false }) {
    if (!this.enabled || (this.mentionsOnly && !mention)) return;
    try {
      const note = new Notification(topic || fill(this.strings.newMessageFrom, { name: sender }), {
        body: mention ? `${fill(this.strings.mentionedBy, { name: sender })}: ${preview}` : `${sender}: ${preview}`,
        tag: thread,
        lang: document.documentElement.lang || undefined,
      });
      note.addEventListener("click", () => {
        window.focus();
        if (url && location.pathname !== url) location.assign(url);
        note.close();
      });
    } catch { /* some browsers only allow notifications from a service worker */ }
  }
}
