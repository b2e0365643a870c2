// Ending a chat, with follow-up questions for the client. The questions go with the `end`
// frame and are stored on the conversation's case; the client answers them when they come
// back with their case code.

import { interpolate } from "../bidi.js";
import { entryLabel, textFor } from "./dialogs.js";
import { $, fromTemplate } from "./dom.js";
import { inLanguage, languageName } from "./panel.js";

const { gettext, ngettext } = window;

const QUESTION_MAX = 2000;
const CHOICES_MAX = 6;
const CHOICE_MAX_LENGTH = 100;

const END_ERROR_TEXT = {
  invalid: () =>
    gettext("The questions could not be saved. Each needs text, and at most 6 short quick answers."),
  too_long: () => gettext("A question is too long. Shorten it and try again."),
  forbidden: () => gettext("Only the conversation's social worker can end it."),
  not_found: () => gettext("The conversation could not be found. It may no longer be yours."),
};

const lines = (field) =>
  field.value
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

// The questions as the server takes them, or the field to fix and why. `language`: the
// client's, when the quick answers can be given in it too ("" for none).
function collectFollowups(rows, language) {
  const followups = [];
  for (const row of rows) {
    const question = row.querySelector(".question");
    const choicesField = row.querySelector(".choices");
    const translatedField = row.querySelector(".translated-choices");
    const body = question.value.trim();
    const choices = lines(choicesField);
    const translated = language ? lines(translatedField) : [];
    if (!body && !choices.length) continue; // an empty row is simply left out
    if (!body) return { field: question, text: gettext("Write the question, or remove it.") };
    if (choices.length > CHOICES_MAX) {
      return {
        field: choicesField,
        text: interpolate(gettext("At most %s quick answers for one question."), [CHOICES_MAX]),
      };
    }
    if (choices.some((c) => c.length > CHOICE_MAX_LENGTH)) {
      return {
        field: choicesField,
        text: interpolate(gettext("Keep each quick answer under %s characters."), [
          CHOICE_MAX_LENGTH,
        ]),
      };
    }
    if (translated.length && translated.length !== choices.length) {
      return {
        field: translatedField,
        text: gettext("Give every quick answer in the client's language too, in the same order, or none."),
      };
    }
    followups.push(
      translated.length
        ? { body, choices, translated_choices: { [language]: translated } }
        : { body, choices },
    );
  }
  return { followups };
}

export class EndDialog {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = $("end-dialog");
    this.form = $("end-form");
    this.error = $("end-error");
    this.rows = $("end-rows");
    this.addButton = $("end-add");
    this.submitButton = this.form.querySelector("button[type=submit]");
    this.draftFor = null; // the conversation whose unsent questions the dialog still holds
    this.rowSeq = 0;
    ctx.dialogs.register(this.dialog);

    this.addButton.addEventListener("click", () => {
      this.error.textContent = "";
      this.addRow().querySelector(".question").focus();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  failed(code) {
    this.ctx.dialogs.failPending(this.error, textFor(END_ERROR_TEXT, code));
  }

  rowList() {
    return [...this.rows.querySelectorAll(":scope > .end-row")];
  }

  // The client's language, when quick answers can be given in it: not Swedish (the
  // answers' own language) and not unknown.
  clientLanguage() {
    const entry = this.ctx.dialogs.entry;
    const code = (entry && entry.clientLanguage) || "";
    return code && code !== "sv" && languageName(code) ? code : "";
  }

  showTranslated(row) {
    const code = this.clientLanguage();
    const block = row.querySelector(".end-row__translated");
    block.hidden = !code;
    const field = row.querySelector(".translated-choices");
    if (!code) return;
    field.lang = code;
    field.dir = "auto";
    row.querySelector(".translated-label").textContent = interpolate(
      gettext("The same quick answers %s (optional, in the same order)"),
      [inLanguage(code)],
    );
  }

  renumber() {
    this.rowList().forEach((row, i) => {
      const number = i + 1;
      row.querySelector(".end-row__legend").textContent = interpolate(gettext("Question %s"), [
        number,
      ]);
      row.querySelector(".remove").textContent = interpolate(gettext("Remove question %s"), [
        number,
      ]);
    });
  }

  addRow() {
    const row = fromTemplate("end-row-template");
    const n = (this.rowSeq += 1);
    const question = row.querySelector(".question");
    const choices = row.querySelector(".choices");
    question.id = `end-question-${n}`;
    question.maxLength = QUESTION_MAX;
    row.querySelector(".question-label").htmlFor = question.id;
    choices.id = `end-choices-${n}`;
    row.querySelector(".choices-label").htmlFor = choices.id;
    const hint = row.querySelector(".choices-hint");
    hint.id = `end-choices-${n}-hint`;
    choices.setAttribute("aria-describedby", hint.id);
    const translated = row.querySelector(".translated-choices");
    translated.id = `end-translated-${n}`;
    row.querySelector(".translated-label").htmlFor = translated.id;
    for (const field of [question, choices, translated]) {
      field.addEventListener("input", () => field.removeAttribute("aria-invalid"));
    }
    row.querySelector(".remove").addEventListener("click", () => this.removeRow(row));
    this.rows.append(row);
    this.renumber();
    this.showTranslated(row);
    return row;
  }

  removeRow(row) {
    const rows = this.rowList();
    const index = rows.indexOf(row);
    row.remove();
    this.renumber();
    this.error.textContent = "";
    // The cursor goes to the question that took its place, or the one before, or "Add".
    const next = this.rowList()[Math.min(index, rows.length - 2)];
    if (next) next.querySelector(".question").focus();
    else this.addButton.focus();
    this.ctx.alerts.announce(gettext("The question was removed."));
  }

  // The conversation changed while its dialog is open.
  refreshFor(entry) {
    if (this.ctx.dialogs.isOpenFor(this.dialog, entry)) this.refreshForm();
  }

  refreshForm() {
    const entry = this.ctx.dialogs.entry;
    if (!entry) return;
    const active = entry.thread.state === "active" && !entry.gone;
    $("end-already").hidden = active;
    // Without a case there is nowhere to keep questions, and no code to come back with.
    $("end-followups").hidden = !entry.case;
    $("end-code").hidden = !entry.case || !active;
    this.submitButton.textContent = active ? gettext("End the chat") : gettext("Save the questions");
  }

  open(entry, opener) {
    if (entry.gone) return;
    if (this.draftFor !== entry.id) {
      this.rows.replaceChildren();
      this.draftFor = entry.id;
    }
    this.error.textContent = "";
    $("end-which").textContent = entryLabel(this.ctx, entry);
    this.ctx.dialogs.open(this.dialog, entry, opener);
    this.refreshForm();
    for (const row of this.rowList()) this.showTranslated(row);
    // A draft kept from before: back to its first question; else "Add a question" first,
    // so Enter alone never ends a chat by accident.
    if (!entry.case) this.submitButton.focus();
    else (this.rows.querySelector(".question") || this.addButton).focus();
  }

  submit() {
    const { dialogs, socket } = this.ctx;
    const entry = dialogs.entry;
    if (!entry || dialogs.pending) return;
    for (const field of this.form.querySelectorAll("[aria-invalid]")) {
      field.removeAttribute("aria-invalid");
    }
    const result = entry.case
      ? collectFollowups(this.rowList(), this.clientLanguage())
      : { followups: [] };
    if (result.field) {
      result.field.setAttribute("aria-invalid", "true");
      this.error.textContent = result.text;
      result.field.focus();
      return;
    }
    const { followups } = result;
    const active = entry.thread.state === "active";
    if (!active && !followups.length) {
      dialogs.close(this.dialog);
      return;
    }
    const pending = dialogs.startPending("end", this.dialog, this.submitButton, this.error);
    pending.followups = followups.length;
    if (!socket.send({ type: "end", conversation: entry.id, followups })) {
      dialogs.failPending(this.error, gettext("Not connected. Try again in a moment."));
    }
  }

  // The chat's "ended" event, or (when the client had ended it already) the first question
  // stored on the case: the request went through.
  finished(entry) {
    const { dialogs } = this.ctx;
    if (!dialogs.isPending("end", entry.id)) return;
    const count = dialogs.pending.followups;
    this.draftFor = null;
    this.rows.replaceChildren();
    dialogs.close(this.dialog);
    if (!count) return; // the log says the chat has ended
    // On the panel's status line, so it is both seen and read out.
    const line = entry.panel.querySelector(".handover-status");
    line.classList.remove("handover-status--back");
    line.textContent = interpolate(
      ngettext(
        "%s follow-up question was saved on the case for the client.",
        "%s follow-up questions were saved on the case for the client.",
        count,
      ),
      [count],
    );
  }
}
