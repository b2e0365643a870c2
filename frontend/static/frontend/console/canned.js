import { interpolate } from "../bidi.js";
import { element } from "./dom.js";

const { gettext, ngettext } = window;

// "/" at the start of a composer opens the canned replies: a list under the box that the
// keyboard drives while the box keeps focus (the combobox pattern; a textarea may not take
// role=combobox or aria-expanded, so the list is tied to it by aria-controls and
// aria-activedescendant, and a status line says what is on offer).
const MAX_CANNED = 8;

export class CannedPicker {
  constructor(ctx, entry) {
    this.entry = entry;
    this.replies = ctx.cannedReplies;
    this.language = ctx.pageLanguage;
    this.textarea = entry.textarea;
    this.box = entry.panel.querySelector(".canned");
    this.list = this.box.querySelector(".canned__list");
    this.empty = this.box.querySelector(".canned__empty");
    this.status = entry.panel.querySelector(".canned__status");
    this.list.id = `canned-${entry.id}`;
    this.matches = [];
    this.active = -1;
    this.open = false;
    this.textarea.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  onInput() {
    const value = this.textarea.value;
    if (value.startsWith("/") && !value.includes("\n")) this.show(value.slice(1));
    else this.close();
  }

  show(query) {
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    const scored = [];
    for (const reply of this.replies) {
      const title = reply.title.toLowerCase();
      const haystack = `${title} ${reply.body.toLowerCase()}`;
      if (!terms.every((t) => haystack.includes(t))) continue;
      const inTitle = terms.every((t) => title.includes(t));
      // Replies in the client's language first, else in the console's.
      const language = this.entry.clientLanguage || this.language;
      scored.push({ reply, rank: (reply.language === language ? 0 : 2) + (inTitle ? 0 : 1) });
    }
    scored.sort((a, b) => a.rank - b.rank || a.reply.title.localeCompare(b.reply.title));
    this.matches = scored.slice(0, MAX_CANNED).map((s) => s.reply);
    this.list.replaceChildren(
      ...this.matches.map((reply, i) => {
        const li = element("li", "canned__option");
        li.id = `canned-${this.entry.id}-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        const title = element("span", "canned__title", reply.title);
        title.dir = "auto";
        li.append(title);
        const preview = element("span", "canned__preview", reply.body);
        preview.dir = "auto";
        li.append(preview);
        li.addEventListener("mousedown", (event) => event.preventDefault());
        li.addEventListener("click", () => this.insert(i));
        return li;
      }),
    );
    this.list.hidden = this.matches.length === 0;
    this.empty.hidden = this.matches.length > 0;
    if (!this.matches.length) {
      this.empty.textContent = this.replies.length
        ? gettext("No canned reply matches. Press Escape to go back to writing.")
        : gettext("You have no canned replies yet. Add them under Canned replies at the top.");
    }
    this.box.hidden = false;
    this.open = true;
    if (this.matches.length) this.textarea.setAttribute("aria-controls", this.list.id);
    else this.textarea.removeAttribute("aria-controls");
    this.setActive(this.matches.length ? 0 : -1);
    this.status.textContent = this.matches.length
      ? interpolate(
          ngettext(
            "%s canned reply. Up and down to choose, Enter to put it in the box, Escape to close.",
            "%s canned replies. Up and down to choose, Enter to put it in the box, Escape to close.",
            this.matches.length,
          ),
          [this.matches.length],
        )
      : this.empty.textContent;
  }

  setActive(index) {
    this.active = index;
    this.list.querySelectorAll("[role=option]").forEach((li, i) => {
      li.setAttribute("aria-selected", i === index ? "true" : "false");
      li.classList.toggle("canned__option--active", i === index);
      if (i === index) li.scrollIntoView({ block: "nearest" });
    });
    if (index >= 0) {
      this.textarea.setAttribute("aria-activedescendant", `canned-${this.entry.id}-${index}`);
    } else {
      this.textarea.removeAttribute("aria-activedescendant");
    }
  }

  // Returns true when the key was the list's.
  onKeyDown(event) {
    if (!this.open || event.isComposing) return false;
    const count = this.matches.length;
    if (event.key === "ArrowDown" && count) {
      this.setActive((this.active + 1) % count);
    } else if (event.key === "ArrowUp" && count) {
      this.setActive((this.active - 1 + count) % count);
    } else if (event.key === "Enter" && !event.shiftKey) {
      // Never send "/search" to the client by accident.
      if (this.active >= 0) this.insert(this.active);
    } else if (event.key === "Escape") {
      this.close();
    } else if (event.key === "Tab") {
      this.close();
      return true;
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  insert(index) {
    const reply = this.matches[index];
    if (!reply) return;
    this.textarea.value = reply.body;
    this.close();
    this.textarea.focus();
    this.textarea.setSelectionRange(reply.body.length, reply.body.length);
    this.status.textContent = interpolate(
      gettext("“%s” is in the box. Change it as you need, then send."),
      [reply.title],
    );
  }

  close() {
    if (!this.open) return;
    this.open = false;
    this.box.hidden = true;
    this.matches = [];
    this.active = -1;
    this.list.replaceChildren();
    this.textarea.removeAttribute("aria-activedescendant");
    this.textarea.removeAttribute("aria-controls");
  }
}
