// A voice or video call between browsers (WebRTC), signalled over this site's own socket
// (docs/realtime.md, "Calls"): the media go from browser to browser, encrypted
// (DTLS-SRTP), and never through the server. Nothing is recorded. With an interpreter in
// the call each browser keeps one connection per other party (a small mesh, `Mesh`).
//
// Shared by the console (console/call.js), the client's page (client-call.js) and the
// interpreter's (interpreter-call.js); each owns its buttons and texts. `send` sends one
// frame on the socket.

const { gettext } = window;

// getUserMedia for the call's medium. A camera that cannot be used (refused, missing,
// busy) falls back to voice; `fellBack` says so, for a clear message.
export async function getMedia(media) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("no-media-devices");
  }
  if (media === "video") {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      return { stream, fellBack: false };
    } catch {
      // try voice only below
    }
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  return { stream, fellBack: media === "video" };
}

export function mediaErrorText(fellBack) {
  return fellBack
    ? gettext("Your camera could not be used, so the call is voice only.")
    : gettext("Your microphone could not be used. You can go on writing in the chat.");
}

const GATHER_MS = 1500;

export class PeerCall {
  // `send(frame)` adds the call's ids itself: it is given `{type, sdp}` or `{type, candidate}`.
  constructor({ send, iceServers, stream, remoteVideo, remoteAudio, onState }) {
    this.send = send;
    this.stream = stream;
    this.onState = onState || (() => {});
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    this.early = []; // candidates that came before the other side's description
    this.chain = Promise.resolve(); // signalling is handled strictly in order
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
    // The candidates found before the description goes out travel inside it; only later ones
    // go one by one. A socket's frames are rate limited (RATE_FRAME_BURST), and a mesh of
    // three would otherwise send a burst of them as it connects.
    this.described = false;
    this.pc.onicecandidate = (event) => {
      if (event.candidate && this.described) {
        this.send({ type: "call_candidate", candidate: event.candidate.toJSON() });
      }
    };
    this.pc.ontrack = (event) => {
      const [remote] = event.streams;
      if (remoteVideo && event.track.kind === "video") remoteVideo.srcObject = remote;
      if (remoteAudio && event.track.kind === "audio") remoteAudio.srcObject = remote;
    };
    this.pc.onconnectionstatechange = () => this.onState(this.pc.connectionState);
  }

  // The worker makes the offer once the client has accepted; an interpreter who joins
  // makes one to each party already in the call.
  offer() {
    this.queue(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      this.send({ type: "call_offer", sdp: await this.describe() });
    });
  }

  // A `call.offer`, `call.answer` or `call.candidate` from the other side.
  receive(frame) {
    this.queue(async () => {
      if (frame.type === "call.offer") {
        await this.pc.setRemoteDescription({ type: "offer", sdp: frame.sdp });
        await this.addEarly();
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.send({ type: "call_answer", sdp: await this.describe() });
      } else if (frame.type === "call.answer") {
        await this.pc.setRemoteDescription({ type: "answer", sdp: frame.sdp });
        await this.addEarly();
      } else if (frame.type === "call.candidate") {
        if (this.pc.remoteDescription) await this.pc.addIceCandidate(frame.candidate);
        else this.early.push(frame.candidate);
      }
    });
  }

  // This side's description once its candidates are gathered (at most GATHER_MS: a slow
  // STUN or TURN server's candidates follow on their own).
  async describe() {
    if (this.pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        const done = () => {
          if (this.pc.iceGatheringState === "complete") resolve();
        };
        this.pc.addEventListener("icegatheringstatechange", done);
        setTimeout(resolve, GATHER_MS);
      });
    }
    this.described = true;
    return this.pc.localDescription.sdp;
  }

  async addEarly() {
    for (const candidate of this.early.splice(0)) await this.pc.addIceCandidate(candidate);
  }

  queue(step) {
    this.chain = this.chain.then(step).catch(() => this.onState("failed"));
  }

  // The connection only: the camera and microphone may serve other connections (Mesh).
  close() {
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }
}

// Every connection of one browser in a call, one per other party ("worker", "client",
// "interpreter-7"), sharing this browser's camera and microphone. `main` is the party
// whose picture and sound go in the call area's own elements (.call__remote,
// .call__audio); every other party gets its own, labelled by `label(name)`. `onState` gets
// the state of the whole: "connected" when every connection is.
export class Mesh {
  constructor({ send, iceServers, stream, area, main, label, onState }) {
    this.send = send; // (signal, to) => void
    this.iceServers = iceServers;
    this.stream = stream;
    this.area = area;
    this.main = main;
    this.label = label || (() => "");
    this.onState = onState || (() => {});
    this.peers = new Map();
  }

  tiles(name) {
    if (name === this.main) {
      return { video: this.area.querySelector(".call__remote"), audio: this.area.querySelector(".call__audio") };
    }
    const box = this.area.querySelector(".call__media");
    const video = document.createElement("video");
    video.className = "call__remote call__remote--more";
    video.autoplay = true;
    video.playsInline = true;
    video.dataset.party = name;
    video.setAttribute("aria-label", this.label(name));
    const audio = document.createElement("audio");
    audio.autoplay = true;
    audio.dataset.party = name;
    box.querySelector(".call__local").before(video, audio);
    return { video, audio, added: true };
  }

  open(name) {
    this.drop(name);
    const tiles = this.tiles(name);
    const peer = new PeerCall({
      send: (signal) => this.send(signal, name),
      iceServers: this.iceServers,
      stream: this.stream,
      remoteVideo: tiles.video,
      remoteAudio: tiles.audio,
      onState: () => this.onState(this.state()),
    });
    peer.tiles = tiles;
    this.peers.set(name, peer);
    this.onState(this.state());
    return peer;
  }

  // This side offers to `name` (the worker to the client; a joining interpreter to all).
  connect(name) {
    this.open(name).offer();
  }

  // A `call.offer`, `call.answer` or `call.candidate` from the party in `frame.from`. A new
  // offer is a new connection (the other side joined again, e.g. after a reload).
  receive(frame) {
    let peer = this.peers.get(frame.from);
    if (frame.type === "call.offer" && (!peer || peer.pc.remoteDescription)) peer = this.open(frame.from);
    if (peer) peer.receive(frame);
  }

  // The party left the call (or joined it again and will offer anew).
  drop(name) {
    const peer = this.peers.get(name);
    if (!peer) return;
    peer.close();
    this.peers.delete(name);
    if (peer.tiles.added) {
      peer.tiles.video.remove();
      peer.tiles.audio.remove();
    } else {
      peer.tiles.video.srcObject = null;
      peer.tiles.audio.srcObject = null;
    }
    this.onState(this.state());
  }

  state() {
    const states = [...this.peers.values()].map((peer) => peer.pc.connectionState);
    if (!states.length) return "new";
    if (states.every((state) => state === "connected")) return "connected";
    if (states.includes("failed")) return "failed";
    if (states.includes("disconnected")) return "disconnected";
    return "connecting";
  }

  toggle(kind) {
    const tracks = kind === "audio" ? this.stream.getAudioTracks() : this.stream.getVideoTracks();
    const on = !tracks.every((t) => t.enabled);
    for (const track of tracks) track.enabled = on;
    return on;
  }

  has(kind) {
    return (kind === "audio" ? this.stream.getAudioTracks() : this.stream.getVideoTracks()).length > 0;
  }

  close() {
    for (const name of [...this.peers.keys()]) this.drop(name);
    for (const track of this.stream.getTracks()) track.stop();
  }
}

// The text for a connection state, shown in the call's status line.
export function stateText(state) {
  if (state === "connected") return gettext("Connected.");
  if (state === "disconnected") return gettext("Reconnecting the call…");
  if (state === "failed") return gettext("The call could not connect.");
  return gettext("Connecting the call…");
}

// What the client's page (client-call.js) and the interpreter's (interpreter-call.js) share:
// one call at a time in `this.call` ({ id, media, iceServers, peer (a Mesh, once in it),
// workerAway }), its area's microphone and camera buttons, the call events both handle
// alike, and connecting once camera and microphone are in hand. The social worker's is the
// main connection on both. Each page adds its own events, buttons and texts.
export class CallPage {
  // `send(frame)` sends on the page's socket; `notice(text)` shows a message; `area` is the
  // call's area; `hangUp()` is what its end button does.
  constructor({ send, notice, area, hangUp }) {
    this.send = send;
    this.notice = notice;
    this.area = area;
    this.call = null;
    this.area.querySelector(".call__end").addEventListener("click", hangUp);
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
      "call.offer": (frame) => this.signal(frame),
      "call.candidate": (frame) => this.signal(frame),
      "call.ended": (frame) => this.ended(frame),
      "call.joined": (frame) => this.joined(frame),
      "call.left": (frame) => this.left(frame),
      "call.worker": (frame) => this.workerPresence(frame),
    };
  }

  // Camera and microphone for `media`, then the page's connections (a Mesh) in the call
  // area. Null when they could not be used (said, then `onFailed()`) or when the call ended
  // meanwhile (`call` is no longer this page's).
  async connect(call, media, { label, onFailed }) {
    let got;
    try {
      got = await getMedia(media);
    } catch {
      this.notice(mediaErrorText(false));
      onFailed();
      return null;
    }
    if (this.call !== call) {
      for (const track of got.stream.getTracks()) track.stop();
      return null;
    }
    if (got.fellBack) this.notice(mediaErrorText(true));
    call.peer = new Mesh({
      send: (signal, to) => this.send({ ...signal, call: call.id, to }),
      iceServers: call.iceServers,
      stream: got.stream,
      area: this.area,
      main: "worker",
      label,
      onState: (state) => {
        this.area.dataset.connection = state;
        this.showStatus();
      },
    });
    this.area.querySelector(".call__local").srcObject = got.stream;
    this.area.querySelector(".call__camera").hidden = !call.peer.has("video");
    return call.peer;
  }

  signal(frame) {
    if (this.call && this.call.id === frame.call && this.call.peer) this.call.peer.receive(frame);
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
    this.area.querySelector(".call__status").textContent = this.statusText();
  }

  statusText() {
    return this.call.workerAway
      ? gettext("The social worker is reconnecting. The call waits for them.")
      : stateText(this.area.dataset.connection || "new");
  }

  // This page's connections closed and the call area emptied and hidden.
  clearArea() {
    if (this.call?.peer) this.call.peer.close();
    this.area.hidden = true;
    delete this.area.dataset.connection;
    for (const media of this.area.querySelectorAll("video, audio")) media.srcObject = null;
    for (const button of this.area.querySelectorAll("[aria-pressed]")) button.setAttribute("aria-pressed", "false");
  }
}
