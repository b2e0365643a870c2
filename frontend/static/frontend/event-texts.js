// The words for what happens in a chat, as each reader sees them: system events (joined,
// handed over, ended...) and why a message could not be sent.

import { interpolate } from "./bidi.js";

const { gettext, ngettext } = window;

// Who joined or left, as the server writes it in the event's body.
function joinedText(body, viewer) {
  if (body === "interpreter") return gettext("An interpreter has joined the chat.");
  return viewer === "staff"
    ? gettext("A colleague has joined the chat.")
    : gettext("Another social worker has joined the chat.");
}

function leftText(body, viewer) {
  if (body === "interpreter") return gettext("The interpreter has left the chat.");
  return viewer === "staff"
    ? gettext("The colleague has left the chat.")
    : gettext("The other social worker has left the chat.");
}

// A call in the history: the server writes "<voice|video> <seconds|declined|unanswered>".
function callText(body) {
  const [media, outcome] = String(body || "").split(" ");
  const video = media === "video";
  if (outcome === "declined") return video ? gettext("Video call, declined.") : gettext("Voice call, declined.");
  if (!/^[0-9]+$/.test(outcome || "")) {
    return video ? gettext("Video call, not answered.") : gettext("Voice call, not answered.");
  }
  const total = Number(outcome);
  const length =
    total >= 60
      ? interpolate(gettext("%s min %s s"), [Math.floor(total / 60), total % 60])
      : interpolate(gettext("%s s"), [total]);
  return interpolate(video ? gettext("Video call, %s.") : gettext("Voice call, %s."), [length]);
}

// System events, worded for who reads them: the client, staff, or an interpreter.
export const EVENT_TEXT = {
  client: {
    referred: () =>
      gettext("Staff here have asked social services to contact you. A social worker will answer as soon as they can."),
    accepted: () => gettext("A social worker has joined the chat."),
    ended: () => gettext("The chat has ended."),
    abandoned: () => gettext("You have left the queue."),
    moved: () => gettext("You have been moved to another unit's queue. Your place is kept."),
    rejoined: () => gettext("You are back in the queue, in the same place."),
    // Neutral on purpose: when only the note goes along to another unit, the new social
    // worker does not see the earlier messages, so nothing is promised about them.
    handover_started: () =>
      gettext("You are being connected to a colleague. Please wait a moment."),
    handover_cancelled: () => gettext("You are still talking with the same social worker."),
    handover_joined: (m) =>
      m.body
        ? interpolate(gettext("%s, a social worker, has taken over the chat."), [m.body])
        : gettext("Another social worker has taken over the chat."),
    participant_joined: (m) => joinedText(m.body, "client"),
    participant_left: (m) => leftText(m.body, "client"),
    call: (m) => callText(m.body),
    call_joined: () => gettext("An interpreter has joined the call."),
    returned: () => gettext("You are back in the queue, first in line."),
    worker_gone: () =>
      gettext(
        "Your social worker is no longer connected. You are back in the queue, first in line, and nothing you wrote is lost.",
      ),
  },
  staff: {
    referred: () =>
      gettext("Urgent referral from partner staff: the code word was used. What they told is in the note below."),
    accepted: () => gettext("A social worker has joined the chat."),
    ended: () => gettext("The chat has ended."),
    rejoined: () => gettext("The client is back in the queue."),
    abandoned: () => gettext("The client left the queue."),
    moved: () => gettext("The conversation was moved to another unit."),
    quick_exit: () =>
      gettext("The client left quickly with the quick exit. Someone may be near them: do not try to contact them."),
    handover_started: () => gettext("Handover started."),
    handover_cancelled: () => gettext("The handover did not go ahead."),
    handover_joined: (m) =>
      m.author
        ? interpolate(gettext("%s has taken over the chat."), [m.author])
        : gettext("A colleague has taken over the chat."),
    participant_joined: (m) => joinedText(m.body, "staff"),
    participant_left: (m) => leftText(m.body, "staff"),
    call: (m) => callText(m.body),
    call_joined: () => gettext("An interpreter has joined the call."),
    returned: () => gettext("Nobody answered in time, so the conversation went back to the queue."),
    worker_gone: () =>
      gettext("The social worker was no longer connected, so the conversation went back to the queue."),
  },
  interpreter: {
    referred: () => gettext("Partner staff referred the person to social services."),
    accepted: () => gettext("A social worker has joined the chat."),
    ended: () => gettext("The chat has ended."),
    moved: () => gettext("The conversation was moved to another unit."),
    quick_exit: () => gettext("The client has left the chat."),
    handover_started: () => gettext("The client is being connected to another social worker."),
    handover_cancelled: () => gettext("The handover did not go ahead."),
    handover_joined: () => gettext("Another social worker has taken over the chat."),
    participant_joined: (m) => joinedText(m.body, "interpreter"),
    participant_left: (m) => leftText(m.body, "interpreter"),
    call: (m) => callText(m.body),
    call_joined: () => gettext("An interpreter has joined the call."),
    returned: () => gettext("The conversation went back to the queue."),
    worker_gone: () => gettext("The conversation went back to the queue."),
  },
};

const ERROR_TEXT = {
  too_long: () => gettext("The message is too long. Shorten it and send again."),
  invalid: () => gettext("The message could not be sent. Check it and send again."),
  conflict: () => gettext("The chat has ended, so the message could not be sent."),
  forbidden: () => gettext("You cannot write in this chat."),
  rate_limited: (frame) => limitText(frame),
  not_found: () => gettext("The chat could not be found."),
  unit_closed: () =>
    gettext("The unit has just closed for today. See the opening hours, or call 112 if it is urgent."),
  at_capacity: () => gettext("You already have as many conversations as your capacity allows."),
  not_present: () => gettext("You are no longer in this conversation."),
};

// `frame`: the error frame, for the texts that say more than its code (a limit's wait).
export function errorText(code, frame = {}) {
  return (ERROR_TEXT[code] || (() => gettext("Something went wrong. Please try again.")))(frame);
}

// A flood limit (`rate_limited`): which limit (`what`) and how long to wait (`retry_after`,
// in seconds), in the reader's words.
export function limitText(frame = {}) {
  const seconds = Math.max(1, Math.ceil(Number(frame.retry_after) || 0));
  const known = Number(frame.retry_after) > 0;
  // ngettext's own calls are written out, so that makemessages finds the texts.
  const say = (text, n) => interpolate(text, [n]);
  switch (frame.what) {
    case "messages":
      return say(
        ngettext(
          "You have written many messages in a short time. What you wrote is kept and is sent in %s second.",
          "You have written many messages in a short time. What you wrote is kept and is sent in %s seconds.",
          seconds,
        ),
        seconds,
      );
    case "starts": {
      const minutes = Math.ceil(seconds / 60);
      return say(
        ngettext(
          "Many chats have been started from your network in a short time. You can start a chat in %s minute. Your message is still here.",
          "Many chats have been started from your network in a short time. You can start a chat in %s minutes. Your message is still here.",
          minutes,
        ),
        minutes,
      );
    }
    case "sockets":
      return say(
        ngettext(
          "Many connections have been opened from your network in a short time. The page connects again in %s second. Nothing you wrote is lost.",
          "Many connections have been opened from your network in a short time. The page connects again in %s seconds. Nothing you wrote is lost.",
          seconds,
        ),
        seconds,
      );
    default:
      if (!known) return gettext("A lot was sent in a short time. Wait a moment and try again.");
      return say(
        ngettext(
          "A lot was sent in a short time. You can try again in %s second.",
          "A lot was sent in a short time. You can try again in %s seconds.",
          seconds,
        ),
        seconds,
      );
  }
}
