// Inviting someone into a conversation: a colleague or an interpreter from the list, or an
// interpreter by a link that is shown once.

import { entryLabel, textFor } from "./dialogs.js";
import { $, option } from "./dom.js";

const { gettext } = window;

const INVITE_ERROR_TEXT = {
  already_present: () => gettext("They are already in the conversation."),
  not_found: () => gettext("That person could not be found. Choose again."),
  conflict: () => gettext("The conversation is no longer active."),
  forbidden: () => gettext("Only the conversation's social worker can invite."),
  invalid: () => gettext("Choose a person to invite."),
};

export class Invite {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = $("invite-dialog");
    this.form = $("invite-form");
    this.error = $("invite-error");
    this.user = $("invite-user");
    this.linkBox = $("invite-link-box");
    this.link = $("invite-link");
    this.linkButton = $("invite-link-button");
    this.copyStatus = $("invite-copy-status");
    this.interpreterPath = this.dialog.dataset.interpreterPath || "/interpret/";
    ctx.dialogs.register(this.dialog, () => this.clearInvitation());

    this.user.addEventListener("change", () => this.user.removeAttribute("aria-invalid"));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.linkButton.addEventListener("click", (event) => {
      const { dialogs, socket } = this.ctx;
      const entry = dialogs.entry;
      if (!entry || dialogs.pending) return;
      dialogs.startPending("invite_link", this.dialog, event.currentTarget, this.error);
      if (!socket.send({ type: "invite_link", conversation: entry.id }))
        dialogs.failPending(this.error, gettext("Not connected. Try again in a moment."));
    });
    $("invite-copy").addEventListener("click", () => this.copy());
  }

  failed(code) {
    this.ctx.dialogs.failPending(this.error, textFor(INVITE_ERROR_TEXT, code));
  }

  open(entry, opener) {
    if (entry.gone) return;
    const { unitNames, interpreters, colleagues } = this.ctx;
    const present = new Set(entry.participants.map((p) => p.user));
    const group = (label, people) => {
      const g = document.createElement("optgroup");
      g.label = label;
      g.append(
        ...people
          .filter((p) => !present.has(p.id))
          .map((p) => {
            const units = (p.units || []).map((id) => unitNames[id]).filter(Boolean).join(", ");
            return option(String(p.id), units ? `${p.name} (${units})` : p.name);
          }),
      );
      return g;
    };
    const groups = [
      group(gettext("Interpreters"), interpreters),
      group(gettext("Colleagues"), colleagues),
    ];
    this.user.replaceChildren(
      option("", gettext("Choose a person")),
      ...groups.filter((g) => g.children.length),
    );
    this.user.removeAttribute("aria-invalid");
    this.error.textContent = "";
    this.clearInvitation();
    $("invite-which").textContent = entryLabel(this.ctx, entry);
    this.ctx.dialogs.open(this.dialog, entry, opener);
    this.user.focus();
  }

  submit() {
    const { dialogs, socket } = this.ctx;
    const entry = dialogs.entry;
    if (!entry || dialogs.pending) return;
    const user = Number(this.user.value);
    if (!user) {
      this.user.setAttribute("aria-invalid", "true");
      this.error.textContent = gettext("Choose a person to invite.");
      this.user.focus();
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    dialogs.startPending("invite", this.dialog, button, this.error);
    if (!socket.send({ type: "invite", conversation: entry.id, user }))
      dialogs.failPending(this.error, gettext("Not connected. Try again in a moment."));
  }

  // Someone invited from the list has joined: the invitation went through.
  joined(entry) {
    if (!this.ctx.dialogs.isPending("invite", entry.id)) return;
    this.ctx.dialogs.close(this.dialog);
    this.ctx.alerts.announce(
      gettext("The invitation has been sent. They are in the conversation now."),
    );
  }

  // The secret is shown once, here, and never kept anywhere else.
  showInvitation(frame) {
    const { dialogs, conversations } = this.ctx;
    const entry = conversations.get(frame.conversation);
    if (dialogs.pending?.kind === "invite_link") dialogs.finishPending();
    if (!this.dialog.open && entry) {
      dialogs.open(this.dialog, entry, entry.panel.querySelector(".invite"));
    }
    this.link.value = `${location.origin}${this.interpreterPath}#${frame.invitation}`;
    this.linkBox.hidden = false;
    this.linkButton.hidden = true;
    this.copyStatus.textContent = "";
    this.link.focus();
    this.link.select();
  }

  clearInvitation() {
    this.link.value = "";
    this.linkBox.hidden = true;
    this.linkButton.hidden = false;
    this.copyStatus.textContent = "";
  }

  async copy() {
    const status = this.copyStatus;
    try {
      await navigator.clipboard.writeText(this.link.value);
      status.textContent = gettext("Copied. Paste it into a safe message to the interpreter.");
    } catch {
      this.link.focus();
      this.link.select();
      status.textContent = gettext("Copying did not work here. The link is selected: copy it with Ctrl+C.");
    }
  }
}
