// Updating the dashboard in place: nodes are kept and moved, never rebuilt, so that focus
// and unsaved edits survive a frame.

const { gettext } = window;

export const $ = (id) => document.getElementById(id);

export function fromTemplate(id) {
  return $(id).content.firstElementChild.cloneNode(true);
}

// Puts `wanted` in order inside `container`, moving as few nodes as it can.
export function placeInOrder(container, wanted) {
  let cursor = container.firstElementChild;
  for (const el of wanted) {
    if (el === cursor) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    container.insertBefore(el, cursor);
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
}

// Updates the children of `container` in place, keyed by `item.id`.
export function reconcile(container, items, create, update) {
  const existing = new Map([...container.children].map((el) => [el.dataset.key, el]));
  const wanted = items.map((item) => {
    const key = String(item.id);
    let el = existing.get(key);
    if (!el) {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    return el;
  });
  placeInOrder(container, wanted);
}

// Sets a control to the server's value unless the supervisor has changed it and not saved.
export function syncValue(el, value) {
  if (el.dataset.server === undefined || el.value === el.dataset.server) el.value = value;
  el.dataset.server = value;
}

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// A large figure; null shows a dash that reads as "none".
export function setFigure(el, text) {
  if (text === null) {
    const dash = document.createElement("span");
    dash.setAttribute("aria-hidden", "true");
    dash.textContent = "–";
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = gettext("none");
    el.replaceChildren(dash, words);
  } else if (el.textContent !== text) {
    el.textContent = text;
  }
  // Words ("less than a minute") get a smaller size than numbers, so they fit the tile.
  el.classList.toggle("figure__words", text !== null && text.length > 9);
}
