// Calls on the client's page: the social worker offers a voice or video call; the client
// answers with video, with voice only, or declines, and can turn the camera and the
// microphone off at any time. An interpreter the worker invited may join the call. The
// quick exit leaves the page, which ends the call at once for everyone (the server tells
// them). The browsers connect to each other (call.js); the call goes on while the page's
// socket reconnects.

import { Mesh, getMedia, mediaErrorText, stateText } from "./call.js";

const { gettext } = window;
const $ = (id) => document.getElementById(id);

function endedText(frame) {
  if (frame.reason === "worker_left") return gettext("The social worker's connection was lost. The call has ended.");
  if (frame.ended_by === "worker") return gettext("The social worker ended the call. You can go on writing.");
  if (frame.reason === "declined") return gettext("You declined the call. You can go on writing.");
  return gettext("The call has ended. You can go on writing.");
}

export class ClientCall {
  // `send(frame)` sends on the page's socket; `notice(text)` shows a message.
  constructor({ send, notice, composerFocus }) {
    this.send = send;
    this.notice = notice;
    this.composerFocus = composerFocus;
    this.offer = $("call-offer");
    this.area = document.querySelector("#chat .call");
    this.call = null; // { id, media, iceServers, peer (a Mesh) }
    this.socketOpen = true;
    $("call-accept-video").addEventListener("click", () => this.accept("video"));
    $("call-accept-voice").addEventListener("click", () => this.accept("voice"));
    $("call-decline").addEventListener("click", () => this.decline());
    this.area.querySelector(".call__end").addEventListener("click", () => this.hangUp());
    for (const [selector, kind] of [
      [".call__mic", "audio"],
      [".call__camera", "video"],
    ]) {
      this.area.querySelector(selector).addEventListener("click", (event) => {
        const peer = this.call?.peer;
        if (peer) event.currentTarget.setAttribute("aria-pressed", String(!peer.toggle(kind)));
      });
    }
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
      "call.ringing": (frame) => this.ringing(frame),
      "call.accepted": (frame) => this.accepted(frame),
      "call.offer": (frame) => this.signal(frame),
      "call.candidate": (frame) => this.signal(frame),
      "call.ended": (frame) => this.ended(frame),
      "call.joined": (frame) => this.joined(frame),
      "call.left": (frame) => this.left(frame),
      "call.worker": (frame) => this.workerPresence(frame),
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
    let got;
    try {
      got = await getMedia(media);
    } catch {
      this.notice(mediaErrorText(false));
      this.decline();
      return;
    }
    if (this.call !== call) {
      for (const track of got.stream.getTracks()) track.stop();
      return;
    }
    if (got.fellBack) this.notice(mediaErrorText(true));
    const taken = got.stream.getVideoTracks().length ? "video" : "voice";
    call.peer = new Mesh({
      send: (signal, to) => this.send({ ...signal, call: call.id, to }),
      iceServers: call.iceServers,
      stream: got.stream,
      area: this.area,
      main: "worker",
      label: () => gettext("The interpreter"),
      onState: (state) => {
        this.area.dataset.connection = state;
        this.showStatus();
      },
    });
    this.area.querySelector(".call__local").srcObject = got.stream;
    this.area.querySelector(".call__camera").hidden = taken !== "video";
    this.area.dataset.media = taken;
    this.showStatus();
    this.area.hidden = false;
    this.area.querySelector(".call__mic").focus();
    this.send({ type: "call_accept", call: call.id, media: taken });
  }

  accepted(frame) {
    if (this.call && this.call.id === frame.call) this.call.media = frame.media;
  }

  signal(frame) {
    if (this.call && this.call.id === frame.call && this.call.peer) this.call.peer.receive(frame);
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

  // The social worker's console is away (a reload, a lost network) or back: the call waits
  // for them for a while (CALL_RECONNECT_GRACE_SECONDS), and says so.
  workerPresence(frame) {
    if (!this.call || this.call.id !== frame.call) return;
    this.call.workerAway = !frame.online;
    this.showStatus();
  }

  // The page's socket: while it reconnects the call goes on, and says so.
  socketStatus(status) {
    this.socketOpen = status === "open";
    this.showStatus();
  }

  showStatus() {
    if (!this.call?.peer) return;
    let text = stateText(this.area.dataset.connection || "new");
    if (!this.socketOpen) text = gettext("The connection to the chat was lost. The call goes on while it reconnects.");
    else if (this.call.workerAway) text = gettext("The social worker is reconnecting. The call waits for them.");
    this.area.querySelector(".call__status").textContent = text;
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
    if (this.call?.peer) this.call.peer.close();
    this.call = null;
    this.offer.hidden = true;
    this.area.hidden = true;
    delete this.area.dataset.connection;
    for (const media of this.area.querySelectorAll("video, audio")) media.srcObject = null;
    for (const button of this.area.querySelectorAll("[aria-pressed]")) button.setAttribute("aria-pressed", "false");
    if (hadFocus) this.composerFocus();
  }
}
