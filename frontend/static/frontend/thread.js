// One conversation's messages in the browser: gapless by seq, no duplicates, and an outbox
// of messages not yet acknowledged that survives a reload (sessionStorage) and is resent
// after every reconnect. User text only ever goes into the page as textContent.
//
// Every item in the log carries `data-order`: a message its seq, a private note its
// after_seq + 0.5, the "earlier messages not shown" marker from_seq + 0.9. Items still being
// sent carry none and stay at the bottom.
//
// User text is isolated for direction (bidi.js): the templates give bodies, names and notes
// dir="auto", links get it here, and names set into sentences go through `interpolate`.

import { interpolate } from "./bidi.js";

const { gettext } = window;

// Who joined or left, as the server writes it in the event's body.
function joinedText(body, viewer) {
  if (body === "interpreter") return gettext("An interpreter has joined the chat.");
  return viewer === "staff"
    ? gettext("A colleague has joined the chat.")
    : gettext("Another social worker has joined the chat.");
}

function leftText(body, viewer) {
  if (body === "interpreter") return gettext("The interpreter has left the chat.");
  return viewer === "staff"
    ? gettext("The colleague has left the chat.")
    : gettext("The other social worker has left the chat.");
}

// System events, worded for who reads them: the client, staff, or an interpreter.
const EVENT_TEXT = {
  client: {
    accepted: () => gettext("A social worker has joined the chat."),
    ended: () => gettext("The chat has ended."),
    abandoned: () => gettext("You have left the queue."),
    moved: () => gettext("You have been moved to another unit's queue. Your place is kept."),
    rejoined: () => gettext("You are back in the queue, in the same place."),
    // Neutral on purpose: when only the note goes along to another unit, the new social
    // worker does not see the earlier messages, so nothing is promised about them.
    handover_started: () =>
      gettext("You are being connected to a colleague. Please wait a moment."),
    handover_cancelled: () => gettext("You are still talking with the same social worker."),
    handover_joined: (m) =>
      m.body
        ? interpolate(gettext("%s, a social worker, has taken over the chat."), [m.body])
        : gettext("Another social worker has taken over the chat."),
    participant_joined: (m) => joinedText(m.body, "client"),
    participant_left: (m) => leftText(m.body, "client"),
    returned: () => gettext("You are back in the queue, first in line."),
    worker_gone: () =>
      gettext(
        "Your social worker is no longer connected. You are back in the queue, first in line, and nothing you wrote is lost.",
      ),
  },
  staff: {
    accepted: () => gettext("A social worker has joined the chat."),
    ended: () => gettext("The chat has ended."),
    rejoined: () => gettext("The client is back in the queue."),
    abandoned: () => gettext("The client left the queue."),
    moved: () => gettext("The conversation was moved to another unit."),
    quick_exit: () =>
      gettext("The client left quickly with the quick exit. Someone may be near them: do not try to contact them."),
    handover_started: () => gettext("Handover started."),
    handover_cancelled: () => gettext("The handover did not go ahead."),
    handover_joined: (m) =>
      m.author
        ? interpolate(gettext("%s has taken over the chat."), [m.author])
        : gettext("A colleague has taken over the chat."),
    participant_joined: (m) => joinedText(m.body, "staff"),
    participant_left: (m) => leftText(m.body, "staff"),
    returned: () => gettext("Nobody answered in time, so the conversation went back to the queue."),
    worker_gone: () =>
      gettext("The social worker was no longer connected, so the conversation went back to the queue."),
  },
  interpreter: {
    accepted: () => gettext("A social worker has joined the chat."),
    ended: () => gettext("The chat has ended."),
    moved: () => gettext("The conversation was moved to another unit."),
    quick_exit: () => gettext("The client has left the chat."),
    handover_started: () => gettext("The client is being connected to another social worker."),
    handover_cancelled: () => gettext("The handover did not go ahead."),
    handover_joined: () => gettext("Another social worker has taken over the chat."),
    participant_joined: (m) => joinedText(m.body, "interpreter"),
    participant_left: (m) => leftText(m.body, "interpreter"),
    returned: () => gettext("The conversation went back to the queue."),
    worker_gone: () => gettext("The conversation went back to the queue."),
  },
};

const ERROR_TEXT = {
  too_long: () => gettext("The message is too long. Shorten it and send again."),
  invalid: () => gettext("The message could not be sent. Check it and send again."),
  conflict: () => gettext("The chat has ended, so the message could not be sent."),
  forbidden: () => gettext("You cannot write in this chat."),
  rate_limited: () => gettext("Too many messages at once. Wait a moment and try again."),
  not_found: () => gettext("The chat could not be found."),
  unit_closed: () =>
    gettext("The unit has just closed for today. See the opening hours, or call 112 if it is urgent."),
  at_capacity: () => gettext("You already have as many conversations as your capacity allows."),
  not_present: () => gettext("You are no longer in this conversation."),
};

export function errorText(code) {
  return (ERROR_TEXT[code] || (() => gettext("Something went wrong. Please try again.")))();
}

// 24-hour time in every language ("18:21", never "06:21 PM"): Swedish offices read the
// clock that way, whichever language the page is in.
export const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "sv", {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

// Builds a message body from the server's parts: text, and links the server vetted.
export function fillBody(el, parts, fallback) {
  el.replaceChildren();
  for (const part of parts && parts.length ? parts : [{ text: fallback }]) {
    if (part.href && /^https?:\/\//i.test(part.href)) {
      const a = document.createElement("a");
      a.href = part.href;
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      a.dir = "auto";
      a.textContent = part.text;
      el.append(a);
    } else {
      el.append(document.createTextNode(part.text));
    }
  }
}

export function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : uuidFallback();
}

function orderOf(el) {
  return el.dataset.order === undefined ? Infinity : Number(el.dataset.order);
}

// Insert `el` into `log` after every item that comes before it (by data-order).
export function placeInLog(log, el) {
  const order = orderOf(el);
  let before = null;
  for (let child = log.lastElementChild; child; child = child.previousElementSibling) {
    if (orderOf(child) <= order) break;
    before = child;
  }
  log.insertBefore(el, before);
}

// Keeps a log pinned to its newest item while the reader is at the bottom; a reader who
// scrolled up to read is left where they are.
function scrollerOf(log) {
  const style = getComputedStyle(log);
  return style.overflowY === "auto" || style.overflowY === "scroll"
    ? log
    : document.scrollingElement;
}

// For logs with their own scrollbar (see followBottom): whether the reader is at the
// bottom, decided by the reader's own scrolling, not by a layout change they did not make.
const pins = new WeakMap();

function nearBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function toBottom(scroller, pin) {
  scroller.scrollTop = scroller.scrollHeight;
  if (pin) {
    pin.stuck = true;
    pin.expected = scroller.scrollTop;
  }
}

export function keepAtBottom(log, change, { force = false } = {}) {
  const pin = pins.get(log);
  const scroller = pin ? log : scrollerOf(log);
  const atBottom = force || (pin ? pin.stuck : nearBottom(scroller));
  const result = change();
  if (atBottom) toBottom(scroller, pin);
  return result;
}

// A log with its own scrollbar stays at its newest item when its box changes size (a
// handover note appearing above it, the window resized), unless the reader scrolled up.
export function followBottom(log) {
  const pin = { stuck: true, expected: 0 };
  pins.set(log, pin);
  log.addEventListener(
    "scroll",
    () => {
      if (log.scrollTop === pin.expected) return; // our own scrolling
      pin.stuck = nearBottom(log);
    },
    { passive: true },
  );
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      if (pin.stuck) toBottom(log, pin);
    }).observe(log);
  }
}

export class Thread {
  // viewer: "client", "worker" or "interpreter"; send(frame) returns false when the socket
  // is down. `me`: for a worker, their user id as the server writes it in `author_id`, so a
  // colleague's messages are never shown as one's own, whatever their names.
  constructor({ log, template, viewer, storageKey, send, onGap, onStateChange, onFailed, me }) {
    this.log = log;
    this.template = template;
    this.viewer = viewer;
    this.storageKey = storageKey;
    this.send = send;
    this.onGap = onGap;
    this.onStateChange = onStateChange || (() => {});
    this.onFailed = onFailed || (() => {});
    this.me = me || null;
    this.lastSeq = 0;
    this.fromSeq = 0;
    this.state = null;
    this.conversation = null;
    this.closed = false;
    this.seen = null;
    this.outbox = this.loadOutbox();
    this.ackTimer = null;
    for (const item of this.outbox) this.renderPending(item);
  }

  loadOutbox() {
    try {
      return JSON.parse(sessionStorage.getItem(this.storageKey)) || [];
    } catch {
      return [];
    }
  }

  saveOutbox() {
    if (this.outbox.length) sessionStorage.setItem(this.storageKey, JSON.stringify(this.outbox));
    else sessionStorage.removeItem(this.storageKey);
  }

  setState(state) {
    if (state && state !== this.state) {
      this.state = state;
      this.onStateChange(state);
    }
  }

  // A full or partial history from the server, after (re)connecting or asking for a gap.
  // `from_seq`: where this reader's view starts (joined later, or history not sent along).
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
    if (frame.last_seq > this.lastSeq) this.onGap(this.lastSeq);
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
      this.onGap(this.lastSeq);
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
      if (frame.seq > this.lastSeq) this.onGap(this.lastSeq);
    }, 1500);
  }

  settle(clientId) {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((item) => item.client_id !== clientId);
    if (this.outbox.length !== before) this.saveOutbox();
    const pending = this.log.querySelector(
      `.message--pending[data-client-id="${CSS.escape(clientId)}"]`,
    );
    if (pending) pending.remove();
  }

  // The server refused a message for good: take it out of the outbox and give the text back.
  fail(frame) {
    const item = this.outbox.find((entry) => entry.client_id === frame.client_id);
    if (!item) return;
    if (frame.code === "rate_limited") {
      // Not refused, only too fast: it stays in the outbox and goes again shortly.
      setTimeout(() => this.flush(), (frame.retry_after || 1) * 1000);
      return;
    }
    this.settle(frame.client_id);
    this.onFailed(item.body, errorText(frame.code));
  }

  // Resend what has waited long for its ack (a frame dropped on the way, or by a limit);
  // the server stores a client_id once, so a resend never doubles a message.
  flushStale(olderThanMs = 5000) {
    if (this.closed) return;
    const now = Date.now();
    for (const item of this.outbox) {
      if (now - (item.sent_at || 0) > olderThanMs) {
        item.sent_at = now;
        this.send(this.frameFor(item));
      }
    }
  }

  post(body) {
    if (this.closed) return;
    const item = { client_id: newId(), body, sent_at: Date.now() };
    this.outbox.push(item);
    this.saveOutbox();
    keepAtBottom(this.log, () => this.renderPending(item), { force: true });
    this.send(this.frameFor(item));
  }

  frameFor(item) {
    const frame = { type: "message", body: item.body, client_id: item.client_id };
    if (this.conversation !== null) frame.conversation = this.conversation;
    return frame;
  }

  flush() {
    if (this.closed) return;
    for (const item of this.outbox) this.send(this.frameFor(item));
  }

  // This reader can no longer write here (handed over, removed, left): what was still
  // being sent stays on screen, marked as not sent, and is never sent again.
  close() {
    this.closed = true;
    for (const li of this.log.querySelectorAll(".message--pending")) {
      li.querySelector("time").textContent = gettext("Not sent");
    }
    this.outbox = [];
    this.saveOutbox();
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
    this.outbox = [];
    this.saveOutbox();
    this.log.replaceChildren();
    this.lastSeq = 0;
    this.fromSeq = 0;
    this.state = null;
    this.conversation = null;
    this.seen = null;
  }
}

// Private notes of one conversation, for staff only: placed after the message they follow,
// deduplicated by id, with their own outbox (sessionStorage) like messages have.
export class NoteBook {
  constructor({ log, template, storageKey, send, conversation, onFailed, me }) {
    this.log = log;
    this.me = me || null;
    this.template = template;
    this.storageKey = storageKey;
    this.send = send;
    this.conversation = conversation;
    this.onFailed = onFailed || (() => {});
    this.fromSeq = 0;
    this.ids = new Set();
    this.closed = false;
    this.outbox = this.loadOutbox();
    for (const item of this.outbox) this.renderPending(item);
  }

  loadOutbox() {
    try {
      return JSON.parse(sessionStorage.getItem(this.storageKey)) || [];
    } catch {
      return [];
    }
  }

  saveOutbox() {
    if (this.outbox.length) sessionStorage.setItem(this.storageKey, JSON.stringify(this.outbox));
    else sessionStorage.removeItem(this.storageKey);
  }

  // The notes from `conversation.context`; then what is still unsaved goes again.
  load(notes, fromSeq) {
    this.fromSeq = fromSeq || 0;
    keepAtBottom(this.log, () => {
      for (const note of notes) this.add(note);
    });
    this.flush();
  }

  receive(note) {
    keepAtBottom(this.log, () => this.add(note));
  }

  add(note) {
    this.settle(note.client_id);
    if (this.ids.has(note.id)) return;
    // Written before this reader's view starts: it belongs with the messages not shown.
    if (this.fromSeq > 0 && note.after_seq <= this.fromSeq) return;
    this.ids.add(note.id);
    placeInLog(this.log, this.render(note));
  }

  render(note) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.noteId = note.id;
    li.dataset.order = note.after_seq + 0.5;
    li.querySelector(".note__author").textContent =
      this.me && note.author_id === this.me ? gettext("You") : note.author;
    const time = li.querySelector("time");
    time.dateTime = note.created_at;
    time.textContent = timeFormat.format(new Date(note.created_at));
    fillBody(li.querySelector(".note__body"), note.parts, note.body);
    return li;
  }

  renderPending(item) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.clientId = item.client_id;
    li.classList.add("note--pending");
    li.querySelector(".note__author").textContent = gettext("You");
    li.querySelector("time").textContent = gettext("Saving…");
    li.querySelector(".note__body").textContent = item.body;
    this.log.append(li);
  }

  post(body) {
    if (this.closed) return;
    const item = { client_id: newId(), body, sent_at: Date.now() };
    this.outbox.push(item);
    this.saveOutbox();
    keepAtBottom(this.log, () => this.renderPending(item), { force: true });
    this.send(this.frameFor(item));
  }

  frameFor(item) {
    return {
      type: "note",
      conversation: this.conversation,
      body: item.body,
      client_id: item.client_id,
    };
  }

  ack(frame) {
    // The broadcast (`conversation.note`) brings the note itself; until then it stays
    // pending, so it is never shown twice or lost.
    const item = this.outbox.find((entry) => entry.client_id === frame.client_id);
    if (item) item.acked = true;
  }

  settle(clientId) {
    if (!clientId) return;
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((item) => item.client_id !== clientId);
    if (this.outbox.length !== before) this.saveOutbox();
    const pending = this.log.querySelector(`.note--pending[data-client-id="${CSS.escape(clientId)}"]`);
    if (pending) pending.remove();
  }

  fail(frame) {
    const item = this.outbox.find((entry) => entry.client_id === frame.client_id);
    if (!item) return;
    if (frame.code === "rate_limited") {
      setTimeout(() => this.flush(), (frame.retry_after || 1) * 1000);
      return;
    }
    this.settle(frame.client_id);
    this.onFailed(item.body, errorText(frame.code));
  }

  flush() {
    if (this.closed) return;
    for (const item of this.outbox) {
      item.sent_at = Date.now();
      this.send(this.frameFor(item));
    }
  }

  // Resend what has not come back; an acknowledged note whose broadcast was lost is
  // fetched with the next sync instead (`needsSync`).
  flushStale(olderThanMs = 5000) {
    if (this.closed) return false;
    const now = Date.now();
    let needsSync = false;
    for (const item of this.outbox) {
      if (now - (item.sent_at || 0) > olderThanMs) {
        item.sent_at = now;
        if (item.acked) needsSync = true;
        else this.send(this.frameFor(item));
      }
    }
    return needsSync;
  }

  close() {
    this.closed = true;
    for (const li of this.log.querySelectorAll(".note--pending time")) {
      li.textContent = gettext("Not saved");
    }
    this.outbox = [];
    this.saveOutbox();
  }
}

function uuidFallback() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
