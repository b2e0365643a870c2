// Asking the server again for what one conversation's page missed (`resume` on the client
// and interpreter pages, `sync` on the console): one request in flight at a time. A sign
// of a gap that comes while one is out (a later live message, a `pong` whose `last_seq` is
// ahead, the check after an `ack`) only notes that another may be needed once the answer is
// in; the answer then asks again only if it did not bring what that sign said exists. So a
// slow server gets one request per conversation however many signs pile up meanwhile.
//
// A request is forgotten when its socket is no longer the current one (a reconnect asks
// afresh) or after RESYNC_TIMEOUT_MS, so an answer lost on the way never stops the page
// from asking again.

export const RESYNC_TIMEOUT_MS = 10000;
const ONE_CONNECTION = {}; // without `connection`, only answers and the timeout end a request

export class Resync {
  // request(): sends the request for everything after what the page has; false when the
  // socket is down (the reconnect asks anyway). have(): the last seq the page has.
  // connection(): the socket a request goes out on now (any object; compared by identity).
  constructor({ request, have, connection, timeoutMs = RESYNC_TIMEOUT_MS }) {
    this.request = request;
    this.have = have;
    this.connection = connection || (() => ONE_CONNECTION);
    this.timeoutMs = timeoutMs;
    this.sentOn = null; // the connection of the request in flight, or null
    this.timer = null;
    this.again = 0; // the highest seq a sign named while a request was out (0: none)
    this.requests = 0; // requests sent, for tests
  }

  get inFlight() {
    return this.sentOn !== null && this.sentOn === this.connection();
  }

  // A sign that the server has messages up to `seq` (Infinity: ask whatever the page has,
  // e.g. after a reconnect or for the staff context).
  need(seq = Infinity) {
    if (seq <= this.have()) return;
    if (this.inFlight) {
      this.again = Math.max(this.again, seq);
      return;
    }
    this.send();
  }

  // A `conversation.sync` was applied; `lastSeq` is the newest seq it says exists.
  answered(lastSeq) {
    const again = Math.max(this.again, lastSeq || 0);
    this.forget();
    if (again > this.have()) this.send();
  }

  send() {
    this.forget();
    if (!this.request()) return;
    this.requests += 1;
    this.sentOn = this.connection();
    const sentOn = this.sentOn;
    this.timer = setTimeout(() => this.expire(sentOn), this.timeoutMs);
  }

  // No answer in time: forget the request; a sign noted meanwhile asks again now.
  expire(sentOn) {
    if (this.sentOn !== sentOn) return;
    const again = this.again;
    this.forget();
    if (again > this.have()) this.send();
  }

  forget() {
    clearTimeout(this.timer);
    this.timer = null;
    this.sentOn = null;
    this.again = 0;
  }
}
