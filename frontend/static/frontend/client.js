// The client's chat page. Anonymous: the resume token lives in sessionStorage only, so it
// is gone when the tab closes, and nothing is kept in localStorage or cookies.
//
// The session in sessionStorage ("cc.client"): { token, start | leave, codeIssued,
// surveyDone }. `start` (a chat) or `leave` (a question left when nobody can chat) is the
// first message until the server has it, so a reload repeats it safely with the same token.

import { AfterChat } from "./client-after.js";
import { showQueuePlace } from "./client-queue.js";
import { ChatSignals } from "./client-signals.js";
import { StartForm } from "./client-start.js";
import { connectionLine } from "./connection.js";
import { loadSession, saveSession } from "./session.js";
import { Socket, newToken, readSettings } from "./socket.js";
import { errorText } from "./event-texts.js";
import { Thread, sendFromComposer } from "./thread.js";

const { gettext, interpolate } = window;
const KEY = "cc.client";
const settings = readSettings("socket-settings");
// { "<unit id>": { name, open, hours } } for the units on the start page.
const units = readSettings("unit-info");

const $ = (id) => document.getElementById(id);
const startSection = $("start");
const chatSection = $("chat");
const chatStatus = $("chat-status");
const connection = $("connection");
const composer = $("composer");
const composerBody = $("composer-body");
const endButton = $("end-button");
const endedBox = $("ended");

// The header (quick exit) and the chat's banner (status, place in the queue) stay in sight
// while the messages scroll on a phone: the banner sits right below the header, and
// whatever gets focus scrolls into view below both.
function keepStickyHeights() {
  const header = document.querySelector(".site-header");
  const banner = document.querySelector(".chat-banner");
  const root = document.documentElement.style;
  const measure = () => {
    const headerHeight = header ? header.offsetHeight : 0;
    root.setProperty("--header-height", `${headerHeight}px`);
    root.setProperty("--sticky-height", `${headerHeight + (banner ? banner.offsetHeight : 0)}px`);
  };
  measure();
  const observer = new ResizeObserver(measure);
  for (const element of [header, banner]) if (element) observer.observe(element);
}
keepStickyHeights();


let session = loadSession(KEY);
// The unit of the conversation on screen (from the server's sync).
let currentUnit = null;
// The client chose to leave a question instead of waiting: { unit, body } until the queue
// place is given up.
let leavingQueue = null;
// Identified with e-ID (from the server's sync): no step-up offered then.
let identified = false;

// Identify with e-ID inside the chat (step up): the token goes in the form's body, never
// in a URL. The tab keeps its session and outbox, so it comes back to this chat.
const stepUpForm = $("step-up-form");
function showStepUp(state) {
  const open = state === "queued" || state === "active";
  $("chat-identified").hidden = !identified || !open;
  if (stepUpForm) stepUpForm.hidden = !open || identified || !session;
}
stepUpForm?.addEventListener("submit", (event) => {
  if (!session?.token) {
    event.preventDefault();
    return;
  }
  stepUpForm.elements.token.value = session.token;
});

const thread = new Thread({
  log: $("log"),
  template: $("message-template"),
  viewer: "client",
  storageKey: `${KEY}.outbox`,
  send: (frame) => socket.send(frame),
  requestSync: (after) =>
    Boolean(session) && socket.send({ type: "resume", token: session.token, after }),
  connection: () => socket.ws,
  onStateChange: showState,
  onFailed: (body, reason) => {
    if (!composerBody.value) composerBody.value = body;
    showNotice(reason);
  },
});

function unitName(id) {
  const info = units[String(id)];
  return info ? info.name : "";
}

const STATUS_TEXT = {
  queued: () => gettext("You are in the queue. A social worker will answer as soon as they can."),
  active: () => gettext("You are talking with a social worker."),
  ended: () => gettext("The chat has ended."),
  abandoned: () => gettext("You have left the queue."),
  offline: () =>
    unitName(currentUnit)
      ? interpolate(gettext("Your question has been left for %s."), [unitName(currentUnit)])
      : gettext("Your message has been left for the unit."),
  leaving: () => gettext("Sending your question…"),
};

const CONNECTION_TEXT = {
  reconnecting: () =>
    gettext("The connection was lost. Reconnecting… Messages you write are kept and sent."),
};

// `leaving`: a question on its way, before the server has it (not a conversation state).
function showState(state) {
  chatStatus.textContent = (STATUS_TEXT[state] || (() => ""))();
  const open = state === "queued" || state === "active";
  const hadFocus = composer.contains(document.activeElement) || endButton === document.activeElement;
  composer.hidden = !open;
  endButton.hidden = !open;
  endButton.textContent = state === "queued" ? gettext("Leave the queue") : gettext("End chat");
  showStepUp(state);
  endedBox.hidden = open || state === "leaving";
  if (state !== "queued") {
    $("queue-info").hidden = true;
    $("queue-leave").hidden = true;
  }
  document.body.dataset.state = state;
  if (!open) signals.hideTyping();
  if (state === "abandoned" && leavingQueue) {
    // After the thread has finished with this frame.
    setTimeout(leaveInsteadOfWaiting, 0);
    return;
  }
  if (!open && state !== "leaving") {
    after.show(state);
    // The writing box the client was in has gone: take them to what they can do now.
    if (hadFocus || document.activeElement === document.body) $("after-title").focus();
  }
}

function showNotice(text) {
  clearTimeout(waitTimer);
  $("notice").textContent = text;
}

// A limit's notice says how long to wait, and goes when the wait is over.
let waitTimer = null;
function showWait(frame) {
  showNotice(errorText("rate_limited", frame));
  const text = $("notice").textContent;
  waitTimer = setTimeout(() => {
    if ($("notice").textContent === text) $("notice").textContent = "";
  }, (Number(frame.retry_after) || 1) * 1000);
}

// Calls are rare, so their code (client-call.js and call.js) loads with the first call frame
// and not with the page: a client on a slow phone gets the chat sooner. Frames wait for it
// in the order they came.
const CALL_FRAMES = [
  "call.ringing",
  "call.accepted",
  "call.offer",
  "call.candidate",
  "call.ended",
  "call.joined",
  "call.left",
  "call.worker",
];
let callLoaded = null;
function withCall(use) {
  callLoaded ??= import("./client-call.js").then(
    ({ ClientCall }) =>
      new ClientCall({
        send: (frame) => socket.send(frame),
        notice: showNotice,
        composerFocus: () => composerBody.focus(),
      }),
  );
  callLoaded.then(use);
}
const callHandlers = Object.fromEntries(
  CALL_FRAMES.map((type) => [type, (frame) => withCall((call) => call.handlers[type](frame))]),
);

// --- the socket ------------------------------------------------------------------------------
const showConnection = connectionLine(connection, CONNECTION_TEXT);
const socket = new Socket("/ws/client/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  pingFrame: () => ({ type: "ping" }),
  onStatus: (status) => {
    showConnection(status);
    // A call already on the page goes on while the socket reconnects, and says so.
    if (callLoaded) callLoaded.then((call) => call.socketStatus(status));
  },
  onOpen: () => {
    if (session.start) socket.send({ type: "start", token: session.token, ...session.start });
    else if (session.leave) {
      after.awaitingCode = true;
      socket.send({ type: "leave_question", token: session.token, ...session.leave });
    } else thread.askSync();
  },
  handlers: {
    "conversation.sync": (frame) => {
      currentUnit = frame.unit;
      identified = Boolean(frame.identified);
      if (session.start || session.leave) {
        session.start = null;
        session.leave = null;
        saveSession(KEY, session);
        $("log").querySelectorAll(".message--pending[data-start]").forEach((el) => el.remove());
      }
      after.noteFollowups(frame);
      thread.applySync(frame);
      // A call that ended while the socket was away (its `call.ended` was missed): the
      // history it missed says so, as one call at a time is open.
      if (callLoaded && frame.messages.some((m) => m.event === "call")) {
        withCall((call) => call.endedWhileAway());
      }
      showStepUp(document.body.dataset.state || "");
      signals.maybeSendSeen();
    },
    "conversation.message": (frame) => {
      after.noteFollowups(frame);
      if (thread.receive(frame) && frame.message.sender !== "client") {
        signals.hideTyping();
        signals.maybeSendSeen();
      }
    },
    "conversation.typing": (frame) => {
      if (frame.who === "worker") signals.showTyping();
    },
    "conversation.seen": (frame) => {
      if (frame.who === "worker") thread.showSeen(frame.seq, "client");
    },
    "queue.position": (frame) => {
      if (thread.state === "queued") showQueuePlace(frame, units[String(currentUnit)]);
    },
    "case.code": (frame) => after.showCode(frame.code),
    "survey.saved": () => after.surveySaved(),
    pong: (frame) => {
      if (frame.last_seq) thread.gapTo(frame.last_seq);
      thread.flushStale();
    },
    ack: (frame) => thread.ack(frame),
    ...callHandlers,
    error: (frame) => {
      if (frame.in_reply_to && frame.in_reply_to.startsWith("call_")) {
        withCall((call) => call.failed(frame));
      } else if (frame.client_id && frame.in_reply_to === "message") {
        // Too fast: the message stays, shown as being sent, and goes when the wait is over.
        if (frame.code === "rate_limited") showWait(frame);
        thread.fail(frame);
      } else if (frame.in_reply_to === "start" || frame.in_reply_to === "leave_question") {
        // The first message was refused: give the form back with the text in it.
        const first = session.start || session.leave;
        const question = frame.in_reply_to === "leave_question";
        saveSession(KEY, (session = null));
        socket.stop();
        if (frame.code === "unit_closed" && first) {
          // Closed while the client was writing: offer to leave the question instead.
          if (units[String(first.unit)]) units[String(first.unit)].open = false;
          showStart(
            first,
            gettext("The unit has just closed, so the chat could not start. You can leave your question instead: your text is still here."),
          );
        } else {
          if (question && first) startForm.forcedQuestion = first.unit;
          showStart(first, errorText(frame.code, frame));
        }
      } else if (frame.in_reply_to === "resume" && frame.code === "not_found") {
        saveSession(KEY, (session = null));
        socket.stop();
        showStart(null, "");
      } else if (frame.in_reply_to === "case_code") {
        after.awaitingCode = false;
        after.showCodeOffer();
        showNotice(gettext("The case code could not be made. Try again in a moment."));
      } else if (frame.in_reply_to === "survey") {
        $("survey-error").textContent = gettext("Your answers could not be sent. Try again, or skip the questions.");
        $("survey-error").hidden = false;
      } else if (frame.code === "rate_limited") {
        showWait(frame);
      } else if (frame.in_reply_to !== "typing" && frame.in_reply_to !== "seen") {
        showNotice(errorText(frame.code, frame));
      }
    },
  },
});

const signals = new ChatSignals({
  thread,
  typingLine: $("typing"),
  composerBody,
  send: (frame) => socket.send(frame),
  hasSession: () => Boolean(session),
});

const after = new AfterChat({
  units,
  session: () => session,
  keepSession: () => saveSession(KEY, session),
  unit: () => currentUnit,
  send: (frame) => socket.send(frame),
  showNotice,
});

// --- the start form: a chat, or a question when nobody can chat ------------------------------
const startForm = new StartForm({
  form: $("start-form"),
  units,
  onSubmit: (first, question) => {
    session = question ? { token: newToken(), leave: first } : { token: newToken(), start: first };
    saveSession(KEY, session);
    showPendingStart();
    showState(question ? "leaving" : "queued");
    showChat();
    socket.connect();
  },
});

function showStart(previous, error) {
  thread.clear();
  after.reset();
  chatSection.hidden = true;
  startSection.hidden = false;
  delete document.body.dataset.state;
  startForm.show(previous, error);
}

function showChat() {
  startSection.hidden = true;
  chatSection.hidden = false;
  if (composer.hidden) chatStatus.focus();
  else composerBody.focus();
}

// Until the server has the first message, show it as being sent.
function showPendingStart() {
  const first = session.start || session.leave;
  const li = $("message-template").content.firstElementChild.cloneNode(true);
  li.dataset.start = "1";
  li.classList.add("message--client", "message--mine", "message--pending");
  li.querySelector(".who").textContent = gettext("You");
  li.querySelector("time").textContent = gettext("Sending…");
  li.querySelector(".body").textContent = first.body;
  $("log").append(li);
}

// Waiting with nobody there: give up the queue place, then leave the same words as a
// question for the same unit.
$("leave-instead").addEventListener("click", () => {
  const bodies = Array.from($("log").querySelectorAll("li.message--client .body"), (el) =>
    el.textContent.trim(),
  ).filter(Boolean);
  leavingQueue = {
    unit: currentUnit,
    body: bodies.join("\n\n").slice(0, settings.maxLength || 2000),
  };
  $("leave-instead").disabled = true;
  if (!socket.send({ type: "end" })) {
    // Not connected: the server gives up the place itself once the page has gone quiet.
    leaveInsteadOfWaiting();
    return;
  }
  // Normally the "abandoned" state comes back at once; do not keep the client waiting.
  setTimeout(leaveInsteadOfWaiting, 4000);
});

function leaveInsteadOfWaiting() {
  const previous = leavingQueue;
  if (!previous) return;
  leavingQueue = null;
  socket.stop();
  signals.reset();
  saveSession(KEY, (session = null));
  startForm.forcedQuestion = previous.unit;
  $("leave-instead").disabled = false;
  showStart(previous, "");
}

sendFromComposer(thread, {
  form: composer,
  box: composerBody,
  maxLength: settings.maxLength,
  notice: showNotice,
});

endButton.addEventListener("click", () => {
  socket.send({ type: "end" });
});

$("new-chat").addEventListener("click", () => {
  socket.stop();
  signals.reset();
  startForm.forcedQuestion = null;
  saveSession(KEY, (session = null));
  showStart(null, "");
});

if (session && session.token) {
  if (session.start || session.leave) showPendingStart();
  if (session.leave) showState("leaving");
  showChat();
  socket.connect();
} else {
  startSection.hidden = false;
  startForm.updateMode();
}
