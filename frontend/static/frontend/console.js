// The social worker's console: the waiting queues of the worker's units, live, and the
// worker's own conversations, several at once, each with its own thread and outbox.

import { Socket, readSettings } from "./socket.js";
import { Thread, errorText } from "./thread.js";

const { gettext, interpolate, ngettext } = window;
const settings = readSettings("socket-settings");
const unitNames = readSettings("unit-names");

const $ = (id) => document.getElementById(id);
const waitingList = $("waiting");
const waitingEmpty = $("waiting-empty");
const tabs = $("conversation-tabs");
const panels = $("conversation-panels");
const noConversation = $("no-conversation");
const connection = $("connection");
const notice = $("notice");

const waitingByUnit = new Map(); // unit id -> list of waiting conversations
const conversations = new Map(); // conversation id -> { thread, panel, tab }
let selected = null;
let acceptedHere = false; // focus a conversation this tab accepted

const CONNECTION_TEXT = {
  connecting: () => gettext("Connecting…"),
  reconnecting: () => gettext("The connection was lost. Reconnecting…"),
  "signed-out": () => gettext("You have been signed out. Sign in again to continue."),
  forbidden: () => gettext("Your account cannot use the console."),
  open: () => "",
};

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
      for (const c of frame.waiting) waitingByUnit.get(c.unit)?.push(c);
      renderWaiting();
      for (const c of frame.conversations) openConversation(c.id, c.unit);
      showPresence(frame.presence);
      for (const [id, entry] of conversations) {
        socket.send({ type: "sync", conversation: id, after: entry.thread.lastSeq });
      }
    },
    "presence.updated": showPresence,
    pong: (frame) => {
      for (const [id, lastSeq] of Object.entries(frame.last_seqs || {})) {
        const entry = conversations.get(Number(id));
        if (entry && lastSeq > entry.thread.lastSeq) entry.thread.onGap(entry.thread.lastSeq);
      }
      for (const entry of conversations.values()) entry.thread.flushStale();
    },
    "queue.updated": (frame) => {
      waitingByUnit.set(frame.unit, frame.waiting);
      renderWaiting();
    },
    "conversation.assigned": (frame) => {
      const entry = openConversation(frame.conversation, frame.detail.unit);
      socket.send({ type: "sync", conversation: frame.conversation, after: entry.thread.lastSeq });
      if (acceptedHere) {
        acceptedHere = false;
        select(frame.conversation);
      }
    },
    "conversation.sync": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry) entry.thread.applySync(frame);
    },
    "conversation.message": (frame) => {
      const entry = conversations.get(frame.conversation);
      if (!entry) return;
      if (entry.thread.receive(frame) && frame.message.sender === "client") markUnread(entry);
    },
    ack: (frame) => conversations.get(frame.conversation)?.thread.ack(frame),
    error: (frame) => {
      const entry = conversations.get(frame.conversation);
      if (entry && frame.client_id && frame.in_reply_to === "message") entry.thread.fail(frame);
      else if (frame.code === "nothing_waiting") showNotice(gettext("Nobody is waiting right now."));
      else if (frame.code === "at_capacity") showNotice(errorText(frame.code));
      else if (frame.in_reply_to === "accept" && frame.code === "conflict")
        showNotice(gettext("Someone else has already taken that conversation."));
      else showNotice(errorText(frame.code));
    },
  },
});

const presenceSelect = $("presence-status");
let capacity = null;

function showPresence(presence) {
  presenceSelect.value = presence.status;
  presenceSelect.disabled = false;
  capacity = presence.capacity;
  showLoad();
}

function showLoad() {
  if (capacity === null) return;
  const active = [...conversations.values()].filter((e) => e.thread.state === "active").length;
  $("presence-load").textContent = interpolate(
    gettext("%(active)s of %(capacity)s conversations in progress."),
    { active, capacity },
    true,
  );
}

presenceSelect.addEventListener("change", () => {
  presenceSelect.disabled = true;
  if (!socket.send({ type: "presence", status: presenceSelect.value })) {
    presenceSelect.disabled = false;
    showNotice(gettext("Not connected. Try again in a moment."));
  }
});

function showNotice(text) {
  notice.textContent = text;
}

function waitedText(isoTime) {
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(isoTime)) / 60000));
  if (minutes < 1) return gettext("waited less than a minute");
  return interpolate(ngettext("waited %s minute", "waited %s minutes", minutes), [minutes]);
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

function openConversation(id, unitId) {
  if (conversations.has(id)) return conversations.get(id);
  const panel = $("conversation-template").content.firstElementChild.cloneNode(true);
  panel.id = `conversation-${id}`;
  panel.hidden = true;
  const title = panel.querySelector("h2");
  title.id = `conversation-${id}-title`;
  panel.setAttribute("aria-labelledby", title.id);
  title.textContent = interpolate(gettext("Client %s"), [id]);
  panel.querySelector(".unit").textContent = unitNames[unitId] || "";
  const textarea = panel.querySelector("textarea");
  textarea.id = `composer-${id}`;
  panel.querySelector("label.composer-label").htmlFor = textarea.id;
  textarea.maxLength = settings.maxLength;
  panels.append(panel);

  const tab = $("tab-template").content.firstElementChild.cloneNode(true);
  const tabButton = tab.querySelector("button");
  tabButton.querySelector(".label").textContent = interpolate(gettext("Client %s"), [id]);
  tabButton.setAttribute("aria-controls", panel.id);
  tabButton.addEventListener("click", () => select(id));
  tabs.append(tab);

  const thread = new Thread({
    log: panel.querySelector(".log"),
    template: $("message-template"),
    viewer: "worker",
    storageKey: `cc.console.outbox.${id}`,
    send: (frame) => socket.send(frame),
    onGap: (after) => socket.send({ type: "sync", conversation: id, after }),
    onStateChange: (state) => {
      const open = state === "active";
      panel.querySelector("form").hidden = !open;
      panel.querySelector(".end").hidden = !open;
      panel.querySelector(".ended").hidden = open;
      tab.dataset.state = state;
      showLoad();
      tabButton.querySelector(".state").textContent = open ? "" : gettext("ended");
    },
    onFailed: (body, reason) => {
      if (!textarea.value) textarea.value = body;
      showNotice(reason);
    },
  });
  thread.conversation = id;
  const entry = { thread, panel, tab, tabButton };
  conversations.set(id, entry);

  panel.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!textarea.value.trim()) return;
    thread.post(textarea.value);
    textarea.value = "";
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      panel.querySelector("form").requestSubmit();
    }
  });
  panel.querySelector(".end").addEventListener("click", () => {
    socket.send({ type: "end", conversation: id });
  });
  panel.querySelector(".close").addEventListener("click", () => closeConversation(id));
  noConversation.hidden = true;
  if (selected === null) select(id);
  return entry;
}

function select(id) {
  selected = id;
  for (const [otherId, entry] of conversations) {
    const isSelected = otherId === id;
    entry.panel.hidden = !isSelected;
    entry.tabButton.setAttribute("aria-current", isSelected ? "true" : "false");
    if (isSelected) {
      entry.tab.classList.remove("unread");
      entry.tabButton.querySelector(".unread-mark").hidden = true;
    }
  }
  const entry = conversations.get(id);
  if (entry && !entry.panel.querySelector("form").hidden) entry.panel.querySelector("textarea").focus();
}

function markUnread(entry) {
  if (entry.thread.conversation === selected && document.hasFocus()) return;
  entry.tab.classList.add("unread");
  entry.tabButton.querySelector(".unread-mark").hidden = false;
}

function closeConversation(id) {
  const entry = conversations.get(id);
  if (!entry) return;
  entry.panel.remove();
  entry.tab.remove();
  conversations.delete(id);
  sessionStorage.removeItem(`cc.console.outbox.${id}`);
  if (selected === id) {
    selected = null;
    const next = conversations.keys().next();
    if (!next.done) select(next.value);
  }
  noConversation.hidden = conversations.size > 0;
}

socket.connect();
