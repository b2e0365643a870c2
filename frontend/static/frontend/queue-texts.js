// The words under a waiting list that shows only the front of the queue (the server sends
// at most CONSOLE_QUEUE_ROWS per unit): how many more wait, and how many of those are
// urgent, so that nobody urgent hides behind the list. Shared by the console and the
// dashboard.

import { interpolate } from "./bidi.js";

const { ngettext } = window;

export function moreWaitingText(more, urgent) {
  if (urgent > 0) {
    return interpolate(
      ngettext(
        "and %(count)s more waiting, %(urgent)s of them urgent",
        "and %(count)s more waiting, %(urgent)s of them urgent",
        more,
      ),
      { count: more, urgent },
      true,
    );
  }
  return interpolate(ngettext("and %s more waiting", "and %s more waiting", more), [more]);
}
