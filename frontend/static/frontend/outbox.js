// What a reader wrote and the server has not confirmed yet: kept in this tab's
// sessionStorage so that it survives a reload, sent again once after every (re)connect and
// when its acknowledgement is long in coming. A sync answer on the same socket does not
// send again what already went out on that socket: its ack is on the way, and a frame
// dropped on the way is caught by `flushStale`. The server stores a client_id once, so
// sending an item again never doubles it. Messages (thread.js) and private notes (notes.js)
// each keep one; they differ only in the frame they send and in what an acknowledgement
// settles.

import { loadSession, saveSession } from "./session.js";

export function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : uuidFallback();
}

function uuidFallback() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class Outbox {
  // frameFor(item): the frame that sends an item; send(frame) returns false when the socket
  // is down (the item then simply waits for the next flush). connection(): the socket
  // frames go out on now (compared by identity); without it every flush sends everything.
  constructor({ storageKey, send, frameFor, connection }) {
    this.storageKey = storageKey;
    this.send = send;
    this.frameFor = frameFor;
    this.connection = connection || (() => ({}));
    this.closed = false;
    this.items = loadSession(storageKey, []);
    // client_id -> the connection it last went out on (in memory: a reload sends all again).
    this.sentOn = new Map();
    // While a limit holds (`rate_limited`): nothing is sent before this time (ms), and one
    // timer sends everything again when it has passed.
    this.holdUntil = 0;
    this.holdTimer = null;
  }

  save() {
    saveSession(this.storageKey, this.items);
  }

  find(clientId) {
    return this.items.find((item) => item.client_id === clientId);
  }

  // A new item, kept and sent at once; null when this reader can no longer write here.
  post(body) {
    if (this.closed) return null;
    const item = { client_id: newId(), body, sent_at: Date.now() };
    this.items.push(item);
    this.save();
    return item;
  }

  // Written while a limit holds, it waits for the hold's timer.
  sendItem(item) {
    item.sent_at = Date.now();
    if (this.held()) return;
    if (this.send(this.frameFor(item))) this.sentOn.set(item.client_id, this.connection());
    else this.sentOn.delete(item.client_id);
  }

  // Send nothing for `ms`, then what has not gone out (later holds move the time on).
  hold(ms) {
    const until = Date.now() + ms;
    if (until <= this.holdUntil) return;
    this.holdUntil = until;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      this.holdUntil = 0;
      this.flush();
    }, ms);
  }

  held() {
    return Date.now() < this.holdUntil;
  }

  // After a sync answer, or when a limit's hold ends: sent again, what has not yet gone
  // out on this socket (so all of it once after a reconnect, nothing on the answers that
  // follow). While a limit holds, its timer sends it then.
  flush() {
    if (this.closed || this.held()) return;
    const now = this.connection();
    for (const item of this.items) {
      if (this.sentOn.get(item.client_id) !== now) this.sendItem(item);
    }
  }

  // The server has it (acknowledged, or its broadcast arrived): it leaves the outbox.
  // Returns whether it was there.
  settle(clientId) {
    if (!clientId) return false;
    const before = this.items.length;
    this.items = this.items.filter((item) => item.client_id !== clientId);
    if (this.items.length === before) return false;
    this.sentOn.delete(clientId);
    this.save();
    return true;
  }

  // Acknowledged, but kept until its broadcast arrives (see flushStale).
  markAcked(clientId) {
    const item = this.find(clientId);
    if (item) item.acked = true;
  }

  // An error about an item. Too fast is not a refusal: it stays and goes again, once, when
  // the wait the server named (`retry_after`) has passed (returns null). Anything else
  // refuses it for good: it leaves the outbox and is returned so that its text can be
  // given back.
  fail(frame) {
    const item = this.find(frame.client_id);
    if (!item) return null;
    if (frame.code === "rate_limited") {
      // The limit may have dropped more than this one without a word: all go again when
      // the hold ends.
      this.sentOn.clear();
      this.hold((Number(frame.retry_after) || 1) * 1000);
      return null;
    }
    this.settle(frame.client_id);
    return item;
  }

  // Resend what has waited long for its acknowledgement (a frame dropped on the way, or by
  // a limit). An acknowledged item whose broadcast was lost is not sent again: the return
  // value says a sync should fetch it instead.
  flushStale(olderThanMs = 5000) {
    if (this.closed || this.held()) return false;
    const now = Date.now();
    let needsSync = false;
    for (const item of this.items) {
      if (now - (item.sent_at || 0) > olderThanMs) {
        if (item.acked) {
          item.sent_at = now;
          needsSync = true;
        } else this.sendItem(item);
      }
    }
    return needsSync;
  }

  // This reader can no longer write here: nothing is ever sent again.
  close() {
    this.closed = true;
    this.clear();
  }

  clear() {
    this.items = [];
    this.sentOn.clear();
    this.save();
  }
}
