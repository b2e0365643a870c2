// A voice or video call between two browsers (WebRTC), signalled over this site's own
// socket (docs/realtime.md, "Calls"): the media go from browser to browser, encrypted
// (DTLS-SRTP), and never through the server. Nothing is recorded.
//
// Shared by the console (console/call.js) and the client's page (client-call.js); each
// owns its buttons and texts. `send` sends one frame on the socket.

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
    this.pc.onicecandidate = (event) => {
      if (event.candidate) this.send({ type: "call_candidate", candidate: event.candidate.toJSON() });
    };
    this.pc.ontrack = (event) => {
      const [remote] = event.streams;
      if (remoteVideo && event.track.kind === "video") remoteVideo.srcObject = remote;
      if (remoteAudio && event.track.kind === "audio") remoteAudio.srcObject = remote;
    };
    this.pc.onconnectionstatechange = () => this.onState(this.pc.connectionState);
  }

  // The worker's side makes the offer, once the client has accepted.
  offer() {
    this.queue(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      this.send({ type: "call_offer", sdp: this.pc.localDescription.sdp });
    });
  }

  // A `call.offer`, `call.answer` or `call.candidate` from the other side.
  receive(frame) {
    this.queue(async () => {
      if (frame.type === "call.offer") {
        await this.pc.setRemoteDescription({ type: "offer", sdp: frame.sdp });
        await this.addEarly();
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.send({ type: "call_answer", sdp: this.pc.localDescription.sdp });
      } else if (frame.type === "call.answer") {
        await this.pc.setRemoteDescription({ type: "answer", sdp: frame.sdp });
        await this.addEarly();
      } else if (frame.type === "call.candidate") {
        if (this.pc.remoteDescription) await this.pc.addIceCandidate(frame.candidate);
        else this.early.push(frame.candidate);
      }
    });
  }

  async addEarly() {
    for (const candidate of this.early.splice(0)) await this.pc.addIceCandidate(candidate);
  }

  queue(step) {
    this.chain = this.chain.then(step).catch(() => this.onState("failed"));
  }

  // Microphone or camera on or off ("audio", "video"); returns whether it is now on.
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
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    for (const track of this.stream.getTracks()) track.stop();
  }

  // For the browser tests: bytes received so far, per kind.
  async received() {
    const out = { audio: 0, video: 0 };
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp") out[s.kind] += s.bytesReceived || 0;
    });
    return out;
  }
}

// The text for a connection state, shown in the call's status line.
export function stateText(state) {
  if (state === "connected") return gettext("Connected.");
  if (state === "disconnected") return gettext("Reconnecting the call…");
  if (state === "failed") return gettext("The call could not connect.");
  return gettext("Connecting the call…");
}
