// One conversation's panel and tab: built from the page's templates, with its thread, its
// private notes, its composer and its "More" menu; and the buttons that follow its state.

import { interpolate } from "../bidi.js";
import { followBottom } from "../log.js";
import { NoteBook } from "../notes.js";
import { Thread } from "../thread.js";
import { Composer } from "./composer.js";
import { $, fromTemplate } from "./dom.js";

const { gettext } = window;
const ID_PLACEHOLDER = "987654321";

// Where a conversation's unsent messages and notes wait (this tab's sessionStorage).
export const outboxKey = (id) => `cc.console.outbox.${id}`;
export const notesKey = (id) => `cc.console.notes.${id}`;

function pathFor(template, id) {
  return template.replace(ID_PLACEHOLDER, String(Number(id)));
}

function buildPanel(ctx, id, label) {
  const panel = fromTemplate("conversation-template");
  panel.id = `conversation-${id}`;
  panel.hidden = true;
  const title = panel.querySelector("h2");
  title.id = `conversation-${id}-title`;
  title.tabIndex = -1;
  panel.setAttribute("aria-labelledby", title.id);
  title.textContent = label;
  const textarea = panel.querySelector("textarea");
  textarea.id = `composer-${id}`;
  panel.querySelector("label.composer-label").htmlFor = textarea.id;
  textarea.maxLength = ctx.settings.maxLength;
  const noteToggle = panel.querySelector(".note-toggle");
  noteToggle.id = `note-toggle-${id}`;
  panel.querySelector(".note-toggle-label").htmlFor = noteToggle.id;
  const trail = panel.querySelector(".trail");
  trail.querySelector(".trail__title").id = `trail-${id}-title`;
  trail.setAttribute("aria-labelledby", `trail-${id}-title`);
  $("conversation-panels").append(panel);
  return panel;
}

function buildTab(ctx, id, label, panel) {
  const tab = fromTemplate("tab-template");
  const tabButton = tab.querySelector("button");
  tabButton.querySelector(".label").textContent = label;
  tabButton.setAttribute("aria-controls", panel.id);
  tabButton.addEventListener("click", () => ctx.conversations.select(id));
  $("conversation-tabs").append(tab);
  return { tab, tabButton };
}

// A new entry: everything the console keeps about one of the worker's conversations.
export function createEntry(ctx, id, unitId, caseId) {
  const { socket, alerts } = ctx;
  const label = interpolate(gettext("Client %s"), [id]);
  const panel = buildPanel(ctx, id, label);
  const { tab, tabButton } = buildTab(ctx, id, label, panel);
  const log = panel.querySelector(".log");
  followBottom(log);
  const textarea = panel.querySelector("textarea");
  const entry = {
    id,
    label,
    unit: unitId,
    case: null,
    panel,
    tab,
    tabButton,
    form: panel.querySelector("form.composer"),
    textarea,
    noteToggle: panel.querySelector(".note-toggle"),
    log,
    role: "worker",
    gone: false,
    unread: false,
    unanswered: false,
    offerOpen: false,
    participants: [],
    handovers: [],
    contextTimer: null,
    focusTrail: false,
    focusComposer: false,
    focusedWhenAsked: null,
    // For the list's summary (triage.js): what the worker has read, the client's page.
    readSeq: undefined,
    clientOnline: undefined,
    clientLeft: false,
    clientActiveAt: 0,
    typingAt: 0,
  };
  entry.thread = new Thread({
    log,
    template: $("message-template"),
    viewer: "worker",
    me: ctx.me.id,
    storageKey: outboxKey(id),
    send: (frame) => socket.send(frame),
    requestSync: (after) => socket.send({ type: "sync", conversation: id, after }),
    connection: () => socket.ws,
    onStateChange: () => refreshControls(ctx, entry),
    onFailed: (body, reason) => {
      if (!textarea.value) textarea.value = body;
      alerts.showNotice(reason);
    },
  });
  entry.thread.conversation = id;
  entry.notes = new NoteBook({
    log,
    template: $("note-template"),
    storageKey: notesKey(id),
    send: (frame) => socket.send(frame),
    connection: () => socket.ws,
    conversation: id,
    me: ctx.me.id,
    onFailed: (body, reason) => {
      if (!textarea.value) {
        textarea.value = body;
        entry.composer.setNoteMode(true);
      }
      alerts.showNotice(reason);
    },
  });
  setUnit(ctx, entry, unitId);
  setCase(ctx, entry, caseId);
  setUpMore(entry, pathFor($("conversation-panels").dataset.transcriptPath, id));
  entry.composer = new Composer(ctx, entry);
  entry.canned = entry.composer.canned;

  panel.querySelector(".end").addEventListener("click", (event) =>
    ctx.end.open(entry, event.currentTarget),
  );
  panel.querySelector(".hand-over").addEventListener("click", (event) =>
    ctx.handover.open(entry, event.currentTarget),
  );
  panel.querySelector(".invite").addEventListener("click", (event) =>
    ctx.invite.open(entry, event.currentTarget),
  );
  panel.querySelector(".leave").addEventListener("click", () => {
    if (!socket.send({ type: "leave", conversation: id }))
      alerts.showNotice(gettext("Not connected. Try again in a moment."));
  });
  panel.querySelector(".close").addEventListener("click", () => ctx.conversations.close(id));
  ctx.calls.setUp(entry);
  return entry;
}

// The client's language, when not the default: "Arabic" on the row and the panel.
let languageNames = null;
export function languageName(code) {
  if (!languageNames) {
    const data = document.getElementById("client-language-names");
    languageNames = data ? JSON.parse(data.textContent) : {};
  }
  return (code && languageNames[code]) || "";
}

// The client's language inside a sentence: "på arabiska" (Swedish writes language names
// in lower case there), "in Arabic". The whole phrase comes from the server's catalogue
// (frontend/languages.py); a sentence never builds it from languageName.
let inLanguages = null;
export function inLanguage(code) {
  if (!inLanguages) {
    const data = document.getElementById("client-languages-in-text");
    inLanguages = data ? JSON.parse(data.textContent) : {};
  }
  return (code && inLanguages[code]) || "";
}

export function showClientLanguage(element, code) {
  const name = languageName(code);
  // The name is ours, not typed by anyone: no isolation needed.
  element.textContent = name ? window.interpolate(gettext("Language: %s"), [name]) : "";
  element.hidden = !name;
}

export function setUnit(ctx, entry, unitId) {
  entry.unit = unitId;
  entry.panel.querySelector(".unit").textContent = ctx.unitNames[unitId] || "";
}

// Identified with e-ID (at the start, or by stepping up inside the chat): the mark in the
// panel's head. The case (More) then holds the client's earlier conversations.
export function setIdentified(entry, identified) {
  if (identified === undefined) return;
  entry.panel.querySelector(".identified-mark").hidden = !identified;
}

// The "More" menu: the case and the printable transcript, in a new tab so the console
// (and the client) stay where they are.
export function setCase(ctx, entry, caseId) {
  entry.case = caseId || null;
  const link = entry.panel.querySelector(".case-link");
  if (entry.case) {
    link.href = pathFor($("conversation-panels").dataset.casePath, entry.case);
    link.querySelector(".case-link__text").textContent = interpolate(gettext("Case %s"), [
      entry.case,
    ]);
  } else {
    link.removeAttribute("href");
  }
  refreshMore(entry);
}

function refreshMore(entry) {
  // A case belongs to its unit; an invited colleague from elsewhere may not open it.
  entry.panel.querySelector(".case-item").hidden = !entry.case || entry.role !== "worker";
}

function setUpMore(entry, transcript) {
  const more = entry.panel.querySelector(".more");
  const summary = more.querySelector("summary");
  more.querySelector(".transcript-link").href = transcript;
  more.querySelector(".transcript-notes-link").href = `${transcript}?notes=1`;
  more.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && more.open) {
      event.preventDefault();
      more.open = false;
      summary.focus();
    }
  });
  more.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !more.contains(event.relatedTarget)) more.open = false;
  });
  for (const link of more.querySelectorAll("a")) {
    link.addEventListener("click", () => {
      more.open = false;
    });
  }
}

// Buttons and composer follow the conversation's state, whether it is still this
// worker's, and whether they are its worker or an invited colleague.
export function refreshControls(ctx, entry) {
  const { panel, thread } = entry;
  const active = thread.state === "active" && !entry.gone;
  const isWorker = entry.role === "worker";
  entry.form.hidden = !active;
  panel.querySelector(".hand-over").hidden = !active || !isWorker;
  panel.querySelector(".hand-over").disabled = entry.offerOpen;
  panel.querySelector(".invite").hidden = !active || !isWorker;
  panel.querySelector(".end").hidden = !active || !isWorker;
  panel.querySelector(".leave").hidden = !active || isWorker;
  ctx.calls.refresh(entry, active, isWorker);
  refreshMore(entry);
  ctx.end.refreshFor(entry);
  panel.querySelector(".ended").hidden = active;
  panel.classList.toggle("conversation--gone", entry.gone);
  for (const button of panel.querySelectorAll(".participants button")) button.hidden = !active;
  entry.tab.dataset.state = entry.gone ? "gone" : thread.state || "";
  let stateText = "";
  if (entry.gone) stateText = gettext("no longer yours");
  else if (thread.state === "ended") stateText = gettext("ended");
  else if (thread.state && thread.state !== "active") stateText = gettext("not active");
  else if (!isWorker) stateText = gettext("invited");
  entry.tabButton.querySelector(".state").textContent = stateText;
  if (!active) entry.composer.hideTyping();
  ctx.triage.refresh(entry);
  if (entry.focusComposer && thread.state !== null) {
    entry.focusComposer = false;
    // Not when the worker has meanwhile put the cursor somewhere else (started writing
    // elsewhere, opened the menu).
    const now = document.activeElement;
    const moved =
      now && now !== document.body && now !== entry.focusedWhenAsked && !entry.panel.contains(now);
    entry.focusedWhenAsked = null;
    if (active && entry.id === ctx.conversations.selected && !moved) entry.textarea.focus();
  }
  ctx.queue.showLoad();
}
