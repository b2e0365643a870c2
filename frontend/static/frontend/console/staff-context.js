// The staff context of a conversation, from `conversation.context`: the handover trail
// (the note that brought it here first) and the other people in it.

import { interpolate } from "../bidi.js";
import { timeFormat } from "../log.js";
import { element } from "./dom.js";
import { refreshControls } from "./panel.js";

const { gettext, ngettext } = window;

export function renderContext(ctx, entry, frame) {
  const { me } = ctx;
  entry.participants = frame.participants;
  entry.handovers = frame.handovers;
  const mine = frame.participants.find((p) => p.role === "colleague" && p.user === me.id);
  entry.role = mine ? "colleague" : "worker";
  renderTrail(ctx, entry, frame.handovers);
  renderParticipants(ctx, entry);
  entry.notes.load(frame.notes, entry.thread.fromSeq);
  entry.offerOpen = frame.handovers.some((h) => h.state === "offered" && h.from_id === me.id);
  refreshControls(ctx, entry);
  const trail = entry.panel.querySelector(".trail");
  if (entry.focusTrail && entry.id === ctx.conversations.selected && !trail.hidden) {
    entry.focusTrail = false;
    trail.focus();
  }
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
export function renderTrail(ctx, entry, handovers) {
  const { me } = ctx;
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

function renderParticipants(ctx, entry) {
  const { me, socket } = ctx;
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
