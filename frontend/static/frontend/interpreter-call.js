// The interpreter in a call: a call in the conversation they interpret can be joined once
// the client has answered it. Joining connects this browser to the social worker's and to
// the client's (one connection each, call.js `Mesh`); they, and nobody else, hear and see
// the interpreter. Leaving the call keeps the chat; the call's end, the client's quick exit
// and leaving the conversation end it here too.

import { CallPage } from "./call.js";

const { gettext } = window;
const $ = (id) => document.getElementById(id);

export class InterpreterCall extends CallPage {
  // `send(frame)` sends on the page's socket; `notice(text)` shows a message.
  constructor({ send, notice, focusAfter }) {
    super({ send, notice, area: document.querySelector("#interpret .call"), hangUp: () => this.leave() });
    this.focusAfter = focusAfter;
    this.joinBox = $("call-join-box");
    // this.call: { id, media, iceServers, me, peer (a Mesh, once joined), workerAway }
    $("call-join").addEventListener("click", () => this.join());
  }

  get handlers() {
    return {
      ...super.handlers,
      "call.open": (frame) => this.open(frame),
      "call.accepted": (frame) => this.open({ ...frame, parties: ["worker", "client"] }),
      "call.answer": (frame) => this.signal(frame),
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
    const peer = await this.connect(call, call.media, {
      label: (name) => (name === "client" ? gettext("The client") : gettext("The interpreter")),
      onFailed: () => {
        this.joinBox.hidden = false;
      },
    });
    if (!peer) return;
    this.area.dataset.media = call.media === "video" && peer.has("video") ? "video" : "voice";
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

  left(frame) {
    const call = this.call;
    if (!call || call.id !== frame.call || !call.peer) return;
    if (frame.who === call.me) this.finish();
    else call.peer.drop(frame.who);
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
    this.clearArea();
    if (this.call) this.call.peer = null;
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
