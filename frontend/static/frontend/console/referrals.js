// Urgent referrals from partner staff (a code word at a pharmacy or library): each one that
// arrives in the worker's units alarms (sound, title, the screen reader) and stands in a
// panel above the queue, with Accept, until someone takes it. The conversation is also
// first in the queue, as urgent.

import { referralText, sentAtText } from "../referral-texts.js";
import { $, fromTemplate } from "./dom.js";

const { gettext } = window;

export class Referrals {
  constructor(ctx) {
    this.ctx = ctx;
    this.panel = $("referrals");
    this.list = $("referral-list");
    this.waiting = new Map(); // conversation id -> the referral frame
  }

  get size() {
    return this.waiting.size;
  }

  received(frame) {
    if (!this.ctx.myUnits.includes(frame.unit)) return;
    this.waiting.set(frame.conversation, frame);
    this.render();
    this.ctx.alerts.alarm();
    this.ctx.alerts.announce(
      `${gettext("Urgent referral from partner staff.")} ${referralText(frame.referral)}`,
    );
    this.ctx.alerts.updateTitle();
  }

  // The queue changed: a referral no longer waiting anywhere this console sees is done.
  settle(waitingIds) {
    let changed = false;
    for (const id of this.waiting.keys()) {
      if (!waitingIds.has(id)) {
        this.waiting.delete(id);
        changed = true;
      }
    }
    if (changed) {
      this.render();
      this.ctx.alerts.updateTitle();
    }
  }

  render() {
    const items = [...this.waiting.values()].map((frame) => {
      const li = fromTemplate("referral-template");
      li.dataset.conversation = frame.conversation;
      li.querySelector(".referral__text").textContent = referralText(frame.referral);
      li.querySelector(".referral__when").textContent = sentAtText(frame.referral.created_at);
      li.querySelector("button").addEventListener("click", () =>
        this.ctx.queue.accept(frame.conversation),
      );
      return li;
    });
    this.list.replaceChildren(...items);
    this.panel.hidden = items.length === 0;
  }
}
