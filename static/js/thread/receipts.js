// Read receipts for what the user has actually seen: a message from someone else that is in
// view while the tab is visible. Opening the page sends none by itself.
import { idNumber } from "../lib/dom.js";

// ACS allows ten read receipts per user and thread per 10 s; one per 2 s is plenty.
const READ_EVERY_MS = 2000;

export class ReadReceipts {
  constructor({ list, connection, thread, myRead, onRead }) {
    this.list = list;
    this.connection = connection;
    this.thread = thread;
    this.myRead = myRead;
    this.wanted = 0;
    this.timer = null;
    this.onRead = onRead;
    this.observer = "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => {
        for (const entry of entries) {
          if (entry.isIntersecting) this.want(idNumber(entry.target.dataset.messageId));
        }
      }, { root: list.scroller, threshold: 0.6 })
      : null;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.timer) this.flush();
    });
  }

  observe(node) {
    if (!this.observer || !node.dataset.messageId || node.dataset.pending || this.list.isMine(node)) return;
    if (idNumber(node.dataset.messageId) <= this.myRead) return;
    this.observer.observe(node);
  }

  want(id) {
    if (id <= this.wanted) return;
    this.wanted = id;
    if (!this.timer) this.timer = setTimeout(() => this.flush(), READ_EVERY_MS);
  }

  flush() {
    this.timer = null;
    if (this.wanted <= this.myRead || document.visibilityState !== "visible") return;
    if (this.connection.send({ action: "read", thread: this.thread, message: String(this.wanted) })) {
      this.confirmed(this.wanted);
    }
  }

  // The user's receipt reached this far (sent from here, or from another tab).
  confirmed(id) {
    if (id > this.myRead) this.myRead = id;
    this.onRead();
  }
}
