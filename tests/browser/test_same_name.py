"""Two social workers with the same name, Anna Andersson, in one unit: their consoles tell
them apart by id, never by name. Each sees only their own messages as "You", an invited
namesake is listed as a participant, and a handover offer reaches only its receiver."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, MOBILE, colleague, login
from tests.browser.flows import (
    accept_first_waiting,
    client_log,
    expect_bodies,
    open_console,
    start_chat,
    worker_log,
    worker_panel,
    worker_send,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000


@pytest.fixture
def namesake(personas):
    """Another Anna Andersson in anna's unit."""
    user = colleague(personas, "anna.a2", personas.anna.first_name, personas.anna.last_name)
    assert user.display_name == personas.anna.display_name
    return user


def labels(page: Page) -> list[tuple[str, str]]:
    """(who, body) of every non-system message in the open conversation, in order."""
    rows = worker_log(page).evaluate(
        """(log) => Array.from(log.querySelectorAll('li.message'))
            .filter(li => li.dataset.sender !== 'system')
            .map(li => [li.querySelector('.who').textContent.trim(),
                        li.querySelector('.body').textContent])"""
    )
    return [tuple(row) for row in rows]


def test_namesakes_are_told_apart_by_id(live_server, personas, namesake, new_context, shot):
    base = live_server.url
    client = new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-GB").new_page()
    first = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    second = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    for page, username in ((first, "anna"), (second, "anna.a2")):
        login(page, base, username, personas.password)
        open_console(page, base)

    start_chat(client, base, "Hello, I need help.")
    panel = accept_first_waiting(first)
    worker_send(first, "I am Anna. Tell me more.")
    expect_bodies(
        client_log(client), ["Hello, I need help.", "I am Anna. Tell me more."], timeout=WAIT
    )

    # The first Anna invites the second into the conversation.
    panel.locator("button.invite").click()
    dialog = first.locator("#invite-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    first.locator("#invite-user").select_option(str(namesake.pk))
    dialog.locator("#invite-form button[type=submit]").click()
    expect(dialog).to_be_hidden(timeout=WAIT)
    expect(panel.locator(".participants")).to_be_visible(timeout=WAIT)
    expect(panel.locator(".participants__list li")).to_have_count(1)
    expect(panel.locator(".participants__list")).to_contain_text("Anna Andersson")

    # The second Anna (of the same unit, so she reads the history too) sees the first one's
    # message as Anna's, not as her own.
    expect(worker_panel(second)).to_be_visible(timeout=WAIT)
    expect_bodies(
        worker_log(second), ["Hello, I need help.", "I am Anna. Tell me more."], timeout=WAIT
    )
    worker_send(second, "I am the other Anna.")
    expect_bodies(
        worker_log(first),
        ["Hello, I need help.", "I am Anna. Tell me more.", "I am the other Anna."],
        timeout=WAIT,
    )
    expect_bodies(
        worker_log(second),
        ["Hello, I need help.", "I am Anna. Tell me more.", "I am the other Anna."],
        timeout=WAIT,
    )
    assert labels(first)[1:] == [
        ("You", "I am Anna. Tell me more."),
        ("Anna", "I am the other Anna."),
    ]
    assert labels(second)[1:] == [
        ("Anna", "I am Anna. Tell me more."),
        ("You", "I am the other Anna."),
    ]
    shot(first, "first-anna")
    shot(second, "second-anna")

    # A handover offer from the first Anna reaches the second one only.
    panel.locator("button.hand-over").click()
    handover = first.locator("#handover-dialog")
    expect(handover).to_be_visible(timeout=WAIT)
    first.locator("#handover-worker").select_option(f"{namesake.pk}:{personas.unit.pk}")
    first.locator("#handover-note").fill("She wants help with the rent.")
    handover.locator("button[type=submit]").click()
    expect(handover).to_be_hidden(timeout=WAIT)
    expect(second.locator("#offer-list li.offer")).to_have_count(1, timeout=WAIT)
    expect(panel.locator(".handover-status")).not_to_have_text("", timeout=WAIT)
    expect(first.locator("#offers")).to_be_hidden()
    expect(first.locator("#offer-list li.offer")).to_have_count(0)
    shot(second, "second-anna-offer")
