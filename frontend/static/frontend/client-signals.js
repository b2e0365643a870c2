// The small signals of the client's chat: "The social worker is writing…" for a few seconds
// after each sign, "writing" sent while the client writes, and "seen" sent once the newest
// answer has been on this screen.

const { gettext } = window;
const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 5000;

export class ChatSignals {
  // send(frame) returns false when the socket is down; hasSession(): a chat is going on.
  constructor({ thread, typingLine, composerBody, send, hasSession }) {
    this.thread = thread;
    this.typingLine = typingLine;
    this.send = send;
    this.hasSession = hasSession;
    this.typingTimer = null;
    this.lastTypingSent = 0;
    this.seenSentFor = 0;
    this.seenFrame = null;

    composerBody.addEventListener("input", () => {
      if (thread.state !== "active" || !composerBody.value.trim()) return;
      const now = Date.now();
      if (now - this.lastTypingSent < TYPING_SEND_MS) return;
      this.lastTypingSent = now;
      this.send({ type: "typing" });
    });
    const maybeSendSeen = () => this.maybeSendSeen();
    window.addEventListener("focus", maybeSendSeen);
    document.addEventListener("visibilitychange", maybeSendSeen);
    window.addEventListener(
      "scroll",
      () => {
        if (this.seenFrame) return;
        this.seenFrame = requestAnimationFrame(() => {
          this.seenFrame = null;
          this.maybeSendSeen();
        });
      },
      { passive: true },
    );
  }

  showTyping() {
    if (this.thread.state !== "active") return;
    if (!this.typingLine.textContent) {
      this.typingLine.textContent = gettext("The social worker is writing…");
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_SHOW_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typingLine.textContent = "";
  }

  // The social worker sees "Seen" once the newest answer has been on this screen.
  maybeSendSeen() {
    const { thread } = this;
    if (!this.hasSession() || thread.state !== "active") return;
    if (!document.hasFocus() || document.visibilityState !== "visible") return;
    const newest = thread.newest(["worker", "interpreter"]);
    if (!newest) return;
    const seq = Number(newest.dataset.seq);
    const box = newest.getBoundingClientRect();
    if (seq <= this.seenSentFor || box.bottom <= 0 || box.top >= innerHeight) return;
    if (this.send({ type: "seen", seq: thread.lastSeq })) this.seenSentFor = seq;
  }

  // A new chat: nothing seen yet.
  reset() {
    this.seenSentFor = 0;
  }
}
