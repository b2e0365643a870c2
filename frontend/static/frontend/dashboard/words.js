// The dashboard's words: presence, durations, waiting times and what went wrong.

import { interpolate } from "../bidi.js";

const { gettext } = window;

export const PRESENCE_TEXT = {
  available: () => gettext("Available"),
  busy: () => gettext("Busy"),
  away: () => gettext("Away"),
  offline: () => gettext("Offline (not signed in)"),
};

export function errorText(frame) {
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

export function durationText(seconds) {
  const minutes = Math.floor(Math.max(0, seconds) / 60);
  if (minutes < 1) return gettext("less than a minute");
  if (minutes < 60) return interpolate(gettext("%s min"), [minutes]);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (rest === 0) return interpolate(gettext("%s h"), [hours]);
  return interpolate(gettext("%(hours)s h %(minutes)s min"), { hours, minutes: rest }, true);
}

export function secondsSince(isoTime) {
  return (Date.now() - new Date(isoTime)) / 1000;
}

export function clientLabel(id) {
  return interpolate(gettext("Client %s"), [id]);
}

// The longest wait: the oldest `queued_at` in the queue (the same clock as each client's own
// waiting time) when the frame holds all of it, else the server's figure carried forward by
// the age of the frame (the longest waiter may be behind the rows sent).
export function longestWaitSeconds(entry) {
  const { stats } = entry;
  const whole = stats.waiting.length > 0 && stats.waiting.length >= stats.waiting_count;
  if (whole) return Math.max(...stats.waiting.map((c) => secondsSince(c.queued_at)));
  if (stats.longest_wait_seconds === null || stats.longest_wait_seconds === undefined) return null;
  return stats.longest_wait_seconds + (Date.now() - entry.receivedAt) / 1000;
}

export function waitedText(isoTime) {
  return interpolate(gettext("waiting %s"), [durationText(secondsSince(isoTime))]);
}
