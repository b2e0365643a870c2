// The client's place in the queue, and only an estimate the server can stand behind, with
// what it is based on: the unit's own recent conversations, or a typical conversation
// while the unit has too few of its own. With nobody serving there is no number to give.

const { gettext, interpolate } = window;
const $ = (id) => document.getElementById(id);

function estimateText(estimate) {
  if (!estimate) return gettext("We can't say yet how long the wait will be.");
  const wait =
    estimate.high <= 2
      ? gettext("A social worker should answer within a few minutes.")
      : interpolate(gettext("Expected wait: about %(low)s–%(high)s minutes."), estimate, true);
  const basis =
    estimate.based_on === "typical"
      ? interpolate(
          gettext("This unit has few finished chats yet; a typical chat takes about %s minutes."),
          [estimate.typical],
        )
      : gettext("Based on this unit's recent chats.");
  return `${wait} ${basis}`;
}

// `unit` is the start page's { name, open, hours } of the client's unit, when known.
export function showQueuePlace(frame, unit) {
  $("queue-info").hidden = false;
  $("queue-position").textContent =
    frame.position === 1
      ? gettext("You are next in the queue.")
      : interpolate(gettext("You are number %s in the queue."), [frame.position]);
  const nobody = !frame.unit_open || frame.staff_serving === 0;
  let text;
  if (nobody) {
    // No number: nobody can say when someone signs in. The place is kept.
    text = gettext(
      "No social worker is available right now, so we can't say when one will be free. You keep your place in the queue.",
    );
    if (unit && unit.hours) {
      text += ` ${interpolate(gettext("Opening hours: %s."), [unit.hours])}`;
    }
  } else {
    text = estimateText(frame.estimate);
  }
  $("queue-estimate").textContent = text;
  $("queue-estimate").hidden = !text;
  // Nobody there to answer: the client may leave the question instead of waiting.
  $("queue-leave").hidden = !nobody;
}
