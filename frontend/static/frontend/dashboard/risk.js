// Risk alerts on the dashboard: a client's words that a risk rule raised to urgent or that
// alert the supervisors, live, newest first, with why and the words highlighted; a lowering
// shows who lowered it and why. Kept while the page is open (the audit trail keeps them all).

import { interpolate } from "../bidi.js";
import { renderRisk } from "../risk-line.js";
import { $, fromTemplate } from "./dom.js";

const { gettext } = window;
const MAX_ALERTS = 20;

export class RiskAlerts {
  constructor({ unitName, announce }) {
    this.unitName = unitName;
    this.announce = announce;
    this.section = $("risk-alerts");
    this.list = $("risk-alert-list");
    this.items = new Map(); // conversation id -> its alert
  }

  flagged(frame) {
    const { risk } = frame;
    if (!risk || risk.held || risk.effect === "mark") return;
    this.show(frame);
    this.announce(
      interpolate(
        gettext("Risk alert: client %(client)s in %(unit)s. %(rule)s"),
        { client: frame.conversation, unit: this.unitName(frame.unit), rule: risk.rule },
        true,
      ),
    );
  }

  // The dashboard's snapshot: the open conversations the rules raised or alert about,
  // newest first, shown without announcing them again.
  replace(alerts) {
    this.items.clear();
    this.list.replaceChildren();
    for (const frame of [...alerts].reverse()) this.show(frame);
    this.section.hidden = alerts.length === 0;
  }

  lowered(frame) {
    if (this.items.has(frame.conversation)) this.show(frame);
  }

  show(frame) {
    let item = this.items.get(frame.conversation);
    if (!item) {
      item = fromTemplate("risk-alert-template");
      this.items.set(frame.conversation, item);
    }
    item.querySelector(".risk-alert__client").textContent = interpolate(gettext("Client %s"), [
      frame.conversation,
    ]);
    item.querySelector(".risk-alert__unit").textContent = this.unitName(frame.unit);
    const time = item.querySelector(".risk-alert__time");
    const at = new Date(frame.risk?.at || Date.now());
    time.dateTime = at.toISOString();
    time.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    renderRisk(item.querySelector(".risk-line"), frame.risk);
    this.list.prepend(item);
    while (this.list.children.length > MAX_ALERTS) {
      const last = this.list.lastElementChild;
      for (const [id, el] of this.items) if (el === last) this.items.delete(id);
      last.remove();
    }
    this.section.hidden = false;
  }
}
