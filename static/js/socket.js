// The push channel: loading progress and retrain results arrive here. The page must keep
// working without it (state is also polled), so it reconnects quietly with backoff.

import { withToken } from "./api.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class Socket {
  constructor({ onMessage, onStatus }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus || (() => {});
    this.ws = null;
    this.delay = MIN_DELAY_MS;
    this.watched = [];
    this.timer = null;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}${withToken("/ws")}`;
  }

  connect() {
    clearTimeout(this.timer);
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      return this.retry();
    }
    this.ws = ws;
    this.onStatus("connecting");
    ws.addEventListener("open", () => {
      this.delay = MIN_DELAY_MS;
      this.onStatus("open");
      // A new connection knows nothing: tell it again which cards this tab shows.
      if (this.watched.length) this.send({ type: "watch", ids: this.watched });
    });
    ws.addEventListener("message", (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === "string") this.onMessage(msg);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onStatus("closed");
      this.retry();
    });
  }

  retry() {
    clearTimeout(this.timer);
    // Jitter keeps many tabs from reconnecting in lockstep after a server restart.
    const wait = this.delay * (0.8 + Math.random() * 0.4);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  watch(ids) {
    this.watched = ids.slice();
    this.send({ type: "watch", ids: this.watched });
  }
}
