// The worker's own conversations, several at once: which are open, which one is on screen,
// which have news, and which are no longer theirs. Each conversation is an entry (see
// panel.js) with its own panel, tab, thread and notes.

import { renderRisk } from "../risk-line.js";
import { forgetSession } from "../session.js";
import { $ } from "./dom.js";
import { createEntry, notesKey, outboxKey, refreshControls, setCase } from "./panel.js";

const { gettext } = window;

// Why a conversation is no longer this worker's.
const GONE_TEXT = {
  handed_over: () => gettext("You have handed this conversation over. It is no longer yours."),
  returned: () =>
    gettext("Nobody answered in time, so the conversation went back to the queue. It is no longer yours."),
  worker_gone: () =>
    gettext("Your console was not connected, so the conversation went back to the queue. It is no longer yours."),
  removed: () => gettext("You were removed from this conversation."),
  ended: () => gettext("The conversation has ended."),
  left: () => gettext("You have left this conversation."),
};

export class Conversations {
  constructor(ctx) {
    this.ctx = ctx;
    this.entries = new Map(); // conversation id -> entry
    this.selected = null;
    this.noConversation = $("no-conversation");
    this.tabList = $("conversation-tabs");
    this.mineTitle = $("mine-title");
    this.mineTitle.tabIndex = -1;
    // A "More" menu closes when the worker clicks anywhere else.
    document.addEventListener("click", (event) => {
      for (const more of document.querySelectorAll("details.more[open]")) {
        if (!more.contains(event.target)) more.open = false;
      }
    });
  }

  get(id) {
    return this.entries.get(id);
  }

  has(id) {
    return this.entries.has(id);
  }

  values() {
    return this.entries.values();
  }

  current() {
    return this.entries.get(this.selected);
  }

  // What the risk rules found in this conversation (or null), with the way to lower it.
  setRisk(entry, risk) {
    if (!entry) return;
    entry.risk = risk || null;
    renderRisk(entry.panel.querySelector(".risk-line"), entry.risk, {
      onLower: (button) => this.ctx.risk.open(entry.id, button),
      label: entry.label,
    });
  }

  needingAttention() {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.unread || entry.unanswered) count += 1;
    return count;
  }

  // The conversations the worker is carrying now, as counted against their capacity.
  activeCount() {
    return [...this.entries.values()].filter(
      (e) => e.thread.state === "active" && !e.gone && e.role === "worker",
    ).length;
  }

  open(id, unitId, caseId) {
    if (this.entries.has(id)) {
      const known = this.entries.get(id);
      if (caseId) setCase(this.ctx, known, caseId);
      return known;
    }
    const entry = createEntry(this.ctx, id, unitId, caseId);
    this.entries.set(id, entry);
    this.noConversation.hidden = true;
    refreshControls(this.ctx, entry);
    if (this.selected === null) this.select(id);
    return entry;
  }

  // One request in flight per conversation (thread.js, resync.js).
  requestSync(entry) {
    entry.thread.askSync();
  }

  // A sync with nothing missed answers with the staff context only (trail, notes, people).
  requestContext(entry) {
    clearTimeout(entry.contextTimer);
    entry.contextTimer = setTimeout(() => {
      if (!entry.gone) this.requestSync(entry);
    }, 300);
  }

  select(id, { focus = true } = {}) {
    this.selected = id;
    for (const [otherId, entry] of this.entries) {
      const isSelected = otherId === id;
      entry.panel.hidden = !isSelected;
      entry.tabButton.setAttribute("aria-current", isSelected ? "true" : "false");
    }
    const entry = this.entries.get(id);
    if (!entry) return;
    this.clearUnread(entry);
    if (entry.focusTrail && !entry.panel.querySelector(".trail").hidden) {
      entry.focusTrail = false;
      entry.panel.querySelector(".trail").focus();
    } else if (focus && !entry.form.hidden) {
      entry.textarea.focus();
    } else if (focus && entry.thread.state === null && !entry.gone) {
      // Not synced yet: the composer shows, and takes the cursor, once the state is known,
      // unless the worker has put the cursor somewhere else by then (panel.js).
      entry.focusComposer = true;
      entry.focusedWhenAsked = document.activeElement;
    } else if (focus) {
      entry.panel.querySelector("h2").focus();
    }
    entry.composer.maybeSendSeen();
  }

  // News in a conversation the worker is not looking at: a chime. The count of unread
  // client messages on its tab goes by what the worker has seen (triage.js).
  markUnread(entry) {
    this.ctx.triage.refresh(entry);
    if (entry.id === this.selected && document.hasFocus()) return;
    this.ctx.alerts.chime();
    this.ctx.alerts.updateTitle();
  }

  clearUnread(entry) {
    this.ctx.triage.refresh(entry);
    this.ctx.alerts.updateTitle();
  }

  // In the order the list shows them: those waiting for an answer first.
  ordered() {
    return this.ctx.triage.ordered();
  }

  // The next (or previous, `step` -1) conversation in the list, for the shortcuts.
  step(step) {
    const entries = this.ordered();
    if (!entries.length) return null;
    const at = entries.findIndex((entry) => entry.id === this.selected);
    const next = entries[(at + step + entries.length) % entries.length];
    this.select(next.id, { focus: false });
    next.panel.querySelector("h2").focus();
    return next;
  }

  setUnanswered(entry, flagged) {
    entry.unanswered = flagged;
    entry.panel.querySelector(".unanswered").hidden = !flagged;
    entry.tab.classList.toggle("tab--unanswered", flagged);
    this.ctx.triage.refresh(entry);
    this.ctx.alerts.updateTitle();
  }

  // No longer this worker's: the history stays readable until they close it.
  markGone(entry, reason) {
    if (entry.gone) return;
    entry.gone = true;
    entry.offerOpen = false;
    entry.thread.close();
    entry.notes.close();
    entry.canned.close();
    this.setUnanswered(entry, false);
    entry.panel.querySelector(".gone").textContent = (
      GONE_TEXT[reason] || (() => gettext("This conversation is no longer yours."))
    )();
    this.ctx.dialogs.closeFor(entry);
    refreshControls(this.ctx, entry);
  }

  // Given back (a handover that came back, an invitation again): writable once more.
  reopen(entry) {
    entry.gone = false;
    entry.thread.reopen();
    entry.notes.reopen();
    entry.panel.querySelector(".gone").textContent = "";
    refreshControls(this.ctx, entry);
  }

  // Taken from this worker while the console was not connected.
  markMissingGone(current) {
    for (const entry of this.entries.values()) {
      if (!current.has(entry.id) && !entry.gone && entry.thread.state === "active") {
        this.markGone(entry, "");
      }
    }
  }

  close(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.panel.remove();
    entry.tab.remove();
    this.entries.delete(id);
    forgetSession(outboxKey(id), notesKey(id));
    this.ctx.alerts.updateTitle();
    if (this.selected === id) {
      this.selected = null;
      const next = this.entries.keys().next();
      if (!next.done) this.select(next.value);
    }
    this.noConversation.hidden = this.entries.size > 0;
    if (this.selected === null) this.mineTitle.focus();
  }
}
