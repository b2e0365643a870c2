// The rows of a unit's section: its workers (capacity and presence, saved together) and its
// waiting clients (urgent or not, moved to another unit). `board` is the dashboard (main.js):
// it sends the changes and knows which are still waiting for the server.

import { interpolate } from "../bidi.js";
import { fromTemplate, setText, syncValue } from "./dom.js";
import { PRESENCE_TEXT, clientLabel, waitedText } from "./words.js";
import { renderRisk } from "../risk-line.js";

const { gettext, ngettext } = window;

export function createWorkerRow(board, unitId, workerId) {
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
    saveWorker(board, unitId, workerId, row);
  });
  return row;
}

export function updateWorkerRow(board, row, worker) {
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
  // A worker who is not signed in has no presence to change: a choice made for them would
  // show nothing until they sign in, so the row says so instead of offering one.
  const offline = presence === "offline";
  select.hidden = offline;
  row.querySelector(".presence-offline").hidden = !offline;
  const busy = board.isPending(`worker:${worker.id}`);
  for (const control of [capacity, select, row.querySelector("button")]) control.disabled = busy;
}

function saveWorker(board, unitId, workerId, row) {
  const capacityInput = row.querySelector(".capacity");
  const select = row.querySelector(".presence");
  const text = capacityInput.value.trim();
  const capacity = Number(text);
  if (!text || !Number.isInteger(capacity) || capacity < 1 || capacity > 10) {
    capacityInput.setAttribute("aria-invalid", "true");
    board.showNotice(gettext("Capacity must be a whole number from 1 to 10."));
    capacityInput.focus();
    return;
  }
  capacityInput.removeAttribute("aria-invalid");
  const frames = [];
  if (String(capacity) !== capacityInput.dataset.server) {
    frames.push({ type: "set_capacity", worker: workerId, capacity });
  }
  if (!select.hidden && select.value !== select.dataset.server) {
    frames.push({ type: "set_presence", worker: workerId, presence: select.value });
  }
  if (!frames.length) {
    board.showNotice("");
    board.announce(gettext("Nothing to save."));
    return;
  }
  capacityInput.value = String(capacity);
  // What was sent counts as saved: the next frame shows the server's answer either way.
  capacityInput.dataset.server = String(capacity);
  select.dataset.server = select.value;
  const name = row.querySelector(".worker__name").textContent;
  board.act(frames, {
    key: `worker:${workerId}`,
    unit: unitId,
    done: interpolate(gettext("Saved the changes for %s."), [name]),
  });
}

export function createWaitingItem(board, unitId, conversationId) {
  const item = fromTemplate("waiting-template");
  const prefix = `u${unitId}-c${conversationId}`;
  const priority = item.querySelector(".priority");
  priority.dataset.focus = `${prefix}-priority`;
  priority.addEventListener("click", () => {
    const urgent = item.dataset.priority === "1";
    board.act([{ type: "set_priority", conversation: conversationId, priority: urgent ? 0 : 1 }], {
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
      board.showNotice(gettext("Choose the unit to move the client to."));
      select.focus();
      return;
    }
    const targetName = board.unitName(target) || "";
    board.act([{ type: "move", conversation: conversationId, unit: target }], {
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

export function updateWaitingItem(board, item, unitId, conversation) {
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
  renderRisk(item.querySelector(".risk-line"), conversation.risk);
  for (const selector of [".priority-who", ".move-who", ".move-button-who"]) {
    setText(item.querySelector(selector), `(${label})`);
  }
  const select = item.querySelector(".move-unit");
  const others = syncMoveOptions(board, select, unitId);
  item.querySelector(".move-form").hidden = others === 0;
  const busy = board.isPending(`conversation:${conversation.id}`);
  for (const control of item.querySelectorAll("button, select")) control.disabled = busy;
}

// The other units of the snapshot, as choices; a choice already made is kept.
function syncMoveOptions(board, select, unitId) {
  const others = board.otherUnits(unitId);
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
