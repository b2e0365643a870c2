"""A client on a phone keeps their place in the queue, and then the chat's status, in sight
while the messages scroll: the banner stays below the header (quick exit) and the composer
stays at the bottom of the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, login
from tests.browser.flows import accept_first_waiting, client_send, open_console, start_chat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000
NARROW = {"width": 360, "height": 740}


def in_sight(page: Page, selector: str) -> bool:
    """Whether the element is wholly on screen, below the sticky header."""
    return page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            const header = document.querySelector('.site-header').getBoundingClientRect();
            return box.height > 0 && box.top >= header.bottom - 1 && box.bottom <= innerHeight;
        }""",
        selector,
    )


def test_the_place_in_the_queue_and_the_chat_status_stay_in_sight_on_a_phone(
    live_server, personas, new_context
):
    client = new_context(viewport=NARROW, is_mobile=True, has_touch=True).new_page()
    start_chat(client, live_server.url, "Hej, jag behöver prata med någon.")
    expect(client.locator("#queue-position")).to_be_visible(timeout=WAIT)
    for number in range(12):
        client_send(client, f"Meddelande {number} medan jag väntar på att få svar.")
    client.evaluate("window.scrollTo(0, document.body.scrollHeight)")

    assert client.evaluate("window.scrollY") > 300  # the messages did scroll
    assert in_sight(client, "#queue-position")
    assert in_sight(client, "#queue-estimate")
    assert in_sight(client, "#composer-body")

    worker = new_context(viewport=DESKTOP).new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    accept_first_waiting(worker)
    expect(client.locator("body")).to_have_attribute("data-state", "active", timeout=WAIT)
    client.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert in_sight(client, "#chat-status")
    assert in_sight(client, "#composer-body")
