// One conversation's messages in the browser: gapless by seq, no duplicates, and an outbox
// of messages not yet acknowledged that survives a reload (sessionStorage) and is resent
// after every reconnect. User text only ever goes into the page as textContent.

const { gettext } = window;

// System events, worded for who reads them.
const CLIENT_EVENT_TEXT = {
  accepted: () => gettext("A social worker has joined the chat."),
  ended: () => gettext("The chat has ended."),
  abandoned: () => gettext("You have left the queue."),
  moved: () => gettext("You have been moved to another unit's queue. Your place is kept."),
  rejoined: () => gettext("You are back in the queue, in the same place."),
};

const EVENT_TEXT = {
  accepted: () => gettext("A social worker has joined the chat."),
  ended: () => gettext("The chat has ended."),
  rejoined: () => gettext("The client is back in the queue."),
  abandoned: () => gettext("The client left the queue."),
  moved: () => gettext("The conversation was moved to another unit."),
  quick_exit: () =>
    gettext("The client left quickly with the quick exit. Someone may be near them: do not try to contact them."),
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
};

export function errorText(code) {
  return (ERROR_TEXT[code] || (() => gettext("Something went wrong. Please try again.")))();
}

const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "sv", {
  hour: "2-digit",
  minute: "2-digit",
});

// Builds a message body from the server's parts: text, and links the server vetted.
function fillBody(el, parts, fallback) {
  el.replaceChildren();
  for (const part of parts && parts.length ? parts : [{ text: fallback }]) {
    if (part.href && /^https?:\/\//i.test(part.href)) {
      const a = document.createElement("a");
      a.href = part.href;
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      a.textContent = part.text;
      el.append(a);
    } else {
      el.append(document.createTextNode(part.text));
    }
  }
}

export class Thread {
  // viewer: "client" or "worker"; send(frame) returns false when the socket is down.
  constructor({ log, template, viewer, storageKey, send, onGap, onStateChange, onFailed }) {
    this.log = log;
    this.template = template;
    this.viewer = viewer;
    this.storageKey = storageKey;
    this.send = send;
    this.onGap = onGap;
    this.onStateChange = onStateChange || (() => {});
    this.onFailed = onFailed || (() => {});
    this.lastSeq = 0;
    this.state = null;
    this.conversation = null;
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
  applySync(frame) {
    this.conversation = frame.conversation;
    for (const message of frame.messages) this.accept(message);
    this.setState(frame.state);
    if (frame.last_seq > this.lastSeq) this.onGap(this.lastSeq);
    this.flush();
  }

  // A live message. Returns false when it showed a gap (a resync is asked for instead).
  receive(frame) {
    const { message } = frame;
    if (message.seq <= this.lastSeq) return true;
    if (message.seq > this.lastSeq + 1) {
      this.onGap(this.lastSeq);
      return false;
    }
    this.accept(message);
    this.setState(frame.state);
    return true;
  }

  accept(message) {
    if (message.seq !== this.lastSeq + 1) return;
    this.lastSeq = message.seq;
    if (message.client_id) this.settle(message.client_id);
    // Messages still being sent stay at the bottom, below everything stored.
    this.log.insertBefore(this.render(message), this.log.querySelector(".message--pending"));
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
    const pending = this.log.querySelector(`[data-client-id="${CSS.escape(clientId)}"]`);
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
    const now = Date.now();
    for (const item of this.outbox) {
      if (now - (item.sent_at || 0) > olderThanMs) {
        item.sent_at = now;
        this.send(this.frameFor(item));
      }
    }
  }

  post(body) {
    const item = {
      client_id: crypto.randomUUID ? crypto.randomUUID() : uuidFallback(),
      body,
      sent_at: Date.now(),
    };
    this.outbox.push(item);
    this.saveOutbox();
    this.renderPending(item);
    this.send(this.frameFor(item));
  }

  frameFor(item) {
    const frame = { type: "message", body: item.body, client_id: item.client_id };
    if (this.conversation !== null) frame.conversation = this.conversation;
    return frame;
  }

  flush() {
    for (const item of this.outbox) this.send(this.frameFor(item));
  }

  whoLabel(message) {
    if (message.sender === "system") return "";
    const mine = message.sender === this.viewer;
    if (mine) return gettext("You");
    if (message.sender === "client") return gettext("Client");
    return message.author && this.viewer === "worker"
      ? message.author
      : gettext("Social worker");
  }

  render(message) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.seq = message.seq;
    li.dataset.sender = message.sender;
    li.classList.add(`message--${message.sender}`);
    if (message.sender === this.viewer) li.classList.add("message--mine");
    li.querySelector(".who").textContent = this.whoLabel(message);
    const time = li.querySelector("time");
    time.dateTime = message.created_at;
    time.textContent = timeFormat.format(new Date(message.created_at));
    const body = li.querySelector(".body");
    if (message.sender === "system") {
      const texts = this.viewer === "client" ? CLIENT_EVENT_TEXT : EVENT_TEXT;
      body.textContent = (texts[message.event] || (() => ""))();
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

  clear() {
    this.outbox = [];
    this.saveOutbox();
    this.log.replaceChildren();
    this.lastSeq = 0;
    this.state = null;
    this.conversation = null;
  }
}

function uuidFallback() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
