// The console's keyboard shortcuts and their help window. Single keys act only when the
// worker is not writing (no text box, list or menu has the keyboard) and no window is
// open; sending is Enter (or Ctrl+Enter) in the message box itself (composer.js). The
// worker can turn the single keys off (WCAG 2.1.4); the choice is kept in this browser.

import { $ } from "./dom.js";

const SHORTCUTS_KEY = "cc.console.shortcuts";

function writing(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(
    target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], [role='listbox'], summary"),
  );
}

export class Shortcuts {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = $("shortcuts-dialog");
    this.toggle = $("shortcuts-on");
    this.opener = $("shortcuts-open");
    try {
      this.toggle.checked = localStorage.getItem(SHORTCUTS_KEY) !== "off";
    } catch {
      this.toggle.checked = true;
    }
    this.toggle.addEventListener("change", () => {
      try {
        localStorage.setItem(SHORTCUTS_KEY, this.toggle.checked ? "on" : "off");
      } catch {
        // storage may be off; the choice holds for this page
      }
    });
    ctx.dialogs.register(this.dialog);
    // Tab and Shift+Tab go round inside the window, never out to the page behind it.
    this.dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const stops = [...this.dialog.querySelectorAll("button, input, [href], [tabindex='0']")];
      const first = stops[0];
      const last = stops[stops.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    this.opener.addEventListener("click", () => this.open(this.opener));
    document.addEventListener("keydown", (event) => this.onKeyDown(event));
  }

  open(opener) {
    if (this.dialog.open) return;
    this.ctx.dialogs.open(this.dialog, null, opener);
    this.dialog.querySelector("[data-close]").focus();
  }

  onKeyDown(event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return; // a window has the keyboard
    if (writing(event.target)) return;
    const { key } = event;
    if (key === "?") {
      event.preventDefault();
      this.open(document.activeElement instanceof HTMLElement ? document.activeElement : this.opener);
      return;
    }
    if (!this.toggle.checked) return;
    const { conversations, queue } = this.ctx;
    if (key === "j" || key === "k") {
      event.preventDefault();
      conversations.step(key === "j" ? 1 : -1);
    } else if (key === "a") {
      event.preventDefault();
      if (!$("accept-next").disabled) queue.accept(null);
      else this.ctx.alerts.showNotice(window.gettext("Nobody is waiting right now."));
    } else if (key === "r") {
      const entry = conversations.current();
      if (entry && !entry.form.hidden) {
        event.preventDefault();
        entry.textarea.focus();
      }
    }
  }
}
