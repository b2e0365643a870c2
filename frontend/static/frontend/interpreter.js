// The interpreter's page: one conversation, by invitation, from the moment of joining.
// An external interpreter comes by a single-use link whose secret sits after "#" (never
// sent to the server by the browser, and taken out of the address bar at once); the tab
// then keeps its own token in sessionStorage to come back after a reload. An interpreter
// with an account is known by their session.

import { connectionLine } from "./connection.js";
import { loadSession, saveSession } from "./session.js";
import { Socket, newToken, readSettings } from "./socket.js";
import { errorText } from "./event-texts.js";
import { Thread, sendFromComposer } from "./thread.js";
import { InterpreterCall } from "./interpreter-call.js";

const { gettext } = window;
const KEY = "cc.interpreter";
const settings = readSettings("socket-settings");

const $ = (id) => document.getElementById(id);
const statusLine = $("status");
const connection = $("connection");
const composer = $("composer");
const composerBody = $("composer-body");
const typingLine = $("typing");
const TYPING_SHOW_MS = 5000;

// Take the invitation out of the address bar before anything else happens.
let invitation = null;
let session = loadSession(KEY);
const fragment = location.hash.slice(1);
if (fragment.length > 10) {
  invitation = fragment;
  history.replaceState(null, "", location.pathname);
  session = { token: newToken() };
  saveSession(KEY, session);
}
const hadLink = Boolean(invitation || session?.token);
let joined = false;
let stopped = false;

// Calls in the conversation (interpreter-call.js); `socket` is made below.
const calls = new InterpreterCall({
  send: (frame) => socket.send(frame),
  notice: showNotice,
  focusAfter: () => (composer.hidden ? statusLine : composerBody).focus(),
});

const thread = new Thread({
  log: $("log"),
  template: $("message-template"),
  viewer: "interpreter",
  storageKey: `${KEY}.outbox`,
  send: (frame) => socket.send(frame),
  requestSync: (after) => resume(after),
  connection: () => socket.ws,
  onStateChange: showState,
  onFailed: (body, reason) => {
    if (!composerBody.value) composerBody.value = body;
    showNotice(reason);
  },
});

const STATUS_TEXT = {
  active: () => gettext("You are in the conversation. Write your interpretation below."),
  queued: () => gettext("The client is waiting for a social worker. You can write when the chat goes on."),
  ended: () => gettext("The chat has ended. You can close this page."),
  abandoned: () => gettext("The chat has ended. You can close this page."),
  offline: () => gettext("The chat has ended. You can close this page."),
};

const CONNECTION_TEXT = {
  reconnecting: () =>
    gettext("The connection was lost. Reconnecting… What you write is kept and sent."),
};

function showState(state) {
  if (stopped) return;
  statusLine.textContent = (STATUS_TEXT[state] || (() => ""))();
  const active = state === "active";
  composer.hidden = !active;
  $("leave-box").hidden = !(active || state === "queued");
  document.body.dataset.state = state;
  if (!active) hideTyping();
  if (state === "ended" || state === "abandoned" || state === "offline") stop("");
}

function showNotice(text) {
  $("notice").textContent = text;
}

// Nothing more to do here: say why, forget the tab's token, stop reconnecting.
function stop(text) {
  stopped = true;
  if (text) statusLine.textContent = text;
  composer.hidden = true;
  $("leave-box").hidden = true;
  $("leave-confirm").hidden = true;
  connection.hidden = true;
  hideTyping();
  thread.close();
  calls.stop();
  saveSession(KEY, null);
  socket.stop();
}

function resume(after) {
  const frame = { type: "resume", after };
  if (session?.token) frame.token = session.token;
  return socket.send(frame);
}

const socket = new Socket("/ws/interpreter/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  onStatus: connectionLine(connection, CONNECTION_TEXT, { hide: () => stopped }),
  onOpen: () => {
    // Until the server has answered the join, a reconnect repeats it (the same link and
    // token answer the same seat); after that the token alone brings the tab back.
    if (invitation && !joined) {
      socket.send({ type: "join", invitation, token: session.token });
    } else {
      thread.askSync();
    }
  },
  handlers: {
    "conversation.sync": (frame) => {
      joined = true;
      invitation = null;
      thread.applySync(frame);
      // A call that ended while the socket was away: its end is in the missed history.
      if (frame.messages.some((m) => m.event === "call")) calls.endedWhileAway();
    },
    "conversation.message": (frame) => {
      if (thread.receive(frame) && frame.message.sender !== "interpreter") hideTyping();
    },
    "conversation.typing": (frame) => showTyping(frame.who),
    pong: () => thread.flushStale(),
    ack: (frame) => thread.ack(frame),
    ...calls.handlers,
    "conversation.left": (frame) => {
      const text = {
        removed: () => gettext("The social worker has ended your part in this conversation. Thank you."),
        ended: () => gettext("The conversation has ended. Thank you."),
      }[frame.reason];
      stop(text ? text() : gettext("You have left the conversation."));
    },
    error: (frame) => {
      if (frame.client_id && frame.in_reply_to === "message") {
        thread.fail(frame);
      } else if (["call_offer", "call_answer", "call_candidate"].includes(frame.in_reply_to)) {
        // signalling to a party who has just left: the call itself goes on
      } else if (frame.code === "not_present") {
        stop(gettext("You are no longer in this conversation."));
      } else if (
        (frame.in_reply_to === "join" || frame.in_reply_to === "resume") &&
        (frame.code === "not_found" || frame.code === "conflict" || frame.code === "invalid")
      ) {
        stop(
          hadLink
            ? gettext("This link has been used or has ended.")
            : gettext(
                "You have no conversation to interpret right now. Open the link you were given, or ask the social worker to invite you.",
              ),
        );
      } else {
        showNotice(errorText(frame.code, frame));
      }
    },
  },
});

let typingTimer = null;
function showTyping(who) {
  if (thread.state !== "active") return;
  typingLine.textContent =
    who === "client" ? gettext("The client is writing…") : gettext("The social worker is writing…");
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  typingLine.textContent = "";
}

sendFromComposer(thread, {
  form: composer,
  box: composerBody,
  maxLength: settings.maxLength,
  notice: showNotice,
});

$("leave").addEventListener("click", () => {
  $("leave-box").hidden = true;
  $("leave-confirm").hidden = false;
  $("leave-no").focus();
});
$("leave-no").addEventListener("click", () => {
  $("leave-confirm").hidden = true;
  $("leave-box").hidden = false;
  $("leave").focus();
});
$("leave-yes").addEventListener("click", () => {
  if (!socket.send({ type: "leave" })) showNotice(gettext("Not connected. Try again in a moment."));
});

socket.connect();
