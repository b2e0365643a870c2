// The client's chat page. Anonymous: the resume token lives in sessionStorage only, so it
// is gone when the tab closes, and nothing is kept in localStorage or cookies.
//
// The session in sessionStorage ("cc.client"): { token, start | leave, codeIssued,
// surveyDone }. `start` (a chat) or `leave` (a question left when nobody can chat) is the
// first message until the server has it, so a reload repeats it safely with the same token.

import { Socket, newToken, readSettings } from "./socket.js";
import { Thread, errorText, newId } from "./thread.js";

const { gettext, interpolate } = window;
const KEY = "cc.client";
const settings = readSettings("socket-settings");
// { "<unit id>": { name, open, hours } } for the units on the start page.
const units = readSettings("unit-info");

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

function saveSession(value) {
  if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
  else sessionStorage.removeItem(KEY);
}

let session = loadSession();
// The unit of the conversation on screen (from the server's sync).
let currentUnit = null;
// A case code is on its way (asked for, or coming with a question just left).
let awaitingCode = false;
// The client chose to leave a question instead of waiting: { unit, body } until the queue
// place is given up.
let leavingQueue = null;
// The unit whose chat the client gave up on for a question (nobody there, or just closed).
let forcedQuestion = null;

const thread = new Thread({
  log: $("log"),
  template: $("message-template"),
  viewer: "client",
  storageKey: `${KEY}.outbox`,
  send: (frame) => socket.send(frame),
  onGap: (after) => session && socket.send({ type: "resume", token: session.token, after }),
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
  connecting: () => gettext("Connecting…"),
  reconnecting: () =>
    gettext("The connection was lost. Reconnecting… Messages you write are kept and sent."),
  open: () => "",
};

// `leaving`: a question on its way, before the server has it (not a conversation state).
function showState(state) {
  chatStatus.textContent = (STATUS_TEXT[state] || (() => ""))();
  const open = state === "queued" || state === "active";
  const hadFocus = composer.contains(document.activeElement) || endButton === document.activeElement;
  composer.hidden = !open;
  endButton.hidden = !open;
  endButton.textContent = state === "queued" ? gettext("Leave the queue") : gettext("End chat");
  endedBox.hidden = open || state === "leaving";
  if (state !== "queued") {
    $("queue-info").hidden = true;
    $("queue-leave").hidden = true;
  }
  document.body.dataset.state = state;
  if (!open) hideTyping();
  if (state === "abandoned" && leavingQueue) {
    // After the thread has finished with this frame.
    setTimeout(leaveInsteadOfWaiting, 0);
    return;
  }
  if (!open && state !== "leaving") {
    showAfter(state);
    // The writing box the client was in has gone: take them to what they can do now.
    if (hadFocus || document.activeElement === document.body) $("after-title").focus();
  }
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
  const nobody = !frame.unit_open || frame.staff_serving === 0;
  let text;
  if (nobody) {
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
  $("queue-nobody").hidden = !nobody;
  // Nobody there to answer: the client may leave the question instead of waiting.
  $("queue-leave").hidden = !nobody;
}

function showNotice(text) {
  $("notice").textContent = text;
}

// --- after the meeting, or after leaving a question ----------------------------------------
function wasEverActive() {
  return Boolean(
    $("log").querySelector('li[data-event="accepted"], li[data-event="handover_joined"]'),
  );
}

function showAfter(state) {
  const offline = state === "offline";
  const left = $("left-question");
  left.hidden = !offline;
  if (offline) {
    const info = units[String(currentUnit)];
    left.textContent =
      info && info.hours
        ? interpolate(
            gettext(
              "They answer during their opening hours: %s. Come back with your case code to read the answer.",
            ),
            [info.hours],
          )
        : gettext("They answer as soon as they can. Come back with your case code to read the answer.");
  }
  $("save-part").hidden = state !== "ended";
  $("code-part").hidden = !(state === "ended" || offline);
  if (!$("code-part").hidden && $("code-box").hidden) showCodeOffer();
  const survey = state === "ended" && wasEverActive();
  $("survey-part").hidden = !survey;
  if (survey) {
    const done = Boolean(session && session.surveyDone);
    $("survey-form").hidden = done;
    $("survey-thanks").hidden = !done;
  }
}

function showCodeOffer() {
  const again = Boolean(session && session.codeIssued);
  const button = $("get-code");
  if (!button.dataset.first) button.dataset.first = button.textContent;
  button.textContent = again ? button.dataset.again : button.dataset.first;
  button.hidden = awaitingCode;
  button.disabled = false;
  $("code-hint").hidden = awaitingCode;
  $("code-again").hidden = !again || awaitingCode;
  button.setAttribute("aria-describedby", again ? "code-hint code-again" : "code-hint");
  $("code-wait").hidden = !awaitingCode;
  $("code-offer").hidden = false;
  $("code-box").hidden = true;
}

function showCode(code) {
  awaitingCode = false;
  if (session) {
    session.codeIssued = true;
    saveSession(session);
  }
  $("case-code").textContent = code;
  $("copy-done").textContent = "";
  $("copy-code").hidden = !(navigator.clipboard && window.isSecureContext);
  $("code-offer").hidden = true;
  $("code-box").hidden = false;
  $("case-code").focus();
}

function resetAfter() {
  awaitingCode = false;
  $("case-code").textContent = "";
  $("code-box").hidden = true;
  $("survey-form").reset();
  $("survey-error").hidden = true;
  for (const id of ["left-question", "save-part", "code-part", "survey-part"]) $(id).hidden = true;
}

$("get-code").addEventListener("click", () => {
  if (!socket.send({ type: "case_code" })) {
    showNotice(gettext("Not connected. Try again in a moment."));
    return;
  }
  showNotice("");
  awaitingCode = true;
  showCodeOffer();
});

$("copy-code").addEventListener("click", () => {
  const code = $("case-code").textContent;
  navigator.clipboard.writeText(code).then(
    () => {
      $("copy-done").textContent = gettext("Copied.");
    },
    () => {
      window.getSelection().selectAllChildren($("case-code"));
      $("copy-done").textContent = gettext("Select the code and copy it.");
    },
  );
});

// The transcript comes back as a file download; the page stays as it is.
$("save-transcript").addEventListener("click", () => {
  if (!session || !session.token) return;
  const form = $("transcript-form");
  form.elements.token.value = session.token;
  form.submit();
  form.elements.token.value = "";
});

$("survey-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  const frame = {
    type: "survey",
    helped: data.get("helped") || "",
    rating: data.get("rating") ? Number(data.get("rating")) : null,
    comment: (data.get("comment") || "").trim(),
  };
  const error = $("survey-error");
  if (!frame.helped && frame.rating === null && !frame.comment) {
    error.textContent = gettext("You have not answered anything. The questions are optional: you can skip them.");
    error.hidden = false;
    return;
  }
  if (!socket.send(frame)) {
    error.textContent = gettext("Not connected. Try again in a moment.");
    error.hidden = false;
    return;
  }
  error.hidden = true;
});

function surveySaved() {
  if (session) {
    session.surveyDone = true;
    saveSession(session);
  }
  $("survey-form").hidden = true;
  $("survey-thanks").hidden = false;
  $("survey-thanks").focus();
}

// --- the socket ------------------------------------------------------------------------------
const socket = new Socket("/ws/client/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  pingFrame: () => ({ type: "ping" }),
  onStatus: (status) => {
    connection.textContent = (CONNECTION_TEXT[status] || (() => ""))();
    connection.hidden = status === "open";
  },
  onOpen: () => {
    if (session.start) socket.send({ type: "start", token: session.token, ...session.start });
    else if (session.leave) {
      awaitingCode = true;
      socket.send({ type: "leave_question", token: session.token, ...session.leave });
    } else socket.send({ type: "resume", token: session.token, after: thread.lastSeq });
  },
  handlers: {
    "conversation.sync": (frame) => {
      currentUnit = frame.unit;
      if (session.start || session.leave) {
        session.start = null;
        session.leave = null;
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
    "case.code": (frame) => showCode(frame.code),
    "survey.saved": surveySaved,
    pong: (frame) => {
      if (frame.last_seq > thread.lastSeq) thread.onGap(thread.lastSeq);
      thread.flushStale();
    },
    ack: (frame) => thread.ack(frame),
    error: (frame) => {
      if (frame.client_id && frame.in_reply_to === "message") {
        thread.fail(frame);
      } else if (frame.in_reply_to === "start" || frame.in_reply_to === "leave_question") {
        // The first message was refused: give the form back with the text in it.
        const first = session.start || session.leave;
        const question = frame.in_reply_to === "leave_question";
        saveSession((session = null));
        socket.stop();
        if (frame.code === "unit_closed" && first) {
          // Closed while the client was writing: offer to leave the question instead.
          if (units[String(first.unit)]) units[String(first.unit)].open = false;
          showStart(
            first,
            gettext("The unit has just closed, so the chat could not start. You can leave your question instead: your text is still here."),
          );
        } else {
          if (question && first) forcedQuestion = first.unit;
          showStart(first, errorText(frame.code));
        }
      } else if (frame.in_reply_to === "resume" && frame.code === "not_found") {
        saveSession((session = null));
        socket.stop();
        showStart(null, "");
      } else if (frame.in_reply_to === "case_code") {
        awaitingCode = false;
        showCodeOffer();
        showNotice(gettext("The case code could not be made. Try again in a moment."));
      } else if (frame.in_reply_to === "survey") {
        $("survey-error").textContent = gettext("Your answers could not be sent. Try again, or skip the questions.");
        $("survey-error").hidden = false;
      } else if (frame.in_reply_to !== "typing" && frame.in_reply_to !== "seen") {
        showNotice(errorText(frame.code));
      }
    },
  },
});

// --- the start form: a chat, or a question when nobody can chat ------------------------------
function chosenUnit() {
  const radio = startForm.querySelector("input[name=unit]:checked:not(:disabled)");
  return radio ? Number(radio.value) : 0;
}

function isClosed(unit) {
  const info = units[String(unit)];
  return Boolean(info && !info.open);
}

function questionMode() {
  const unit = chosenUnit();
  return Boolean(unit) && (isClosed(unit) || forcedQuestion === unit);
}

function updateMode() {
  const unit = chosenUnit();
  const question = questionMode();
  const closed = isClosed(unit);
  const submit = $("start-submit");
  if (!submit.dataset.chat) submit.dataset.chat = submit.textContent;
  submit.textContent = question ? submit.dataset.question : submit.dataset.chat;
  submit.dataset.mode = question ? "question" : "chat";
  $("question-mode").hidden = !question;
  $("question-note-closed").hidden = !closed;
  $("question-note-nobody").hidden = closed;
  $("chat-instead").hidden = !question || closed;
  $("first-message-hint").hidden = question;
  $("question-hint").hidden = !question;
  startForm.elements.body.setAttribute(
    "aria-describedby",
    question ? "question-mode question-hint" : "first-message-hint",
  );
}

startForm.addEventListener("change", (event) => {
  if (event.target.name === "unit") updateMode();
});

$("chat-instead").addEventListener("click", () => {
  forcedQuestion = null;
  updateMode();
  $("start-submit").focus();
});

function showStart(previous, error) {
  thread.clear();
  resetAfter();
  chatSection.hidden = true;
  startSection.hidden = false;
  delete document.body.dataset.state;
  formError.textContent = error || "";
  formError.hidden = !error;
  if (previous) {
    startForm.elements.body.value = previous.body;
    const radio = startForm.querySelector(`input[name=unit][value="${Number(previous.unit)}"]`);
    if (radio && !radio.disabled) radio.checked = true;
  }
  updateMode();
  startForm.elements.body.focus();
}

function showChat() {
  startSection.hidden = true;
  chatSection.hidden = false;
  if (composer.hidden) chatStatus.focus();
  else composerBody.focus();
}

startForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const unit = chosenUnit();
  const body = startForm.elements.body.value;
  if (!unit || !body.trim()) {
    formError.textContent = gettext("Choose who you want to talk to and write a message.");
    formError.hidden = false;
    return;
  }
  const first = { unit, body, client_id: newId() };
  const question = questionMode();
  session = question ? { token: newToken(), leave: first } : { token: newToken(), start: first };
  saveSession(session);
  startForm.reset();
  forcedQuestion = null;
  formError.hidden = true;
  showPendingStart();
  showState(question ? "leaving" : "queued");
  showChat();
  socket.connect();
});

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
  seenSentFor = 0;
  saveSession((session = null));
  forcedQuestion = previous.unit;
  $("leave-instead").disabled = false;
  showStart(previous, "");
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
  forcedQuestion = null;
  saveSession((session = null));
  showStart(null, "");
});

if (session && session.token) {
  if (session.start || session.leave) showPendingStart();
  if (session.leave) showState("leaving");
  showChat();
  socket.connect();
} else {
  startSection.hidden = false;
  updateMode();
}
