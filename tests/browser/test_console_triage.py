"""Triage in the console, as a busy worker uses it: a client writes while waiting and the
worker reads it in the queue (logged as a read), takes the next client with the keyboard,
and with three conversations sees at a glance how many messages are unread, what was
said last, and which client waits for an answer; the shortcuts' help window is a proper
dialog; the page is axe clean and fits a 360 px phone. Screenshots of the console with
three conversations, at desktop and phone size, go to test-results/screens/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, login
from tests.browser.flows import client_send, open_console, start_chat, worker_panel
from tests.browser.test_staff_narrow import CONTROLS, OFF_SCREEN_JS, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000
WAITS = re.compile(r"\btab--waits\b")
_axe = Axe()

FIRST = "Jag behöver hjälp med hyran, jag har fått ett brev om vräkning."
WHILE_WAITING = "Hyresvärden säger att jag måste flytta på fredag. Vad ska jag göra?"
SECOND = "Hej, jag undrar hur man ansöker om försörjningsstöd."
THIRD = "Jag har inte råd med maten den här veckan."
FOURTH = "Min pappa är arg igen och jag vågar inte gå hem efter skolan idag."
LATER = "Är du kvar? Jag vet inte vad jag ska skriva i ansökan."


def shots_dir() -> Path | None:
    """Where a reviewer wants the console's pictures besides test-results (optional)."""
    folder = os.environ.get("TRIAGE_SHOTS_DIR")
    return Path(folder) if folder else None


def picture(page: Page, shot, name: str) -> None:
    path = shot(page, name)
    folder = shots_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(path.read_bytes())


def row_for(page: Page, text: str):
    return page.locator("#waiting li", has=page.locator(".waiting__preview", has_text=text))


def accept_next_by_key(worker: Page, count: int) -> None:
    """Leave whatever box has the keyboard, press "a", and wait for the new conversation."""
    worker.keyboard.press("Escape")
    worker.locator("#mine-title").focus()
    worker.keyboard.press("a")
    expect(worker.locator("#conversation-tabs li")).to_have_count(count, timeout=WAIT)


def test_a_worker_triages_three_clients_by_keyboard(live_server, personas, new_context, shot):
    from chat.models import AccessLog

    worker = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)

    # A client writes while waiting: the queue shows their latest words, live.
    def client_page() -> Page:
        return new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="sv-SE"
        ).new_page()

    first = client_page()
    start_chat(first, live_server.url, FIRST)
    expect(row_for(worker, FIRST)).to_have_count(1, timeout=WAIT)
    client_send(first, WHILE_WAITING)
    row = row_for(worker, WHILE_WAITING)
    expect(row).to_have_count(1, timeout=WAIT)
    expect(row.locator(".waiting__preview")).to_have_text(f"“{WHILE_WAITING}”")
    expect(row.locator(".written")).to_contain_text("2")
    expect(row.locator(".waited")).not_to_be_empty()
    # Each preview the console was shown is a read in the access log.
    assert (
        AccessLog.objects.filter(actor=personas.anna, action=AccessLog.Action.READ_PREVIEW).count()
        >= 2
    )

    # Accept the next client with the keyboard.
    accept_next_by_key(worker, 1)
    panel = worker_panel(worker)
    expect(panel.locator("ol.log li.message--client .body")).to_have_count(2, timeout=WAIT)

    # Two more clients; the worker takes both the same way.
    second = client_page()
    start_chat(second, live_server.url, SECOND)
    expect(row_for(worker, SECOND)).to_have_count(1, timeout=WAIT)
    accept_next_by_key(worker, 2)
    third = client_page()
    start_chat(third, live_server.url, THIRD)
    expect(row_for(worker, THIRD)).to_have_count(1, timeout=WAIT)
    accept_next_by_key(worker, 3)

    # The worker answers the third client (open now), then moves to the first with "j".
    textarea = worker_panel(worker).locator("textarea")
    textarea.fill("Hej! Jag heter Anna. Berätta mer om veckan.")
    textarea.press("Enter")
    expect(worker.locator("#conversation-tabs .tab--waits")).to_have_count(2, timeout=WAIT)

    # The second client writes again while the worker looks elsewhere: one unread there.
    client_send(second, LATER)
    tabs = worker.locator("#conversation-tabs li")
    waiting_second = worker.locator(
        "#conversation-tabs li.tab--waits", has=worker.locator(".tab__preview", has_text=LATER)
    )
    expect(waiting_second).to_have_count(1, timeout=WAIT)
    expect(waiting_second.locator(".unread-mark")).to_have_text(re.compile(r"^1\b"))
    # Those waiting for an answer come first; the answered one last.
    expect(tabs.last).not_to_have_class(WAITS)
    expect(tabs.last.locator(".tab__preview")).to_contain_text("Berätta mer om veckan")
    expect(tabs.first).to_have_class(WAITS)
    for tab in tabs.all():
        expect(tab).to_have_attribute("data-client", "here")

    # A fourth client waits (the worker is full) and writes while waiting: urgent for
    # the worker to see, without taking them yet.
    fourth = client_page()
    start_chat(fourth, live_server.url, "Hej.")
    client_send(fourth, FOURTH)
    expect(row_for(worker, FOURTH)).to_have_count(1, timeout=WAIT)

    picture(worker, shot, "console-desktop-three-conversations")
    results = _axe.run(worker, options={"resultTypes": ["violations"]})
    assert results.violations_count == 0, results.generate_report()

    # "j" goes through them, those waiting first: reading one clears its count.
    worker.keyboard.press("Escape")
    worker.locator("#mine-title").focus()
    worker.keyboard.press("j")
    expect(tabs.first.locator("button")).to_have_attribute("aria-current", "true")
    worker.keyboard.press("j")
    current = worker.locator("#conversation-tabs button[aria-current=true]")
    expect(current.locator(".unread-mark")).to_be_hidden(timeout=WAIT)

    # A client who loses their page shows as gone from the line.
    third.context.close()
    lost = worker.locator("#conversation-tabs li[data-client=lost]")
    expect(lost).to_have_count(1, timeout=WAIT)

    # The help window: "?" opens it, the focus stays inside, Escape closes it and the
    # focus comes back.
    opener = worker.locator("#shortcuts-open")
    opener.focus()
    worker.keyboard.press("?")
    dialog = worker.locator("#shortcuts-dialog")
    expect(dialog).to_be_visible()
    for _ in range(4):
        worker.keyboard.press("Tab")
        assert worker.evaluate("() => !!document.activeElement.closest('#shortcuts-dialog')")
    results = _axe.run(worker, options={"resultTypes": ["violations"]})
    assert results.violations_count == 0, results.generate_report()
    picture(worker, shot, "console-shortcuts-help")
    worker.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    # Typing in a text box never fires a single-key shortcut.
    worker.locator("#conversation-tabs li").first.locator("button").click()
    box = worker_panel(worker).locator("textarea")
    box.focus()
    worker.keyboard.type("jak?")
    expect(box).to_have_value("jak?")
    expect(dialog).to_be_hidden()
    expect(worker.locator("#conversation-tabs li")).to_have_count(3)
    box.fill("")

    # On a 360 px phone: nothing off the screen, and still axe clean.
    worker.set_viewport_size(PHONE)
    worker.locator("#queue-title").scroll_into_view_if_needed()
    picture(worker, shot, "console-360-three-conversations")
    off = worker.evaluate(OFF_SCREEN_JS, CONTROLS)
    assert off == [], off
    widths = worker.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def test_the_queue_shows_urgent_and_handed_over_clients_apart(
    live_server, personas, new_context, shot
):
    """The queue's marks as a worker reads them: an urgent client, one handed over from
    another unit with their words, one back in the queue; pictures at desktop and phone
    size next to the worker's own conversation."""
    from accounts.models import Unit
    from chat.models import Conversation
    from chat.services.handover import conversation_hand_over
    from tests.browser.conftest import colleague
    from tests.factories import accept, start_conversation

    vald = Unit.objects.create(name="Våld i nära relationer", slug="vald")
    bengt = colleague(personas, "bengt", "Bengt", "Berg")
    bengt.units.set([vald])
    mine, _token = start_conversation(personas.unit, "Jag behöver hjälp med hyran.")
    accept(personas.anna, mine)
    urgent, _token = start_conversation(personas.unit, "Jag är rädd, han står utanför dörren.")
    Conversation.objects.filter(pk=urgent.pk).update(priority=Conversation.Priority.URGENT)
    handed, _token = start_conversation(vald, "Jag har blivit utan pengar efter separationen.")
    accept(bengt, handed)
    conversation_hand_over(
        conversation=Conversation.objects.get(pk=handed.pk),
        actor=bengt,
        note="Behöver ekonomiskt bistånd, inte akut.",
        share_history=True,
        to_unit_id=personas.unit.pk,
    )
    start_conversation(personas.unit, "Hur ansöker man om försörjningsstöd?")

    worker = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    rows = worker.locator("#waiting li")
    expect(rows).to_have_count(3, timeout=WAIT)
    expect(rows.nth(0).locator(".urgent")).to_be_visible()
    expect(rows.nth(1).locator(".handed")).to_contain_text("Bengt Berg")
    expect(rows.nth(1).locator(".handed")).to_contain_text("Våld i nära relationer")
    expect(rows.nth(1).locator(".waiting__preview")).to_contain_text("separationen")
    expect(rows.nth(2).locator(".handed")).to_be_hidden()
    results = _axe.run(worker, options={"resultTypes": ["violations"]})
    assert results.violations_count == 0, results.generate_report()
    picture(worker, shot, "console-desktop-queue-marks")
    worker.set_viewport_size(PHONE)
    assert worker.evaluate(OFF_SCREEN_JS, CONTROLS) == []
    picture(worker, shot, "console-360-queue-marks")
