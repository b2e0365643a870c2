// "Chat now" on a partner's device: the person referred chats with social services from
// the pharmacy's or library's tablet. It leaves nothing behind: the token is made here and
// kept in memory only (no sessionStorage, no localStorage, no cookie), messages waiting to
// go out are in memory too, and the end or a quick exit replaces this page, so the back
// button does not come back to it. The partner's own session is not touched: it cannot
// read the chat, and the chat does not need it (the socket goes by the token alone).

import { connectionLine } from "./connection.js";
import { errorText } from "./event-texts.js";
import { Socket, newToken, readSettings } from "./socket.js";
import { Thread, sendFromComposer } from "./thread.js";

const { gettext } = window;
const $ = (id) => document.getElementById(id);
const page = $("referral-chat");
const settings = readSettings("socket-settings");
const status = $("chat-status");
const composer = $("composer");
const composerBody = $("composer-body");
const endButton = $("end-button");
const token = newToken();
let leaving = false;

const STATUS_TEXT = {
  queued: () => gettext("A social worker will answer as soon as they can. Stay on this page."),
  active: () => gettext("You are talking with a social worker."),
  ended: () => gettext("The chat has ended."),
};

function csrfToken() {
  return document.querySelector("input[name=csrfmiddlewaretoken]").value;
}

function showNotice(text) {
  $("notice").textContent = text;
}

// Away from this page without leaving it in the history.
function leave(url) {
  leaving = true;
  socket.stop();
  thread.clear();
  location.replace(url);
}

const thread = new Thread({
  log: $("log"),
  template: $("message-template"),
  viewer: "client",
  storageKey: null, // memory only
  send: (frame) => socket.send(frame),
  requestSync: (after) => socket.send({ type: "resume", token, after }),
  connection: () => socket.ws,
  onStateChange: (state) => {
    status.textContent = (STATUS_TEXT[state] || (() => ""))();
    const open = state === "queued" || state === "active";
    composer.hidden = !open;
    endButton.hidden = !open;
    if (state === "ended" && !leaving) {
      // The chat is over: nothing of it stays on the screen for the next person.
      setTimeout(() => leave(page.dataset.doneUrl), 4000);
    }
  },
  onFailed: (body, reason) => {
    if (!composerBody.value) composerBody.value = body;
    showNotice(reason);
  },
});

const socket = new Socket("/ws/client/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  onStatus: connectionLine($("connection"), {
    reconnecting: () => gettext("The connection was lost. Reconnecting…"),
  }),
  onOpen: () => thread.askSync(),
  handlers: {
    "conversation.sync": (frame) => thread.applySync(frame),
    "conversation.message": (frame) => thread.receive(frame),
    ack: (frame) => thread.ack(frame),
    pong: (frame) => {
      if (frame.last_seq) thread.gapTo(frame.last_seq);
      thread.flushStale();
    },
    error: (frame) => {
      if (frame.client_id && frame.in_reply_to === "message") thread.fail(frame);
      else if (frame.in_reply_to !== "typing" && frame.in_reply_to !== "seen") {
        showNotice(errorText(frame.code, frame));
      }
    },
  },
});

sendFromComposer(thread, {
  form: composer,
  box: composerBody,
  maxLength: settings.maxLength,
  notice: showNotice,
});

endButton.addEventListener("click", () => socket.send({ type: "end" }));

// Quick exit: the conversation ends (the worker is told not to write back) and the page
// is replaced by the neutral one. Only this chat ends: the partner stays signed in.
function quickExit(event) {
  if (event) event.preventDefault();
  const form = new FormData();
  form.append("csrfmiddlewaretoken", csrfToken());
  form.append("token", token);
  if (!(navigator.sendBeacon && navigator.sendBeacon(page.dataset.exitUrl, form))) {
    fetch(page.dataset.exitUrl, {
      method: "POST",
      body: form,
      keepalive: true,
      credentials: "same-origin",
    }).catch(() => {});
  }
  leave($("chat-quick-exit").dataset.neutral);
}
$("chat-quick-exit").addEventListener("click", quickExit);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") quickExit(event);
});

// Open the chat: the server keeps only the token's hash, and takes one once.
async function open() {
  try {
    const response = await fetch(page.dataset.openUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      cache: "no-store",
      // The page's language, chosen for the person on the receipt page: the social worker
      // sees it, as with a client's start.
      body: JSON.stringify({ token, language: document.documentElement.lang }),
    });
    if (response.status !== 204) {
      status.textContent = gettext("This chat cannot be opened. Send a new referral if the person needs it.");
      return;
    }
  } catch {
    status.textContent = gettext("Not connected. Check the network and reload the page.");
    return;
  }
  socket.connect();
}

open();
