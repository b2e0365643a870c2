// Urgent referrals nobody accepted in time, escalated to this supervisor: a panel at the
// top of the dashboard (read out as an alert) and the title, until the referral no longer
// waits in the unit (accepted, or moved along the referral chain).

import { interpolate } from "../bidi.js";
import { referralText, sentAtText } from "../referral-texts.js";
import { $, fromTemplate } from "./dom.js";

const { gettext } = window;

export class Escalations {
  constructor() {
    this.panel = $("escalations");
    this.list = $("escalation-list");
    this.byConversation = new Map(); // conversation id -> the escalation frame
    this.baseTitle = document.title;
  }

  escalated(frame) {
    this.byConversation.set(frame.conversation, frame);
    this.render();
  }

  // A unit's new numbers: its escalations that no longer wait there are done.
  settle(stats) {
    const waiting = new Set(stats.waiting.map((c) => c.id));
    let changed = false;
    for (const [id, frame] of this.byConversation) {
      if (frame.unit === stats.id && !waiting.has(id)) {
        this.byConversation.delete(id);
        changed = true;
      }
    }
    if (changed) this.render();
  }

  render() {
    const items = [...this.byConversation.values()].map((frame) => {
      const li = fromTemplate("escalation-template");
      li.querySelector(".escalation__unit").textContent = interpolate(
        gettext("Not accepted in %(unit)s"),
        { unit: frame.unit_name },
        true,
      );
      li.querySelector(".escalation__text").textContent = referralText(frame.referral);
      li.querySelector(".escalation__when").textContent = sentAtText(frame.referral.created_at);
      return li;
    });
    this.list.replaceChildren(...items);
    this.panel.hidden = items.length === 0;
    document.title = items.length
      ? `${gettext("Urgent referral")} – ${this.baseTitle}`
      : this.baseTitle;
  }
}
