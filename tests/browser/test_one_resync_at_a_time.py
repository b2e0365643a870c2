"""The client page asks for one resync at a time and resends only what needs it (thread.js,
resync.js, outbox.js), run in Chromium on the real page: the real `Socket`, `Thread` and
`Outbox`, with a stand-in WebSocket that records what the page sends and lets the test
play the server, and Playwright's clock instead of waiting.

Many signs of a gap in a row (later live messages, pongs whose `last_seq` is ahead, the
check after an `ack`) send one `resume` until its answer arrives, then at most one more,
and only if the answer did not bring what the signs said exists. A message in the outbox
goes once on its socket, not again with every sync answer; after a reconnect it goes once
more, and a pong sends it again if its ack is long in coming."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONVERSATION = 7
RESYNC_TIMEOUT_MS = 10_000

# Before the page's own scripts: a stand-in WebSocket and a client session to resume.
STAND_IN = """
window.__sent = [];
window.__sockets = [];
class StandInSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.on = {};
    window.__sockets.push(this);
  }
  addEventListener(type, f) { (this.on[type] ||= []).push(f); }
  fire(type, event = {}) {
    if (type === "open") this.readyState = 1;
    if (type === "close") this.readyState = 3;
    for (const f of this.on[type] || []) f(event);
  }
  send(data) { window.__sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
}
window.WebSocket = StandInSocket;
sessionStorage.setItem("cc.client", JSON.stringify({ token: "t".repeat(43) }));
"""


def message(seq: int, sender: str = "worker", client_id: str | None = None) -> dict:
    return {
        "seq": seq,
        "sender": sender,
        "body": f"Meddelande {seq}",
        "parts": [],
        "created_at": "2026-01-05T10:00:00+00:00",
        "client_id": client_id,
    }


def live(seq: int, sender: str = "worker", client_id: str | None = None) -> dict:
    return {
        "type": "conversation.message",
        "state": "active",
        "message": message(seq, sender, client_id),
    }


def sync(first: int, last: int, last_seq: int | None = None) -> dict:
    return {
        "type": "conversation.sync",
        "conversation": CONVERSATION,
        "state": "active",
        "unit": 1,
        "from_seq": 0,
        "last_seq": last if last_seq is None else last_seq,
        "messages": [message(seq) for seq in range(first, last + 1)],
    }


class Server:
    """The test's side of the stand-in socket."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def sockets(self) -> int:
        return self.page.evaluate("window.__sockets.length")

    def open(self) -> None:
        self.page.evaluate("window.__sockets.at(-1).fire('open')")

    def close(self) -> None:
        self.page.evaluate("window.__sockets.at(-1).fire('close', { code: 1006 })")

    def push(self, *frames: dict) -> None:
        self.page.evaluate(
            """(frames) => {
              const socket = window.__sockets.at(-1);
              for (const frame of frames) socket.fire("message", { data: JSON.stringify(frame) });
            }""",
            list(frames),
        )

    def wait(self, ms: int) -> None:
        """Time passes on a live socket: the server says something every second (a frame of
        no type the page knows), so the heartbeat does not drop the socket as silent."""
        for _ in range(ms // 1000):
            self.page.clock.run_for(1000)
            self.push({"type": "keep-alive"})
        self.page.clock.run_for(ms % 1000)

    def sent(self, kind: str) -> list[dict]:
        return self.page.evaluate(
            "(kind) => window.__sent.filter((frame) => frame.type === kind)", kind
        )


@pytest.fixture
def server(live_server, page: Page) -> Server:
    page.clock.install()
    page.add_init_script(STAND_IN)
    page.goto(f"{live_server.url}/")
    page.wait_for_function("window.__sockets.length === 1")
    return Server(page)


def test_many_signs_of_a_gap_send_one_resume_until_its_answer_then_at_most_one_more(server, page):
    server.open()
    assert [f["after"] for f in server.sent("resume")] == [0]
    server.push(sync(1, 2))
    assert [f["after"] for f in server.sent("resume")] == [0]  # the answer was whole

    # A slow server: a pile of signs while the next request is out.
    server.push(live(4))
    assert [f["after"] for f in server.sent("resume")] == [0, 2]
    server.push(*(live(seq) for seq in range(5, 25)))
    server.push(*({"type": "pong", "last_seq": 30} for _ in range(5)))
    server.push({"type": "ack", "client_id": "00000000-0000-4000-8000-000000000000", "seq": 30})
    server.wait(2_000)  # the check after the ack finds seq 30 missing too
    assert [f["after"] for f in server.sent("resume")] == [0, 2]

    # The answer brings up to 20 while the signs said 30 exists: exactly one more.
    server.push(sync(3, 20))
    assert [f["after"] for f in server.sent("resume")] == [0, 2, 20]
    server.push(*({"type": "pong", "last_seq": 30} for _ in range(5)))
    server.push(sync(21, 30))
    assert [f["after"] for f in server.sent("resume")] == [0, 2, 20]
    assert page.locator("#log li.message").count() == 30

    # Nothing is out any more: the next sign asks at once.
    server.push({"type": "pong", "last_seq": 31})
    assert [f["after"] for f in server.sent("resume")] == [0, 2, 20, 30]


def test_an_answer_that_never_comes_is_forgotten_after_a_timeout(server, page):
    server.open()
    server.push(sync(1, 1))
    server.push(live(3))
    server.push(*({"type": "pong", "last_seq": 3} for _ in range(3)))
    assert [f["after"] for f in server.sent("resume")] == [0, 1]

    # The answer was lost on the way: the signs noted meanwhile ask again, once.
    server.wait(RESYNC_TIMEOUT_MS + 100)
    assert [f["after"] for f in server.sent("resume")] == [0, 1, 1]


def test_a_reconnect_forgets_the_request_on_the_old_socket(server, page):
    server.open()
    assert len(server.sent("resume")) == 1
    server.close()
    page.clock.run_for(6_000)  # the reconnect waits at most 5 s after a recent frame
    assert server.sockets() == 2
    server.open()
    assert [f["after"] for f in server.sent("resume")] == [0, 0]


def test_an_unacknowledged_message_goes_once_per_socket_and_again_when_its_ack_is_late(
    server, page
):
    server.open()
    server.push(sync(1, 1))
    page.locator("#composer-body").fill("Hej, är du kvar?")
    page.locator("#composer-body").press("Enter")
    sent = server.sent("message")
    assert [f["body"] for f in sent] == ["Hej, är du kvar?"]
    client_id = sent[0]["client_id"]

    # Sync answers on the same socket do not send it again: its ack is on the way.
    for _ in range(3):
        server.push(sync(2, 1, last_seq=1))
    assert len(server.sent("message")) == 1

    # After a reconnect it goes once more, with the same client_id, and not on every answer.
    server.close()
    page.clock.run_for(6_000)
    server.open()
    server.push(sync(2, 1, last_seq=1), sync(2, 1, last_seq=1), sync(2, 1, last_seq=1))
    assert [f["client_id"] for f in server.sent("message")] == [client_id, client_id]

    # Its ack is long in coming (a frame dropped on the way): the next pong sends it again.
    server.wait(6_000)
    server.push({"type": "pong", "last_seq": 1})
    assert [f["client_id"] for f in server.sent("message")] == [client_id] * 3

    # Acknowledged and arrived: never sent again.
    server.push({"type": "ack", "client_id": client_id, "seq": 2})
    server.push(live(2, "client", client_id))
    server.wait(6_000)
    server.push({"type": "pong", "last_seq": 2}, sync(3, 2, last_seq=2))
    assert len(server.sent("message")) == 3
    assert page.locator("#log li.message--pending").count() == 0
