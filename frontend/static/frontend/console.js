// The social worker's console: the waiting queues of the worker's units, live, and the
// worker's own conversations, several at once, each with its own thread and outbox.
// Around them: handover (sending and answering offers), invitations, private notes, canned
// replies, typing and seen, ending with follow-up questions for the client, links to the
// case and the transcript, a count of new client questions, and sound and title alerts.

import { interpolate } from "./bidi.js";
import { Socket, readSettings } from "./socket.js";
import { NoteBook, Thread, errorText, followBottom, timeFormat } from "./thread.js";

const { gettext, ngettext } = window;
const settings = readSettings("socket-settings");
const unitNames = readSettings("unit-names");
const myUnits = readSettings("my-units");
const colleagues = readSettings("colleagues");
const interpreters = readSettings("interpreters");
const cannedReplies = readSettings("canned-replies");

const $ = (id) => document.getElementById(id);
const waitingList = $("waiting");
const waitingEmpty = $("waiting-empty");
const tabs = $("conversation-tabs");
const panels = $("conversation-panels");
const noConversation = $("no-conversation");
const connection = $("connection");
const notice = $("notice");
const announcer = $("announcer");
const ID_PLACEHOLDER = "987654321";
const casePath = (id) => panels.dataset.casePath.replace(ID_PLACEHOLDER, String(Number(id)));
const transcriptPath = (id) =>
  panels.dataset.transcriptPath.replace(ID_PLACEHOLDER, String(Number(id)));

// Who is signed in, as the server writes names: full name in handovers and participants,
// short name as a message's author.
// Who this console belongs to. People are told apart by id; names are only shown.
const me = { id: Number($("whoami").dataset.id) };
const pageLanguage = (document.documentElement.lang || "sv").slice(0, 2);

const waitingByUnit = new Map(); // unit id -> list of waiting conversations
const conversations = new Map(); // conversation id -> entry (see openConversation)
const offers = new Map(); // handover id -> { handover, li }
let selected = null;
let acceptedHere = false; // focus a conversation this tab accepted
let acceptedOffer = null; // the conversation of a handover this tab accepted

const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 5000;
const REQUEST_TIMEOUT_MS = 10000;

const CONNECTION_TEXT = {
  connecting: () => gettext("Connecting…"),
  reconnecting: () => gettext("The connection was lost. Reconnecting…"),
  "signed-out": () => gettext("You have been signed out. Sign in again to continue."),
  forbidden: () => gettext("Your account cannot use the console."),
  open: () => "",
};

// Why a conversation is no longer this worker's.
const GONE_TEXT = {
  handed_over: () => gettext("You have handed this conversation over. It is no longer yours."),
  returned: () =>
    gettext("Nobody answered in time, so the conversation went back to the queue. It is no longer yours."),
  worker_gone: () =>
    gettext("Your console was not connected, so the conversation went back to the queue. It is no longer yours."),
  removed: () => gettext("You were removed from this conversation."),
  ended: () => gettext("The conversation has ended."),
  left: () => gettext("You have left this conversation."),
};

const HANDOVER_ERROR_TEXT = {
  invalid: () => gettext("Choose who receives the conversation and write a note for them."),
  not_found: () => gettext("That colleague or unit could not be found. Choose again."),
  conflict: () => gettext("The conversation is no longer active, so it cannot be handed over."),
  handover_open: () => gettext("This conversation is already being handed over. Wait for the answer."),
  forbidden: () => gettext("Only the conversation's social worker can hand it over."),
};

const INVITE_ERROR_TEXT = {
  already_present: () => gettext("They are already in the conversation."),
  not_found: () => gettext("That person could not be found. Choose again."),
  conflict: () => gettext("The conversation is no longer active."),
  forbidden: () => gettext("Only the conversation's social worker can invite."),
  invalid: () => gettext("Choose a person to invite."),
};

const END_ERROR_TEXT = {
  invalid: () =>
    gettext("The questions could not be saved. Each needs text, and at most 6 short quick answers."),
  too_long: () => gettext("A question is too long. Shorten it and try again."),
  forbidden: () => gettext("Only the conversation's social worker can end it."),
  not_found: () => gettext("The conversation could not be found. It may no longer be yours."),
};

const OFFER_ERROR_TEXT = {
  handover_closed: () => gettext("The offer is no longer open."),
  conflict: () => gettext("The offer is no longer open."),
  not_found: () => gettext("The offer could not be found. It may have been withdrawn."),
  invalid: () => gettext("Say why you decline."),
  at_capacity: () =>
    gettext("You already have as many conversations as your capacity allows. End one, or decline."),
  forbidden: () => gettext("This offer is not for you."),
};

function textFor(table, code) {
  return (table[code] || (() => errorText(code)))();
}

// --- alerts: a soft chime and a count in the title ------------------------------------
const ALERTS_KEY = "cc.console.alerts";
const alertsToggle = $("alerts-toggle");
const baseTitle = document.title;
const newWaiting = new Set(); // waiting ids that arrived while this window was elsewhere
const knownWaiting = new Set();
let audio = null;
let lastChime = 0;

try {
  alertsToggle.checked = localStorage.getItem(ALERTS_KEY) !== "off";
} catch {
  alertsToggle.checked = true;
}
alertsToggle.addEventListener("change", () => {
  try {
    localStorage.setItem(ALERTS_KEY, alertsToggle.checked ? "on" : "off");
  } catch {
    // storage may be off; the choice holds for this page
  }
  updateTitle();
});

// Browsers let a page make sound only after the user has done something on it.
function unlockAudio() {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}
document.addEventListener("pointerdown", unlockAudio);
document.addEventListener("keydown", unlockAudio);

function chime() {
  if (!alertsToggle.checked || !audio || audio.state !== "running") return;
  if (Date.now() - lastChime < 1500) return;
  lastChime = Date.now();
  const start = audio.currentTime;
  for (const [frequency, at] of [
    [659.25, 0],
    [880, 0.16],
  ]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + at);
    gain.gain.exponentialRampToValueAtTime(0.1, start + at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + at + 0.5);
    tone.connect(gain).connect(audio.destination);
    tone.start(start + at);
    tone.stop(start + at + 0.55);
  }
}

function updateTitle() {
  let count = newWaiting.size + offers.size;
  for (const entry of conversations.values()) if (entry.unread || entry.unanswered) count += 1;
  document.title = alertsToggle.checked && count ? `(${count}) ${baseTitle}` : baseTitle;
}

function announce(text) {
  announcer.textContent = "";
  // A fresh text node, a moment later, so the same words are read out again.
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

window.addEventListener("focus", () => {
  newWaiting.clear();
  const entry = conversations.get(selected);
  if (entry) clearUnread(entry);
  updateTitle();
  maybeSendSeen(entry);
});
document.addEventListener("visibilitychange", () => maybeSendSeen(conversations.get(selected)));

// --- the socket ------------------------------------------------------------------------
const socket = new Socket("/ws/console/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  onStatus: (status) => {
    connection.textContent = (CONNECTION_TEXT[status] || (() => ""))();
    connection.hidden = status === "open";
  },
  onOpen: () => {},
  handlers: {
    "console.snapshot": (frame) => {
      waitingByUnit.clear();
      for (const unit of frame.units) waitingByUnit.set(unit.id, []);
      for (const c of frame.waiting) {
        waitingByUnit.get(c.unit)?.push(c);
        knownWaiting.add(c.id);
      }
      renderWaiting();
      const current = new Set(frame.conversations.map((c) => c.id));
      for (const c of frame.conversations) openConversation(c.id, c.unit, c.case);
      // Taken from this worker while the console was not connected.
      for (const entry of conversations.values()) {
        if (!current.has(entry.id) && !entry.gone && entry.thread.state === "active") {
          markGone(entry, "");
        }
      }
      showPresence(frame.presence);
      sendPendingStatus();
      replaceOffers(frame.offers || []);
      for (const entry of conversations.values()) {
        if (!entry.gone) requestSync(entry);
      }
    },
    "presence.updated": showPresence,
    pong: (frame) => {
      for (const [id, lastSeq] of Object.entries(frame.last_seqs || {})) {
        const entry = conversations.get(Number(id));
        if (entry && lastSeq > entry.thread.lastSeq) entry.thread.onGap(entry.thread.lastSeq);
      }
      for (const entry of conversations.values()) {
        entry.thread.flushStale();
        if (entry.notes.flushStale()) requestSync(entry);
      }
    },
    "queue.updated": (frame) => {
      waitingByUnit.set(frame.unit, frame.waiting);
      noticeNewWaiting();
      renderWaiting();
    },
    "conversation.assigned": (frame) => {
      const known = conversations.has(frame.conversation);
      const entry = openConversation(frame.conversation, frame.detail.unit, frame.detail.case);
      if (entry.gone) reopen(entry);
      requestSync(entry);
      if (acceptedOffer === frame.conversation) {
        // A handover this tab accepted: the note comes first.
        acceptedOffer = null;
        entry.focusTrail = true;
        select(frame.conversation, { focus: false });
      } else if (acceptedHere) {
        acceptedHere = false;
        select(frame.conversation);
      } else if (!known) {
        markUnread(entry);
        announce(interpolate(gettext("%s is now in your conversations."), [entry.label]));
      }
    },
    "conversation.sync": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (!entry) return;
      if (frame.unit && frame.unit !== entry.unit) setUnit(entry, frame.unit);
      entry.thread.applySync(frame);
      maybeSendSeen(entry);
    },
    "conversation.context": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry) renderContext(entry, frame);
    },
    "conversation.message": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (!entry) return;
      if (!entry.thread.receive(frame)) return;
      const { message } = frame;
      if (message.sender === "client") {
        hideTyping(entry);
        markUnread(entry);
        maybeSendSeen(entry);
      } else if (message.sender === "worker" && entry.unanswered) {
        setUnanswered(entry, false);
      } else if (message.sender === "system" && message.event === "ended") {
        endFinished(entry);
      } else if (message.sender === "system" && CONTEXT_EVENTS.has(message.event)) {
        requestContext(entry);
        if (
          message.event === "participant_joined" &&
          pending?.kind === "invite" &&
          pending.conversation === entry.id
        ) {
          closeDialog(inviteDialog);
          announce(gettext("The invitation has been sent. They are in the conversation now."));
        }
      }
    },
    "conversation.note": (frame) => conversations.get(frame.conversation)?.notes.receive(frame.note),
    "conversation.typing": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry && frame.who === "client") showTyping(entry);
    },
    "conversation.seen": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry && frame.who === "client") entry.thread.showSeen(frame.seq, "worker");
    },
    "conversation.unanswered": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry && !entry.gone) {
        setUnanswered(entry, true);
        chime();
      }
    },
    "conversation.left": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry) markGone(entry, frame.reason);
    },
    "handover.updated": (frame) => handoverUpdated(frame.handover),
    "followup.updated": (frame) => followupUpdated(frame.followup),
    invitation: (frame) => showInvitation(frame),
    ack: (frame) => {
      const entry = conversations.get(frame.conversation);
      if (!entry) return;
      if ("note" in frame) entry.notes.ack(frame);
      else entry.thread.ack(frame);
    },
    error: handleError,
  },
});

function handleError(frame) {
  const entry = conversations.get(frame.conversation);
  const about = frame.in_reply_to;
  if (about === "presence") setPendingStatus(null); // refused: the server's status stands
  if (entry && frame.client_id && about === "message") entry.thread.fail(frame);
  else if (entry && frame.client_id && about === "note") entry.notes.fail(frame);
  else if (about === "sync" && entry && entry.gone) return; // no longer readable: fine
  else if (about === "hand_over") failPending(handoverError, textFor(HANDOVER_ERROR_TEXT, frame.code));
  else if (about === "end") failPending(endError, textFor(END_ERROR_TEXT, frame.code));
  else if (about === "invite" || about === "invite_link")
    failPending(inviteError, textFor(INVITE_ERROR_TEXT, frame.code));
  else if (about === "handover_accept" || about === "handover_decline") offerFailed(frame);
  else if (frame.code === "nothing_waiting") showNotice(gettext("Nobody is waiting right now."));
  else if (frame.code === "at_capacity") showNotice(errorText(frame.code));
  else if (about === "accept" && frame.code === "conflict")
    showNotice(gettext("Someone else has already taken that conversation."));
  else if (about === "remove_participant" || about === "leave") {
    showNotice(gettext("That did not work. The conversation may have changed; look again."));
    if (entry) requestContext(entry);
  } else if (about === "typing" || about === "seen") return; // best effort only
  else showNotice(errorText(frame.code));
}

// --- presence and the queue ------------------------------------------------------------
const presenceSelect = $("presence-status");
let capacity = null;

// The worker's latest status choice until the server confirms it, kept in this tab's
// sessionStorage so that a choice made while the socket was down, or just before a reload,
// is sent when the console connects. The last choice wins: the server ignores a choice
// older than the one in force (another tab's, a supervisor's) and says which is.
const PENDING_STATUS_KEY = "cc.console.status";

function pendingStatus() {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING_STATUS_KEY) || "null");
  } catch {
    return null;
  }
}

function setPendingStatus(choice) {
  try {
    if (choice) sessionStorage.setItem(PENDING_STATUS_KEY, JSON.stringify(choice));
    else sessionStorage.removeItem(PENDING_STATUS_KEY);
  } catch {
    // storage may be disabled: the choice still goes out while the socket is open
  }
}

function sendPendingStatus() {
  const choice = pendingStatus();
  if (!choice) return;
  const frame = { type: "presence", status: choice.status, chosen_at: choice.chosenAt };
  if (!socket.send(frame)) {
    showNotice(gettext("Not connected. Your status is saved as soon as the console is connected."));
  }
}

function showPresence(presence) {
  const choice = pendingStatus();
  const confirmed = choice && presence.status === choice.status;
  const later = choice && presence.chosen_at !== null && presence.chosen_at >= choice.chosenAt;
  if (choice && !confirmed && !later) {
    presenceSelect.value = choice.status; // still on its way: show what the worker chose
  } else {
    setPendingStatus(null);
    presenceSelect.value = presence.status;
  }
  capacity = presence.capacity;
  showLoad();
}

function showLoad() {
  if (capacity === null) return;
  const active = [...conversations.values()].filter(
    (e) => e.thread.state === "active" && !e.gone && e.role === "worker",
  ).length;
  $("presence-load").textContent = interpolate(
    gettext("%(active)s of %(capacity)s conversations in progress."),
    { active, capacity },
    true,
  );
}

presenceSelect.addEventListener("change", () => {
  setPendingStatus({ status: presenceSelect.value, chosenAt: Date.now() });
  sendPendingStatus();
});

function showNotice(text) {
  notice.textContent = text;
}

function waitedText(isoTime) {
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(isoTime)) / 60000));
  if (minutes < 1) return gettext("waited less than a minute");
  return interpolate(ngettext("waited %s minute", "waited %s minutes", minutes), [minutes]);
}

// A client who just came into one of the worker's queues: chime, and count it in the
// title while the window is elsewhere.
function noticeNewWaiting() {
  const now = new Set([...waitingByUnit.values()].flat().map((c) => c.id));
  let arrived = false;
  for (const id of now) {
    if (!knownWaiting.has(id)) {
      knownWaiting.add(id);
      arrived = true;
      if (!document.hasFocus()) newWaiting.add(id);
    }
  }
  for (const id of newWaiting) if (!now.has(id)) newWaiting.delete(id);
  if (arrived && presenceSelect.value === "available") chime();
  updateTitle();
}

function renderWaiting() {
  const all = [...waitingByUnit.values()].flat();
  all.sort((a, b) => b.priority - a.priority || new Date(a.queued_at) - new Date(b.queued_at));
  const items = all.map((c) => {
    const li = $("waiting-template").content.firstElementChild.cloneNode(true);
    li.dataset.conversation = c.id;
    li.querySelector(".unit").textContent = unitNames[c.unit] || "";
    li.querySelector(".waited").textContent = waitedText(c.queued_at);
    li.querySelector(".waited").dataset.since = c.queued_at;
    li.querySelector(".urgent").hidden = c.priority < 1;
    li.querySelector("button").addEventListener("click", () => accept(c.id));
    return li;
  });
  waitingList.replaceChildren(...items);
  waitingEmpty.hidden = items.length > 0;
  $("accept-next").disabled = items.length === 0;
  $("waiting-count").textContent = String(items.length);
}

setInterval(() => {
  for (const el of waitingList.querySelectorAll(".waited")) {
    el.textContent = waitedText(el.dataset.since);
  }
}, 30000);

function accept(conversationId) {
  acceptedHere = true;
  showNotice("");
  const frame = { type: "accept" };
  if (conversationId) frame.conversation = conversationId;
  if (!socket.send(frame)) showNotice(gettext("Not connected. Try again in a moment."));
}

$("accept-next").addEventListener("click", () => accept(null));

// --- conversations ---------------------------------------------------------------------
// System events after which the handover trail or the participants may have changed.
const CONTEXT_EVENTS = new Set([
  "participant_joined",
  "participant_left",
  "handover_started",
  "handover_cancelled",
  "handover_joined",
]);

function requestSync(entry) {
  socket.send({ type: "sync", conversation: entry.id, after: entry.thread.lastSeq });
}

// A sync with nothing missed answers with the staff context only (trail, notes, people).
function requestContext(entry) {
  clearTimeout(entry.contextTimer);
  entry.contextTimer = setTimeout(() => {
    if (!entry.gone) requestSync(entry);
  }, 300);
}

function openConversation(id, unitId, caseId) {
  if (conversations.has(id)) {
    const known = conversations.get(id);
    if (caseId) setCase(known, caseId);
    return known;
  }
  const panel = $("conversation-template").content.firstElementChild.cloneNode(true);
  panel.id = `conversation-${id}`;
  panel.hidden = true;
  const label = interpolate(gettext("Client %s"), [id]);
  const title = panel.querySelector("h2");
  title.id = `conversation-${id}-title`;
  title.tabIndex = -1;
  panel.setAttribute("aria-labelledby", title.id);
  title.textContent = label;
  const textarea = panel.querySelector("textarea");
  textarea.id = `composer-${id}`;
  panel.querySelector("label.composer-label").htmlFor = textarea.id;
  textarea.maxLength = settings.maxLength;
  const noteToggle = panel.querySelector(".note-toggle");
  noteToggle.id = `note-toggle-${id}`;
  panel.querySelector(".note-toggle-label").htmlFor = noteToggle.id;
  const trail = panel.querySelector(".trail");
  trail.querySelector(".trail__title").id = `trail-${id}-title`;
  trail.setAttribute("aria-labelledby", `trail-${id}-title`);
  panels.append(panel);

  const tab = $("tab-template").content.firstElementChild.cloneNode(true);
  const tabButton = tab.querySelector("button");
  tabButton.querySelector(".label").textContent = label;
  tabButton.setAttribute("aria-controls", panel.id);
  tabButton.addEventListener("click", () => select(id));
  tabs.append(tab);

  const log = panel.querySelector(".log");
  followBottom(log);
  const form = panel.querySelector("form.composer");
  const entry = {
    id,
    label,
    unit: unitId,
    case: null,
    panel,
    tab,
    tabButton,
    form,
    textarea,
    noteToggle,
    log,
    role: "worker",
    gone: false,
    unread: false,
    unanswered: false,
    offerOpen: false,
    participants: [],
    handovers: [],
    seenSentFor: 0,
    lastTypingSent: 0,
    typingTimer: null,
    contextTimer: null,
    focusTrail: false,
    focusComposer: false,
  };
  entry.thread = new Thread({
    log,
    template: $("message-template"),
    viewer: "worker",
    me: me.id,
    storageKey: `cc.console.outbox.${id}`,
    send: (frame) => socket.send(frame),
    onGap: (after) => socket.send({ type: "sync", conversation: id, after }),
    onStateChange: () => refreshControls(entry),
    onFailed: (body, reason) => {
      if (!textarea.value) textarea.value = body;
      showNotice(reason);
    },
  });
  entry.thread.conversation = id;
  entry.notes = new NoteBook({
    log,
    template: $("note-template"),
    storageKey: `cc.console.notes.${id}`,
    send: (frame) => socket.send(frame),
    conversation: id,
    me: me.id,
    onFailed: (body, reason) => {
      if (!textarea.value) {
        textarea.value = body;
        setNoteMode(entry, true);
      }
      showNotice(reason);
    },
  });
  conversations.set(id, entry);
  setUnit(entry, unitId);
  setCase(entry, caseId);
  setUpMore(entry);

  entry.canned = new CannedPicker(entry);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = textarea.value;
    if (!body.trim()) return;
    if (body.length > settings.maxLength) {
      showNotice(errorText("too_long"));
      return;
    }
    showNotice("");
    if (noteToggle.checked) entry.notes.post(body);
    else entry.thread.post(body);
    textarea.value = "";
    entry.canned.close();
  });
  textarea.addEventListener("keydown", (event) => {
    if (entry.canned.onKeyDown(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  textarea.addEventListener("input", () => {
    entry.canned.onInput();
    sendTyping(entry);
  });
  noteToggle.addEventListener("change", () => setNoteMode(entry, noteToggle.checked));
  log.addEventListener("scroll", () => maybeSendSeenSoon(entry), { passive: true });
  panel.querySelector(".end").addEventListener("click", (event) =>
    openEnd(entry, event.currentTarget),
  );
  panel.querySelector(".hand-over").addEventListener("click", (event) =>
    openHandover(entry, event.currentTarget),
  );
  panel.querySelector(".invite").addEventListener("click", (event) =>
    openInvite(entry, event.currentTarget),
  );
  panel.querySelector(".leave").addEventListener("click", () => {
    if (!socket.send({ type: "leave", conversation: id }))
      showNotice(gettext("Not connected. Try again in a moment."));
  });
  panel.querySelector(".close").addEventListener("click", () => closeConversation(id));
  noConversation.hidden = true;
  refreshControls(entry);
  if (selected === null) select(id);
  return entry;
}

function setUnit(entry, unitId) {
  entry.unit = unitId;
  entry.panel.querySelector(".unit").textContent = unitNames[unitId] || "";
}

// The "More" menu: the case and the printable transcript, in a new tab so the console
// (and the client) stay where they are.
function setCase(entry, caseId) {
  entry.case = caseId || null;
  const link = entry.panel.querySelector(".case-link");
  if (entry.case) {
    link.href = casePath(entry.case);
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

function setUpMore(entry) {
  const more = entry.panel.querySelector(".more");
  const summary = more.querySelector("summary");
  const transcript = transcriptPath(entry.id);
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

document.addEventListener("click", (event) => {
  for (const more of document.querySelectorAll("details.more[open]")) {
    if (!more.contains(event.target)) more.open = false;
  }
});

// Buttons and composer follow the conversation's state, whether it is still this
// worker's, and whether they are its worker or an invited colleague.
function refreshControls(entry) {
  const { panel, thread } = entry;
  const active = thread.state === "active" && !entry.gone;
  const isWorker = entry.role === "worker";
  entry.form.hidden = !active;
  panel.querySelector(".hand-over").hidden = !active || !isWorker;
  panel.querySelector(".hand-over").disabled = entry.offerOpen;
  panel.querySelector(".invite").hidden = !active || !isWorker;
  panel.querySelector(".end").hidden = !active || !isWorker;
  panel.querySelector(".leave").hidden = !active || isWorker;
  refreshMore(entry);
  if (endDialog.open && dialogEntry === entry) refreshEndForm();
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
  if (!active) hideTyping(entry);
  if (entry.focusComposer && thread.state !== null) {
    entry.focusComposer = false;
    // Not while the worker has meanwhile started writing somewhere else.
    const writing = document.activeElement?.matches("textarea, input[type=text], select");
    const elsewhere = writing && !entry.panel.contains(document.activeElement);
    if (active && entry.id === selected && !elsewhere) entry.textarea.focus();
  }
  showLoad();
}

function select(id, { focus = true } = {}) {
  selected = id;
  for (const [otherId, entry] of conversations) {
    const isSelected = otherId === id;
    entry.panel.hidden = !isSelected;
    entry.tabButton.setAttribute("aria-current", isSelected ? "true" : "false");
  }
  const entry = conversations.get(id);
  if (!entry) return;
  clearUnread(entry);
  if (entry.focusTrail && !entry.panel.querySelector(".trail").hidden) {
    entry.focusTrail = false;
    entry.panel.querySelector(".trail").focus();
  } else if (focus && !entry.form.hidden) {
    entry.textarea.focus();
  } else if (focus && entry.thread.state === null && !entry.gone) {
    // Not synced yet: the composer shows, and takes the cursor, once the state is known.
    entry.focusComposer = true;
  } else if (focus) {
    entry.panel.querySelector("h2").focus();
  }
  maybeSendSeen(entry);
}

function markUnread(entry) {
  if (entry.id === selected && document.hasFocus()) return;
  entry.unread = true;
  entry.tab.classList.add("unread");
  entry.tabButton.querySelector(".unread-mark").hidden = false;
  chime();
  updateTitle();
}

function clearUnread(entry) {
  entry.unread = false;
  entry.tab.classList.remove("unread");
  entry.tabButton.querySelector(".unread-mark").hidden = true;
  updateTitle();
}

function setUnanswered(entry, flagged) {
  entry.unanswered = flagged;
  entry.panel.querySelector(".unanswered").hidden = !flagged;
  entry.tabButton.querySelector(".unanswered-mark").hidden = !flagged;
  entry.tab.classList.toggle("tab--unanswered", flagged);
  updateTitle();
}

// No longer this worker's: the history stays readable until they close it.
function markGone(entry, reason) {
  if (entry.gone) return;
  entry.gone = true;
  entry.offerOpen = false;
  entry.thread.close();
  entry.notes.close();
  entry.canned.close();
  setUnanswered(entry, false);
  entry.panel.querySelector(".gone").textContent = (
    GONE_TEXT[reason] || (() => gettext("This conversation is no longer yours."))
  )();
  for (const dialog of [handoverDialog, inviteDialog, endDialog]) {
    if (dialog.open && dialogEntry === entry) closeDialog(dialog);
  }
  refreshControls(entry);
}

// Given back (a handover that came back, an invitation again): writable once more.
function reopen(entry) {
  entry.gone = false;
  entry.thread.closed = false;
  entry.notes.closed = false;
  entry.panel.querySelector(".gone").textContent = "";
  refreshControls(entry);
}

function closeConversation(id) {
  const entry = conversations.get(id);
  if (!entry) return;
  entry.panel.remove();
  entry.tab.remove();
  conversations.delete(id);
  sessionStorage.removeItem(`cc.console.outbox.${id}`);
  sessionStorage.removeItem(`cc.console.notes.${id}`);
  updateTitle();
  if (selected === id) {
    selected = null;
    const next = conversations.keys().next();
    if (!next.done) select(next.value);
  }
  noConversation.hidden = conversations.size > 0;
  if (selected === null) $("mine-title").focus();
}
$("mine-title").tabIndex = -1;

// --- the staff context: handover trail and participants ---------------------------------
function renderContext(entry, frame) {
  entry.participants = frame.participants;
  entry.handovers = frame.handovers;
  const mine = frame.participants.find((p) => p.role === "colleague" && p.user === me.id);
  entry.role = mine ? "colleague" : "worker";
  renderTrail(entry, frame.handovers);
  renderParticipants(entry);
  entry.notes.load(frame.notes, entry.thread.fromSeq);
  entry.offerOpen = frame.handovers.some((h) => h.state === "offered" && h.from_id === me.id);
  refreshControls(entry);
  if (entry.focusTrail && entry.id === selected && !entry.panel.querySelector(".trail").hidden) {
    entry.focusTrail = false;
    entry.panel.querySelector(".trail").focus();
  }
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function handoverSummary(h) {
  const parts = [];
  parts.push(
    h.to
      ? interpolate(gettext("to %(to)s (%(to_unit)s)"), h, true)
      : interpolate(gettext("to the queue of %(to_unit)s"), h, true),
  );
  parts.push(timeFormat.format(new Date(h.created_at)));
  if (h.from_unit !== h.to_unit) {
    parts.push(h.share_history ? gettext("history included") : gettext("only the note"));
  }
  return parts.join(" · ");
}

const HANDOVER_STATE_TEXT = {
  offered: () => gettext("Waiting for an answer."),
  declined: (h) => interpolate(gettext("Declined: %s"), [h.decline_reason]),
  expired: () => gettext("Nobody answered in time."),
};

function trailItem(h, latest) {
  const item = element("div", latest ? "trail__item trail__item--latest" : "trail__item");
  item.append(
    element(
      "p",
      "trail__from",
      interpolate(gettext("Handover from %(from)s (%(from_unit)s):"), h, true),
    ),
  );
  const note = element("p", "trail__note", h.note);
  note.dir = "auto";
  item.append(note);
  item.append(element("p", "trail__meta", handoverSummary(h)));
  const state = HANDOVER_STATE_TEXT[h.state];
  if (state) item.append(element("p", "trail__state", state(h)));
  return item;
}

// The note of the handover that brought the conversation here comes first; the rest of
// the trail (earlier handovers, offers that did not go ahead) is one click away. A worker's
// own outgoing handovers are not "read first" for them: the status line tells them.
function renderTrail(entry, handovers) {
  const trail = entry.panel.querySelector(".trail");
  const sorted = [...handovers].sort(
    (a, b) => new Date(b.created_at) - new Date(a.created_at) || b.id - a.id,
  );
  const latest = sorted.find(
    (h) => h.from_id !== me.id && (h.state === "accepted" || h.state === "queued"),
  );
  trail.hidden = !latest;
  if (!latest) return;
  trail.querySelector(".trail__latest").replaceChildren(trailItem(latest, true));
  const earlier = sorted.filter((h) => h !== latest);
  const details = trail.querySelector(".trail__earlier");
  details.hidden = earlier.length === 0;
  details.querySelector("summary").textContent = interpolate(
    ngettext("%s earlier handover", "%s earlier handovers", earlier.length),
    [earlier.length],
  );
  details.querySelector(".trail__list").replaceChildren(
    ...earlier.map((h) => {
      const li = document.createElement("li");
      li.append(trailItem(h, false));
      return li;
    }),
  );
}

function participantName(p) {
  const role = p.role === "interpreter" ? gettext("Interpreter") : gettext("Colleague");
  const name = p.name || gettext("joined by link");
  return interpolate(gettext("%(role)s: %(name)s"), { role, name }, true);
}

function renderParticipants(entry) {
  const box = entry.panel.querySelector(".participants");
  const others = entry.participants.filter((p) => !(p.role === "colleague" && p.user === me.id));
  const items = others.map((p) => {
    const li = element("li", "participant");
    li.append(element("span", "participant__name", participantName(p)));
    if (entry.role === "worker") {
      const remove = element("button", "link-button", gettext("Remove"));
      remove.type = "button";
      remove.setAttribute("aria-label", interpolate(gettext("Remove %s"), [participantName(p)]));
      remove.addEventListener("click", () => {
        remove.disabled = true;
        socket.send({ type: "remove_participant", conversation: entry.id, participant: p.id });
      });
      li.append(" ", remove);
    }
    return li;
  });
  box.querySelector(".participants__list").replaceChildren(...items);
  box.hidden = items.length === 0;
}

// --- the composer: private notes, typing, seen, canned replies --------------------------
function setNoteMode(entry, on) {
  entry.noteToggle.checked = on;
  entry.form.classList.toggle("composer--note", on);
  entry.textarea.placeholder = on
    ? gettext("Write a private note: only staff see it")
    : gettext("Write a message, or / for a canned reply");
  entry.form.querySelector(".composer-label").textContent = on
    ? gettext("Private note")
    : gettext("Message");
  entry.form.querySelector(".send").textContent = on ? gettext("Save note") : gettext("Send");
}

// Only real writing to the client says "writing": not a private note, not a search.
function sendTyping(entry) {
  if (entry.noteToggle.checked || entry.gone || entry.thread.state !== "active") return;
  const value = entry.textarea.value;
  if (!value.trim() || value.startsWith("/")) return;
  const now = Date.now();
  if (now - entry.lastTypingSent < TYPING_SEND_MS) return;
  entry.lastTypingSent = now;
  socket.send({ type: "typing", conversation: entry.id });
}

function showTyping(entry) {
  const line = entry.panel.querySelector(".typing");
  if (!line.textContent) line.textContent = gettext("The client is writing…");
  clearTimeout(entry.typingTimer);
  entry.typingTimer = setTimeout(() => hideTyping(entry), TYPING_SHOW_MS);
}

function hideTyping(entry) {
  clearTimeout(entry.typingTimer);
  entry.panel.querySelector(".typing").textContent = "";
}

function inView(el, container) {
  const r = el.getBoundingClientRect();
  const c = container.getBoundingClientRect();
  return r.height > 0 && r.bottom > c.top && r.top < c.bottom && r.top < innerHeight && r.bottom > 0;
}

// The client sees "Seen" once the worker has had the newest client message in view.
function maybeSendSeen(entry) {
  if (!entry || entry.gone || entry.id !== selected || entry.panel.hidden) return;
  if (entry.thread.state !== "active") return;
  if (!document.hasFocus() || document.visibilityState !== "visible") return;
  const newest = entry.thread.newest(["client"]);
  if (!newest) return;
  const seq = Number(newest.dataset.seq);
  if (seq <= entry.seenSentFor || !inView(newest, entry.log)) return;
  if (socket.send({ type: "seen", conversation: entry.id, seq: entry.thread.lastSeq })) {
    entry.seenSentFor = seq;
  }
}

function maybeSendSeenSoon(entry) {
  if (entry.seenFrame) return;
  entry.seenFrame = requestAnimationFrame(() => {
    entry.seenFrame = null;
    maybeSendSeen(entry);
  });
}

// "/" at the start of a composer opens the canned replies: a list under the box that the
// keyboard drives while the box keeps focus (the combobox pattern; a textarea may not take
// role=combobox or aria-expanded, so the list is tied to it by aria-controls and
// aria-activedescendant, and a status line says what is on offer).
const MAX_CANNED = 8;

class CannedPicker {
  constructor(entry) {
    this.entry = entry;
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
    for (const reply of cannedReplies) {
      const title = reply.title.toLowerCase();
      const haystack = `${title} ${reply.body.toLowerCase()}`;
      if (!terms.every((t) => haystack.includes(t))) continue;
      const inTitle = terms.every((t) => title.includes(t));
      scored.push({ reply, rank: (reply.language === pageLanguage ? 0 : 2) + (inTitle ? 0 : 1) });
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
      this.empty.textContent = cannedReplies.length
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

// --- dialogs: one request at a time, answered by an event or an error --------------------
const handoverDialog = $("handover-dialog");
const handoverForm = $("handover-form");
const handoverError = $("handover-error");
const inviteDialog = $("invite-dialog");
const inviteError = $("invite-error");
const endDialog = $("end-dialog");
const endError = $("end-error");
let dialogEntry = null;
let dialogOpener = null;
let pending = null; // { kind, conversation, button, timer }

function openDialog(dialog, entry, opener) {
  dialogEntry = entry;
  dialogOpener = opener;
  dialog.showModal();
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

for (const dialog of [handoverDialog, inviteDialog, endDialog]) {
  dialog.addEventListener("close", () => {
    if (pending && pending.dialog === dialog) finishPending();
    if (dialog === inviteDialog) clearInvitation();
    // Back to where the worker was, or to the conversation if that button is gone.
    if (dialogOpener && dialogOpener.isConnected && !dialogOpener.hidden) dialogOpener.focus();
    else if (dialogEntry && dialogEntry.panel.isConnected) dialogEntry.panel.querySelector("h2").focus();
    dialogEntry = null;
    dialogOpener = null;
  });
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => dialog.close());
  }
}

function startPending(kind, dialog, button, errorEl) {
  finishPending();
  button.disabled = true;
  errorEl.textContent = "";
  pending = {
    kind,
    dialog,
    button,
    conversation: dialogEntry?.id,
    timer: setTimeout(() => {
      failPending(
        errorEl,
        gettext("No answer yet. Check the connection and the conversation, then try again."),
      );
    }, REQUEST_TIMEOUT_MS),
  };
}

function finishPending() {
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.button.disabled = false;
  pending = null;
}

function failPending(errorEl, text) {
  finishPending();
  if (errorEl.closest("dialog").open) errorEl.textContent = text;
  else showNotice(text);
}

function entryLabel(entry) {
  return `${entry.label} · ${unitNames[entry.unit] || ""}`;
}

// --- handover: sending ------------------------------------------------------------------
const workerSelect = $("handover-worker");
const unitSelect = $("handover-unit");
const noteField = $("handover-note");

function sortedUnitIds(first) {
  const ids = Object.keys(unitNames).map(Number);
  const rank = (id) => (id === first ? 0 : myUnits.includes(id) ? 1 : 2);
  return ids.sort((a, b) => rank(a) - rank(b) || unitNames[a].localeCompare(unitNames[b]));
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

function fillHandoverChoices(entry) {
  const groups = [];
  for (const unitId of sortedUnitIds(entry.unit)) {
    const people = colleagues.filter((c) => c.units.includes(unitId));
    if (!people.length) continue;
    const group = document.createElement("optgroup");
    group.label = unitNames[unitId];
    group.append(...people.map((c) => option(`${c.id}:${unitId}`, c.name)));
    groups.push(group);
  }
  workerSelect.replaceChildren(option("", gettext("Choose a colleague")), ...groups);
  unitSelect.replaceChildren(
    option("", gettext("Choose a unit")),
    ...sortedUnitIds(entry.unit).map((id) =>
      option(
        String(id),
        id === entry.unit
          ? interpolate(gettext("%s (this conversation's unit)"), [unitNames[id]])
          : unitNames[id],
      ),
    ),
  );
}

function handoverTarget() {
  const kind = handoverForm.elements.target.value;
  if (kind === "worker") {
    const [worker, unit] = workerSelect.value.split(":").map(Number);
    return worker ? { kind, worker, unit } : { kind };
  }
  const unit = Number(unitSelect.value);
  return unit ? { kind, unit } : { kind };
}

function refreshHandoverForm() {
  const target = handoverTarget();
  $("handover-worker-field").hidden = target.kind !== "worker";
  $("handover-unit-field").hidden = target.kind !== "unit";
  const otherUnit = Boolean(target.unit) && dialogEntry && target.unit !== dialogEntry.unit;
  $("handover-history").hidden = !otherUnit;
  $("handover-same-unit").hidden = !(target.unit && !otherUnit);
  handoverForm.querySelector("button[type=submit]").textContent =
    target.kind === "unit" ? gettext("Send to the queue") : gettext("Ask them to take over");
}

for (const el of [workerSelect, unitSelect, ...handoverForm.elements.target]) {
  el.addEventListener("change", () => {
    el.removeAttribute("aria-invalid");
    refreshHandoverForm();
  });
}
noteField.addEventListener("input", () => noteField.removeAttribute("aria-invalid"));

function openHandover(entry, opener) {
  if (entry.gone) return;
  fillHandoverChoices(entry);
  handoverForm.reset();
  for (const el of [workerSelect, unitSelect, noteField]) el.removeAttribute("aria-invalid");
  handoverError.textContent = "";
  $("handover-which").textContent = entryLabel(entry);
  openDialog(handoverDialog, entry, opener);
  refreshHandoverForm();
  workerSelect.focus();
}

handoverForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const entry = dialogEntry;
  if (!entry || pending) return;
  const target = handoverTarget();
  const note = noteField.value.trim();
  const picker = target.kind === "worker" ? workerSelect : unitSelect;
  if (!target.unit) {
    picker.setAttribute("aria-invalid", "true");
    handoverError.textContent =
      target.kind === "worker" ? gettext("Choose a colleague.") : gettext("Choose a unit.");
    picker.focus();
    return;
  }
  if (!note) {
    noteField.setAttribute("aria-invalid", "true");
    handoverError.textContent = gettext("Write a note for the receiver.");
    noteField.focus();
    return;
  }
  const frame = {
    type: "hand_over",
    conversation: entry.id,
    note,
    share_history: target.unit === entry.unit || handoverForm.elements.history.value === "all",
    to_unit: target.unit,
  };
  if (target.kind === "worker") frame.to_worker = target.worker;
  const submit = handoverForm.querySelector("button[type=submit]");
  startPending("hand_over", handoverDialog, submit, handoverError);
  if (!socket.send(frame)) failPending(handoverError, gettext("Not connected. Try again in a moment."));
});

// Handover news, for whoever it concerns: its sender, its receiver, others in the
// conversation (the event carries names, not ids, so names decide).
function handoverUpdated(h) {
  const sentByMe = h.from_id === me.id;
  if (h.to_id === me.id && !sentByMe) updateOffer(h);
  const entry = conversations.get(h.conversation);
  if (!entry) return;
  // Show the news in the trail at once; the context that follows confirms it.
  const others = entry.handovers.filter((known) => known.id !== h.id);
  entry.handovers = [...others, h];
  renderTrail(entry, entry.handovers);
  if (sentByMe) {
    entry.offerOpen = h.state === "offered";
    showHandoverStatus(entry, h);
    refreshControls(entry);
    if (pending?.kind === "hand_over" && pending.conversation === h.conversation) {
      closeDialog(handoverDialog);
    }
  }
  requestContext(entry);
}

function showHandoverStatus(entry, h) {
  const line = entry.panel.querySelector(".handover-status");
  line.classList.toggle("handover-status--back", h.state === "declined" || h.state === "expired");
  const until = h.expires_at ? timeFormat.format(new Date(h.expires_at)) : "";
  const text = {
    offered: () =>
      interpolate(
        gettext(
          "Offered to %(to)s. Waiting for an answer until %(until)s. Keep talking with the client meanwhile.",
        ),
        { to: h.to, until },
        true,
      ),
    accepted: () => interpolate(gettext("%s has taken over."), [h.to]),
    declined: () =>
      interpolate(
        gettext("%(to)s declined: “%(reason)s”. The conversation is still yours."),
        { to: h.to, reason: h.decline_reason },
        true,
      ),
    expired: () => gettext("Nobody answered the handover in time. The conversation is still yours."),
    queued: () => interpolate(gettext("Sent to the queue of %s."), [h.to_unit]),
  }[h.state];
  line.textContent = text ? text() : "";
  if (h.state === "declined" || h.state === "expired") {
    chime();
    if (entry.id !== selected) markUnread(entry);
  }
}

// --- handover: answering an offer -------------------------------------------------------
const offerList = $("offer-list");

function replaceOffers(list) {
  for (const { li } of offers.values()) li.remove();
  offers.clear();
  for (const h of list) updateOffer(h, { quiet: true });
  renderOffersBox();
}

function renderOffersBox() {
  $("offers").hidden = offers.size === 0;
  updateTitle();
}

function updateOffer(h, { quiet = false } = {}) {
  const known = offers.get(h.id);
  if (h.state !== "offered") {
    if (known) removeOffer(h.id, { moveFocus: h.state !== "accepted" });
    if (h.state === "expired" && known) {
      showNotice(interpolate(gettext("The handover from %s ran out before it was answered."), [h.from]));
    } else if (h.state === "declined" && known) {
      announce(interpolate(gettext("You declined. %s has been told."), [h.from]));
    }
    return;
  }
  if (known) return;
  const li = renderOffer(h);
  offerList.append(li);
  offers.set(h.id, { handover: h, li });
  renderOffersBox();
  tickOffers();
  if (!quiet) {
    chime();
    announce(interpolate(gettext("New handover offer from %s."), [h.from]));
  }
}

function renderOffer(h) {
  const li = $("offer-template").content.firstElementChild.cloneNode(true);
  li.dataset.handover = h.id;
  li.querySelector(".offer__from").textContent = interpolate(
    gettext("From %(from)s (%(from_unit)s)"),
    h,
    true,
  );
  const toParts = [interpolate(gettext("For you in %s"), [h.to_unit])];
  if (h.from_unit !== h.to_unit) {
    toParts.push(h.share_history ? gettext("history included") : gettext("only the note"));
  }
  li.querySelector(".offer__to").textContent = toParts.join(" · ");
  const note = li.querySelector(".offer__note");
  note.textContent = h.note;
  const showName = li.querySelector(".show-name");
  showName.id = `offer-${h.id}-show-name`;
  const acceptButton = li.querySelector(".accept");
  acceptButton.setAttribute(
    "aria-label",
    interpolate(gettext("Accept the handover from %s"), [h.from]),
  );
  const declineButton = li.querySelector(".decline");
  const declineForm = li.querySelector(".offer__decline");
  const reason = declineForm.querySelector("textarea");
  reason.id = `offer-${h.id}-reason`;
  const reasonLabel = declineForm.querySelector(".decline-label");
  reasonLabel.htmlFor = reason.id;
  reasonLabel.textContent = interpolate(gettext("Why do you decline? %s will see this."), [h.from]);
  const error = li.querySelector(".offer__error");

  acceptButton.addEventListener("click", () => {
    error.textContent = "";
    if (!socket.send({ type: "handover_accept", handover: h.id, show_name: showName.checked })) {
      error.textContent = gettext("Not connected. Try again in a moment.");
      return;
    }
    acceptedOffer = h.conversation;
    setOfferBusy(li, true);
  });
  declineButton.addEventListener("click", () => {
    declineForm.hidden = false;
    li.querySelector(".offer__answer").hidden = true;
    reason.focus();
  });
  declineForm.querySelector(".cancel").addEventListener("click", () => {
    declineForm.hidden = true;
    li.querySelector(".offer__answer").hidden = false;
    declineButton.focus();
  });
  declineForm.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!reason.value.trim()) {
      reason.setAttribute("aria-invalid", "true");
      error.textContent = gettext("Say why you decline.");
      reason.focus();
      return;
    }
    reason.removeAttribute("aria-invalid");
    if (!socket.send({ type: "handover_decline", handover: h.id, reason: reason.value.trim() })) {
      error.textContent = gettext("Not connected. Try again in a moment.");
      return;
    }
    setOfferBusy(li, true);
  });
  return li;
}

function setOfferBusy(li, busy) {
  li.classList.toggle("offer--busy", busy);
  for (const button of li.querySelectorAll("button")) button.disabled = busy;
}

function removeOffer(id, { moveFocus = true } = {}) {
  const offer = offers.get(id);
  if (!offer) return;
  // A disabled button drops focus to the body: that was the worker answering this card.
  const hadFocus =
    offer.li.contains(document.activeElement) ||
    (offer.li.classList.contains("offer--busy") && document.activeElement === document.body);
  offer.li.remove();
  offers.delete(id);
  renderOffersBox();
  if (moveFocus && hadFocus) {
    const next = offerList.querySelector(".accept");
    if (next) next.focus();
    else $("mine-title").focus();
  }
}

function offerFailed(frame) {
  const offer = offers.get(frame.handover);
  const text = textFor(OFFER_ERROR_TEXT, frame.code);
  if (frame.in_reply_to === "handover_accept") acceptedOffer = null;
  if (!offer) {
    showNotice(text);
    return;
  }
  setOfferBusy(offer.li, false);
  offer.li.querySelector(".offer__error").textContent = text;
}

function timeLeftText(seconds) {
  if (seconds <= 0) return gettext("The time to answer is up.");
  if (seconds > 60) {
    const minutes = Math.ceil(seconds / 60);
    return interpolate(
      ngettext("About %s minute left to answer.", "About %s minutes left to answer.", minutes),
      [minutes],
    );
  }
  return interpolate(
    ngettext("%s second left to answer.", "%s seconds left to answer.", seconds),
    [seconds],
  );
}

function tickOffers() {
  for (const { handover, li } of offers.values()) {
    if (!handover.expires_at) continue;
    const seconds = Math.ceil((new Date(handover.expires_at) - Date.now()) / 1000);
    const time = li.querySelector(".offer__time");
    time.textContent = timeLeftText(seconds);
    li.classList.toggle("offer--urgent", seconds <= 30);
    if (seconds <= 0) li.querySelector(".accept").disabled = true;
  }
}
setInterval(tickOffers, 1000);

// --- ending, with follow-up questions for the client ------------------------------------
// The questions go with the `end` frame and are stored on the conversation's case; the
// client answers them when they come back with their case code.
const endForm = $("end-form");
const endRows = $("end-rows");
const endAdd = $("end-add");
const endSubmit = endForm.querySelector("button[type=submit]");
const QUESTION_MAX = 2000;
const CHOICES_MAX = 6;
const CHOICE_MAX_LENGTH = 100;
let endDraftFor = null; // the conversation whose unsent questions the dialog still holds
let endRowSeq = 0;

function endRowList() {
  return [...endRows.querySelectorAll(":scope > .end-row")];
}

function renumberEndRows() {
  endRowList().forEach((row, i) => {
    const number = i + 1;
    row.querySelector(".end-row__legend").textContent = interpolate(gettext("Question %s"), [
      number,
    ]);
    row.querySelector(".remove").textContent = interpolate(gettext("Remove question %s"), [
      number,
    ]);
  });
}

function addEndRow() {
  const row = $("end-row-template").content.firstElementChild.cloneNode(true);
  const n = (endRowSeq += 1);
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
  for (const field of [question, choices]) {
    field.addEventListener("input", () => field.removeAttribute("aria-invalid"));
  }
  row.querySelector(".remove").addEventListener("click", () => removeEndRow(row));
  endRows.append(row);
  renumberEndRows();
  return row;
}

function removeEndRow(row) {
  const rows = endRowList();
  const index = rows.indexOf(row);
  row.remove();
  renumberEndRows();
  endError.textContent = "";
  // The cursor goes to the question that took its place, or the one before, or "Add".
  const next = endRowList()[Math.min(index, rows.length - 2)];
  if (next) next.querySelector(".question").focus();
  else endAdd.focus();
  announce(gettext("The question was removed."));
}

endAdd.addEventListener("click", () => {
  endError.textContent = "";
  addEndRow().querySelector(".question").focus();
});

function refreshEndForm() {
  const entry = dialogEntry;
  if (!entry) return;
  const active = entry.thread.state === "active" && !entry.gone;
  $("end-already").hidden = active;
  // Without a case there is nowhere to keep questions, and no code to come back with.
  $("end-followups").hidden = !entry.case;
  $("end-code").hidden = !entry.case || !active;
  endSubmit.textContent = active ? gettext("End the chat") : gettext("Save the questions");
}

// The questions as the server takes them, or the field to fix and why.
function collectFollowups() {
  const followups = [];
  for (const row of endRowList()) {
    const question = row.querySelector(".question");
    const choicesField = row.querySelector(".choices");
    const body = question.value.trim();
    const choices = choicesField.value
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
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
    followups.push({ body, choices });
  }
  return { followups };
}

function openEnd(entry, opener) {
  if (entry.gone) return;
  if (endDraftFor !== entry.id) {
    endRows.replaceChildren();
    endDraftFor = entry.id;
  }
  endError.textContent = "";
  $("end-which").textContent = entryLabel(entry);
  openDialog(endDialog, entry, opener);
  refreshEndForm();
  // A draft kept from before: back to its first question; else "Add a question" first,
  // so Enter alone never ends a chat by accident.
  if (!entry.case) endSubmit.focus();
  else (endRows.querySelector(".question") || endAdd).focus();
}

endForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const entry = dialogEntry;
  if (!entry || pending) return;
  for (const field of endForm.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
  }
  const result = entry.case ? collectFollowups() : { followups: [] };
  if (result.field) {
    result.field.setAttribute("aria-invalid", "true");
    endError.textContent = result.text;
    result.field.focus();
    return;
  }
  const { followups } = result;
  const active = entry.thread.state === "active";
  if (!active && !followups.length) {
    closeDialog(endDialog);
    return;
  }
  startPending("end", endDialog, endSubmit, endError);
  pending.followups = followups.length;
  if (!socket.send({ type: "end", conversation: entry.id, followups })) {
    failPending(endError, gettext("Not connected. Try again in a moment."));
  }
});

// The chat's "ended" event, or (when the client had ended it already) the first question
// stored on the case: the request went through.
function endFinished(entry) {
  if (pending?.kind !== "end" || pending.conversation !== entry.id) return;
  const count = pending.followups;
  endDraftFor = null;
  endRows.replaceChildren();
  closeDialog(endDialog);
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

// --- clients' new questions: a count on the follow-up inbox link -------------------------
// Only what arrives while this console is open; the inbox itself has the full list.
const inboxNew = $("inbox-new");
const newQuestions = new Set(); // follow-up ids of clients' questions not yet answered
const inboxLinks = [
  ...document.querySelectorAll(`a[href="${CSS.escape(inboxNew.dataset.inboxPath)}"]`),
];
if (inboxLinks.length) inboxLinks[0].append(inboxNew);

function renderInboxNew() {
  const count = newQuestions.size;
  inboxNew.hidden = count === 0;
  inboxNew.querySelector(".inbox-new__count").textContent = String(count);
  inboxNew.querySelector(".inbox-new__text").textContent = count
    ? ` ${interpolate(
        ngettext("%s new question from a client", "%s new questions from clients", count),
        [count],
      )}`
    : "";
}

function followupUpdated(f) {
  if (f.kind === "from_client") {
    const known = newQuestions.has(f.id);
    if (f.answered) newQuestions.delete(f.id);
    else newQuestions.add(f.id);
    if (!f.answered && !known) {
      announce(gettext("A client has asked a new question. It is in the follow-up inbox."));
    }
    renderInboxNew();
  } else if (f.kind === "to_client" && !f.answered) {
    for (const entry of conversations.values()) {
      if (entry.case === f.case) endFinished(entry);
    }
  }
}

for (const link of inboxLinks) {
  for (const type of ["click", "auxclick"]) {
    link.addEventListener(type, () => {
      newQuestions.clear();
      renderInboxNew();
    });
  }
}

// --- invitations ------------------------------------------------------------------------
const inviteForm = $("invite-form");
const inviteUser = $("invite-user");
const inviteLinkBox = $("invite-link-box");
const inviteLink = $("invite-link");
const interpreterPath = inviteDialog.dataset.interpreterPath || "/interpret/";

function openInvite(entry, opener) {
  if (entry.gone) return;
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
  inviteUser.replaceChildren(
    option("", gettext("Choose a person")),
    ...groups.filter((g) => g.children.length),
  );
  inviteUser.removeAttribute("aria-invalid");
  inviteError.textContent = "";
  clearInvitation();
  $("invite-which").textContent = entryLabel(entry);
  openDialog(inviteDialog, entry, opener);
  inviteUser.focus();
}

inviteUser.addEventListener("change", () => inviteUser.removeAttribute("aria-invalid"));

inviteForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const entry = dialogEntry;
  if (!entry || pending) return;
  const user = Number(inviteUser.value);
  if (!user) {
    inviteUser.setAttribute("aria-invalid", "true");
    inviteError.textContent = gettext("Choose a person to invite.");
    inviteUser.focus();
    return;
  }
  startPending("invite", inviteDialog, inviteForm.querySelector("button[type=submit]"), inviteError);
  if (!socket.send({ type: "invite", conversation: entry.id, user }))
    failPending(inviteError, gettext("Not connected. Try again in a moment."));
});

$("invite-link-button").addEventListener("click", (event) => {
  const entry = dialogEntry;
  if (!entry || pending) return;
  startPending("invite_link", inviteDialog, event.currentTarget, inviteError);
  if (!socket.send({ type: "invite_link", conversation: entry.id }))
    failPending(inviteError, gettext("Not connected. Try again in a moment."));
});

// The secret is shown once, here, and never kept anywhere else.
function showInvitation(frame) {
  const entry = conversations.get(frame.conversation);
  if (pending?.kind === "invite_link") finishPending();
  if (!inviteDialog.open && entry) openDialog(inviteDialog, entry, entry.panel.querySelector(".invite"));
  inviteLink.value = `${location.origin}${interpreterPath}#${frame.invitation}`;
  inviteLinkBox.hidden = false;
  $("invite-link-button").hidden = true;
  $("invite-copy-status").textContent = "";
  inviteLink.focus();
  inviteLink.select();
}

function clearInvitation() {
  inviteLink.value = "";
  inviteLinkBox.hidden = true;
  $("invite-link-button").hidden = false;
  $("invite-copy-status").textContent = "";
}

$("invite-copy").addEventListener("click", async () => {
  const status = $("invite-copy-status");
  try {
    await navigator.clipboard.writeText(inviteLink.value);
    status.textContent = gettext("Copied. Paste it into a safe message to the interpreter.");
  } catch {
    inviteLink.focus();
    inviteLink.select();
    status.textContent = gettext("Copying did not work here. The link is selected: copy it with Ctrl+C.");
  }
});

socket.connect();
