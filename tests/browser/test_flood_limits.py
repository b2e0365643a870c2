"""What the client's page says when a flood limit refuses it, in Chromium: which limit and
how long to wait, with nothing the client wrote lost. The page is the real one; the socket
server is a stand-in (Playwright's WebSocket routing) that refuses on cue, and the page's
clock is Playwright's, moved on by the test rather than waited for."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.flows import client_log

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIRST = "Hej, jag behöver prata med någon."
TOO_FAST = "Och en sak till."
DRAFT = "Jag skriver vidare under tiden"
WAIT = 20


class StandInServer:
    """Answers `start` with a queued conversation, acknowledges messages, and refuses the
    first message (or the start) with `rate_limited` when told to."""

    def __init__(self, unit_id: int, *, refuse: str) -> None:
        self.unit_id = unit_id
        self.refuse = refuse  # "messages" or "starts"
        self.seq = 1
        self.received: list[dict[str, Any]] = []

    def __call__(self, ws: WebSocketRoute) -> None:
        ws.on_message(lambda text: self.answer(ws, json.loads(text)))

    def answer(self, ws: WebSocketRoute, frame: dict[str, Any]) -> None:
        self.received.append(frame)
        kind = frame["type"]
        if kind == "start" and self.refuse == "starts":
            self.refuse_it(ws, frame, what="starts", retry_after=1800)
        elif kind == "start":
            ws.send(json.dumps(self.sync(frame)))
        elif kind == "message" and self.refuse == "messages":
            self.refuse = ""
            self.refuse_it(ws, frame, what="messages", retry_after=WAIT)
        elif kind == "message":
            self.seq += 1
            ack = {"type": "ack", "conversation": 7, "client_id": frame["client_id"]}
            ws.send(json.dumps({**ack, "seq": self.seq}))
            ws.send(json.dumps(self.message_event(frame)))
        elif kind == "ping":
            ws.send(json.dumps({"type": "pong", "last_seq": self.seq}))

    @staticmethod
    def refuse_it(ws: WebSocketRoute, frame: dict[str, Any], *, what: str, retry_after: int):
        error = {"type": "error", "code": "rate_limited", "message": f"too many {what}"}
        ws.send(
            json.dumps(
                {
                    **error,
                    "in_reply_to": frame["type"],
                    "client_id": frame["client_id"],
                    "what": what,
                    "retry_after": retry_after,
                }
            )
        )

    def payload(self, frame: dict[str, Any], seq: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "sender": "client",
            "event": "",
            "body": frame["body"],
            "parts": [],
            "client_id": frame["client_id"],
            "created_at": "2025-03-03T10:00:00+00:00",
        }

    def sync(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "conversation.sync",
            "conversation": 7,
            "state": "queued",
            "unit": self.unit_id,
            "last_seq": 1,
            "from_seq": 0,
            "messages": [self.payload(frame, 1)],
        }

    def message_event(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "conversation.message",
            "conversation": 7,
            "state": "queued",
            "message": self.payload(frame, self.seq),
        }


def open_client_page(page: Page, base_url: str, server: StandInServer) -> None:
    page.clock.install()
    page.route_web_socket(re.compile(r".*/ws/client/$"), server)
    page.goto(f"{base_url}/")
    page.get_by_role("radio", name="Ekonomiskt bistånd").check()
    page.locator("#first-message").fill(FIRST)
    page.locator("#start-form button[type=submit]").click()


def test_a_client_told_to_slow_down_sees_the_wait_and_loses_nothing(
    live_server, personas, client_context, shot
):
    page = client_context.new_page()
    server = StandInServer(personas.unit.pk, refuse="messages")
    open_client_page(page, live_server.url, server)
    expect(page.locator("body")).to_have_attribute("data-state", "queued")

    page.locator("#composer-body").fill(TOO_FAST)
    page.locator("#composer-body").press("Enter")
    notice = page.locator("#notice")
    expect(notice).to_have_text(
        re.compile(rf"många meddelanden på kort tid.*skickas om {WAIT} sekunder", re.S)
    )
    # The refused message is still on the page, on its way; the next one is being written.
    pending = client_log(page).locator("li.message--pending .body")
    expect(pending).to_have_text([TOO_FAST])
    page.locator("#composer-body").fill(DRAFT)
    shot(page, "told-to-wait")
    sent_before = [f for f in server.received if f["type"] == "message"]

    # Nothing goes again before the wait is over; then it goes once, and the notice goes.
    page.clock.run_for((WAIT - 1) * 1000)
    assert [f for f in server.received if f["type"] == "message"] == sent_before
    page.clock.run_for(2000)
    expect(pending).to_have_count(0)
    expect(client_log(page).locator("li.message--client .body")).to_have_text([FIRST, TOO_FAST])
    expect(notice).to_have_text("")
    expect(page.locator("#composer-body")).to_have_value(DRAFT)
    resent = [f for f in server.received if f["type"] == "message"][len(sent_before) :]
    assert [f["body"] for f in resent] == [TOO_FAST]
    shot(page, "sent-after-the-wait")


def test_a_refused_start_says_when_to_try_again_and_keeps_the_message(
    live_server, personas, client_context, shot
):
    page = client_context.new_page()
    open_client_page(page, live_server.url, StandInServer(personas.unit.pk, refuse="starts"))

    error = page.locator("#start-error")
    expect(error).to_have_text(re.compile(r"från ditt nätverk.*om 30 minuter", re.S))
    expect(page.locator("#first-message")).to_have_value(FIRST)
    shot(page, "start-refused")
