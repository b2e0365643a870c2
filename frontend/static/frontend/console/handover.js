// Handing a conversation over, from the worker who has it: to a colleague (who answers the
// offer) or to a unit's queue, with a note; and the news of it on the panel and the trail.

import { interpolate } from "../bidi.js";
import { timeFormat } from "../log.js";
import { entryLabel, textFor } from "./dialogs.js";
import { $, option } from "./dom.js";
import { refreshControls } from "./panel.js";
import { renderTrail } from "./staff-context.js";

const { gettext } = window;

const HANDOVER_ERROR_TEXT = {
  invalid: () => gettext("Choose who receives the conversation and write a note for them."),
  not_found: () => gettext("That colleague or unit could not be found. Choose again."),
  conflict: () => gettext("The conversation is no longer active, so it cannot be handed over."),
  handover_open: () => gettext("This conversation is already being handed over. Wait for the answer."),
  forbidden: () => gettext("Only the conversation's social worker can hand it over."),
};

export class Handover {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = $("handover-dialog");
    this.form = $("handover-form");
    this.error = $("handover-error");
    this.workerSelect = $("handover-worker");
    this.unitSelect = $("handover-unit");
    this.noteField = $("handover-note");
    ctx.dialogs.register(this.dialog);

    for (const el of [this.workerSelect, this.unitSelect, ...this.form.elements.target]) {
      el.addEventListener("change", () => {
        el.removeAttribute("aria-invalid");
        this.refreshForm();
      });
    }
    this.noteField.addEventListener("input", () => this.noteField.removeAttribute("aria-invalid"));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  failed(code) {
    this.ctx.dialogs.failPending(this.error, textFor(HANDOVER_ERROR_TEXT, code));
  }

  sortedUnitIds(first) {
    const { unitNames, myUnits } = this.ctx;
    const ids = Object.keys(unitNames).map(Number);
    const rank = (id) => (id === first ? 0 : myUnits.includes(id) ? 1 : 2);
    return ids.sort((a, b) => rank(a) - rank(b) || unitNames[a].localeCompare(unitNames[b]));
  }

  fillChoices(entry) {
    const { unitNames, colleagues } = this.ctx;
    const groups = [];
    for (const unitId of this.sortedUnitIds(entry.unit)) {
      const people = colleagues.filter((c) => c.units.includes(unitId));
      if (!people.length) continue;
      const group = document.createElement("optgroup");
      group.label = unitNames[unitId];
      group.append(...people.map((c) => option(`${c.id}:${unitId}`, c.name)));
      groups.push(group);
    }
    this.workerSelect.replaceChildren(option("", gettext("Choose a colleague")), ...groups);
    this.unitSelect.replaceChildren(
      option("", gettext("Choose a unit")),
      ...this.sortedUnitIds(entry.unit).map((id) =>
        option(
          String(id),
          id === entry.unit
            ? interpolate(gettext("%s (this conversation's unit)"), [unitNames[id]])
            : unitNames[id],
        ),
      ),
    );
  }

  target() {
    const kind = this.form.elements.target.value;
    if (kind === "worker") {
      const [worker, unit] = this.workerSelect.value.split(":").map(Number);
      return worker ? { kind, worker, unit } : { kind };
    }
    const unit = Number(this.unitSelect.value);
    return unit ? { kind, unit } : { kind };
  }

  refreshForm() {
    const target = this.target();
    const entry = this.ctx.dialogs.entry;
    $("handover-worker-field").hidden = target.kind !== "worker";
    $("handover-unit-field").hidden = target.kind !== "unit";
    const otherUnit = Boolean(target.unit) && entry && target.unit !== entry.unit;
    $("handover-history").hidden = !otherUnit;
    $("handover-same-unit").hidden = !(target.unit && !otherUnit);
    this.form.querySelector("button[type=submit]").textContent =
      target.kind === "unit" ? gettext("Send to the queue") : gettext("Ask them to take over");
  }

  open(entry, opener) {
    if (entry.gone) return;
    this.fillChoices(entry);
    this.form.reset();
    for (const el of [this.workerSelect, this.unitSelect, this.noteField]) {
      el.removeAttribute("aria-invalid");
    }
    this.error.textContent = "";
    $("handover-which").textContent = entryLabel(this.ctx, entry);
    this.ctx.dialogs.open(this.dialog, entry, opener);
    this.refreshForm();
    this.workerSelect.focus();
  }

  submit() {
    const { dialogs, socket } = this.ctx;
    const entry = dialogs.entry;
    if (!entry || dialogs.pending) return;
    const target = this.target();
    const note = this.noteField.value.trim();
    const picker = target.kind === "worker" ? this.workerSelect : this.unitSelect;
    if (!target.unit) {
      picker.setAttribute("aria-invalid", "true");
      this.error.textContent =
        target.kind === "worker" ? gettext("Choose a colleague.") : gettext("Choose a unit.");
      picker.focus();
      return;
    }
    if (!note) {
      this.noteField.setAttribute("aria-invalid", "true");
      this.error.textContent = gettext("Write a note for the receiver.");
      this.noteField.focus();
      return;
    }
    const frame = {
      type: "hand_over",
      conversation: entry.id,
      note,
      share_history: target.unit === entry.unit || this.form.elements.history.value === "all",
      to_unit: target.unit,
    };
    if (target.kind === "worker") frame.to_worker = target.worker;
    const submit = this.form.querySelector("button[type=submit]");
    dialogs.startPending("hand_over", this.dialog, submit, this.error);
    if (!socket.send(frame)) {
      dialogs.failPending(this.error, gettext("Not connected. Try again in a moment."));
    }
  }

  // Handover news, for whoever it concerns: its sender, its receiver, others in the
  // conversation (the event carries names, not ids, so names decide).
  updated(h) {
    const { ctx } = this;
    const sentByMe = h.from_id === ctx.me.id;
    if (h.to_id === ctx.me.id && !sentByMe) ctx.offers.update(h);
    const entry = ctx.conversations.get(h.conversation);
    if (!entry) return;
    // Show the news in the trail at once; the server's conversation.context confirms it.
    const others = entry.handovers.filter((known) => known.id !== h.id);
    entry.handovers = [...others, h];
    renderTrail(ctx, entry, entry.handovers);
    if (sentByMe) {
      entry.offerOpen = h.state === "offered";
      this.showStatus(entry, h);
      refreshControls(ctx, entry);
      if (ctx.dialogs.isPending("hand_over", h.conversation)) ctx.dialogs.close(this.dialog);
    }
  }

  showStatus(entry, h) {
    const line = entry.panel.querySelector(".handover-status");
    line.classList.toggle("handover-status--back", h.state === "declined" || h.state === "expired");
    const until = h.expires_at ? timeFormat.format(new Date(h.expires_at)) : "";
    const text = {
      offered: () =>
        interpolate(
          gettext(
            "Offered to %(to)s. Waiting for an answer until %(until)s. Keep talking with the client meanwhile.",
          ),
          { to: h.to, until },
          true,
        ),
      accepted: () => interpolate(gettext("%s has taken over."), [h.to]),
      declined: () =>
        interpolate(
          gettext("%(to)s declined: “%(reason)s”. The conversation is still yours."),
          { to: h.to, reason: h.decline_reason },
          true,
        ),
      expired: () => gettext("Nobody answered the handover in time. The conversation is still yours."),
      queued: () => interpolate(gettext("Sent to the queue of %s."), [h.to_unit]),
    }[h.state];
    line.textContent = text ? text() : "";
    if (h.state === "declined" || h.state === "expired") {
      this.ctx.alerts.chime();
      if (entry.id !== this.ctx.conversations.selected) this.ctx.conversations.markUnread(entry);
    }
  }
}
