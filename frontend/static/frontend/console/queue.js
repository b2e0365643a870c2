// The waiting queues of the worker's units, live; taking the next client or a chosen one;
// and the worker's status (available, busy, away) with their load.

import { interpolate } from "../bidi.js";
import { moreWaitingText } from "../queue-texts.js";
import { renderRisk } from "../risk-line.js";
import { loadSession, saveSession } from "../session.js";
import { $, fromTemplate } from "./dom.js";
import { showClientLanguage } from "./panel.js";

const { gettext, ngettext } = window;

// The worker's latest status choice until the server confirms it, kept in this tab's
// sessionStorage so that a choice made while the socket was down, or just before a reload,
// is sent when the console connects. The last choice wins: the server ignores a choice
// older than the one in force (another tab's, a supervisor's) and says which is.
const PENDING_STATUS_KEY = "cc.console.status";

function waitedText(isoTime) {
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(isoTime)) / 60000));
  if (minutes < 1) return gettext("waited less than a minute");
  return interpolate(ngettext("waited %s minute", "waited %s minutes", minutes), [minutes]);
}

// Where a handover brought the client from, or that they are back in the queue.
function handedText(c) {
  if (c.handed_over) {
    if (c.handed_over.from) {
      return interpolate(gettext("handed over by %(name)s, %(unit)s"), {
        name: c.handed_over.from,
        unit: c.handed_over.from_unit,
      }, true);
    }
    return interpolate(gettext("handed over from %s"), [c.handed_over.from_unit]);
  }
  return c.transferred ? gettext("back in the queue") : "";
}

// The client's latest words while waiting (the server cut them and logged the read).
function previewText(preview) {
  return preview.cut ? `“${preview.text.trimEnd()}…”` : `“${preview.text}”`;
}

function writtenText(preview) {
  if (!preview || preview.count < 2) return "";
  return interpolate(ngettext("%s message", "%s messages", preview.count), [preview.count]);
}

export class Queue {
  constructor(ctx) {
    this.ctx = ctx;
    this.waitingByUnit = new Map(); // unit id -> the front of its queue (the server's cap)
    this.countsByUnit = new Map(); // unit id -> { total, urgentBeyond } of its whole queue
    this.knownWaiting = new Set();
    this.newWaiting = new Set(); // waiting ids that arrived while this window was elsewhere
    this.riskFlagsSeen = new Set(); // risk flags of waiting rows already announced
    this.acceptedHere = false; // focus a conversation this tab accepted
    this.capacity = null;
    this.list = $("waiting");
    this.empty = $("waiting-empty");
    this.more = $("waiting-more");
    this.presenceSelect = $("presence-status");

    this.presenceSelect.addEventListener("change", () => {
      this.setPendingStatus({ status: this.presenceSelect.value, chosenAt: Date.now() });
      this.sendPendingStatus();
    });
    this.rows = new Map(); // conversation id -> its row, kept so focus stays on a button
    // Waiting times tick here, with no traffic to the server.
    setInterval(() => {
      for (const el of this.list.querySelectorAll(".waited")) {
        el.textContent = waitedText(el.dataset.since);
      }
    }, 10000);
    $("accept-next").addEventListener("click", () => this.accept(null));
  }

  // --- status ---------------------------------------------------------------------------
  pendingStatus() {
    return loadSession(PENDING_STATUS_KEY);
  }

  setPendingStatus(choice) {
    // Storage may be disabled: the choice still goes out while the socket is open.
    saveSession(PENDING_STATUS_KEY, choice);
  }

  sendPendingStatus() {
    const choice = this.pendingStatus();
    if (!choice) return;
    const frame = { type: "presence", status: choice.status, chosen_at: choice.chosenAt };
    if (!this.ctx.socket.send(frame)) {
      this.ctx.alerts.showNotice(
        gettext("Not connected. Your status is saved as soon as the console is connected."),
      );
    }
  }

  showPresence(presence) {
    const choice = this.pendingStatus();
    const confirmed = choice && presence.status === choice.status;
    const later = choice && presence.chosen_at !== null && presence.chosen_at >= choice.chosenAt;
    if (choice && !confirmed && !later) {
      this.presenceSelect.value = choice.status; // still on its way: show what the worker chose
    } else {
      this.setPendingStatus(null);
      this.presenceSelect.value = presence.status;
    }
    this.capacity = presence.capacity;
    this.showLoad();
  }

  showLoad() {
    if (this.capacity === null) return;
    const active = this.ctx.conversations.activeCount();
    $("presence-load").textContent = interpolate(
      gettext("%(active)s of %(capacity)s conversations in progress."),
      { active, capacity: this.capacity },
      true,
    );
  }

  // --- the waiting list -----------------------------------------------------------------
  // The front of each of the worker's units' queues, and their counts, from the snapshot.
  replace(units, waiting) {
    this.waitingByUnit.clear();
    this.countsByUnit.clear();
    for (const unit of units) {
      this.waitingByUnit.set(unit.id, []);
      this.setCounts(unit.id, unit.waiting_total, unit.urgent_beyond);
    }
    for (const c of waiting) {
      this.waitingByUnit.get(c.unit)?.push(c);
      this.knownWaiting.add(c.id);
      if (c.risk) this.riskFlagsSeen.add(c.risk.flag);
    }
    for (const [unit, rows] of this.waitingByUnit) {
      if (!this.countsByUnit.has(unit)) this.setCounts(unit, rows.length, 0);
    }
    this.render();
  }

  // A `queue.updated`: the front of one unit's queue and how many wait in it.
  updateUnit(frame) {
    const { unit, waiting } = frame;
    const total = frame.waiting_total ?? waiting.length;
    this.waitingByUnit.set(unit, waiting);
    this.setCounts(unit, total, frame.urgent_beyond);
    this.noticeNewWaiting(this.arrivals(waiting, total));
    this.noticeRaised(waiting);
    this.render();
  }

  // A waiting client the risk rules just moved to the front: say so, and chime.
  noticeRaised(waiting) {
    for (const c of waiting) {
      const risk = c.risk;
      if (!risk || risk.effect !== "urgent" || risk.lowered) continue;
      if (this.riskFlagsSeen.has(risk.flag)) continue;
      this.riskFlagsSeen.add(risk.flag);
      this.ctx.alerts.announce(
        interpolate(
          gettext("Client %(client)s is now first in the queue: %(rule)s"),
          { client: c.id, rule: risk.rule },
          true,
        ),
      );
      if (this.presenceSelect.value === "available") this.ctx.alerts.chime();
    }
  }

  setCounts(unit, total, urgentBeyond) {
    this.countsByUnit.set(unit, { total: total ?? 0, urgentBeyond: urgentBeyond ?? 0 });
  }

  // Who in a unit's new front is a new client. When the front is all of the queue, anyone
  // not seen before. When it is capped, rows that moved up into view from behind the cap
  // are nobody new: only an unseen client ahead of someone already seen (urgent, or
  // handed over) has just come.
  arrivals(waiting, total) {
    const unseen = (c) => !this.knownWaiting.has(c.id);
    if (waiting.length >= total) return new Set(waiting.filter(unseen).map((c) => c.id));
    let lastSeen = -1;
    waiting.forEach((c, index) => {
      if (!unseen(c)) lastSeen = index;
    });
    return new Set(waiting.filter((c, index) => unseen(c) && index < lastSeen).map((c) => c.id));
  }

  // A client who just came into one of the worker's queues: chime, and count it in the
  // title while the window is elsewhere. Every row shown counts as seen from now on.
  noticeNewWaiting(arrivals) {
    const now = new Set([...this.waitingByUnit.values()].flat().map((c) => c.id));
    let arrived = false;
    for (const id of now) {
      if (!this.knownWaiting.has(id)) {
        this.knownWaiting.add(id);
        if (!arrivals.has(id)) continue;
        arrived = true;
        if (!document.hasFocus()) this.newWaiting.add(id);
      }
    }
    for (const id of this.newWaiting) if (!now.has(id)) this.newWaiting.delete(id);
    if (arrived && this.presenceSelect.value === "available") this.ctx.alerts.chime();
    this.ctx.alerts.updateTitle();
  }

  // One waiting client's row, made once and filled again with each update.
  row(c) {
    let li = this.rows.get(c.id);
    if (!li) {
      li = fromTemplate("waiting-template");
      li.dataset.conversation = c.id;
      li.querySelector("button.accept").addEventListener("click", () => this.accept(c.id));
      this.rows.set(c.id, li);
    }
    const unit = this.ctx.unitNames[c.unit] || "";
    li.querySelector(".unit").textContent = unit;
    showClientLanguage(li.querySelector(".client-language"), c.language);
    li.querySelector(".waited").textContent = waitedText(c.queued_at);
    li.querySelector(".waited").dataset.since = c.queued_at;
    li.querySelector(".urgent").hidden = c.priority < 1;
    li.classList.toggle("waiting__item--urgent", c.priority > 0);
    li.querySelector(".identified-mark").hidden = !c.identified;
    const handed = handedText(c);
    li.querySelector(".handed").textContent = handed;
    li.querySelector(".handed").hidden = !handed;
    const preview = li.querySelector(".waiting__preview");
    preview.textContent = c.preview ? previewText(c.preview) : "";
    preview.hidden = !c.preview;
    li.querySelector(".written").textContent = writtenText(c.preview);
    li.classList.toggle("waiting__item--risk", Boolean(c.risk));
    renderRisk(li.querySelector(".risk-line"), c.risk, {
      onLower: (button) => this.ctx.risk.open(c.id, button),
      label: interpolate(gettext("Client %s"), [c.id]),
    });
    li.querySelector("button.accept").setAttribute(
      "aria-label",
      interpolate(gettext("Accept: %(unit)s, %(waited)s"), {
        unit,
        waited: waitedText(c.queued_at),
      }, true),
    );
    return li;
  }

  render() {
    const all = [...this.waitingByUnit.values()].flat();
    // The queue's own order: urgent first, then handed over, then who has waited longest.
    all.sort(
      (a, b) =>
        b.priority - a.priority ||
        Number(Boolean(b.transferred)) - Number(Boolean(a.transferred)) ||
        new Date(a.queued_at) - new Date(b.queued_at) ||
        a.id - b.id,
    );
    const items = all.map((c) => this.row(c));
    const ids = new Set(all.map((c) => c.id));
    for (const id of this.rows.keys()) if (!ids.has(id)) this.rows.delete(id);
    const focused = document.activeElement;
    const same =
      items.length === this.list.children.length &&
      items.every((li, index) => this.list.children[index] === li);
    if (!same) this.list.replaceChildren(...items);
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
    let total = 0;
    let urgentBeyond = 0;
    for (const [unit, rows] of this.waitingByUnit) {
      const counts = this.countsByUnit.get(unit);
      total += Math.max(counts?.total ?? 0, rows.length);
      urgentBeyond += counts?.urgentBeyond ?? 0;
    }
    const more = total - items.length;
    this.more.textContent = more > 0 ? moreWaitingText(more, urgentBeyond) : "";
    this.more.hidden = more <= 0;
    this.empty.hidden = total > 0;
    $("accept-next").disabled = total === 0;
    $("waiting-count").textContent = String(total);
  }

  // Every waiting conversation this console shows or counts the front of.
  waitingIds() {
    return new Set([...this.waitingByUnit.values()].flat().map((c) => c.id));
  }

  accept(conversationId) {
    this.acceptedHere = true;
    this.ctx.alerts.showNotice("");
    const frame = { type: "accept" };
    if (conversationId) frame.conversation = conversationId;
    if (!this.ctx.socket.send(frame)) {
      this.ctx.alerts.showNotice(gettext("Not connected. Try again in a moment."));
    }
  }
}
