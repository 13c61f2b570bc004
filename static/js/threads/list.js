// The conversation list, live: the page opens the websocket and follows no conversation; the
// inbox frames for the user's conversations move a conversation to the top with its newest
// message and unread count, rename it, or take it away (removed, deleted). One it does not
// show yet (a new conversation) makes it fetch the list again, as the server renders it.
// A filter box finds conversations by topic or person.
import { el, fill, readJson } from "../lib/dom.js";
import { localiseTimes } from "../lib/times.js";
import { Connection, statusView } from "../live/connection.js";
import { titleKeeper } from "../live/notify.js";

// New conversations arriving together are fetched once.
const REFRESH_AFTER_MS = 400;

export function startList(section, page) {
  if (!section) return;
  const config = readJson("chat-list") || {};
  const strings = config.strings || page.strings;
  const { unread, notifier } = page;
  const title = titleKeeper(document.title);
  const onFirstPage = !new URLSearchParams(location.search).has("cursor");
  let refreshTimer = null;

  const rows = () => [...section.querySelectorAll("[data-thread-row]")];
  const row = (thread) => rows().find((r) => r.dataset.threadRow === thread);
  const listEl = () => section.querySelector(".chat-thread-list");

  function counts() {
    return Object.fromEntries(rows().map((r) => [r.dataset.threadRow, Number(r.dataset.unread) || 0]));
  }
  if (onFirstPage) unread.replace(counts());
  unread.onChange(() => title.show(unread.total()));
  title.show(unread.total());

  function setBadge(r, count, mentions = 0) {
    r.dataset.unread = String(count);
    r.dataset.mentions = String(count > 0 ? mentions : 0);
    r.classList.toggle("is-unread", count > 0);
    const badge = r.querySelector("[data-row-badge]");
    badge.replaceChildren();
    if (count > 0) badge.append(el("span", "chat-badge", String(count)));
    // Messages that mention the user, counted apart (inbox frames say so: mentionsMe).
    if (count > 0 && mentions > 0) {
      const at = el("span", "chat-badge chat-badge--mention", `@${mentions}`);
      at.dataset.mentionBadge = "";
      at.title = fill(mentions === 1 ? strings.mentionOne : strings.mentionMany, { count: mentions });
      at.setAttribute("aria-label", at.title);
      badge.append(at);
    }
    unread.set(r.dataset.threadRow, count);
  }

  function message(frame) {
    const r = row(frame.thread);
    if (!r) { refresh(); return; }
    const who = frame.mine ? strings.you : frame.sender.name;
    r.querySelector("[data-row-preview]").textContent = `${who}: ${frame.preview}`;
    const when = r.querySelector("[data-row-when]");
    const time = document.createElement("time");
    time.dateTime = frame.at;
    time.dataset.localTime = "short";
    when.replaceChildren(time);
    localiseTimes(when);
    const mentions = (Number(r.dataset.mentions) || 0) + (frame.mentionsMe ? 1 : 0);
    setBadge(r, frame.mine ? 0 : (Number(r.dataset.unread) || 0) + 1, frame.mine ? 0 : mentions);
    listEl().prepend(r); // newest activity first
    if (!frame.mine) {
      notifier.message({
        thread: frame.thread, topic: frame.topic, sender: frame.sender.name, preview: frame.preview,
        url: r.querySelector("a").getAttribute("href"), mention: frame.mentionsMe,
      });
    }
  }

  function gone(frame) {
    const r = row(frame.thread);
    if (!r) return;
    r.remove();
    unread.set(frame.thread, 0);
    filter();
  }

  function handle(frame) {
    if (frame.type !== "inbox") return;
    switch (frame.kind) {
      case "message": message(frame); break;
      case "added": if (frame.me && !row(frame.thread)) refresh(); break;
      case "removed": if (frame.me) gone(frame); break;
      case "deleted": gone(frame); break;
      case "topic": {
        const r = row(frame.thread);
        if (r) {
          r.querySelector("[data-row-topic]").textContent = frame.topic;
          r.dataset.search = `${frame.topic} ${r.dataset.search}`.toLowerCase();
        }
        break;
      }
      case "read": {
        const r = row(frame.thread);
        if (r) setBadge(r, 0);
        break;
      }
      default: break;
    }
  }

  // The list as the server renders it now (only the first page shows new conversations).
  function refresh() {
    if (!onFirstPage) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const html = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = html.querySelector("[data-thread-list]");
      if (!fresh) return;
      const term = filterInput()?.value || "";
      section.querySelector("[data-thread-list]").replaceWith(document.adoptNode(fresh));
      localiseTimes(section);
      enableFilter(term);
      unread.replace(counts());
    }, REFRESH_AFTER_MS);
  }

  const filterInput = () => section.querySelector("[data-filter]");
  function filter() {
    const input = filterInput();
    if (!input) return;
    const term = input.value.trim().toLowerCase();
    let shown = 0;
    for (const r of rows()) {
      const match = !term || r.dataset.search.includes(term);
      r.hidden = !match;
      shown += match ? 1 : 0;
    }
    const none = section.querySelector("[data-no-match]");
    none.hidden = shown > 0 || !term;
    none.textContent = fill(strings.noMatch, { term: input.value.trim() });
  }
  function enableFilter(term = "") {
    const input = filterInput();
    if (!input) return;
    input.hidden = false;
    input.value = term;
    input.addEventListener("input", filter);
    filter();
  }
  enableFilter();

  const setStatus = statusView(section.querySelector("[data-status]"), strings);
  const connection = new Connection({
    path: page.socket,
    onFrame: handle,
    onStatus: (state) => {
      setStatus(state);
      // A list that was offline may have missed something: read it again once back.
      if (state === "connected" && wasOffline) refresh();
      wasOffline = state !== "connected";
    },
    onOpen: () => connection.confirmed(),
  });
  let wasOffline = false;
  connection.start();
}
