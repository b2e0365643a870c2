// The shared websocket: reconnect with backoff and jitter, a heartbeat that notices a dead
// network, and dispatch of frames by `type`. Pages give it handlers; it never touches the DOM.

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30000;
// A page that heard from the server within RECENT_MS lost it to a restart or a deploy,
// which is over in seconds: its ceiling stops at RECENT_MAX_BACKOFF_MS, so it is back within
// a few seconds of the server answering. Full jitter still spreads the return of every page
// over those seconds.
const RECENT_MAX_BACKOFF_MS = 5000;
const RECENT_MS = 60000;
const MIN_WAIT_MS = 100;

// The wait before reconnect attempt `attempt` (0, 1, 2 ...): a random time up to a ceiling
// that doubles from 0.5 s (full jitter), at most 5 s while the page heard from the server
// `sinceFrameMs` ago within the last minute, else at most 30 s. `random` is in [0, 1).
export function reconnectDelay(attempt, sinceFrameMs, random = Math.random()) {
  const cap = sinceFrameMs < RECENT_MS ? RECENT_MAX_BACKOFF_MS : MAX_BACKOFF_MS;
  return MIN_WAIT_MS + random * Math.min(cap, FIRST_BACKOFF_MS * 2 ** attempt);
}

export class Socket {
  constructor(path, { handlers, onOpen, onStatus, heartbeatSeconds = 15, pingFrame }) {
    this.url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
    this.handlers = handlers;
    this.onOpen = onOpen;
    this.onStatus = onStatus || (() => {});
    this.heartbeatMs = heartbeatSeconds * 1000;
    this.pingFrame = pingFrame || (() => ({ type: "ping" }));
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.lastFrameAt = 0;
    // No reconnect before this time (ms): the server refused the socket for a while.
    this.notBefore = 0;
    window.addEventListener("online", () => this.reconnectNow());
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      this.startHeartbeat();
      this.onStatus("open");
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "error" && frame.code === "rate_limited" && frame.what === "sockets") {
        // Too many sockets from this address: it closes next (4429); come back after the wait.
        this.notBefore = Date.now() + (Number(frame.retry_after) || 1) * 1000;
      }
      const handler = this.handlers[frame.type];
      if (handler) handler(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.stopHeartbeat();
      if (event.code === 4401 || event.code === 4403) {
        this.stopped = true;
        this.onStatus(event.code === 4401 ? "signed-out" : "forbidden");
        return;
      }
      this.scheduleReconnect();
    });
  }

  // Exponential backoff with full jitter (reconnectDelay), so clients cut off together by a
  // restart do not all come back at the same moment. `lastFrameAt` is 0 until the first
  // open: a page that never reached the server backs off to 30 s.
  scheduleReconnect() {
    if (this.stopped) return;
    this.onStatus("reconnecting");
    const delay = Math.max(
      reconnectDelay(this.attempt, Date.now() - this.lastFrameAt),
      this.notBefore - Date.now(),
    );
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped) return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return;
    this.attempt = 0;
    this.drop();
    this.connect();
  }

  // A network that vanishes does not close the socket: no frame for two heartbeats does.
  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > this.heartbeatMs * 2) {
        this.drop();
        this.scheduleReconnect();
        return;
      }
      this.send(this.pingFrame());
    }, this.heartbeatMs);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeatTimer);
  }

  drop() {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    if (ws) {
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  // Returns false when the frame could not be handed to an open socket.
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }
}


// 32 random bytes as 43 base64url characters: the client's resume token.
export function newToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function readSettings(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : {};
}
