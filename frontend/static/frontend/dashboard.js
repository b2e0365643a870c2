// The supervisor's dashboard: queues and staffing of the supervisor's units, live, and the few
// levers a supervisor pulls (priority, move, capacity, presence). The server owns the state:
// a change is sent, its controls wait disabled, and the next `dashboard.unit` frame shows the
// result. Sections are updated in place, keyed by id, so focus and unsaved edits survive.

import { interpolate } from "./bidi.js";
import { Socket, readSettings } from "./socket.js";

const { gettext, ngettext } = window;
const settings = readSettings("socket-settings");

const $ = (id) => document.getElementById(id);
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
  connecting: () => gettext("Connecting…"),
  reconnecting: () => gettext("The connection was lost. Reconnecting…"),
  "signed-out": () => gettext("You have been signed out. Sign in again to continue."),
  forbidden: () => gettext("Your account cannot use the dashboard."),
  open: () => "",
};

const PRESENCE_TEXT = {
  available: () => gettext("Available"),
  busy: () => gettext("Busy"),
  away: () => gettext("Away"),
  offline: () => gettext("Offline"),
};

function errorText(frame) {
  const aboutWorker = frame.in_reply_to === "set_capacity" || frame.in_reply_to === "set_presence";
  switch (frame.code) {
    case "forbidden":
      return gettext("You are not allowed to make that change.");
    case "not_found":
      return aboutWorker
        ? gettext("That worker could not be found.")
        : gettext("That client is no longer waiting.");
    case "invalid":
      return frame.in_reply_to === "set_capacity"
        ? gettext("Capacity must be a whole number from 1 to 10.")
        : gettext("That change was not accepted. Check it and try again.");
    case "conflict":
      return gettext("Someone else changed this first. Check the dashboard and try again.");
    default:
      return gettext("Something went wrong. Please try again.");
  }
}

const socket = new Socket("/ws/dashboard/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  onStatus: (status) => {
    connection.textContent = (CONNECTION_TEXT[status] || (() => ""))();
    connection.hidden = status === "open";
  },
  onOpen: () => {},
  handlers: {
    "dashboard.snapshot": (frame) => applySnapshot(frame.units),
    "dashboard.unit": (frame) => applyUnit(frame.unit),
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

// --- words ------------------------------------------------------------------------------

function durationText(seconds) {
  const minutes = Math.floor(Math.max(0, seconds) / 60);
  if (minutes < 1) return gettext("less than a minute");
  if (minutes < 60) return interpolate(gettext("%s min"), [minutes]);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (rest === 0) return interpolate(gettext("%s h"), [hours]);
  return interpolate(gettext("%(hours)s h %(minutes)s min"), { hours, minutes: rest }, true);
}

function secondsSince(isoTime) {
  return (Date.now() - new Date(isoTime)) / 1000;
}

function clientLabel(id) {
  return interpolate(gettext("Client %s"), [id]);
}

// The longest wait: the oldest `queued_at` in the queue (the same clock as each client's own
// waiting time), else the server's figure carried forward by the age of the frame.
function longestWaitSeconds(entry) {
  const { stats } = entry;
  if (stats.waiting.length) return Math.max(...stats.waiting.map((c) => secondsSince(c.queued_at)));
  if (stats.longest_wait_seconds === null || stats.longest_wait_seconds === undefined) return null;
  return stats.longest_wait_seconds + (Date.now() - entry.receivedAt) / 1000;
}

// A large figure; null shows a dash that reads as "none".
function setFigure(el, text) {
  if (text === null) {
    const dash = document.createElement("span");
    dash.setAttribute("aria-hidden", "true");
    dash.textContent = "–";
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = gettext("none");
    el.replaceChildren(dash, words);
  } else if (el.textContent !== text) {
    el.textContent = text;
  }
  // Words ("less than a minute") get a smaller size than numbers, so they fit the tile.
  el.classList.toggle("figure__words", text !== null && text.length > 9);
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

function fromTemplate(id) {
  return $(id).content.firstElementChild.cloneNode(true);
}

// Puts `wanted` in order inside `container`, moving as few nodes as it can.
function placeInOrder(container, wanted) {
  let cursor = container.firstElementChild;
  for (const el of wanted) {
    if (el === cursor) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    container.insertBefore(el, cursor);
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
}

// Updates the children of `container` in place, keyed by `item.id`.
function reconcile(container, items, create, update) {
  const existing = new Map([...container.children].map((el) => [el.dataset.key, el]));
  const wanted = items.map((item) => {
    const key = String(item.id);
    let el = existing.get(key);
    if (!el) {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    return el;
  });
  placeInOrder(container, wanted);
}

// Sets a control to the server's value unless the supervisor has changed it and not saved.
function syncValue(el, value) {
  if (el.dataset.server === undefined || el.value === el.dataset.server) el.value = value;
  el.dataset.server = value;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

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

  const rows = section.querySelector(".workers tbody");
  reconcile(
    rows,
    stats.workers,
    (worker) => createWorkerRow(stats.id, worker.id),
    (row, worker) => updateWorkerRow(row, worker),
  );
  section.querySelector(".workers").hidden = stats.workers.length === 0;
  section.querySelector(".workers-empty").hidden = stats.workers.length > 0;

  const queue = section.querySelector(".queue");
  const waiting = [...stats.waiting].sort((a, b) => a.position - b.position);
  reconcile(
    queue,
    waiting,
    (conversation) => createWaitingItem(stats.id, conversation.id),
    (item, conversation) => updateWaitingItem(item, stats.id, conversation),
  );
  section.querySelector(".queue-empty").hidden = waiting.length > 0;
}

function createWorkerRow(unitId, workerId) {
  const row = fromTemplate("worker-template");
  const prefix = `u${unitId}-w${workerId}`;
  const form = row.querySelector("form");
  form.id = `${prefix}-form`;
  const controls = [
    [row.querySelector(".capacity"), row.querySelector(".capacity-label"), "capacity"],
    [row.querySelector(".presence"), row.querySelector(".presence-label"), "presence"],
  ];
  for (const [control, label, name] of controls) {
    control.id = `${prefix}-${name}`;
    control.dataset.focus = control.id;
    control.setAttribute("form", form.id);
    label.htmlFor = control.id;
  }
  form.querySelector("button").dataset.focus = `${prefix}-save`;
  controls[0][0].addEventListener("input", (event) => event.target.removeAttribute("aria-invalid"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveWorker(unitId, workerId, row);
  });
  return row;
}

function updateWorkerRow(row, worker) {
  const presence = PRESENCE_TEXT[worker.presence] ? worker.presence : "offline";
  row.dataset.presence = presence;
  setText(row.querySelector(".worker__name"), worker.name);
  setText(row.querySelector(".presence-text"), PRESENCE_TEXT[presence]());
  setText(row.querySelector(".load"), `${worker.active} / ${worker.capacity}`);
  setText(
    row.querySelector(".load-words"),
    interpolate(
      ngettext(
        "%(active)s of %(capacity)s conversation",
        "%(active)s of %(capacity)s conversations",
        worker.capacity,
      ),
      { active: worker.active, capacity: worker.capacity },
      true,
    ),
  );
  row.classList.toggle("worker--full", worker.active >= worker.capacity);
  setText(row.querySelector(".capacity-label"), interpolate(gettext("Capacity for %s"), [worker.name]));
  setText(row.querySelector(".presence-label"), interpolate(gettext("Set presence for %s"), [worker.name]));
  setText(row.querySelector(".save-who"), `(${worker.name})`);

  const capacity = row.querySelector(".capacity");
  const select = row.querySelector(".presence");
  syncValue(capacity, String(worker.capacity));
  // The select offers what a supervisor may set: the worker's own choice when the server
  // sends it (`status`), else what is shown, where busy counts as available, offline as away.
  const chosen = worker.status === "available" || worker.status === "away" ? worker.status : null;
  syncValue(select, chosen || (presence === "available" || presence === "busy" ? "available" : "away"));
  const busy = pending.has(`worker:${worker.id}`);
  for (const control of [capacity, select, row.querySelector("button")]) control.disabled = busy;
}

function saveWorker(unitId, workerId, row) {
  const capacityInput = row.querySelector(".capacity");
  const select = row.querySelector(".presence");
  const text = capacityInput.value.trim();
  const capacity = Number(text);
  if (!text || !Number.isInteger(capacity) || capacity < 1 || capacity > 10) {
    capacityInput.setAttribute("aria-invalid", "true");
    showNotice(gettext("Capacity must be a whole number from 1 to 10."));
    capacityInput.focus();
    return;
  }
  capacityInput.removeAttribute("aria-invalid");
  const frames = [];
  if (String(capacity) !== capacityInput.dataset.server) {
    frames.push({ type: "set_capacity", worker: workerId, capacity });
  }
  if (select.value !== select.dataset.server) {
    frames.push({ type: "set_presence", worker: workerId, presence: select.value });
  }
  if (!frames.length) {
    showNotice("");
    announce(gettext("Nothing to save."));
    return;
  }
  capacityInput.value = String(capacity);
  // What was sent counts as saved: the next frame shows the server's answer either way.
  capacityInput.dataset.server = String(capacity);
  select.dataset.server = select.value;
  const name = row.querySelector(".worker__name").textContent;
  act(frames, {
    key: `worker:${workerId}`,
    unit: unitId,
    done: interpolate(gettext("Saved the changes for %s."), [name]),
  });
}

function createWaitingItem(unitId, conversationId) {
  const item = fromTemplate("waiting-template");
  const prefix = `u${unitId}-c${conversationId}`;
  const priority = item.querySelector(".priority");
  priority.dataset.focus = `${prefix}-priority`;
  priority.addEventListener("click", () => {
    const urgent = item.dataset.priority === "1";
    act([{ type: "set_priority", conversation: conversationId, priority: urgent ? 0 : 1 }], {
      key: `conversation:${conversationId}`,
      unit: unitId,
      done: interpolate(
        urgent ? gettext("Client %s is no longer urgent.") : gettext("Client %s is marked urgent."),
        [conversationId],
      ),
    });
  });
  const select = item.querySelector(".move-unit");
  select.id = `${prefix}-move-unit`;
  select.dataset.focus = select.id;
  item.querySelector(".move-label").htmlFor = select.id;
  const form = item.querySelector(".move-form");
  form.querySelector("button").dataset.focus = `${prefix}-move`;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const target = Number(select.value);
    if (!target) {
      showNotice(gettext("Choose the unit to move the client to."));
      select.focus();
      return;
    }
    const targetName = units.get(target)?.stats.name || "";
    act([{ type: "move", conversation: conversationId, unit: target }], {
      key: `conversation:${conversationId}`,
      unit: unitId,
      done: interpolate(
        gettext("Client %(client)s was moved to %(unit)s."),
        { client: conversationId, unit: targetName },
        true,
      ),
    });
  });
  return item;
}

function updateWaitingItem(item, unitId, conversation) {
  const urgent = conversation.priority >= 1;
  item.dataset.priority = urgent ? "1" : "0";
  item.classList.toggle("queue-item--urgent", urgent);
  const label = clientLabel(conversation.id);
  setText(item.querySelector(".position"), String(conversation.position));
  setText(item.querySelector(".queue-item__client"), label);
  item.querySelector(".urgent").hidden = !urgent;
  const waited = item.querySelector(".waited");
  waited.dataset.since = conversation.queued_at;
  setText(waited, waitedText(conversation.queued_at));
  setText(item.querySelector(".priority-text"), urgent ? gettext("Mark normal") : gettext("Mark urgent"));
  for (const selector of [".priority-who", ".move-who", ".move-button-who"]) {
    setText(item.querySelector(selector), `(${label})`);
  }
  const select = item.querySelector(".move-unit");
  const others = syncMoveOptions(select, unitId);
  item.querySelector(".move-form").hidden = others === 0;
  const busy = pending.has(`conversation:${conversation.id}`);
  for (const control of item.querySelectorAll("button, select")) control.disabled = busy;
}

// The other units of the snapshot, as choices; a choice already made is kept.
function syncMoveOptions(select, unitId) {
  const others = unitOrder.filter((id) => id !== unitId && units.has(id)).map((id) => units.get(id).stats);
  const signature = others.map((unit) => `${unit.id}:${unit.name}`).join("|");
  if (select.dataset.options !== signature) {
    const kept = select.value;
    const placeholder = select.options[0];
    select.replaceChildren(placeholder, ...others.map((unit) => new Option(unit.name, String(unit.id))));
    select.value = others.some((unit) => String(unit.id) === kept) ? kept : "";
    select.dataset.options = signature;
  }
  return others.length;
}

function waitedText(isoTime) {
  return interpolate(gettext("waiting %s"), [durationText(secondsSince(isoTime))]);
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
