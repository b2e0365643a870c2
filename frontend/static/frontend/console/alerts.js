// What tells the worker something happened: a soft chime, a count in the title, the
// screen reader's announcer and the notice line.

import { $ } from "./dom.js";

const { gettext } = window;

const ALERTS_KEY = "cc.console.alerts";

// Short tones, each [frequency in Hz, start in seconds], of one wave `type`, rising quickly
// to `peak` and fading out within half a second.
function play(audio, type, peak, tones) {
  const start = audio.currentTime;
  for (const [frequency, at] of tones) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = type;
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + at);
    gain.gain.exponentialRampToValueAtTime(peak, start + at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + at + 0.5);
    tone.connect(gain).connect(audio.destination);
    tone.start(start + at);
    tone.stop(start + at + 0.55);
  }
}

export class Alerts {
  constructor(ctx) {
    this.ctx = ctx;
    this.toggle = $("alerts-toggle");
    this.announcer = $("announcer");
    this.notice = $("notice");
    this.baseTitle = document.title;
    this.audio = null;
    this.lastChime = 0;

    try {
      this.toggle.checked = localStorage.getItem(ALERTS_KEY) !== "off";
    } catch {
      this.toggle.checked = true;
    }
    this.toggle.addEventListener("change", () => {
      try {
        localStorage.setItem(ALERTS_KEY, this.toggle.checked ? "on" : "off");
      } catch {
        // storage may be off; the choice holds for this page
      }
      this.updateTitle();
    });
    const unlock = () => this.unlockAudio();
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
  }

  // Browsers let a page make sound only after the user has done something on it.
  unlockAudio() {
    try {
      if (!this.audio) this.audio = new AudioContext();
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    } catch {
      this.audio = null;
    }
  }

  chime() {
    const { audio } = this;
    if (!this.toggle.checked || !audio || audio.state !== "running") return;
    if (Date.now() - this.lastChime < 1500) return;
    this.lastChime = Date.now();
    play(audio, "sine", 0.1, [
      [659.25, 0],
      [880, 0.16],
    ]);
  }

  // An urgent referral: louder, three rising tones, and not held back by the chime's pause
  // or the worker's status (someone at a pharmacy is waiting for an answer).
  alarm() {
    const { audio } = this;
    if (!this.toggle.checked || !audio || audio.state !== "running") return;
    play(audio, "triangle", 0.2, [
      [659.25, 0],
      [880, 0.18],
      [1046.5, 0.36],
    ]);
  }

  // New clients while the window was elsewhere, offers to answer, conversations with news;
  // an urgent referral waiting puts its words first, whatever the window.
  updateTitle() {
    const { queue, offers, conversations, referrals } = this.ctx;
    const count = queue.newWaiting.size + offers.size + conversations.needingAttention();
    let title = this.toggle.checked && count ? `(${count}) ${this.baseTitle}` : this.baseTitle;
    if (this.toggle.checked && referrals?.size) {
      title = `${gettext("Urgent referral")} – ${title}`;
    }
    document.title = title;
  }

  announce(text) {
    this.announcer.textContent = "";
    // A fresh text node, a moment later, so the same words are read out again.
    setTimeout(() => {
      this.announcer.textContent = text;
    }, 50);
  }

  showNotice(text) {
    this.notice.textContent = text;
  }
}
