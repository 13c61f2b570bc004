// Every page's script: local times, forms, the menu; and the live parts of the chat pages
// (the conversation list, a conversation, its settings), each in its own module. Every page
// works without it, except that a conversation then sends by posting its form.
import { enhanceForms, enhanceLimits } from "./forms.js";
import { readJson } from "./lib/dom.js";
import { forgetUser } from "./lib/store.js";
import { localiseTimes, reportTimeZone } from "./lib/times.js";
import { Notifier, Unread } from "./live/notify.js";
import { startPeople } from "./people/page.js";
import { startThread } from "./thread/page.js";
import { startList } from "./threads/list.js";

reportTimeZone();
localiseTimes();
enhanceForms();

const page = readJson("kwebbel-page"); // signed in
const pageName = document.body.dataset.page;
const strings = page?.strings ?? {};
enhanceLimits(document, readJson("chat-live")?.strings ?? strings);

if (page) {
  document.querySelector("[data-sign-out]")?.addEventListener("submit", () => forgetUser(page.me));
  const shared = { ...page, unread: new Unread(page.me), notifier: new Notifier(page.me, strings) };
  if (pageName === "thread") {
    const section = document.querySelector("[data-thread]");
    if (section) startThread(section, shared);
  } else if (pageName === "threads") {
    startList(document.querySelector("[data-threads]"), shared);
  } else if (pageName === "people") {
    startPeople(document.querySelector("[data-people-page]"), shared);
  }
}
