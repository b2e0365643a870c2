// Calls on the client's page: the social worker offers a voice or video call; the client
// answers with video, with voice only, or declines, and can turn the camera and the
// microphone off at any time. An interpreter the worker invited may join the call. The
// quick exit leaves the page, which ends the call at once for everyone (the server tells
// them). The browsers connect to each other (call.js); the call goes on while the page's
// socket reconnects, and while the social worker's console does.

import { CallPage } from "./call.js";

const { gettext } = window;
const $ = (id) => document.getElementById(id);

function endedText(frame) {
  if (frame.reason === "worker_left") return gettext("The social worker's connection was lost. The call has ended.");
  if (frame.ended_by === "worker") return gettext("The social worker ended the call. You can go on writing.");
  if (frame.reason === "declined") return gettext("You declined the call. You can go on writing.");
  return gettext("The call has ended. You can go on writing.");
}

export class ClientCall extends CallPage {
  // `send(frame)` sends on the page's socket; `notice(text)` shows a message.
  constructor({ send, notice, composerFocus }) {
    super({ send, notice, area: document.querySelector("#chat .call"), hangUp: () => this.hangUp() });
    this.composerFocus = composerFocus;
    this.offer = $("call-offer");
    this.socketOpen = true;
    $("call-accept-video").addEventListener("click", () => this.accept("video"));
    $("call-accept-voice").addEventListener("click", () => this.accept("voice"));
    $("call-decline").addEventListener("click", () => this.decline());
    // A page that closes in a call ends it at once (a socket that only drops keeps it). Not
    // after the quick exit, which has already wiped the page and ends the call itself (as
    // `quick_exit`, which the worker must be told).
    window.addEventListener("pagehide", () => {
      if (this.call?.peer && document.body.contains(this.area)) {
        this.send({ type: "call_end", call: this.call.id, left: true });
      }
    });
  }

  get handlers() {
    return {
      ...super.handlers,
      "call.ringing": (frame) => this.ringing(frame),
      "call.accepted": (frame) => this.accepted(frame),
    };
  }

  ringing(frame) {
    if (this.call) return;
    this.call = { id: frame.call, media: frame.media, iceServers: frame.ice_servers, peer: null };
    $("call-offer-title").textContent =
      frame.media === "video"
        ? gettext("The social worker offers you a video call")
        : gettext("The social worker offers you a voice call");
    $("call-accept-video").hidden = frame.media !== "video";
    $("call-accept-voice").textContent =
      frame.media === "video" ? gettext("Answer with voice only") : gettext("Answer");
    this.offer.hidden = false;
    $("call-offer-title").focus();
  }

  // The camera and microphone first, then the answer: the worker's offer finds them ready.
  async accept(media) {
    const call = this.call;
    if (!call || call.peer) return;
    this.offer.hidden = true;
    const peer = await this.connect(call, media, {
      label: () => gettext("The interpreter"),
      onFailed: () => this.decline(),
    });
    if (!peer) return;
    const taken = peer.has("video") ? "video" : "voice";
    this.area.dataset.media = taken;
    this.showStatus();
    this.area.hidden = false;
    this.area.querySelector(".call__mic").focus();
    this.send({ type: "call_accept", call: call.id, media: taken });
  }

  accepted(frame) {
    if (this.call && this.call.id === frame.call) this.call.media = frame.media;
  }

  // An interpreter came into the call (they offer to connect) or left it.
  joined(frame) {
    if (!this.call || this.call.id !== frame.call || !this.call.peer) return;
    this.call.peer.drop(frame.who);
    this.notice(gettext("An interpreter has joined the call."));
  }

  left(frame) {
    if (!this.call || this.call.id !== frame.call || !this.call.peer) return;
    this.call.peer.drop(frame.who);
    this.notice(gettext("The interpreter has left the call."));
  }

  // The page's socket: while it reconnects the call goes on, and says so.
  socketStatus(status) {
    this.socketOpen = status === "open";
    this.showStatus();
  }

  statusText() {
    if (!this.socketOpen) {
      return gettext("The connection to the chat was lost. The call goes on while it reconnects.");
    }
    return super.statusText();
  }

  decline() {
    if (this.call) this.send({ type: "call_decline", call: this.call.id });
    this.finish();
  }

  hangUp() {
    if (this.call) this.send({ type: "call_end", call: this.call.id });
    this.finish();
    this.notice(gettext("The call has ended. You can go on writing."));
  }

  ended(frame) {
    if (!this.call || this.call.id !== frame.call) return;
    this.finish();
    this.notice(endedText(frame));
  }

  // The history the page missed while its socket was away has the call's end in it.
  endedWhileAway() {
    if (!this.call) return;
    this.finish();
    this.notice(gettext("The call has ended. You can go on writing."));
  }

  // The call's id was refused (the call is over): nothing to show any more.
  failed(frame) {
    // Signalling to a party who has just left is refused: the call itself goes on.
    if (["call_answer", "call_candidate"].includes(frame.in_reply_to)) return;
    if (frame.code === "no_call") this.finish();
    else this.notice(gettext("That did not work. Try again."));
  }

  finish() {
    const hadFocus = this.area.contains(document.activeElement) || this.offer.contains(document.activeElement);
    this.clearArea();
    this.call = null;
    this.offer.hidden = true;
    if (hadFocus) this.composerFocus();
  }
}
