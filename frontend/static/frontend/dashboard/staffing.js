// A unit's staffing against its minimum (the `staffing` of a `dashboard.unit` frame, from
// chat/selectors/staffing.py): staffed now of the minimum, a warning with the priority list
// when below, and the minimums still to come today.

import { interpolate } from "../bidi.js";
import { setText } from "./dom.js";

const { gettext, ngettext } = window;

function hourText(hour) {
  return `${String(hour).padStart(2, "0")}:00`;
}

export function belowText(stats) {
  const staffing = stats.staffing;
  return interpolate(gettext("%(unit)s is below its minimum staffing: %(serving)s of %(minimum)s serving."), {
    unit: stats.name,
    serving: staffing.serving,
    minimum: staffing.minimum_now,
  }, true);
}

// Returns whether the unit is below its minimum now.
export function renderStaffing(section, stats) {
  const staffing = stats.staffing;
  const box = section.querySelector(".staffing-status");
  if (!box) return false;
  const planned = staffing && (staffing.minimum_now > 0 || staffing.rest_of_day.length > 0);
  box.hidden = !planned;
  if (!planned) return false;
  box.classList.toggle("staffing-status--below", staffing.below);
  setText(
    box.querySelector(".staffing-status__now"),
    staffing.minimum_now > 0
      ? interpolate(
          ngettext(
            "Serving now: %(serving)s of at least %(minimum)s staff.",
            "Serving now: %(serving)s of at least %(minimum)s staff.",
            staffing.minimum_now,
          ),
          { serving: staffing.serving, minimum: staffing.minimum_now },
          true,
        )
      : gettext("No minimum this hour."),
  );
  const warning = box.querySelector(".staffing-status__warning");
  warning.hidden = !staffing.below;
  setText(box.querySelector(".staffing-status__below"), staffing.below ? belowText(stats) : "");
  const lenders = staffing.borrow_from.map((unit) => unit.name);
  setText(
    box.querySelector(".staffing-status__borrow"),
    lenders.length
      ? interpolate(gettext("Borrow staff from, in this order: %s."), [lenders.join(", ")])
      : gettext("No priority list: set one on the staffing plan."),
  );
  // Runs of hours with the same minimum as one span: "10:00–24:00 at least 2".
  const runs = [];
  for (const cell of staffing.rest_of_day) {
    const last = runs[runs.length - 1];
    if (last && last.end === cell.hour && last.minimum === cell.minimum) last.end = cell.hour + 1;
    else runs.push({ start: cell.hour, end: cell.hour + 1, minimum: cell.minimum });
  }
  const later = runs.map((run) =>
    interpolate(
      gettext("%(from)s–%(to)s at least %(minimum)s"),
      { from: hourText(run.start), to: hourText(run.end), minimum: run.minimum },
      true,
    ),
  );
  setText(
    box.querySelector(".staffing-status__later"),
    later.length ? interpolate(gettext("Later today: %s."), [later.join("; ")]) : "",
  );
  return Boolean(staffing.below);
}
