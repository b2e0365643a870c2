// The social worker's console: the waiting queues of the worker's units, live, and the
// worker's own conversations, several at once, each with its own thread and outbox.
// Around them: handover (sending and answering offers), invitations, private notes, canned
// replies, typing and seen, ending with follow-up questions for the client, links to the
// case and the transcript, a count of new client questions, and sound and title alerts.
//
// This module wires the parts together: each part owns its own state and reaches the
// others through `ctx`; the socket's frames are dispatched here.

import { interpolate } from "../bidi.js";
import { connectionLine } from "../connection.js";
import { Socket, readSettings } from "../socket.js";
import { errorText } from "../event-texts.js";
import { Alerts } from "./alerts.js";
import { Calls } from "./call.js";
import { Conversations } from "./conversations.js";
import { Dialogs } from "./dialogs.js";
import { $ } from "./dom.js";
import { EndDialog } from "./end.js";
import { Handover } from "./handover.js";
import { InboxBadge } from "./inbox-badge.js";
import { Invite } from "./invite.js";
import { Offers } from "./offers.js";
import { setCase, setIdentified, setUnit, showClientLanguage } from "./panel.js";
import { Queue } from "./queue.js";
import { RiskLowering } from "./risk.js";
import { Shortcuts } from "./shortcuts.js";
import { Referrals } from "./referrals.js";
import { renderContext } from "./staff-context.js";
import { Triage } from "./triage.js";

const { gettext } = window;

const ctx = {
  settings: readSettings("socket-settings"),
  unitNames: readSettings("unit-names"),
  myUnits: readSettings("my-units"),
  colleagues: readSettings("colleagues"),
  interpreters: readSettings("interpreters"),
  cannedReplies: readSettings("canned-replies"),
  // Who this console belongs to. People are told apart by id; names are only shown.
  me: { id: Number($("whoami").dataset.id) },
  pageLanguage: (document.documentElement.lang || "sv").slice(0, 2),
};

ctx.alerts = new Alerts(ctx);
ctx.queue = new Queue(ctx);
ctx.risk = new RiskLowering(ctx);
ctx.conversations = new Conversations(ctx);
ctx.dialogs = new Dialogs(ctx);
ctx.handover = new Handover(ctx);
ctx.offers = new Offers(ctx);
ctx.invite = new Invite(ctx);
ctx.end = new EndDialog(ctx);
ctx.inbox = new InboxBadge(ctx);
ctx.triage = new Triage(ctx);
ctx.shortcuts = new Shortcuts(ctx);
ctx.referrals = new Referrals(ctx);
ctx.calls = new Calls(ctx);

const { alerts, queue, conversations } = ctx;

window.addEventListener("focus", () => {
  queue.newWaiting.clear();
  const entry = conversations.current();
  if (entry) conversations.clearUnread(entry);
  alerts.updateTitle();
  entry?.composer.maybeSendSeen();
});
document.addEventListener("visibilitychange", () =>
  conversations.current()?.composer.maybeSendSeen(),
);

function onSnapshot(frame) {
  queue.replace(frame.units, frame.waiting);
  const current = new Set(frame.conversations.map((c) => c.id));
  for (const c of frame.conversations) {
    const entry = conversations.open(c.id, c.unit, c.case);
    conversations.setRisk(entry, c.risk);
    ctx.triage.known(entry, c);
    setIdentified(entry, c.identified);
  }
  conversations.markMissingGone(current);
  queue.showPresence(frame.presence);
  queue.sendPendingStatus();
  ctx.offers.replace(frame.offers || []);
  for (const entry of conversations.values()) {
    if (!entry.gone) conversations.requestSync(entry);
  }
}

function onPong(frame) {
  for (const [id, lastSeq] of Object.entries(frame.last_seqs || {})) {
    const entry = conversations.get(Number(id));
    if (entry) entry.thread.gapTo(lastSeq);
  }
  for (const [id, seenAt] of Object.entries(frame.clients_seen || {})) {
    const entry = conversations.get(Number(id));
    if (entry) ctx.triage.seenAt(entry, seenAt);
  }
  for (const entry of conversations.values()) {
    entry.thread.flushStale();
    if (entry.notes.flushStale()) conversations.requestSync(entry);
  }
}

function applySync(frame) {
  const entry = entryOf(frame);
  if (!entry) return;
  if (frame.unit && frame.unit !== entry.unit) setUnit(ctx, entry, frame.unit);
  setIdentified(entry, frame.identified);
  const had = entry.thread.lastSeq;
  entry.thread.applySync(frame);
  ctx.calls.endedWhileAway(entry, frame.messages || [], had);
  entry.composer.maybeSendSeen();
  ctx.triage.refresh(entry);
}

function onAssigned(frame) {
  const known = conversations.has(frame.conversation);
  const entry = conversations.open(frame.conversation, frame.detail.unit, frame.detail.case);
  setIdentified(entry, frame.detail.identified);
  entry.clientLanguage = frame.detail.language || "";
  showClientLanguage(entry.panel.querySelector(".client-language"), frame.detail.language);
  if (entry.gone) conversations.reopen(entry);
  conversations.setRisk(entry, frame.detail.risk);
  // Given just now: nothing of it read yet (the client's page is in the conversation).
  ctx.triage.known(entry, { read_seq: 0, ...frame.detail });
  if (entry.clientOnline === undefined) ctx.triage.clientPresence(entry, true);
  // The event carries the messages and the staff context: nothing to ask for.
  if (frame.sync && frame.context) {
    applySync(frame.sync);
    renderContext(ctx, entry, frame.context);
  } else {
    conversations.requestSync(entry);
  }
  if (ctx.offers.takeAccepted(frame.conversation)) {
    // A handover this tab accepted: the note comes first.
    entry.focusTrail = true;
    conversations.select(frame.conversation, { focus: false });
  } else if (queue.acceptedHere) {
    queue.acceptedHere = false;
    conversations.select(frame.conversation);
  } else if (!known) {
    conversations.markUnread(entry);
    alerts.announce(interpolate(gettext("%s is now in your conversations."), [entry.label]));
  }
}

function onMessage(frame) {
  const entry = conversations.get(frame.conversation);
  if (!entry) return;
  if (!entry.thread.receive(frame)) return;
  const { message } = frame;
  ctx.triage.message(entry, message);
  if (message.sender === "client") {
    entry.composer.hideTyping();
    conversations.markUnread(entry);
    entry.composer.maybeSendSeen();
  } else if (message.sender === "worker" && entry.unanswered) {
    conversations.setUnanswered(entry, false);
  } else if (message.sender === "system" && message.event === "ended") {
    ctx.end.finished(entry);
  } else if (message.sender === "system" && message.event === "participant_joined") {
    ctx.invite.joined(entry); // the new participants come in a conversation.context of their own
  }
}

// The risk rules found words in one of this worker's conversations, or it was lowered.
function onRisk(frame) {
  if (frame.type === "risk.lowered") ctx.risk.lowered(frame);
  const entry = entryOf(frame);
  if (!entry) return;
  conversations.setRisk(entry, frame.risk);
  if (frame.type === "risk.flagged" && frame.risk && !frame.risk.held) {
    alerts.announce(
      interpolate(gettext("%s: a risk rule found words in the client's message."), [entry.label]),
    );
    if (frame.risk.effect !== "mark") alerts.chime();
  }
}

// The frame's conversation, when it is one of this console's.
const entryOf = (frame) => conversations.get(frame.conversation);

function handleError(frame) {
  const entry = entryOf(frame);
  const about = frame.in_reply_to;
  if (about === "presence") queue.setPendingStatus(null); // refused: the server's status stands
  if (entry && frame.client_id && about === "message") entry.thread.fail(frame);
  else if (entry && frame.client_id && about === "note") entry.notes.fail(frame);
  else if (about === "sync" && entry && entry.gone) return; // no longer readable: fine
  else if (about === "hand_over") ctx.handover.failed(frame.code);
  else if (about === "lower_risk") ctx.risk.failed(frame);
  else if (about === "end") ctx.end.failed(frame.code);
  else if (about === "invite" || about === "invite_link") ctx.invite.failed(frame.code);
  else if (about === "handover_accept" || about === "handover_decline") ctx.offers.failed(frame);
  else if (about && about.startsWith("call_")) ctx.calls.failed(frame);
  else if (frame.code === "nothing_waiting") alerts.showNotice(gettext("Nobody is waiting right now."));
  else if (frame.code === "at_capacity") alerts.showNotice(errorText(frame.code, frame));
  else if (about === "accept" && frame.code === "conflict")
    alerts.showNotice(gettext("Someone else has already taken that conversation."));
  else if (about === "remove_participant" || about === "leave") {
    alerts.showNotice(gettext("That did not work. The conversation may have changed; look again."));
    if (entry) conversations.requestContext(entry);
  } else if (about === "typing" || about === "seen") return; // best effort only
  else alerts.showNotice(errorText(frame.code, frame));
}

ctx.socket = new Socket("/ws/console/", {
  heartbeatSeconds: ctx.settings.heartbeatSeconds,
  onStatus: connectionLine(
    $("connection"),
    { forbidden: () => gettext("Your account cannot use the console.") },
    { staff: true },
  ),
  onOpen: () => {},
  handlers: {
    "console.snapshot": onSnapshot,
    "presence.updated": (frame) => queue.showPresence(frame),
    pong: onPong,
    "queue.updated": (frame) => {
      queue.updateUnit(frame);
      ctx.referrals.settle(queue.waitingIds());
    },
    "referral.received": (frame) => ctx.referrals.received(frame),
    "conversation.assigned": onAssigned,
    "conversation.sync": applySync,
    "conversation.context": (frame) => {
      const entry = entryOf(frame);
      if (entry) renderContext(ctx, entry, frame);
    },
    "conversation.message": onMessage,
    "conversation.note": (frame) => entryOf(frame)?.notes.receive(frame.note),
    "conversation.typing": (frame) => {
      const entry = entryOf(frame);
      if (entry && frame.who === "client") {
        entry.composer.showTyping();
        ctx.triage.typing(entry);
      }
    },
    "conversation.seen": (frame) => {
      const entry = entryOf(frame);
      if (entry && frame.who === "client") entry.thread.showSeen(frame.seq, "worker");
      else if (entry && frame.who === "worker") ctx.triage.read(entry, frame.seq);
    },
    "conversation.client": (frame) => {
      const entry = entryOf(frame);
      if (entry) {
        ctx.triage.clientPresence(entry, frame.online);
        ctx.calls.clientPresence(entry, frame.online);
      }
    },
    "conversation.unanswered": (frame) => {
      const entry = entryOf(frame);
      if (entry && !entry.gone) {
        conversations.setUnanswered(entry, true);
        alerts.chime();
      }
    },
    "conversation.identified": (frame) => {
      const entry = entryOf(frame);
      if (!entry) return;
      setIdentified(entry, frame.identified);
      setCase(ctx, entry, frame.case);
    },
    "conversation.language": (frame) => {
      // Known only after the start ("chat now" opened on a partner's device).
      const entry = entryOf(frame);
      if (!entry) return;
      entry.clientLanguage = frame.language || "";
      showClientLanguage(entry.panel.querySelector(".client-language"), frame.language);
    },
    "conversation.left": (frame) => {
      const entry = entryOf(frame);
      if (entry) conversations.markGone(entry, frame.reason);
    },
    "risk.flagged": onRisk,
    "risk.lowered": onRisk,
    "handover.updated": (frame) => ctx.handover.updated(frame.handover),
    "followup.updated": (frame) => ctx.inbox.followupUpdated(frame.followup),
    invitation: (frame) => ctx.invite.showInvitation(frame),
    ack: (frame) => {
      const entry = entryOf(frame);
      if (!entry) return;
      if ("note" in frame) entry.notes.ack(frame);
      else entry.thread.ack(frame);
    },
    "call.ringing": (frame) => ctx.calls.ringing(frame),
    "call.open": (frame) => ctx.calls.open(frame),
    "call.accepted": (frame) => ctx.calls.accepted(frame),
    "call.offer": (frame) => ctx.calls.signal(frame),
    "call.answer": (frame) => ctx.calls.signal(frame),
    "call.joined": (frame) => ctx.calls.joined(frame),
    "call.left": (frame) => ctx.calls.left(frame),
    "call.candidate": (frame) => ctx.calls.signal(frame),
    "call.ended": (frame) => ctx.calls.ended(frame),
    error: handleError,
  },
});

ctx.socket.connect();
