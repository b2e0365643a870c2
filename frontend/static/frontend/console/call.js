// Calls from the console: the worker offers the client a voice or video call from a
// conversation; once the client accepts, this tab connects the browsers (../call.js).
// Only the tab that offered the call takes part in it. An interpreter in the conversation
// may join the call: they offer this tab a connection of its own. A tab reloaded in a call
// (or whose socket came back) is told the call is still open (`call.open`) and connects
// again; the call waits CALL_RECONNECT_GRACE_SECONDS for it.

import { Mesh, getMedia, mediaErrorText, stateText } from "../call.js";
import { loadSession, saveSession } from "../session.js";
import { refreshControls } from "./panel.js";

const { gettext } = window;

function endedText(frame) {
  if (frame.reason === "declined") return gettext("The client declined the call.");
  if (frame.reason === "quick_exit") return gettext("The client left with the quick exit. The call has ended.");
  if (frame.reason === "client_left") return gettext("The client's page closed. The call has ended.");
  if (frame.reason === "conversation_ended") return gettext("The call ended with the chat.");
  if (frame.reason === "worker_left") return gettext("Your console was away too long, so the call has ended.");
  if (frame.ended_by === "client") return gettext("The client ended the call.");
  return gettext("The call has ended.");
}

const CALL_ERROR_TEXT = {
  call_busy: () => gettext("There is already a call in this conversation."),
  call_not_possible: () => gettext("A call can only be made in an active chat."),
  forbidden: () => gettext("Only the conversation's social worker can start a call."),
};

const SIGNALS = ["call_offer", "call_answer", "call_candidate"];

// The calls this tab is in (this tab's sessionStorage): after a reload the page takes up
// these, and only these; a call open in another tab or window stays there.
const IN_CALLS_KEY = "cc.console.calls";
const inCall = (id) => loadSession(IN_CALLS_KEY, []).includes(id);
function noteInCall(id, isIn) {
  const ids = loadSession(IN_CALLS_KEY, []).filter((other) => other !== id);
  saveSession(IN_CALLS_KEY, isIn ? [...ids, id] : ids);
}

export class Calls {
  constructor(ctx) {
    this.ctx = ctx;
    this.calls = new Map(); // conversation id -> { id, media, peer }
    this.offering = new Set(); // conversations this tab sent `call_start` for
  }

  setUp(entry) {
    const { panel } = entry;
    entry.call = panel.querySelector(".call");
    panel.querySelector(".call-voice").addEventListener("click", () => this.start(entry, "voice"));
    panel.querySelector(".call-video").addEventListener("click", () => this.start(entry, "video"));
    entry.call.querySelector(".call__end").addEventListener("click", () => this.hangUp(entry));
    for (const [selector, kind] of [
      [".call__mic", "audio"],
      [".call__camera", "video"],
    ]) {
      entry.call.querySelector(selector).addEventListener("click", (event) => {
        const peer = this.calls.get(entry.id)?.peer;
        if (peer) event.currentTarget.setAttribute("aria-pressed", String(!peer.toggle(kind)));
      });
    }
  }

  // The call buttons follow the conversation (panel.js refreshControls).
  refresh(entry, active, isWorker) {
    const busy = this.calls.has(entry.id) || this.offering.has(entry.id);
    for (const selector of [".call-voice", ".call-video"]) {
      entry.panel.querySelector(selector).hidden = !active || !isWorker || busy;
    }
  }

  status(entry, text) {
    entry.call.querySelector(".call__status").textContent = text;
  }

  start(entry, media) {
    if (!this.ctx.socket.send({ type: "call_start", conversation: entry.id, media })) {
      this.ctx.alerts.showNotice(gettext("Not connected. Try again in a moment."));
      return;
    }
    this.offering.add(entry.id);
    refreshControls(this.ctx, entry);
  }

  ringing(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    if (!entry || !this.offering.has(entry.id)) return; // offered from another tab
    this.show(entry, frame);
    entry.call.querySelector(".call__end").focus();
  }

  // The call area for a call this tab is in, waiting for the client to answer.
  show(entry, frame) {
    this.calls.set(entry.id, { id: frame.call, media: frame.media, peer: null });
    noteInCall(frame.call, true);
    entry.call.hidden = false;
    entry.call.dataset.media = frame.media;
    entry.call.querySelector(".call__mic").hidden = false;
    entry.call.querySelector(".call__camera").hidden = true;
    this.status(
      entry,
      frame.media === "video"
        ? gettext("Video call offered. Waiting for the client to answer…")
        : gettext("Voice call offered. Waiting for the client to answer…"),
    );
    refreshControls(this.ctx, entry);
  }

  // A call of this worker's that is still open, as this console's socket (re)connects. A
  // tab already in it keeps its connections. A tab reloaded in it takes it up again: it
  // waits for the client's answer, or offers the client and each interpreter in the call a
  // new connection. Another tab of the worker's only says where the call is, and can end it.
  open(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    if (!entry || this.calls.get(entry.id)?.id === frame.call) return;
    if (!inCall(frame.call)) {
      this.calls.set(entry.id, { id: frame.call, media: frame.media, peer: null, elsewhere: true });
      entry.call.hidden = false;
      entry.call.dataset.media = frame.media;
      for (const selector of [".call__mic", ".call__camera"]) entry.call.querySelector(selector).hidden = true;
      this.status(entry, gettext("This call is going on in another tab or window."));
      refreshControls(this.ctx, entry);
      return;
    }
    this.show(entry, frame);
    if (frame.state === "active") this.accepted(frame);
  }

  async accepted(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    const call = entry && this.calls.get(entry.id);
    if (!call || call.id !== frame.call || call.elsewhere) return;
    call.media = frame.media;
    entry.call.dataset.media = frame.media;
    this.status(entry, stateText("new"));
    let got;
    try {
      got = await getMedia(frame.media);
    } catch {
      this.ctx.alerts.showNotice(mediaErrorText(false));
      this.hangUp(entry);
      return;
    }
    if (this.calls.get(entry.id) !== call) {
      for (const track of got.stream.getTracks()) track.stop(); // ended meanwhile
      return;
    }
    if (got.fellBack) this.ctx.alerts.showNotice(mediaErrorText(true));
    call.peer = new Mesh({
      send: (signal, to) =>
        this.ctx.socket.send({ ...signal, conversation: entry.id, call: call.id, to }),
      iceServers: frame.ice_servers,
      stream: got.stream,
      area: entry.call,
      main: "client",
      label: () => gettext("The interpreter"),
      onState: (state) => {
        entry.call.dataset.connection = state;
        this.showStatus(entry);
      },
    });
    entry.call.querySelector(".call__local").srcObject = got.stream;
    entry.call.querySelector(".call__camera").hidden = !call.peer.has("video");
    // Everyone in the call: the client, and after a reload any interpreter in it too.
    for (const party of frame.parties || ["client"]) if (party !== "worker") call.peer.connect(party);
  }

  showStatus(entry) {
    const call = this.calls.get(entry.id);
    if (!call || !call.peer) return;
    this.status(
      entry,
      call.clientAway
        ? gettext("The client's connection was lost. The call waits for them to come back.")
        : stateText(entry.call.dataset.connection || "new"),
    );
  }

  // The client's page connected or not (conversation.client): a socket that drops keeps
  // the call for a while (CALL_RECONNECT_GRACE_SECONDS), so say what is happening.
  clientPresence(entry, online) {
    const call = this.calls.get(entry.id);
    if (!call) return;
    call.clientAway = !online;
    this.showStatus(entry);
  }

  // An interpreter came into the call (they offer to connect) or left it.
  joined(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    const call = entry && this.calls.get(entry.id);
    if (!call || call.id !== frame.call || !call.peer) return;
    call.peer.drop(frame.who);
    this.ctx.alerts.showNotice(gettext("An interpreter has joined the call."));
  }

  left(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    const call = entry && this.calls.get(entry.id);
    if (!call || call.id !== frame.call || !call.peer) return;
    call.peer.drop(frame.who);
    this.ctx.alerts.showNotice(gettext("The interpreter has left the call."));
  }

  signal(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    const call = entry && this.calls.get(entry.id);
    if (call && call.id === frame.call && call.peer) call.peer.receive(frame);
  }

  ended(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    const call = entry && this.calls.get(entry.id);
    if (!call || call.id !== frame.call) return;
    this.finish(entry);
    this.ctx.alerts.showNotice(endedText(frame));
  }

  hangUp(entry) {
    const call = this.calls.get(entry.id);
    if (call) this.ctx.socket.send({ type: "call_end", conversation: entry.id, call: call.id });
    this.finish(entry);
  }

  // The history this console missed while its socket was away has the call's end in it
  // (`after`: the last message it had; the history before that is older calls').
  endedWhileAway(entry, messages, after) {
    const call = this.calls.get(entry.id);
    if (!call || !after || !messages.some((m) => m.event === "call" && m.seq > after)) return;
    this.finish(entry);
    this.ctx.alerts.showNotice(gettext("The call has ended."));
  }

  finish(entry) {
    const call = this.calls.get(entry.id);
    if (call) noteInCall(call.id, false);
    if (call && call.peer) call.peer.close();
    this.calls.delete(entry.id);
    this.offering.delete(entry.id);
    entry.call.hidden = true;
    delete entry.call.dataset.connection;
    for (const video of entry.call.querySelectorAll("video, audio")) video.srcObject = null;
    for (const button of entry.call.querySelectorAll("[aria-pressed]"))
      button.setAttribute("aria-pressed", "false");
    refreshControls(this.ctx, entry);
    if (entry.id === this.ctx.conversations.selected) entry.textarea.focus();
  }

  failed(frame) {
    const entry = this.ctx.conversations.get(frame.conversation);
    if (entry && frame.in_reply_to === "call_start") {
      this.offering.delete(entry.id);
      refreshControls(this.ctx, entry);
    }
    // Signalling to a party who has just left is refused: the call itself goes on.
    if (SIGNALS.includes(frame.in_reply_to)) return;
    const text = CALL_ERROR_TEXT[frame.code];
    if (frame.in_reply_to === "call_start" || frame.code === "no_call") {
      this.ctx.alerts.showNotice(text ? text() : gettext("The call could not be made."));
    }
    if (entry && frame.code === "no_call" && this.calls.has(entry.id)) this.finish(entry);
  }
}
