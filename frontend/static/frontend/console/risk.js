// Lowering a conversation the risk rules raised, with a reason (the audit trail keeps it):
// one dialog, opened from a waiting row or a conversation, answered by `risk.lowered`.

import { interpolate } from "../bidi.js";
import { errorText } from "../event-texts.js";
import { $ } from "./dom.js";

const { gettext } = window;

const LOWER_ERRORS = {
  risk_reason: () => gettext("Write why, in at most 500 characters."),
  not_raised: () => gettext("It is no longer raised: someone may have lowered it already."),
  conflict: () => gettext("The conversation has ended."),
  not_found: () => gettext("The conversation could not be found."),
};

export class RiskLowering {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = $("risk-dialog");
    this.form = $("risk-form");
    this.reason = $("risk-reason");
    this.error = $("risk-error");
    this.conversation = null;
    this.opener = null;
    $("queue-title").tabIndex = -1; // where the focus goes when the row that opened it is gone
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.reason.addEventListener("input", () => {
      this.error.textContent = "";
    });
    for (const button of this.dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => this.dialog.close());
    }
    this.dialog.addEventListener("close", () => {
      const { opener } = this;
      this.conversation = null;
      this.opener = null;
      if (opener && opener.isConnected) opener.focus();
      else $("queue-title").focus();
    });
  }

  open(conversationId, opener) {
    this.conversation = conversationId;
    this.opener = opener;
    this.error.textContent = "";
    this.reason.value = "";
    $("risk-which").textContent = interpolate(gettext("Client %s"), [conversationId]);
    this.dialog.showModal();
    this.reason.focus();
  }

  send() {
    const reason = this.reason.value.trim();
    if (!reason) {
      this.error.textContent = LOWER_ERRORS.risk_reason();
      this.reason.focus();
      return;
    }
    this.error.textContent = "";
    const frame = { type: "lower_risk", conversation: this.conversation, reason };
    if (!this.ctx.socket.send(frame)) {
      this.error.textContent = gettext("Not connected. Try again in a moment.");
    }
  }

  // `risk.lowered`: done, for whoever asked.
  lowered(frame) {
    if (this.dialog.open && frame.conversation === this.conversation) this.dialog.close();
  }

  failed(frame) {
    const text = (LOWER_ERRORS[frame.code] || (() => errorText(frame.code, frame)))();
    if (this.dialog.open) this.error.textContent = text;
    else this.ctx.alerts.showNotice(text);
  }
}
