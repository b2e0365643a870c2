// Private notes of one conversation, for staff only: placed after the message they follow,
// deduplicated by id, with their own outbox (outbox.js) like messages have.

import { errorText } from "./event-texts.js";
import { fillBody, keepAtBottom, placeInLog, timeFormat } from "./log.js";
import { Outbox } from "./outbox.js";

const { gettext } = window;

export class NoteBook {
  constructor({ log, template, storageKey, send, connection, conversation, onFailed, me }) {
    this.log = log;
    this.me = me || null;
    this.template = template;
    this.conversation = conversation;
    this.onFailed = onFailed || (() => {});
    this.fromSeq = 0;
    this.ids = new Set();
    const frameFor = (item) => this.frameFor(item);
    this.outbox = new Outbox({ storageKey, send, frameFor, connection });
    for (const item of this.outbox.items) this.renderPending(item);
  }

  // Whether this reader can no longer write here (see close and reopen).
  get closed() {
    return this.outbox.closed;
  }

  set closed(value) {
    this.outbox.closed = value;
  }

  // The notes from `conversation.context`; then what is still unsaved goes again.
  load(notes, fromSeq) {
    this.fromSeq = fromSeq || 0;
    keepAtBottom(this.log, () => {
      for (const note of notes) this.add(note);
    });
    this.flush();
  }

  receive(note) {
    keepAtBottom(this.log, () => this.add(note));
  }

  add(note) {
    this.settle(note.client_id);
    if (this.ids.has(note.id)) return;
    // Written before this reader's view starts: it belongs with the messages not shown.
    if (this.fromSeq > 0 && note.after_seq <= this.fromSeq) return;
    this.ids.add(note.id);
    placeInLog(this.log, this.render(note));
  }

  render(note) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.noteId = note.id;
    li.dataset.order = note.after_seq + 0.5;
    li.querySelector(".note__author").textContent =
      this.me && note.author_id === this.me ? gettext("You") : note.author;
    const time = li.querySelector("time");
    time.dateTime = note.created_at;
    time.textContent = timeFormat.format(new Date(note.created_at));
    fillBody(li.querySelector(".note__body"), note.parts, note.body);
    return li;
  }

  renderPending(item) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.clientId = item.client_id;
    li.classList.add("note--pending");
    li.querySelector(".note__author").textContent = gettext("You");
    li.querySelector("time").textContent = gettext("Saving…");
    li.querySelector(".note__body").textContent = item.body;
    this.log.append(li);
  }

  post(body) {
    const item = this.outbox.post(body);
    if (!item) return;
    keepAtBottom(this.log, () => this.renderPending(item), { force: true });
    this.outbox.sendItem(item);
  }

  frameFor(item) {
    return {
      type: "note",
      conversation: this.conversation,
      body: item.body,
      client_id: item.client_id,
    };
  }

  ack(frame) {
    // The broadcast (`conversation.note`) brings the note itself; until then it stays
    // pending, so it is never shown twice or lost.
    this.outbox.markAcked(frame.client_id);
  }

  settle(clientId) {
    this.outbox.settle(clientId);
    if (!clientId) return;
    const pending = this.log.querySelector(`.note--pending[data-client-id="${CSS.escape(clientId)}"]`);
    if (pending) pending.remove();
  }

  fail(frame) {
    const item = this.outbox.fail(frame);
    if (!item) return;
    this.settle(frame.client_id);
    this.onFailed(item.body, errorText(frame.code, frame));
  }

  flush() {
    this.outbox.flush();
  }

  // Resend what has not come back; an acknowledged note whose broadcast was lost is
  // fetched with the next sync instead (`needsSync`).
  flushStale(olderThanMs = 5000) {
    return this.outbox.flushStale(olderThanMs);
  }

  close() {
    for (const li of this.log.querySelectorAll(".note--pending time")) {
      li.textContent = gettext("Not saved");
    }
    this.outbox.close();
  }

  // Given back to this reader: notes can be written again.
  reopen() {
    this.outbox.closed = false;
  }
}
