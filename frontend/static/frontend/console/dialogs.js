// The console's dialogs (handover, invitation, ending): one open at a time, for one
// conversation, and one request at a time, answered by an event or an error.

import { errorText } from "../event-texts.js";

const { gettext } = window;
const REQUEST_TIMEOUT_MS = 10000;

// The words for an error code from a table, or the general ones.
export function textFor(table, code) {
  return (table[code] || (() => errorText(code)))();
}

export function entryLabel(ctx, entry) {
  return `${entry.label} · ${ctx.unitNames[entry.unit] || ""}`;
}

export class Dialogs {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialogs = [];
    this.entry = null; // the conversation the open dialog is about
    this.opener = null;
    this.pending = null; // { kind, dialog, conversation, button, timer }
  }

  // `onClose` runs when the dialog closes, before the focus goes back.
  register(dialog, onClose = () => {}) {
    this.dialogs.push(dialog);
    dialog.addEventListener("close", () => {
      if (this.pending && this.pending.dialog === dialog) this.finishPending();
      onClose();
      // Back to where the worker was, or to the conversation if that button is gone.
      const { opener, entry } = this;
      if (opener && opener.isConnected && !opener.hidden) opener.focus();
      else if (entry && entry.panel.isConnected) entry.panel.querySelector("h2").focus();
      this.entry = null;
      this.opener = null;
    });
    for (const button of dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => dialog.close());
    }
  }

  open(dialog, entry, opener) {
    this.entry = entry;
    this.opener = opener;
    dialog.showModal();
  }

  close(dialog) {
    if (dialog.open) dialog.close();
  }

  isOpenFor(dialog, entry) {
    return dialog.open && this.entry === entry;
  }

  // The conversation is no longer the worker's: its dialog has nothing left to do.
  closeFor(entry) {
    for (const dialog of this.dialogs) {
      if (this.isOpenFor(dialog, entry)) this.close(dialog);
    }
  }

  isPending(kind, conversation) {
    return this.pending?.kind === kind && this.pending.conversation === conversation;
  }

  startPending(kind, dialog, button, errorEl) {
    this.finishPending();
    button.disabled = true;
    errorEl.textContent = "";
    this.pending = {
      kind,
      dialog,
      button,
      conversation: this.entry?.id,
      timer: setTimeout(() => {
        this.failPending(
          errorEl,
          gettext("No answer yet. Check the connection and the conversation, then try again."),
        );
      }, REQUEST_TIMEOUT_MS),
    };
    return this.pending;
  }

  finishPending() {
    if (!this.pending) return;
    clearTimeout(this.pending.timer);
    this.pending.button.disabled = false;
    this.pending = null;
  }

  failPending(errorEl, text) {
    this.finishPending();
    if (errorEl.closest("dialog").open) errorEl.textContent = text;
    else this.ctx.alerts.showNotice(text);
  }
}
