// One conversation's messages in the browser: gapless by seq, no duplicates, one resync in
// flight at a time (resync.js), and an outbox of messages not yet acknowledged that survives
// a reload and is resent once after every reconnect (outbox.js). User text only ever goes
// into the page as textContent.
//
// Every item in the log carries `data-order`: a message its seq, a private note its
// after_seq + 0.5, the "earlier messages not shown" marker from_seq + 0.9. Items still being
// sent carry none and stay at the bottom.
//
// User text is isolated for direction (bidi.js): the templates give bodies, names and notes
// dir="auto", links get it here, and names set into sentences go through `interpolate`.

import { interpolate } from "./bidi.js";
import { EVENT_TEXT, errorText } from "./event-texts.js";
import { fillBody, keepAtBottom, placeInLog, timeFormat } from "./log.js";
import { Outbox } from "./outbox.js";
import { Resync } from "./resync.js";

const { gettext } = window;

export class Thread {
  // viewer: "client", "worker" or "interpreter"; send(frame) returns false when the socket
  // is down. requestSync(after): sends the page's `resume` or `sync` for everything after
  // `after`, returns whether it went out. connection(): the socket frames go out on now.
  // `me`: for a worker, their user id as the server writes it in `author_id`, so a
  // colleague's messages are never shown as one's own, whatever their names.
  constructor(options) {
    const { log, template, viewer, storageKey, send, requestSync, connection } = options;
    this.log = log;
    this.template = template;
    this.viewer = viewer;
    this.storageKey = storageKey;
    this.send = send;
    this.onStateChange = options.onStateChange || (() => {});
    this.onFailed = options.onFailed || (() => {});
    this.me = options.me || null;
    this.lastSeq = 0;
    this.fromSeq = 0;
    this.state = null;
    this.conversation = null;
    this.seen = null;
    const frameFor = (item) => this.frameFor(item);
    this.outbox = new Outbox({ storageKey, send, frameFor, connection });
    this.resync = new Resync({
      request: () => requestSync(this.lastSeq),
      have: () => this.lastSeq,
      connection,
    });
    this.ackTimer = null;
    for (const item of this.outbox.items) this.renderPending(item);
  }

  // Whether this reader can no longer write here (see close and reopen).
  get closed() {
    return this.outbox.closed;
  }

  set closed(value) {
    this.outbox.closed = value;
  }

  setState(state) {
    if (state && state !== this.state) {
      this.state = state;
      this.onStateChange(state);
    }
  }

  // Ask for everything after the last seq: after a (re)connect (a request on the old socket
  // is forgotten), or for what else the answer brings (the console's staff context). While
  // a request is out, this only asks for one more after its answer.
  askSync() {
    this.resync.need();
  }

  // A sign that the server has messages up to `seq` (a pong's `last_seq`): asks for them
  // unless a request is already out.
  gapTo(seq) {
    this.resync.need(seq);
  }

  // A full or partial history from the server, after (re)connecting or asking for a gap.
  // `from_seq`: where this reader's view starts (joined later, or history not sent along).
  // Then what has not gone out on this socket yet is sent (outbox.js).
  applySync(frame) {
    this.conversation = frame.conversation;
    if (frame.from_seq > this.lastSeq) {
      this.lastSeq = frame.from_seq;
      this.fromSeq = frame.from_seq;
      this.showFromMarker();
    }
    keepAtBottom(this.log, () => {
      for (const message of frame.messages) this.accept(message);
    });
    this.renderSeen();
    this.setState(frame.state);
    this.resync.answered(frame.last_seq);
    this.flush();
  }

  // Staff who see the conversation from a later point on are told so (an interpreter's
  // page says it once, above the log).
  showFromMarker() {
    if (this.viewer !== "worker") return;
    let marker = this.log.querySelector(".log-marker");
    if (!marker) {
      marker = document.createElement("li");
      marker.className = "log-marker";
      this.log.prepend(marker);
    }
    marker.dataset.order = this.fromSeq + 0.9;
    marker.textContent = gettext("Earlier messages are not shown to you.");
  }

  // A live message. Returns false when it showed a gap (a resync is asked for instead).
  receive(frame) {
    const { message } = frame;
    if (message.seq <= this.lastSeq) return true;
    if (message.seq > this.lastSeq + 1) {
      this.resync.need(message.seq);
      return false;
    }
    keepAtBottom(this.log, () => this.accept(message));
    this.renderSeen();
    this.setState(frame.state);
    return true;
  }

  accept(message) {
    if (message.seq !== this.lastSeq + 1) return;
    this.lastSeq = message.seq;
    if (message.client_id) this.settle(message.client_id);
    // Messages still being sent stay at the bottom, below everything stored.
    placeInLog(this.log, this.render(message));
  }

  ack(frame) {
    this.settle(frame.client_id);
    // The broadcast of an acknowledged message may have been dropped on the way.
    clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => {
      this.resync.need(frame.seq);
    }, 1500);
  }

  settle(clientId) {
    this.outbox.settle(clientId);
    if (!clientId) return;
    const pending = this.log.querySelector(
      `.message--pending[data-client-id="${CSS.escape(clientId)}"]`,
    );
    if (pending) pending.remove();
  }

  // The server refused a message for good: take it out of the outbox and give the text back.
  // Only too fast is not a refusal: it stays in the outbox and goes again shortly.
  fail(frame) {
    const item = this.outbox.fail(frame);
    if (!item) return;
    this.settle(frame.client_id);
    this.onFailed(item.body, errorText(frame.code, frame));
  }

  // Resend what has waited long for its ack (a frame dropped on the way, or by a limit);
  // the server stores a client_id once, so a resend never doubles a message.
  flushStale(olderThanMs = 5000) {
    this.outbox.flushStale(olderThanMs);
  }

  post(body) {
    const item = this.outbox.post(body);
    if (!item) return;
    keepAtBottom(this.log, () => this.renderPending(item), { force: true });
    this.outbox.sendItem(item);
  }

  frameFor(item) {
    const frame = { type: "message", body: item.body, client_id: item.client_id };
    if (this.conversation !== null) frame.conversation = this.conversation;
    return frame;
  }

  flush() {
    this.outbox.flush();
  }

  // This reader can no longer write here (handed over, removed, left): what was still
  // being sent stays on screen, marked as not sent, and is never sent again.
  close() {
    for (const li of this.log.querySelectorAll(".message--pending")) {
      li.querySelector("time").textContent = gettext("Not sent");
    }
    this.outbox.close();
  }

  // Given back to this reader (a handover that came back): writable once more.
  reopen() {
    this.outbox.closed = false;
  }

  isMine(message) {
    if (message.sender !== this.viewer) return false;
    if (this.viewer === "worker" && this.me) return message.author_id === this.me;
    return true;
  }

  whoLabel(message) {
    if (message.sender === "system") return "";
    if (this.isMine(message)) return gettext("You");
    if (message.sender === "client") return gettext("Client");
    if (message.sender === "interpreter") {
      return message.author && this.viewer === "worker"
        ? interpolate(gettext("%s (interpreter)"), [message.author])
        : gettext("Interpreter");
    }
    return message.author && this.viewer === "worker"
      ? message.author
      : gettext("Social worker");
  }

  eventText(message) {
    const texts = EVENT_TEXT[this.viewer === "worker" ? "staff" : this.viewer] || EVENT_TEXT.staff;
    return (texts[message.event] || (() => ""))(message);
  }

  render(message) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.seq = message.seq;
    li.dataset.order = message.seq;
    li.dataset.sender = message.sender;
    if (message.event) li.dataset.event = message.event;
    li.classList.add(`message--${message.sender}`);
    if (this.isMine(message)) li.classList.add("message--mine");
    li.querySelector(".who").textContent = this.whoLabel(message);
    const time = li.querySelector("time");
    time.dateTime = message.created_at;
    time.textContent = timeFormat.format(new Date(message.created_at));
    const body = li.querySelector(".body");
    if (message.sender === "system") {
      body.textContent = this.eventText(message);
    } else {
      fillBody(body, message.parts, message.body);
    }
    return li;
  }

  renderPending(item) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.clientId = item.client_id;
    li.classList.add(`message--${this.viewer}`, "message--mine", "message--pending");
    li.querySelector(".who").textContent = gettext("You");
    li.querySelector("time").textContent = gettext("Sending…");
    li.querySelector(".body").textContent = item.body;
    this.log.append(li);
  }

  // The other side has seen everything up to `seq`: "Seen" under the last message from
  // `sender` ("client" on the client's page, "worker" on the console) if that covers it.
  showSeen(seq, sender) {
    if (!this.seen || seq >= this.seen.seq) this.seen = { seq, sender };
    this.renderSeen();
  }

  renderSeen() {
    const old = this.log.querySelector(".seen-mark");
    if (!this.seen) return;
    const own = this.log.querySelectorAll(`li.message[data-sender="${this.seen.sender}"]`);
    const last = own[own.length - 1];
    if (!last || Number(last.dataset.seq) > this.seen.seq) {
      if (old) old.remove();
      return;
    }
    if (old && old.parentElement === last) return;
    if (old) old.remove();
    const mark = document.createElement("p");
    mark.className = "message__meta seen-mark";
    mark.textContent = gettext("Seen");
    last.append(mark);
  }

  // The newest message from someone matching `senders`, or null.
  newest(senders) {
    const items = this.log.querySelectorAll("li.message[data-seq]");
    for (let i = items.length - 1; i >= 0; i -= 1) {
      if (senders.includes(items[i].dataset.sender)) return items[i];
    }
    return null;
  }

  clear() {
    this.resync.forget();
    this.outbox.clear();
    this.log.replaceChildren();
    this.lastSeq = 0;
    this.fromSeq = 0;
    this.state = null;
    this.conversation = null;
    this.seen = null;
  }
}

// A chat page's composer (the client's, the interpreter's, the partner device's): the form
// posts its text to `thread` (one that is too long stays, with a notice); Enter sends,
// Shift+Enter makes a new line.
export function sendFromComposer(thread, { form, box, maxLength, notice }) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = box.value;
    if (!body.trim()) return;
    if (body.length > maxLength) {
      notice(errorText("too_long"));
      return;
    }
    notice("");
    thread.post(body);
    box.value = "";
    box.focus();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}
