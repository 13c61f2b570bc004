// The page's websocket to /ws/chat/ (protocol: the top of chat/consumers.py).
//
// It comes back by itself: exponential backoff with jitter after a drop or a 1009 (a frame
// over the server's limit); at once, and once only, after 4401 (the session is gone: Django
// moves a session to a new key when its user changes password, and the browser may already
// hold the new cookie). A second 4401 in a row means signed out for real.
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10000;
// After this many failed attempts in a row the page says "offline" rather than "reconnecting".
const OFFLINE_AFTER = 4;
// A socket that stays open this long was accepted for a signed-in session.
const SETTLED_MS = 3000;
const REQUEST_TIMEOUT_MS = 20000;
const SIGNED_OUT = 4401;
// A quiet connection is asked for a sign of life this often; one that gives none in time is
// taken for dead (a network that went away without closing it) and replaced.
const PING_EVERY_MS = 20000;
const PING_TIMEOUT_MS = 8000;

export class Connection {
  // onOpen(): send what a new socket needs (subscribe); onFrame(frame); onStatus(state).
  constructor({ path, onOpen = () => {}, onFrame = () => {}, onStatus = () => {} }) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.stopped = false;
    this.signedOutOnce = false;
    this.requests = new Map(); // request id -> {resolve, timer}
    this.nextRequest = 1;
    this.lastHeard = 0;
    window.addEventListener("online", () => this.reconnectNow());
    // The browser knows the network is gone: do not wait for the socket to notice.
    window.addEventListener("offline", () => this.wentOffline());
    setInterval(() => this.checkAlive(), PING_EVERY_MS / 2);
  }

  wentOffline() {
    if (this.stopped) return;
    const old = this.socket;
    this.socket = null;
    this.failRequests();
    if (old) old.close();
    this.onStatus("offline");
    this.scheduleReconnect();
  }

  async checkAlive() {
    if (!this.isOpen || Date.now() - this.lastHeard < PING_EVERY_MS) return;
    const socket = this.socket;
    const answer = await Promise.race([
      this.request({ action: "ping" }),
      new Promise((resolve) => { setTimeout(() => resolve(null), PING_TIMEOUT_MS); }),
    ]);
    if (!answer?.ok && this.socket === socket && !this.stopped) this.reconnectNow();
  }

  get isOpen() { return this.socket?.readyState === WebSocket.OPEN; }

  start() {
    this.onStatus("connecting");
    this.connect();
    return this;
  }

  connect() {
    this.retryTimer = null;
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.socket = ws;
    let settled = null;
    ws.addEventListener("open", () => {
      this.lastHeard = Date.now();
      settled = setTimeout(() => { this.signedOutOnce = false; }, SETTLED_MS);
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      this.lastHeard = Date.now();
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      this.signedOutOnce = false;
      if (frame.type === "ack" && this.requests.has(frame.request)) {
        const { resolve, timer } = this.requests.get(frame.request);
        clearTimeout(timer);
        this.requests.delete(frame.request);
        resolve(frame);
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      clearTimeout(settled);
      if (this.socket !== ws) return;
      this.socket = null;
      this.failRequests();
      if (this.stopped) return;
      if (event.code === SIGNED_OUT) {
        if (this.signedOutOnce) {
          this.stop();
          this.onStatus("signedOut");
          return;
        }
        this.signedOutOnce = true;
        this.connect();
        return;
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (this.retryTimer || this.stopped) return;
    this.attempt += 1;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.attempt - 1));
    // "Equal jitter": never sooner than half the ceiling, so retries stay spread out.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.onStatus(this.attempt >= OFFLINE_AFTER || !navigator.onLine ? "offline" : "reconnecting");
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // The connection works again (the server confirmed it): the next drop starts backing off anew.
  confirmed() {
    this.attempt = 0;
    this.onStatus("connected");
  }

  // Drop a socket that seems dead and open another now (sends waiting on it are resent then).
  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const old = this.socket;
    this.socket = null;
    this.failRequests();
    if (old) old.close();
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const old = this.socket;
    this.socket = null;
    if (old) old.close();
    this.failRequests();
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  // A frame with a request id; resolves with its ack ({ok, result} or {ok: false, error,
  // status}). Without a connection, or without an answer in time, the ack is {ok: false,
  // status: 0}: nothing is known to have happened.
  request(frame) {
    const request = frame.request ?? `r${this.nextRequest++}`;
    return new Promise((resolve) => {
      if (!this.send({ ...frame, request })) {
        resolve({ ok: false, status: 0, request });
        return;
      }
      const timer = setTimeout(() => {
        this.requests.delete(request);
        resolve({ ok: false, status: 0, request });
      }, REQUEST_TIMEOUT_MS);
      this.requests.set(request, { resolve, timer });
    });
  }

  failRequests() {
    for (const [request, { resolve, timer }] of this.requests) {
      clearTimeout(timer);
      resolve({ ok: false, status: 0, request });
    }
    this.requests.clear();
  }
}

// The status line: a dot and a word (connecting, connected, reconnecting, offline).
export function statusView(node, strings) {
  return (state) => {
    if (!node) return;
    node.hidden = false;
    node.dataset.status = state === "signedOut" ? "offline" : state;
    const text = node.querySelector("[data-status-text]");
    if (text) text.textContent = strings[state] ?? "";
  };
}
