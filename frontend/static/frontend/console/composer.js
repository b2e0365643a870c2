// A conversation's composer: messages to the client or private notes, "writing" sent to
// the client, "seen" sent once the newest client message was in view, and the canned
// replies under the box.

import { errorText } from "../event-texts.js";
import { CannedPicker } from "./canned.js";

const { gettext } = window;
const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 5000;

function inView(el, container) {
  const r = el.getBoundingClientRect();
  const c = container.getBoundingClientRect();
  return r.height > 0 && r.bottom > c.top && r.top < c.bottom && r.top < innerHeight && r.bottom > 0;
}

export class Composer {
  constructor(ctx, entry) {
    this.ctx = ctx;
    this.entry = entry;
    this.seenSentFor = 0;
    this.seenFrame = null;
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.canned = new CannedPicker(ctx, entry);

    const { form, textarea, noteToggle, log } = entry;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = textarea.value;
      if (!body.trim()) return;
      if (body.length > ctx.settings.maxLength) {
        ctx.alerts.showNotice(errorText("too_long"));
        return;
      }
      ctx.alerts.showNotice("");
      if (noteToggle.checked) entry.notes.post(body);
      else entry.thread.post(body);
      textarea.value = "";
      this.canned.close();
    });
    textarea.addEventListener("keydown", (event) => {
      if (this.canned.onKeyDown(event)) return;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape" && !event.isComposing) {
        // Out of the box, so that the single-key shortcuts work again (shortcuts.js).
        event.preventDefault();
        entry.panel.querySelector("h2").focus();
      }
    });
    textarea.addEventListener("input", () => {
      this.canned.onInput();
      this.sendTyping();
    });
    noteToggle.addEventListener("change", () => this.setNoteMode(noteToggle.checked));
    log.addEventListener("scroll", () => this.maybeSendSeenSoon(), { passive: true });
  }

  setNoteMode(on) {
    const { form, textarea, noteToggle } = this.entry;
    noteToggle.checked = on;
    form.classList.toggle("composer--note", on);
    textarea.placeholder = on
      ? gettext("Write a private note: only staff see it")
      : gettext("Write a message, or / for a canned reply");
    form.querySelector(".composer-label").textContent = on
      ? gettext("Private note")
      : gettext("Message");
    form.querySelector(".send").textContent = on ? gettext("Save note") : gettext("Send");
  }

  // Only real writing to the client says "writing": not a private note, not a search.
  sendTyping() {
    const { entry } = this;
    if (entry.noteToggle.checked || entry.gone || entry.thread.state !== "active") return;
    const value = entry.textarea.value;
    if (!value.trim() || value.startsWith("/")) return;
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_SEND_MS) return;
    this.lastTypingSent = now;
    this.ctx.socket.send({ type: "typing", conversation: entry.id });
  }

  showTyping() {
    const line = this.entry.panel.querySelector(".typing");
    if (!line.textContent) line.textContent = gettext("The client is writing…");
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_SHOW_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.entry.panel.querySelector(".typing").textContent = "";
  }

  // The client sees "Seen" once the worker has had the newest client message in view.
  maybeSendSeen() {
    const { entry } = this;
    if (entry.gone || entry.id !== this.ctx.conversations.selected || entry.panel.hidden) return;
    if (entry.thread.state !== "active") return;
    if (!document.hasFocus() || document.visibilityState !== "visible") return;
    const newest = entry.thread.newest(["client"]);
    if (!newest) return;
    const seq = Number(newest.dataset.seq);
    if (seq <= this.seenSentFor || !inView(newest, entry.log)) return;
    if (this.ctx.socket.send({ type: "seen", conversation: entry.id, seq: entry.thread.lastSeq })) {
      this.seenSentFor = seq;
      this.ctx.triage.read(entry, entry.thread.lastSeq);
    }
  }

  maybeSendSeenSoon() {
    if (this.seenFrame) return;
    this.seenFrame = requestAnimationFrame(() => {
      this.seenFrame = null;
      this.maybeSendSeen();
    });
  }
}
