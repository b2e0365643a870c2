// The client's place in the queue, and only an estimate the server can stand behind.

const { gettext, interpolate } = window;
const $ = (id) => document.getElementById(id);

export function showQueuePlace(frame) {
  $("queue-info").hidden = false;
  $("queue-position").textContent =
    frame.position === 1
      ? gettext("You are next in the queue.")
      : interpolate(gettext("You are number %s in the queue."), [frame.position]);
  const estimate = frame.estimate;
  const nobody = !frame.unit_open || frame.staff_serving === 0;
  let text;
  if (nobody) {
    text = "";
  } else if (!estimate) {
    text = gettext("We can't say yet how long the wait will be.");
  } else if (estimate.high <= 2) {
    text = gettext("A social worker should answer within a few minutes.");
  } else {
    text = interpolate(gettext("Expected wait: about %(low)s–%(high)s minutes."), estimate, true);
  }
  $("queue-estimate").textContent = text;
  $("queue-estimate").hidden = !text;
  $("queue-nobody").hidden = !nobody;
  // Nobody there to answer: the client may leave the question instead of waiting.
  $("queue-leave").hidden = !nobody;
}
