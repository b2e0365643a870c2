"""One click, one round trip: a worker accepts a waiting client and the console shows the
conversation from the answer alone; it sends no `sync` of its own for it."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.browser.flows import accept_first_waiting, expect_bodies, start_chat, worker_log

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000


def test_an_accept_shows_the_conversation_without_asking_again(
    live_server, personas, worker_context, client_context, shot
):
    worker = worker_context.new_page()
    sent: list[dict] = []

    def watch(ws) -> None:
        if ws.url.endswith("/ws/console/"):
            ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    worker.on("websocket", watch)
    login(worker, live_server.url, "anna", personas.password)
    expect(worker.locator("#connection")).to_be_hidden(timeout=WAIT)

    client = client_context.new_page()
    start_chat(client, live_server.url, "Jag behöver hjälp med hyran.")
    sent.clear()
    accept_first_waiting(worker)

    expect_bodies(worker_log(worker), ["Jag behöver hjälp med hyran."], timeout=WAIT)
    expect(worker.locator(".conversation:not([hidden]) form.composer")).to_be_visible()
    shot(worker, "accepted")
    asked = [f["type"] for f in sent if f["type"] not in ("ping", "typing", "seen")]
    assert asked == ["accept"], sent
