// "My conversations" at a glance: for each, how many client messages the worker has not
// read, the last message, how long ago the client wrote, and what the client is doing
// (here, writing, gone quiet, connection lost, left). Those waiting for the worker's answer
// are marked and come first, longest wait first. Times tick here, with no server traffic;
// the client's connection comes from `conversation.client` and the heartbeat's
// `clients_seen`.

import { interpolate } from "../bidi.js";
import { element } from "./dom.js";

const { gettext, ngettext } = window;

const TICK_MS = 10000;
const QUIET_MS = 2 * 60 * 1000; // no word from the client this long after the worker's
const TYPING_MS = 5000; // as long as the composer shows "The client is writing…"
const PREVIEW_CHARS = 90;

// A short "how long": the list is read at a glance.
function ago(iso) {
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(iso)) / 60000));
  if (minutes < 1) return gettext("under 1 min");
  if (minutes < 60) return interpolate(gettext("%s min"), [minutes]);
  return interpolate(gettext("%s h"), [Math.floor(minutes / 60)]);
}

// The newest message in the thread from one of `senders`, as {seq, sender, at, text}.
function newest(entry, senders) {
  const li = entry.thread.newest(senders);
  if (!li) return null;
  return {
    seq: Number(li.dataset.seq),
    sender: li.dataset.sender,
    at: li.querySelector("time")?.dateTime || null,
    text: li.querySelector(".body")?.textContent || "",
  };
}

export class Triage {
  constructor(ctx) {
    this.ctx = ctx;
    this.order = 0;
    setInterval(() => this.refreshAll(), TICK_MS);
  }

  // A conversation joins the list: what the server said of it (snapshot or assignment).
  known(entry, detail) {
    if (entry.order === undefined) entry.order = this.order++;
    if (!detail) return;
    if (typeof detail.read_seq === "number") entry.readSeq = Math.max(entry.readSeq || 0, detail.read_seq);
    if (detail.client_seen_at !== undefined) this.seenAt(entry, detail.client_seen_at);
  }

  // When the client's page last gave a sign of life, as the server has it: a page silent
  // for more than two heartbeats (and a flush) has lost its connection.
  seenAt(entry, iso) {
    const limit = (this.ctx.settings.heartbeatSeconds * 2 + 10) * 1000;
    const fresh = iso && Date.now() - new Date(iso) < limit;
    if (!fresh) entry.clientOnline = false;
    else if (entry.clientOnline === undefined || entry.clientOnline === null) entry.clientOnline = true;
    this.refresh(entry);
  }

  clientPresence(entry, online) {
    entry.clientOnline = online;
    if (online) entry.clientActiveAt = Date.now();
    this.refresh(entry);
  }

  typing(entry) {
    entry.typingAt = Date.now();
    entry.clientActiveAt = Date.now();
    entry.clientOnline = true;
    this.refresh(entry);
    clearTimeout(entry.typingTimer);
    entry.typingTimer = setTimeout(() => this.refresh(entry), TYPING_MS + 100);
  }

  // The worker has had everything up to `seq` in view (sent `seen`).
  read(entry, seq) {
    entry.readSeq = Math.max(entry.readSeq || 0, seq);
    this.refresh(entry);
  }

  message(entry, message) {
    if (message.sender === "client") {
      entry.clientOnline = true;
      entry.clientActiveAt = Date.now();
      entry.typingAt = 0;
    }
    if (message.sender === "system" && message.event === "quick_exit") entry.clientLeft = true;
    if (message.sender === "system" && message.event === "ended" && !message.author) {
      entry.clientLeft = true; // no staff member ended it: the client did
    }
    this.refresh(entry);
  }

  unreadCount(entry) {
    if (entry.readSeq === undefined || entry.readSeq === null) return 0;
    let count = 0;
    for (const li of entry.log.querySelectorAll('li.message[data-sender="client"][data-seq]')) {
      if (Number(li.dataset.seq) > entry.readSeq) count += 1;
    }
    return count;
  }

  // The client wrote last, and the worker has not answered since.
  waitsForAnswer(entry) {
    if (entry.gone || entry.role !== "worker" || entry.thread.state !== "active") return false;
    const last = newest(entry, ["client", "worker", "interpreter"]);
    return Boolean(last && last.sender === "client");
  }

  clientState(entry) {
    if (entry.clientLeft) return ["left", gettext("Left the chat")];
    if (entry.gone || entry.thread.state !== "active") return ["", ""];
    if (entry.clientOnline === false) return ["lost", gettext("Connection lost")];
    if (entry.typingAt && Date.now() - entry.typingAt < TYPING_MS) {
      return ["typing", gettext("Writing…")];
    }
    const last = newest(entry, ["client", "worker", "interpreter"]);
    if (last && last.sender !== "client" && last.at) {
      const since = Math.max(new Date(last.at).getTime(), entry.clientActiveAt || 0);
      if (Date.now() - since > QUIET_MS) return ["quiet", gettext("Gone quiet")];
    }
    return ["here", gettext("Here")];
  }

  refresh(entry) {
    if (!entry.tabButton) return;
    const button = entry.tabButton;
    const unread = entry.role === "worker" || entry.readSeq !== undefined ? this.unreadCount(entry) : 0;
    entry.unread = unread > 0;
    const badge = button.querySelector(".unread-mark");
    badge.hidden = unread === 0;
    badge.replaceChildren(
      String(unread),
      element("span", "visually-hidden", ` ${ngettext("unread", "unread", unread)}`),
    );
    entry.tab.classList.toggle("unread", unread > 0);

    const waits = this.waitsForAnswer(entry);
    entry.waits = waits;
    const lastClient = newest(entry, ["client"]);
    const mark = button.querySelector(".unanswered-mark");
    mark.hidden = !(waits || entry.unanswered);
    mark.textContent =
      waits && lastClient?.at
        ? interpolate(gettext("Waiting for your answer · %s"), [ago(lastClient.at)])
        : gettext("Waiting for your answer");
    mark.classList.toggle("flag--strong", Boolean(entry.unanswered));
    entry.tab.classList.toggle("tab--waits", waits);

    const last = newest(entry, ["client", "worker", "interpreter"]);
    let preview = "";
    if (last) {
      const text = last.text.replace(/\s+/g, " ").trim();
      const cut = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS).trimEnd()}…` : text;
      preview = last.sender === "client" ? cut : interpolate(gettext("You: %s"), [cut]);
      if (last.sender === "interpreter") preview = interpolate(gettext("Interpreter: %s"), [cut]);
    }
    button.querySelector(".tab__preview").textContent = preview;

    const [state, stateText] = this.clientState(entry);
    const stateEl = button.querySelector(".client-state");
    stateEl.textContent = stateText;
    entry.tab.dataset.client = state;
    // The mark says how long a waiting client has waited; otherwise when they last wrote.
    button.querySelector(".since").textContent =
      lastClient?.at && state !== "left" && !waits
        ? interpolate(gettext("wrote %s ago"), [ago(lastClient.at)])
        : "";
    this.sortSoon();
  }

  refreshAll() {
    for (const entry of this.ctx.conversations.values()) this.refresh(entry);
  }

  sortSoon() {
    if (this.sortFrame) return;
    this.sortFrame = requestAnimationFrame(() => {
      this.sortFrame = null;
      this.sort();
      this.ctx.alerts.updateTitle();
    });
  }

  // Waiting for an answer first (longest first), then the rest as they came.
  ordered() {
    const entries = [...this.ctx.conversations.values()];
    const waitedSince = (entry) => {
      const last = newest(entry, ["client"]);
      return last?.at ? new Date(last.at).getTime() : Infinity;
    };
    return entries.sort((a, b) => {
      if (a.waits !== b.waits) return a.waits ? -1 : 1;
      if (a.waits) return waitedSince(a) - waitedSince(b) || a.order - b.order;
      return a.order - b.order;
    });
  }

  sort() {
    const list = this.ctx.conversations.tabList;
    const tabs = this.ordered().map((entry) => entry.tab);
    const same = tabs.length === list.children.length && tabs.every((tab, i) => list.children[i] === tab);
    if (same) return;
    const focused = document.activeElement;
    list.replaceChildren(...tabs);
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
  }
}
