// Direction of user text. Anything a person typed (a message, a note, a name) may hold a
// right-to-left override (U+202E) or other direction controls; shown without isolation, it
// reorders the text around it, so a line can read as a different file name or amount than
// it holds. Elements that hold only user text get dir="auto" (app.css isolates them); a
// value set into a translated sentence is wrapped in FIRST STRONG ISOLATE ... POP
// DIRECTIONAL ISOLATE here, which ends whatever override it opened.

const FSI = "\u2068";
const PDI = "\u2069";

export function isolate(text) {
  return `${FSI}${text}${PDI}`;
}

// window.interpolate, with every string value isolated (numbers have no direction of their
// own and stay as they are).
export function interpolate(format, values, named) {
  const wrap = (value) => (typeof value === "string" ? isolate(value) : value);
  const isolated = Array.isArray(values)
    ? values.map(wrap)
    : Object.fromEntries(Object.entries(values).map(([key, value]) => [key, wrap(value)]));
  return window.interpolate(format, isolated, named);
}
