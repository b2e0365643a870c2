// What the risk rules found in a client's words, as staff see it (console rows and
// conversations, the dashboard): why the conversation moved, and the matched words
// highlighted in their sentence. The client's words go in with textContent only.

import { interpolate } from "./bidi.js";

const { gettext } = window;

// Why, in a sentence: what the rule did, or who lowered it again and why.
export function riskReason(risk) {
  const rule = risk.rule;
  if (risk.lowered) {
    return interpolate(
      gettext(
        "Lowered to normal by %(name)s: %(reason)s (the risk rule %(rule)s had found these words)",
      ),
      { name: risk.lowered.by_name, reason: risk.lowered.reason, rule },
      true,
    );
  }
  if (risk.held === "negated") {
    return interpolate(
      gettext("Only marked: the risk rule %(rule)s found these words, but negated"),
      { rule },
      true,
    );
  }
  if (risk.held === "quoted") {
    return interpolate(
      gettext("Only marked: the risk rule %(rule)s found these words, but in quotation marks"),
      { rule },
      true,
    );
  }
  if (risk.effect === "urgent") {
    return interpolate(
      gettext("Urgent, first in the queue: the risk rule %(rule)s found these words"),
      { rule },
      true,
    );
  }
  if (risk.effect === "alert") {
    return interpolate(
      gettext("Supervisors alerted: the risk rule %(rule)s found these words"),
      { rule },
      true,
    );
  }
  return interpolate(
    gettext("Marked: the risk rule %(rule)s found these words"),
    { rule },
    true,
  );
}

// Fill `container` (hidden when there is nothing) with the reason and the quote. With
// `onLower`, a conversation still raised gets a "Lower to normal…" button.
export function renderRisk(container, risk, { onLower = null, label = "" } = {}) {
  container.replaceChildren();
  container.hidden = !risk;
  if (!risk) return;
  container.classList.toggle("risk-line--urgent", risk.effect === "urgent" && !risk.lowered);
  container.classList.toggle("risk-line--lowered", Boolean(risk.lowered));
  const why = document.createElement("span");
  why.className = "risk-line__why";
  why.textContent = riskReason(risk);
  const quote = document.createElement("q");
  quote.className = "risk-line__quote";
  quote.dir = "auto";
  const mark = document.createElement("mark");
  mark.textContent = risk.matched;
  quote.append(risk.before || "", mark, risk.after || "");
  container.append(why, " ", quote);
  if (onLower && risk.effect === "urgent" && !risk.lowered) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-button risk-line__lower";
    button.setAttribute("aria-haspopup", "dialog");
    button.textContent = gettext("Lower to normal…");
    if (label) {
      button.setAttribute("aria-label", interpolate(gettext("Lower %s to normal…"), [label]));
    }
    button.addEventListener("click", () => onLower(button));
    container.append(" ", button);
  }
}
