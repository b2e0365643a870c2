"""A long queue: the console and the dashboard list the front of it (`CONSOLE_QUEUE_ROWS`,
50) and say how many more wait, and how many of those are urgent, on a phone-sized and a
desktop screen."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, login
from tests.browser.flows import open_console

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000
NARROW = {"width": 360, "height": 800}


def queue_up(unit, count: int, *, urgent_from: int) -> None:
    """`count` clients wait in `unit`, the first longest; those from `urgent_from` on are
    urgent (so they go first)."""
    from django.utils import timezone

    from chat.models import Case, ClientRecord, Conversation

    case = Case.objects.create(client=ClientRecord.objects.create(), unit=unit)
    start = timezone.now() - timedelta(minutes=count)
    Conversation.objects.bulk_create(
        Conversation(
            unit=unit,
            case=case,
            token_hash=secrets.token_hex(32),
            queued_at=start + timedelta(minutes=index),
            priority=Conversation.Priority.URGENT
            if index >= urgent_from
            else Conversation.Priority.NORMAL,
        )
        for index in range(count)
    )


def test_a_long_queue_shows_its_front_and_how_many_more_wait(
    live_server, personas, new_context, shot
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    sara = User.objects.create_user(
        username="sara",
        password=personas.password,
        first_name="Sara",
        last_name="Svensson",
        role=User.Role.SUPERVISOR,
    )
    sara.units.set([personas.unit])
    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)
    # 57 wait, the last 53 of them urgent: 50 urgent ones are listed, 3 more are not.
    queue_up(personas.unit, 57, urgent_from=4)
    more = "and 7 more waiting, 3 of them urgent"
    base = live_server.url

    for viewport, name in ((NARROW, "narrow"), (DESKTOP, "desktop")):
        worker = new_context(viewport=viewport, locale="en-GB").new_page()
        login(worker, base, "anna", personas.password)
        open_console(worker, base)
        expect(worker.locator("#waiting-count")).to_have_text("57", timeout=WAIT)
        expect(worker.locator("#waiting > li")).to_have_count(50, timeout=WAIT)
        expect(worker.locator("#waiting-more")).to_have_text(more)
        expect(worker.locator("#accept-next")).to_be_enabled()
        shot(worker, f"console-{name}")
        worker.context.close()

    supervisor = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    login(supervisor, base, "sara", personas.password)
    supervisor.goto(f"{base}/dashboard/")
    section = supervisor.locator(f"#unit-{personas.unit.pk}")
    expect(section.locator('[data-figure="waiting"]')).to_have_text("57", timeout=WAIT)
    expect(section.locator(".queue > li")).to_have_count(50, timeout=WAIT)
    expect(section.locator(".queue-more")).to_have_text(more)
    shot(supervisor, "dashboard-desktop")
