// The client's chat page. Anonymous: the resume token lives in sessionStorage only, so it
// is gone when the tab closes, and nothing is kept in localStorage or cookies.

import { Socket, newToken, readSettings } from "./socket.js";
import { Thread, errorText } from "./thread.js";

const { gettext, interpolate } = window;
const KEY = "cc.client";
const settings = readSettings("socket-settings");

const $ = (id) => document.getElementById(id);
const startSection = $("start");
const startForm = $("start-form");
const chatSection = $("chat");
const chatStatus = $("chat-status");
const connection = $("connection");
const composer = $("composer");
const composerBody = $("composer-body");
const endButton = $("end-button");
const endedBox = $("ended");
const formError = $("start-error");
const typingLine = $("typing");

const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 5000;

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

function saveSession(session) {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

let session = loadSession();

const thread = new Thread({
  log: $("log"),
  template: $("message-template"),
  viewer: "client",
  storageKey: `${KEY}.outbox`,
  send: (frame) => socket.send(frame),
  onGap: (after) => socket.send({ type: "resume", token: session.token, after }),
  onStateChange: showState,
  onFailed: (body, reason) => {
    if (!composerBody.value) composerBody.value = body;
    showNotice(reason);
  },
});

const STATUS_TEXT = {
  queued: () => gettext("You are in the queue. A social worker will answer as soon as they can."),
  active: () => gettext("You are talking with a social worker."),
  ended: () => gettext("The chat has ended."),
  abandoned: () => gettext("You have left the queue."),
  offline: () => gettext("Your message has been left for the unit."),
};

const CONNECTION_TEXT = {
  connecting: () => gettext("Connecting…"),
  reconnecting: () =>
    gettext("The connection was lost. Reconnecting… Messages you write are kept and sent."),
  open: () => "",
};

function showState(state) {
  chatStatus.textContent = (STATUS_TEXT[state] || (() => ""))();
  const open = state === "queued" || state === "active";
  composer.hidden = !open;
  endButton.hidden = !open;
  endButton.textContent = state === "queued" ? gettext("Leave the queue") : gettext("End chat");
  endedBox.hidden = open;
  if (state !== "queued") $("queue-info").hidden = true;
  document.body.dataset.state = state;
  if (!open) hideTyping();
}

// Where the client stands, and only an estimate the server can stand behind.
function showPosition(frame) {
  if (thread.state !== "queued") return;
  $("queue-info").hidden = false;
  $("queue-position").textContent =
    frame.position === 1
      ? gettext("You are next in the queue.")
      : interpolate(gettext("You are number %s in the queue."), [frame.position]);
  const estimate = frame.estimate;
  let text;
  if (!frame.unit_open || frame.staff_serving === 0) {
    text = "";
  } else if (!estimate) {
    text = gettext("We can't say yet how long the wait will be.");
  } else if (estimate.high <= 2) {
    text = gettext("A social worker should answer within a few minutes.");
  } else {
    text = interpolate(gettext("Expected wait: about %(low)s–%(high)s minutes."), estimate, true);
  }
  $("queue-estimate").textContent = text;
  $("queue-estimate").hidden = !text;
  $("queue-nobody").hidden = frame.unit_open && frame.staff_serving > 0;
}

function showNotice(text) {
  $("notice").textContent = text;
}

const socket = new Socket("/ws/client/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  pingFrame: () => ({ type: "ping" }),
  onStatus: (status) => {
    connection.textContent = (CONNECTION_TEXT[status] || (() => ""))();
    connection.hidden = status === "open";
  },
  onOpen: () => {
    if (session.start) socket.send({ type: "start", token: session.token, ...session.start });
    else socket.send({ type: "resume", token: session.token, after: thread.lastSeq });
  },
  handlers: {
    "conversation.sync": (frame) => {
      if (session.start) {
        session.start = null;
        saveSession(session);
        $("log").querySelectorAll(".message--pending[data-start]").forEach((el) => el.remove());
      }
      thread.applySync(frame);
      maybeSendSeen();
    },
    "conversation.message": (frame) => {
      if (thread.receive(frame) && frame.message.sender !== "client") {
        hideTyping();
        maybeSendSeen();
      }
    },
    "conversation.typing": (frame) => {
      if (frame.who === "worker") showTyping();
    },
    "conversation.seen": (frame) => {
      if (frame.who === "worker") thread.showSeen(frame.seq, "client");
    },
    "queue.position": showPosition,
    pong: (frame) => {
      if (frame.last_seq > thread.lastSeq) thread.onGap(thread.lastSeq);
      thread.flushStale();
    },
    ack: (frame) => thread.ack(frame),
    error: (frame) => {
      if (frame.client_id && frame.in_reply_to === "message") {
        thread.fail(frame);
      } else if (frame.in_reply_to === "start") {
        // The first message was refused: give the form back with the text in it.
        const start = session.start;
        saveSession((session = null));
        socket.stop();
        showStart(start, errorText(frame.code));
      } else if (frame.in_reply_to === "resume" && frame.code === "not_found") {
        saveSession((session = null));
        socket.stop();
        showStart(null, "");
      } else if (frame.in_reply_to !== "typing" && frame.in_reply_to !== "seen") {
        showNotice(errorText(frame.code));
      }
    },
  },
});

function showStart(previous, error) {
  thread.clear();
  chatSection.hidden = true;
  startSection.hidden = false;
  formError.textContent = error || "";
  formError.hidden = !error;
  if (previous) {
    startForm.elements.body.value = previous.body;
    const radio = startForm.querySelector(`input[name=unit][value="${previous.unit}"]`);
    if (radio) radio.checked = true;
  }
  startForm.elements.body.focus();
}

function showChat() {
  startSection.hidden = true;
  chatSection.hidden = false;
  composerBody.focus();
}

startForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const unit = Number(startForm.elements.unit.value);
  const body = startForm.elements.body.value;
  if (!unit || !body.trim()) {
    formError.textContent = gettext("Choose who you want to talk to and write a message.");
    formError.hidden = false;
    return;
  }
  session = { token: newToken(), start: { unit, body, client_id: crypto.randomUUID() } };
  saveSession(session);
  startForm.reset();
  showPendingStart();
  showChat();
  showState("queued");
  socket.connect();
});

// Until the server has the first message, show it as being sent.
function showPendingStart() {
  const li = $("message-template").content.firstElementChild.cloneNode(true);
  li.dataset.start = "1";
  li.classList.add("message--client", "message--mine", "message--pending");
  li.querySelector(".who").textContent = gettext("You");
  li.querySelector("time").textContent = gettext("Sending…");
  li.querySelector(".body").textContent = session.start.body;
  $("log").append(li);
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = composerBody.value;
  if (!body.trim()) return;
  if (body.length > settings.maxLength) {
    showNotice(errorText("too_long"));
    return;
  }
  showNotice("");
  thread.post(body);
  composerBody.value = "";
  composerBody.focus();
});

// "The social worker is writing…", for a few seconds after each sign.
let typingTimer = null;
let lastTypingSent = 0;
let seenSentFor = 0;

function showTyping() {
  if (thread.state !== "active") return;
  if (!typingLine.textContent) typingLine.textContent = gettext("The social worker is writing…");
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  typingLine.textContent = "";
}

composerBody.addEventListener("input", () => {
  if (thread.state !== "active" || !composerBody.value.trim()) return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_SEND_MS) return;
  lastTypingSent = now;
  socket.send({ type: "typing" });
});

// The social worker sees "Seen" once the newest answer has been on this screen.
function maybeSendSeen() {
  if (!session || thread.state !== "active") return;
  if (!document.hasFocus() || document.visibilityState !== "visible") return;
  const newest = thread.newest(["worker", "interpreter"]);
  if (!newest) return;
  const seq = Number(newest.dataset.seq);
  const box = newest.getBoundingClientRect();
  if (seq <= seenSentFor || box.bottom <= 0 || box.top >= innerHeight) return;
  if (socket.send({ type: "seen", seq: thread.lastSeq })) seenSentFor = seq;
}

window.addEventListener("focus", maybeSendSeen);
document.addEventListener("visibilitychange", maybeSendSeen);
let seenFrame = null;
window.addEventListener(
  "scroll",
  () => {
    if (seenFrame) return;
    seenFrame = requestAnimationFrame(() => {
      seenFrame = null;
      maybeSendSeen();
    });
  },
  { passive: true },
);

// Enter sends, Shift+Enter makes a new line.
composerBody.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

endButton.addEventListener("click", () => {
  socket.send({ type: "end" });
});

$("new-chat").addEventListener("click", () => {
  socket.stop();
  seenSentFor = 0;
  saveSession((session = null));
  showStart(null, "");
});

if (session && session.token) {
  showChat();
  if (session.start) showPendingStart();
  socket.connect();
} else {
  startSection.hidden = false;
}
