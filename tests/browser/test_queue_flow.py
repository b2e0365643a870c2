"""Two clients wait in one unit: each sees their place in the queue, the supervisor's dashboard
counts them, and when the worker accepts the next, the places and figures update live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, MOBILE, login
from tests.browser.flows import client_log, open_console, start_chat, worker_log

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000  # the machine may be loaded: a generous bound on every live update


def test_queue_positions_and_dashboard_follow_an_accept(live_server, personas, new_context, shot):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    # A supervisor of the unit, signing in with two factors like anna.
    sara = User.objects.create_user(
        username="sara",
        password=personas.password,
        first_name="Sara",
        last_name="Svensson",
        role=User.Role.SUPERVISOR,
    )
    sara.units.set([personas.unit])
    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)

    base = live_server.url

    def client_page():
        context = new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-GB")
        return context.new_page()

    first = client_page()
    second = client_page()
    worker = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    supervisor = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    dialogs: list[str] = []
    for page in (first, second, worker, supervisor):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # The supervisor watches the unit's section of the dashboard: nobody waits yet.
    login(supervisor, base, "sara", personas.password)
    supervisor.goto(f"{base}/dashboard/")
    section = supervisor.locator(f"#unit-{personas.unit.pk}")
    waiting_figure = section.locator('[data-figure="waiting"]')
    active_figure = section.locator('[data-figure="active"]')
    expect(section).to_be_visible(timeout=WAIT)
    expect(waiting_figure).to_have_text("0", timeout=WAIT)
    expect(active_figure).to_have_text("0", timeout=WAIT)

    login(worker, base, "anna", personas.password)
    open_console(worker, base)

    # Two clients queue in the same unit, one after the other.
    first_body = "Hej, jag behöver hjälp med min ansökan."
    second_body = "Hej, jag har en fråga om hyran."
    start_chat(first, base, first_body)
    expect(first.locator("#queue-info")).to_be_visible(timeout=WAIT)
    expect(first.locator("#queue-position")).to_have_text(
        "You are next in the queue.", timeout=WAIT
    )
    start_chat(second, base, second_body)
    expect(second.locator("#queue-info")).to_be_visible(timeout=WAIT)
    expect(second.locator("#queue-position")).to_have_text(
        "You are number 2 in the queue.", timeout=WAIT
    )
    # The first client's place does not change when someone queues behind them.
    expect(first.locator("#queue-position")).to_have_text(
        "You are next in the queue.", timeout=WAIT
    )
    shot(first, "first-client-next")
    shot(second, "second-client-number-2")

    expect(waiting_figure).to_have_text("2", timeout=WAIT)
    expect(active_figure).to_have_text("0", timeout=WAIT)
    expect(section.locator("ol.queue > li")).to_have_count(2, timeout=WAIT)
    shot(supervisor, "dashboard-two-waiting")

    # A mark that a reload would wipe: the second client's page must update in place.
    second.evaluate("window.__queueFlowMark = true")

    # The worker accepts the next: the one who has waited longest, the first client.
    expect(worker.locator("#waiting li")).to_have_count(2, timeout=WAIT)
    expect(worker.locator("#accept-next")).to_be_enabled(timeout=WAIT)
    shot(worker, "console-two-waiting")
    worker.locator("#accept-next").click()
    expect(worker_log(worker).locator("li.message:not(.message--system) .body")).to_have_text(
        [first_body], timeout=WAIT
    )
    expect(worker.locator("#waiting li")).to_have_count(1, timeout=WAIT)

    # The first client is in conversation; the second moves up without a reload.
    expect(first.locator("body")).to_have_attribute("data-state", "active", timeout=WAIT)
    expect(first.locator("#queue-info")).to_be_hidden(timeout=WAIT)
    expect(client_log(first).locator("li.message--system")).to_have_count(1, timeout=WAIT)
    expect(second.locator("body")).to_have_attribute("data-state", "queued")
    expect(second.locator("#queue-position")).to_have_text(
        "You are next in the queue.", timeout=WAIT
    )
    assert second.evaluate("window.__queueFlowMark === true"), "the second client's page reloaded"
    shot(first, "first-client-in-conversation")
    shot(second, "second-client-next")
    shot(worker, "console-accepted-first")

    # The dashboard follows within a bounded wait.
    expect(waiting_figure).to_have_text("1", timeout=WAIT)
    expect(active_figure).to_have_text("1", timeout=WAIT)
    expect(section.locator("ol.queue > li")).to_have_count(1, timeout=WAIT)
    shot(supervisor, "dashboard-one-waiting-one-active")

    assert dialogs == []
