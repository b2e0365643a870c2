// Clients' new questions: a count on the follow-up inbox link. Only what arrives while this
// console is open; the inbox itself has the full list.

import { interpolate } from "../bidi.js";
import { $ } from "./dom.js";

const { gettext, ngettext } = window;

export class InboxBadge {
  constructor(ctx) {
    this.ctx = ctx;
    this.badge = $("inbox-new");
    this.newQuestions = new Set(); // follow-up ids of clients' questions not yet answered
    const links = [
      ...document.querySelectorAll(`a[href="${CSS.escape(this.badge.dataset.inboxPath)}"]`),
    ];
    if (links.length) links[0].append(this.badge);
    for (const link of links) {
      for (const type of ["click", "auxclick"]) {
        link.addEventListener(type, () => {
          this.newQuestions.clear();
          this.render();
        });
      }
    }
  }

  render() {
    const count = this.newQuestions.size;
    this.badge.hidden = count === 0;
    this.badge.querySelector(".inbox-new__count").textContent = String(count);
    this.badge.querySelector(".inbox-new__text").textContent = count
      ? ` ${interpolate(
          ngettext("%s new question from a client", "%s new questions from clients", count),
          [count],
        )}`
      : "";
  }

  followupUpdated(f) {
    const { ctx } = this;
    if (f.kind === "from_client") {
      const known = this.newQuestions.has(f.id);
      if (f.answered) this.newQuestions.delete(f.id);
      else this.newQuestions.add(f.id);
      if (!f.answered && !known) {
        ctx.alerts.announce(
          gettext("A client has asked a new question. It is in the follow-up inbox."),
        );
      }
      this.render();
    } else if (f.kind === "to_client" && !f.answered) {
      for (const entry of ctx.conversations.values()) {
        if (entry.case === f.case) ctx.end.finished(entry);
      }
    }
  }
}
