// The supervisor's dashboard: queues and staffing of the supervisor's units, live, and the few
// levers a supervisor pulls (priority, move, capacity, presence). The server owns the state:
// a change is sent, its controls wait disabled, and the next `dashboard.unit` frame shows the
// result. Sections are updated in place, keyed by id, so focus and unsaved edits survive.

import { interpolate } from "../bidi.js";
import { connectionLine } from "../connection.js";
import { moreWaitingText } from "../queue-texts.js";
import { Socket, readSettings } from "../socket.js";
import { $, fromTemplate, placeInOrder, reconcile, setFigure, setText } from "./dom.js";
import { RiskAlerts } from "./risk.js";
import { Escalations } from "./escalations.js";
import { createWaitingItem, createWorkerRow, updateWaitingItem, updateWorkerRow } from "./rows.js";
import { belowText, renderStaffing } from "./staffing.js";
import { durationText, errorText, longestWaitSeconds, waitedText } from "./words.js";

const { gettext, ngettext } = window;
const settings = readSettings("socket-settings");

const unitsEl = $("units");
const overviewEl = $("overview");
const connection = $("connection");
const notice = $("notice");
const announcer = $("announcer");

const TICK_MS = 15000;
const PENDING_TIMEOUT_MS = 10000;

const units = new Map(); // unit id -> { stats, receivedAt, section, overviewItem }
let unitOrder = []; // unit ids in snapshot order
// "conversation:41" | "worker:7" -> { unit, types, done, timer }: controls that wait for the server
const pending = new Map();
let focusKey = null; // data-focus of the last focused control, while it may need to come back
let focusFallback = null; // the heading to land on when that control is gone

const CONNECTION_TEXT = {
  forbidden: () => gettext("Your account cannot use the dashboard."),
};

const riskAlerts = new RiskAlerts({ unitName: (id) => units.get(id)?.stats.name || "", announce });
const escalations = new Escalations();

const socket = new Socket("/ws/dashboard/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  onStatus: connectionLine(connection, CONNECTION_TEXT, { staff: true }),
  onOpen: () => {},
  handlers: {
    "dashboard.snapshot": (frame) => {
      applySnapshot(frame.units);
      riskAlerts.replace(frame.risk_alerts || []);
    },
    "dashboard.unit": (frame) => {
      applyUnit(frame.unit);
      escalations.settle(frame.unit);
    },
    "risk.flagged": (frame) => riskAlerts.flagged(frame),
    "risk.lowered": (frame) => riskAlerts.lowered(frame),
    "referral.escalated": (frame) => escalations.escalated(frame),
    error: (frame) => {
      for (const [key, entry] of pending) {
        if (!frame.in_reply_to || entry.types.includes(frame.in_reply_to)) settle(key, false);
      }
      showNotice(errorText(frame));
      renderAll();
    },
    pong: () => {},
  },
});

function showNotice(text) {
  notice.textContent = text;
}

// Cleared first, so that the same words twice are read twice.
function announce(text) {
  announcer.textContent = "";
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

// --- frames -----------------------------------------------------------------------------

function applySnapshot(list) {
  for (const key of [...pending.keys()]) settle(key, false);
  const now = Date.now();
  const seen = new Set();
  for (const stats of list) {
    seen.add(stats.id);
    upsert(stats, now);
  }
  for (const [id, entry] of units) {
    if (seen.has(id)) continue;
    entry.section.remove();
    entry.overviewItem.remove();
    units.delete(id);
  }
  unitOrder = list.map((stats) => stats.id);
  placeInOrder(unitsEl, unitOrder.map((id) => units.get(id).section));
  placeInOrder(overviewEl, unitOrder.map((id) => units.get(id).overviewItem));
  $("loading").hidden = true;
  $("no-units").hidden = list.length > 0;
  overviewEl.closest("nav").hidden = list.length < 2;
  renderAll();
}

function applyUnit(stats) {
  const isNew = !units.has(stats.id);
  upsert(stats, Date.now());
  let settled = false;
  for (const [key, entry] of pending) {
    if (entry.unit !== stats.id) continue;
    settle(key, true);
    settled = true;
  }
  if (isNew) {
    // A unit the snapshot did not have: every other unit gains a place to move clients to.
    unitOrder.push(stats.id);
    placeInOrder(unitsEl, unitOrder.map((id) => units.get(id).section));
    placeInOrder(overviewEl, unitOrder.map((id) => units.get(id).overviewItem));
    $("no-units").hidden = true;
    overviewEl.closest("nav").hidden = unitOrder.length < 2;
    renderAll();
    return;
  }
  if (settled) {
    // A worker serves several units: their controls wait in every one of them.
    renderAll();
    return;
  }
  const entry = units.get(stats.id);
  renderUnit(entry);
  renderOverview(entry);
  restoreFocus();
}

function upsert(stats, receivedAt) {
  let entry = units.get(stats.id);
  if (!entry) {
    entry = { section: createSection(stats.id), overviewItem: createOverviewItem(stats.id) };
    units.set(stats.id, entry);
  }
  entry.stats = stats;
  entry.receivedAt = receivedAt;
  return entry;
}

function renderAll() {
  for (const entry of units.values()) {
    renderUnit(entry);
    renderOverview(entry);
  }
  restoreFocus();
}

// --- pending changes ----------------------------------------------------------------------

// Sends a change and disables its controls until the unit's next frame (or an error) arrives.
function act(frames, { key, unit, done }) {
  showNotice("");
  if (pending.has(key)) return;
  if (!socket.isOpen) {
    showNotice(gettext("Not connected. Try again in a moment."));
    return;
  }
  for (const frame of frames) socket.send(frame);
  const timer = setTimeout(() => {
    settle(key, false);
    showNotice(gettext("The server has not answered yet. Check the dashboard before you try again."));
    renderAll();
  }, PENDING_TIMEOUT_MS);
  pending.set(key, { unit, types: frames.map((frame) => frame.type), done, timer });
  renderAll();
}

function settle(key, succeeded) {
  const entry = pending.get(key);
  if (!entry) return;
  clearTimeout(entry.timer);
  pending.delete(key);
  if (succeeded && entry.done) announce(entry.done);
}

// What the rows of a section (rows.js) may ask of the dashboard.
const board = {
  act,
  showNotice,
  announce,
  isPending: (key) => pending.has(key),
  unitName: (id) => units.get(id)?.stats.name || "",
  // The other units of the snapshot, in its order.
  otherUnits: (unitId) =>
    unitOrder.filter((id) => id !== unitId && units.has(id)).map((id) => units.get(id).stats),
};

// --- focus --------------------------------------------------------------------------------

document.addEventListener("focusin", (event) => {
  const el = event.target;
  if (el.dataset && el.dataset.focus) {
    focusKey = el.dataset.focus;
    focusFallback = el.closest(".unit__staff, .unit__queue")?.querySelector("h3") || null;
  } else {
    focusKey = null;
  }
});

document.addEventListener("focusout", (event) => {
  const el = event.target;
  if (!el.dataset || !el.dataset.focus) return;
  setTimeout(() => {
    // Focus left on purpose (a click on the page): do not pull it back on the next frame.
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && el.isConnected && !el.disabled && focusKey === el.dataset.focus) focusKey = null;
  });
});

// After a render: a control that was disabled, moved or replaced gets its focus back; when it
// is gone (the client was moved or accepted), focus lands on the heading of its list.
function restoreFocus() {
  if (!focusKey) return;
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  const el = document.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`);
  if (el && el.disabled) return;
  if (el) {
    el.focus();
    return;
  }
  focusKey = null;
  if (focusFallback && focusFallback.isConnected) focusFallback.focus();
}

// --- rendering ------------------------------------------------------------------------------

function createSection(unitId) {
  const section = fromTemplate("unit-template");
  section.id = `unit-${unitId}`;
  const title = section.querySelector(".unit__title");
  title.id = `unit-${unitId}-title`;
  section.setAttribute("aria-labelledby", title.id);
  return section;
}

function renderUnit(entry) {
  const { stats, section } = entry;
  setText(section.querySelector(".unit__title"), stats.name);

  const open = section.querySelector(".unit__open");
  open.classList.toggle("tag--open", stats.is_open);
  open.classList.toggle("tag--closed", !stats.is_open);
  let openText;
  if (stats.is_open) {
    openText = stats.hours_today
      ? interpolate(gettext("Open now, today %s"), [stats.hours_today])
      : gettext("Open now");
  } else {
    openText = stats.hours_today
      ? interpolate(gettext("Closed now, today %s"), [stats.hours_today])
      : gettext("Closed today");
  }
  setText(open, openText);
  setText(
    section.querySelector(".unit__auto"),
    stats.auto_assign ? gettext("Auto-assign on") : gettext("Auto-assign off"),
  );

  const figure = (name) => section.querySelector(`[data-figure="${name}"]`);
  setFigure(figure("waiting"), String(stats.waiting_count));
  const longest = longestWaitSeconds(entry);
  setFigure(figure("longest"), longest === null ? null : durationText(longest));
  const average = stats.average_wait_today_seconds;
  setFigure(figure("average"), average === null || average === undefined ? null : durationText(average));
  setFigure(figure("abandoned"), String(stats.abandoned_today));
  setFigure(figure("active"), String(stats.active_count));
  // Conversations whose worker has not written in the unit's set time.
  const unanswered = (stats.unanswered || []).length;
  setFigure(figure("unanswered"), String(unanswered));
  figure("unanswered").closest(".figure").classList.toggle("figure--raised", unanswered > 0);

  // Below the unit's minimum: shown, and said once when it happens.
  const below = renderStaffing(section, stats);
  if (below && entry.staffingBelow === false) announce(belowText(stats));
  entry.staffingBelow = below;

  const rows = section.querySelector(".workers tbody");
  reconcile(
    rows,
    stats.workers,
    (worker) => createWorkerRow(board, stats.id, worker.id),
    (row, worker) => updateWorkerRow(board, row, worker),
  );
  section.querySelector(".workers").hidden = stats.workers.length === 0;
  section.querySelector(".workers-empty").hidden = stats.workers.length > 0;

  const queue = section.querySelector(".queue");
  const waiting = [...stats.waiting].sort((a, b) => a.position - b.position);
  reconcile(
    queue,
    waiting,
    (conversation) => createWaitingItem(board, stats.id, conversation.id),
    (item, conversation) => updateWaitingItem(board, item, stats.id, conversation),
  );
  section.querySelector(".queue-empty").hidden = stats.waiting_count > 0;
  // The server sends the front of the queue; the count is of all of it.
  const more = stats.waiting_count - waiting.length;
  const moreEl = section.querySelector(".queue-more");
  setText(moreEl, more > 0 ? moreWaitingText(more, stats.urgent_beyond || 0) : "");
  moreEl.hidden = more <= 0;
}

function createOverviewItem(unitId) {
  const item = fromTemplate("overview-template");
  item.querySelector("a").href = `#unit-${unitId}`;
  return item;
}

function renderOverview(entry) {
  const { stats, overviewItem } = entry;
  setText(overviewItem.querySelector(".overview__name"), stats.name);
  setText(
    overviewItem.querySelector(".overview__waiting"),
    interpolate(ngettext("%s waiting", "%s waiting", stats.waiting_count), [stats.waiting_count]),
  );
  const available = stats.workers.filter((worker) => worker.presence === "available").length;
  const parts = [];
  const longest = longestWaitSeconds(entry);
  if (longest !== null) parts.push(interpolate(gettext("longest %s"), [durationText(longest)]));
  parts.push(
    available
      ? interpolate(ngettext("%s worker available", "%s workers available", available), [available])
      : gettext("nobody available"),
  );
  if (!stats.is_open) parts.push(gettext("closed"));
  setText(overviewItem.querySelector(".overview__detail"), parts.join(" · "));
  overviewItem.classList.toggle("overview__item--attention", stats.waiting_count > 0 && available === 0);
}

// Waiting times move on without the server: every 15 s from `queued_at` and the frame's age.
setInterval(() => {
  for (const entry of units.values()) {
    for (const el of entry.section.querySelectorAll(".waited")) {
      setText(el, waitedText(el.dataset.since));
    }
    const longest = longestWaitSeconds(entry);
    setFigure(
      entry.section.querySelector('[data-figure="longest"]'),
      longest === null ? null : durationText(longest),
    );
    renderOverview(entry);
  }
}, TICK_MS);

socket.connect();
