"""Steps that several browser tests share: a client starting a chat, a worker accepting it,
both writing, and reading back what each page shows and what the database holds.

Selectors are ids and classes, not visible wording: Swedish translations are still being
written, and the tests must not depend on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

UNIT_NAME = "Ekonomiskt bistånd"
AXE = Axe()
TIME_TEXT = re.compile(r"\d{1,2}[:.]\d{2}")

# Every rendered message of a log, in DOM order, as plain data.
LOG_ITEMS_JS = """(log) => Array.from(log.querySelectorAll(':scope > li.message')).map(li => ({
    seq: li.dataset.seq ? Number(li.dataset.seq) : null,
    sender: li.dataset.sender || null,
    pending: li.classList.contains('message--pending'),
    body: li.querySelector('.body').textContent,
    who: li.querySelector('.who').textContent,
    time: li.querySelector('time').textContent,
    datetime: li.querySelector('time').getAttribute('datetime'),
}))"""


# --- client --------------------------------------------------------------------------------
def client_log(page: Page) -> Locator:
    return page.locator("#log")


def start_chat(page: Page, base_url: str | None, body: str, *, unit: str = UNIT_NAME) -> None:
    """Open the client page (unless base_url is None), pick the unit, write, start."""
    if base_url is not None:
        page.goto(f"{base_url}/")
    expect(page.locator("#start")).to_be_visible()
    page.get_by_role("radio", name=unit).check()
    page.locator("#first-message").fill(body)
    page.locator("#start-form button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-state", "queued")
    # The first message is stored once the server answers: no longer "sending".
    expect(client_log(page).locator("li.message--pending")).to_have_count(0)
    expect(client_log(page).locator("li.message--client .body")).to_have_text([body])


def client_send(page: Page, body: str) -> None:
    page.locator("#composer-body").fill(body)
    page.locator("#composer-body").press("Enter")


# --- worker --------------------------------------------------------------------------------
def open_console(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/console/")
    expect(page.locator("#connection")).to_be_hidden()


def set_available(page: Page, *, timeout: float = 15_000) -> None:
    """Choose "available" on the console and wait until the server has confirmed it."""
    status = page.locator("#presence-status")
    expect(status).to_be_enabled(timeout=timeout)
    status.select_option("available")
    expect(status).to_be_enabled(timeout=timeout)
    expect(status).to_have_value("available")


def accept_first_waiting(page: Page) -> Locator:
    """Accept the first waiting client; returns the conversation panel that opens."""
    item = page.locator("#waiting li").first
    expect(item).to_be_visible()
    item.get_by_role("button").click()
    panel = worker_panel(page)
    expect(panel).to_be_visible()
    return panel


def worker_panel(page: Page) -> Locator:
    return page.locator("#conversation-panels .conversation:not([hidden])")


def worker_log(page: Page) -> Locator:
    return worker_panel(page).locator("ol.log")


def worker_send(page: Page, body: str) -> None:
    textarea = worker_panel(page).locator("textarea")
    textarea.fill(body)
    textarea.press("Enter")


# --- both ----------------------------------------------------------------------------------
def log_items(log: Locator) -> list[dict]:
    return log.evaluate(LOG_ITEMS_JS)


def expect_bodies(log: Locator, bodies: list[str], *, timeout: float | None = None) -> None:
    """The log shows exactly these user messages, in this order, none still being sent."""
    kwargs = {"timeout": timeout} if timeout else {}
    expect(log.locator("li.message--pending")).to_have_count(0, **kwargs)
    expect(log.locator("li.message:not(.message--system) .body")).to_have_text(bodies, **kwargs)


def assert_log_is_gapless(log: Locator, last_seq: int) -> list[dict]:
    """Every stored message 1..last_seq exactly once, in seq order, nothing pending."""
    items = log_items(log)
    assert [item["seq"] for item in items] == list(range(1, last_seq + 1)), items
    assert not [item for item in items if item["pending"]], items
    return items


@dataclass
class Stored:
    conversation_id: int
    last_seq: int
    seqs: list[int]
    bodies: list[str]  # user messages (not system events), in seq order
    client_ids: list[str]


def stored_conversation(conversation_id: int | None = None) -> Stored:
    """What the database holds for the (latest) conversation."""
    from chat.models import Conversation, Message

    conversations = Conversation.objects.order_by("-pk")
    conversation = (
        conversations.get(pk=conversation_id) if conversation_id else conversations.first()
    )
    assert conversation is not None, "no conversation stored"
    messages = list(Message.objects.filter(conversation=conversation).order_by("seq"))
    return Stored(
        conversation_id=conversation.pk,
        last_seq=conversation.last_seq,
        seqs=[m.seq for m in messages],
        bodies=[m.body for m in messages if m.sender != Message.Sender.SYSTEM],
        client_ids=[str(m.client_id) for m in messages if m.client_id],
    )


def assert_stored_once(stored: Stored, bodies: list[str]) -> None:
    """The database has each of these messages once, in this order, with gapless seqs."""
    assert stored.seqs == list(range(1, stored.last_seq + 1)), stored
    assert stored.bodies == bodies, stored
    assert len(stored.client_ids) == len(set(stored.client_ids)) == len(bodies), stored


# --- accessibility -------------------------------------------------------------------------
AXE_DEFAULT = {"resultTypes": ["violations"]}


def assert_axe_clean(page: Page, lang: str | None = None, options: dict = AXE_DEFAULT) -> None:
    """No WCAG 2.1 AA violation that axe finds on the page as it is now (in `lang`, when
    given: the page must say it is in that language), with axe's `options`."""
    if lang is not None:
        expect(page.locator("html")).to_have_attribute("lang", lang)
    results = AXE.run(page, options=options)
    assert results.violations_count == 0, results.generate_report()
