"""How long a page waits before it reconnects (socket.js), run in Chromium: the delays
chosen, never how fast anything happened. A page that was connected a moment ago keeps its
waits under 5 s however often the server refuses it; one that never reached the server
backs off to 30 s; every wait is a random time up to the ceiling (full jitter).

The second half drives the real `Socket` class with a stand-in WebSocket that is refused,
a stand-in `setTimeout` that records the wait instead of waiting, and a fixed clock."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECENT_CEILINGS = [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000]
LONG_AGO_CEILINGS = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]
MIN_WAIT = 100

SCHEDULE = """async ({ sinceFrameMs, random }) => {
  const { reconnectDelay } = await import("/static/frontend/socket.js");
  return Array.from({ length: 10 }, (_, attempt) =>
    reconnectDelay(attempt, sinceFrameMs, random));
}"""

# Opens a Socket, lets it hear one frame, then has the server vanish for `refusals`
# attempts (each new WebSocket closes without opening) and lets it in at the end. Returns
# the waits the socket chose, and the first wait after it was in again and lost once more.
DRIVE = """async ({ random, quietMs, refusals, connectFirst }) => {
  const { Socket } = await import("/static/frontend/socket.js");
  const real = { WebSocket: window.WebSocket, setTimeout: window.setTimeout,
                 setInterval: window.setInterval, now: Date.now, random: Math.random };
  let now = 1_000_000;
  const sockets = [];
  const timers = [];
  class Stand {
    static OPEN = 1;
    constructor(url) { this.url = url; this.readyState = 0; this.on = {}; sockets.push(this); }
    addEventListener(type, f) { (this.on[type] ||= []).push(f); }
    fire(type, event = {}) {
      if (type === "open") this.readyState = 1;
      if (type === "close") this.readyState = 3;
      for (const f of this.on[type] || []) f(event);
    }
    send() {}
    close() { this.readyState = 3; }
  }
  window.WebSocket = Stand;
  window.setTimeout = (f, ms) => { timers.push({ f, ms }); return timers.length; };
  window.setInterval = () => 0;
  Date.now = () => now;
  Math.random = () => random;
  const waits = [];
  try {
    const socket = new Socket("/ws/test/", { handlers: {}, onOpen: () => {} });
    socket.connect();
    if (connectFirst) {
      sockets.at(-1).fire("open");
      sockets.at(-1).fire("message", { data: '{"type": "pong"}' });
      now += quietMs;  // the last frame was this long before the server went
    }
    sockets.at(-1).fire("close", { code: 1006 });
    for (let n = 0; n < refusals; n += 1) {
      const timer = timers.shift();
      waits.push(timer.ms);
      now += timer.ms;
      timer.f();                                   // connect() again ...
      sockets.at(-1).fire("close", { code: 1006 }); // ... and refused
    }
    const timer = timers.shift();
    waits.push(timer.ms);
    timer.f();
    sockets.at(-1).fire("open");                   // the server answers again
    sockets.at(-1).fire("close", { code: 1006 });  // and goes once more
    const afterOpen = timers.shift().ms;
    socket.stop();
    return { waits, afterOpen, urls: new Set(sockets.map((s) => s.url)).size };
  } finally {
    window.WebSocket = real.WebSocket;
    window.setTimeout = real.setTimeout;
    window.setInterval = real.setInterval;
    Date.now = real.now;
    Math.random = real.random;
  }
}"""


@pytest.fixture
def module_page(live_server, page):
    """Any page of the site: the module is imported from its own origin."""
    page.goto(f"{live_server.url}/")
    return page


def test_a_page_connected_a_moment_ago_never_waits_more_than_five_seconds(module_page):
    # The largest random number gives the ceiling itself: it stops at 5 s.
    waits = module_page.evaluate(SCHEDULE, {"sinceFrameMs": 2_000, "random": 0.999999})
    assert [round(w) for w in waits] == [MIN_WAIT + c for c in RECENT_CEILINGS]
    # A minute after the last frame is still "a moment ago" up to the last millisecond.
    waits = module_page.evaluate(SCHEDULE, {"sinceFrameMs": 59_999, "random": 0.999999})
    assert max(waits) <= MIN_WAIT + 5000


def test_a_page_that_has_not_heard_from_the_server_for_a_minute_backs_off_to_thirty_seconds(
    module_page,
):
    waits = module_page.evaluate(SCHEDULE, {"sinceFrameMs": 60_000, "random": 0.999999})
    assert [round(w) for w in waits] == [MIN_WAIT + c for c in LONG_AGO_CEILINGS]


def test_every_wait_is_a_random_time_up_to_the_ceiling(module_page):
    lowest = module_page.evaluate(SCHEDULE, {"sinceFrameMs": 0, "random": 0})
    assert lowest == [MIN_WAIT] * 10
    half = module_page.evaluate(SCHEDULE, {"sinceFrameMs": 0, "random": 0.5})
    assert half == [MIN_WAIT + c / 2 for c in RECENT_CEILINGS]


def test_a_socket_refused_again_and_again_after_a_restart_keeps_its_waits_short(module_page):
    result = module_page.evaluate(
        DRIVE, {"random": 0.999999, "quietMs": 1_000, "refusals": 11, "connectFirst": True}
    )
    waits = [round(w) for w in result["waits"]]
    # Twelve refused tries (a server away for about a minute) and none waits above 5 s.
    assert waits == [MIN_WAIT + c for c in [*RECENT_CEILINGS, 5000, 5000]]
    # In again: the ceiling starts over at 0.5 s.
    assert round(result["afterOpen"]) == MIN_WAIT + 500
    assert result["urls"] == 1


def test_a_socket_that_never_reached_the_server_backs_off_as_before(module_page):
    result = module_page.evaluate(
        DRIVE, {"random": 0.999999, "quietMs": 0, "refusals": 7, "connectFirst": False}
    )
    waits = [round(w) for w in result["waits"]]
    assert waits == [MIN_WAIT + c for c in LONG_AGO_CEILINGS[:8]]


def test_a_socket_silent_for_a_minute_before_the_server_went_backs_off_as_before(module_page):
    result = module_page.evaluate(
        DRIVE, {"random": 0.999999, "quietMs": 61_000, "refusals": 7, "connectFirst": True}
    )
    waits = [round(w) for w in result["waits"]]
    assert waits == [MIN_WAIT + c for c in LONG_AGO_CEILINGS[:8]]
