// The client's start form: a chat with a unit, or a question left for it when nobody can
// chat (the unit is closed, or the client gave up waiting there). It owns the choice between
// the two and hands the first message to the page.

import { newId } from "./outbox.js";

const { gettext } = window;
const $ = (id) => document.getElementById(id);

export class StartForm {
  // units: { "<unit id>": { name, open, hours } }, shared with the page (a unit that has just
  // closed is marked there). onSubmit(first, question): the first message, and whether it is
  // a question rather than a chat.
  constructor({ form, units, onSubmit }) {
    this.form = form;
    this.units = units;
    this.error = $("start-error");
    // The unit whose chat the client gave up on for a question (nobody there, or just closed).
    this.forcedQuestion = null;
    form.addEventListener("change", (event) => {
      if (event.target.name === "unit") this.updateMode();
    });
    $("chat-instead").addEventListener("click", () => {
      this.forcedQuestion = null;
      this.updateMode();
      $("start-submit").focus();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const unit = this.chosenUnit();
      const body = form.elements.body.value;
      if (!unit || !body.trim()) {
        this.showError(gettext("Choose who you want to talk to and write a message."));
        return;
      }
      // The page's language, for the social worker (an interpreter, easier words).
      const first = { unit, body, client_id: newId(), language: document.documentElement.lang };
      const question = this.questionMode();
      form.reset();
      this.forcedQuestion = null;
      this.showError("");
      onSubmit(first, question);
    });
  }

  chosenUnit() {
    const radio = this.form.querySelector("input[name=unit]:checked:not(:disabled)");
    return radio ? Number(radio.value) : 0;
  }

  isClosed(unit) {
    const info = this.units[String(unit)];
    return Boolean(info && !info.open);
  }

  questionMode() {
    const unit = this.chosenUnit();
    return Boolean(unit) && (this.isClosed(unit) || this.forcedQuestion === unit);
  }

  updateMode() {
    const question = this.questionMode();
    const closed = this.isClosed(this.chosenUnit());
    const submit = $("start-submit");
    if (!submit.dataset.chat) submit.dataset.chat = submit.textContent;
    submit.textContent = question ? submit.dataset.question : submit.dataset.chat;
    submit.dataset.mode = question ? "question" : "chat";
    $("question-mode").hidden = !question;
    $("question-note-closed").hidden = !closed;
    $("question-note-nobody").hidden = closed;
    $("chat-instead").hidden = !question || closed;
    $("first-message-hint").hidden = question;
    $("question-hint").hidden = !question;
    this.form.elements.body.setAttribute(
      "aria-describedby",
      question ? "question-mode question-hint" : "first-message-hint",
    );
  }

  showError(text) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
  }

  // Back to the form, with the words of a refused or given-up first message in it.
  show(previous, error) {
    this.showError(error);
    if (previous) {
      this.form.elements.body.value = previous.body;
      const radio = this.form.querySelector(`input[name=unit][value="${Number(previous.unit)}"]`);
      if (radio && !radio.disabled) radio.checked = true;
    }
    this.updateMode();
    this.form.elements.body.focus();
  }
}
