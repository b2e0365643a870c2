// A conversation's log on the page: the order of its items, message bodies with vetted
// links, the time of day, and staying at the newest item while the reader is there.

// 24-hour time in every language ("18:21", never "06:21 PM"): Swedish offices read the
// clock that way, whichever language the page is in.
export const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "sv", {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

// Builds a message body from the server's parts: text, and links the server vetted.
export function fillBody(el, parts, fallback) {
  el.replaceChildren();
  for (const part of parts && parts.length ? parts : [{ text: fallback }]) {
    if (part.href && /^https?:\/\//i.test(part.href)) {
      const a = document.createElement("a");
      a.href = part.href;
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      a.dir = "auto";
      a.textContent = part.text;
      el.append(a);
    } else {
      el.append(document.createTextNode(part.text));
    }
  }
}

function orderOf(el) {
  return el.dataset.order === undefined ? Infinity : Number(el.dataset.order);
}

// Insert `el` into `log` after every item that comes before it (by data-order).
export function placeInLog(log, el) {
  const order = orderOf(el);
  let before = null;
  for (let child = log.lastElementChild; child; child = child.previousElementSibling) {
    if (orderOf(child) <= order) break;
    before = child;
  }
  log.insertBefore(el, before);
}

// Keeps a log pinned to its newest item while the reader is at the bottom; a reader who
// scrolled up to read is left where they are.
function scrollerOf(log) {
  const style = getComputedStyle(log);
  return style.overflowY === "auto" || style.overflowY === "scroll"
    ? log
    : document.scrollingElement;
}

// For logs with their own scrollbar (see followBottom): whether the reader is at the
// bottom, decided by the reader's own scrolling, not by a layout change they did not make.
const pins = new WeakMap();

function nearBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function toBottom(scroller, pin) {
  scroller.scrollTop = scroller.scrollHeight;
  if (pin) {
    pin.stuck = true;
    pin.expected = scroller.scrollTop;
  }
}

export function keepAtBottom(log, change, { force = false } = {}) {
  const pin = pins.get(log);
  const scroller = pin ? log : scrollerOf(log);
  const atBottom = force || (pin ? pin.stuck : nearBottom(scroller));
  const result = change();
  if (atBottom) toBottom(scroller, pin);
  return result;
}

// A log with its own scrollbar stays at its newest item when its box changes size (a
// handover note appearing above it, the window resized), unless the reader scrolled up.
export function followBottom(log) {
  const pin = { stuck: true, expected: 0 };
  pins.set(log, pin);
  log.addEventListener(
    "scroll",
    () => {
      if (log.scrollTop === pin.expected) return; // our own scrolling
      pin.stuck = nearBottom(log);
    },
    { passive: true },
  );
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      if (pin.stuck) toBottom(log, pin);
    }).observe(log);
  }
}
