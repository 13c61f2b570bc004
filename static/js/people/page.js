// People & settings, live: the page follows no conversation, so it hears of this one through
// inbox frames. Someone added or removed: the people panels are fetched again, as the server
// renders them (unless the user is filling in the form); the user's own removal, or the
// conversation's deletion, ends the page.
import { readJson } from "../lib/dom.js";
import { localiseTimes } from "../lib/times.js";
import { Connection } from "../live/connection.js";
import { enhanceConfirms } from "../forms.js";

export function startPeople(section, page) {
  const config = readJson("chat-people");
  if (!section || !config) return;
  const strings = config.strings;
  const thread = config.thread;
  let touched = false;
  section.querySelector("[data-live-panel=add]")?.addEventListener("input", () => { touched = true; });

  async function refresh() {
    const response = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const html = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const name of ["people", "add"]) {
      if (name === "add" && touched) continue;
      const fresh = html.querySelector(`[data-live-panel=${name}]`);
      const old = section.querySelector(`[data-live-panel=${name}]`);
      if (fresh && old) old.replaceWith(document.adoptNode(fresh));
    }
    const people = html.querySelector("[data-people]");
    if (people) section.querySelector("[data-people]").textContent = people.textContent;
    localiseTimes(section);
    enhanceConfirms(section);
    const note = section.querySelector("[data-changed]");
    note.textContent = strings.changed;
    note.hidden = false;
  }

  function ended(message) {
    connection.stop();
    const note = section.querySelector("[data-ended]");
    note.querySelector("[data-ended-text]").textContent = message;
    note.hidden = false;
    section.querySelector("[data-panels]").hidden = true;
    const settings = section.querySelector("[data-settings-link]");
    settings?.removeAttribute("href");
    settings?.setAttribute("aria-disabled", "true");
  }

  const connection = new Connection({
    path: page.socket,
    onOpen: () => connection.confirmed(),
    onFrame: (frame) => {
      if (frame.type !== "inbox" || frame.thread !== thread) return;
      if (frame.kind === "deleted") ended(strings.deletedThread);
      else if (frame.kind === "removed" && frame.me) ended(strings.noAccess);
      else if (frame.kind === "added" || frame.kind === "removed") refresh();
      else if (frame.kind === "topic") {
        for (const node of section.querySelectorAll("[data-topic], [data-full-topic]")) node.textContent = frame.topic;
      }
    },
  });
  connection.start();
}
