// The interpreter in a call: a call in the conversation they interpret can be joined once
// the client has answered it. Joining connects this browser to the social worker's and to
// the client's (one connection each, call.js `Mesh`); they, and nobody else, hear and see
// the interpreter. Leaving the call keeps the chat; the call's end, the client's quick exit
// and leaving the conversation end it here too.

import { Mesh, getMedia, mediaErrorText, stateText } from "./call.js";

const { gettext } = window;
const $ = (id) => document.getElementById(id);

export class InterpreterCall {
  // `send(frame)` sends on the page's socket; `notice(text)` shows a message.
  constructor({ send, notice, focusAfter }) {
    this.send = send;
    this.notice = notice;
    this.focusAfter = focusAfter;
    this.area = document.querySelector("#interpret .call");
    this.joinBox = $("call-join-box");
    this.call = null; // { id, media, iceServers, me, peer (a Mesh, once joined) }
    $("call-join").addEventListener("click", () => this.join());
    this.area.querySelector(".call__end").addEventListener("click", () => this.leave());
    for (const [selector, kind] of [
      [".call__mic", "audio"],
      [".call__camera", "video"],
    ]) {
      this.area.querySelector(selector).addEventListener("click", (event) => {
        const peer = this.call?.peer;
        if (peer) event.currentTarget.setAttribute("aria-pressed", String(!peer.toggle(kind)));
      });
    }
  }

  get handlers() {
    return {
      "call.open": (frame) => this.open(frame),
      "call.accepted": (frame) => this.open({ ...frame, parties: ["worker", "client"] }),
      "call.joined": (frame) => this.joined(frame),
      "call.left": (frame) => this.left(frame),
      "call.offer": (frame) => this.signal(frame),
      "call.answer": (frame) => this.signal(frame),
      "call.candidate": (frame) => this.signal(frame),
      "call.ended": (frame) => this.ended(frame),
      "call.worker": (frame) => this.workerPresence(frame),
    };
  }

  // An answered call (on joining the chat, on each reconnect, or as the client answers).
  // A page already in it keeps its connections; one that is not may join.
  open(frame) {
    if (this.call && this.call.id === frame.call && this.call.peer) {
      if (!frame.parties.includes(this.call.me)) this.finish(); // left meanwhile
      return;
    }
    this.call = { id: frame.call, media: frame.media, iceServers: frame.ice_servers, me: frame.me, peer: null };
    $("call-join-text").textContent =
      frame.media === "video"
        ? gettext("A video call is going on in this conversation. You can join it.")
        : gettext("A voice call is going on in this conversation. You can join it.");
    this.joinBox.hidden = false;
  }

  // The camera (for a video call) and the microphone first, then the seat in the call.
  async join() {
    const call = this.call;
    if (!call || call.peer) return;
    this.joinBox.hidden = true;
    let got;
    try {
      got = await getMedia(call.media);
    } catch {
      this.notice(mediaErrorText(false));
      this.joinBox.hidden = false;
      return;
    }
    if (this.call !== call) {
      for (const track of got.stream.getTracks()) track.stop();
      return;
    }
    if (got.fellBack) this.notice(mediaErrorText(true));
    call.peer = new Mesh({
      send: (signal, to) => this.send({ ...signal, call: call.id, to }),
      iceServers: call.iceServers,
      stream: got.stream,
      area: this.area,
      main: "worker",
      label: (name) => (name === "client" ? gettext("The client") : gettext("The interpreter")),
      onState: (state) => {
        this.area.dataset.connection = state;
        this.showStatus();
      },
    });
    this.area.querySelector(".call__local").srcObject = got.stream;
    this.area.querySelector(".call__camera").hidden = !call.peer.has("video");
    this.area.dataset.media = call.media === "video" && call.peer.has("video") ? "video" : "voice";
    this.showStatus();
    this.area.hidden = false;
    this.area.querySelector(".call__mic").focus();
    this.send({ type: "call_join", call: call.id });
  }

  // Someone came into the call. This page, once the server has it: it offers to connect
  // to everyone already there. Another interpreter: they will offer to this page.
  joined(frame) {
    const call = this.call;
    if (!call || call.id !== frame.call || !call.peer) return;
    if (frame.who === call.me) {
      for (const party of frame.parties) if (party !== call.me) call.peer.connect(party);
    } else {
      call.peer.drop(frame.who);
    }
  }

  // The social worker's console is away (a reload, a lost network) or back: the call waits
  // for them for a while (CALL_RECONNECT_GRACE_SECONDS), and says so.
  workerPresence(frame) {
    if (!this.call || this.call.id !== frame.call) return;
    this.call.workerAway = !frame.online;
    this.showStatus();
  }

  showStatus() {
    if (!this.call?.peer) return;
    this.area.querySelector(".call__status").textContent = this.call.workerAway
      ? gettext("The social worker is reconnecting. The call waits for them.")
      : stateText(this.area.dataset.connection || "new");
  }

  left(frame) {
    const call = this.call;
    if (!call || call.id !== frame.call || !call.peer) return;
    if (frame.who === call.me) this.finish();
    else call.peer.drop(frame.who);
  }

  signal(frame) {
    if (this.call && this.call.id === frame.call && this.call.peer) this.call.peer.receive(frame);
  }

  leave() {
    const call = this.call;
    if (!call || !call.peer) return;
    this.send({ type: "call_leave", call: call.id });
    this.finish();
    this.notice(gettext("You have left the call. You can join it again."));
  }

  ended(frame) {
    if (!this.call || this.call.id !== frame.call) return;
    const wasIn = Boolean(this.call.peer);
    this.finish();
    this.call = null;
    this.joinBox.hidden = true;
    if (wasIn && frame.reason === "worker_left") {
      this.notice(gettext("The social worker's connection was lost. The call has ended."));
    } else if (wasIn) {
      this.notice(gettext("The call has ended. You can go on writing."));
    }
  }

  // The history the page missed while its socket was away has the call's end in it (a
  // call in progress is announced again by `call.open` right after).
  endedWhileAway() {
    if (this.call) this.ended({ call: this.call.id });
  }

  // Out of the call (the page may still join again while the call goes on).
  finish() {
    const hadFocus = this.area.contains(document.activeElement);
    if (this.call?.peer) this.call.peer.close();
    if (this.call) this.call.peer = null;
    this.area.hidden = true;
    delete this.area.dataset.connection;
    for (const media of this.area.querySelectorAll("video, audio")) media.srcObject = null;
    for (const button of this.area.querySelectorAll("[aria-pressed]")) button.setAttribute("aria-pressed", "false");
    this.joinBox.hidden = !this.call;
    if (hadFocus) (this.joinBox.hidden ? this.focusAfter() : $("call-join").focus());
  }

  // The chat is over for this page: no call either.
  stop() {
    if (this.call?.peer) this.call.peer.close();
    this.call = null;
    this.area.hidden = true;
    this.joinBox.hidden = true;
  }
}
