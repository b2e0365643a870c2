// The follow-up inbox, live: the console socket relays followup.updated (ids, no text) for
// the worker's units; the page asks for the text it shows (a logged read) and rebuilds the
// item from the page's template with textContent.

import { connectionLine } from "./connection.js";
import { Socket, readSettings } from "./socket.js";

const { gettext, interpolate } = window;
const settings = readSettings("socket-settings");
const list = document.getElementById("inbox");
const template = document.getElementById("inbox-template");
const connection = document.getElementById("connection");

// The inbox keeps it short: whatever the reason, it is on its way back.
const reconnecting = () => gettext("Reconnecting…");
const INBOX_CONNECTION_TEXT = {
  connecting: reconnecting,
  reconnecting,
  "signed-out": reconnecting,
  forbidden: reconnecting,
};

function kindText(f) {
  if (f.kind === "from_client") {
    return f.answered
      ? gettext("Client's question, answered")
      : gettext("Client's question, waiting for an answer");
  }
  return gettext("The client answered");
}

function show(f) {
  if (f.kind === "to_client" && !f.answered) return; // only answers come to the inbox
  const item = template.content.firstElementChild.cloneNode(true);
  item.dataset.followup = f.id;
  item.classList.add("inbox__item--new");
  item.querySelector(".kind").textContent = kindText(f);
  item.querySelector(".inbox__body").textContent = f.body;
  item.querySelector(".inbox__answer").textContent = f.answer || "";
  const link = item.querySelector(".case-link");
  link.href = `/console/cases/${Number(f.case)}/`;
  link.textContent = interpolate(gettext("Open case %s"), [f.case]);
  const existing = list.querySelector(`[data-followup="${Number(f.id)}"]`);
  if (existing) existing.replaceWith(item);
  else list.prepend(item);
  document.getElementById("inbox-empty")?.remove();
}

const socket = new Socket("/ws/console/", {
  heartbeatSeconds: settings.heartbeatSeconds,
  onOpen: () => {},
  onStatus: connectionLine(connection, INBOX_CONNECTION_TEXT),
  handlers: {
    // The news carries no client text; asking for it writes the read to the access log.
    "followup.updated": (frame) => {
      const f = frame.followup;
      if (f.kind === "to_client" && !f.answered) return; // only answers come to the inbox
      socket.send({ type: "read_followup", followup: f.id });
    },
    "followup.read": (frame) => show(frame.followup),
  },
});
socket.connect();
