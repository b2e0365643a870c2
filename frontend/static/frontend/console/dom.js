// Small helpers for building the console's DOM. User text only ever goes in as textContent.

export const $ = (id) => document.getElementById(id);

export function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

// A fresh copy of the first element of <template id=...>.
export function fromTemplate(id) {
  return $(id).content.firstElementChild.cloneNode(true);
}
