"""A worker's status choice is never silently undone: chosen while the console is still
connecting (just after signing in), it is kept, sent once connected, and still in force
after a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 15_000


def test_a_status_chosen_before_the_console_connected_holds_after_a_reload(
    live_server, personas, worker_context, shot
):
    from accounts.models import Presence

    page = worker_context.new_page()
    blocked = [True]  # the console's socket cannot connect yet

    def console_socket(ws):
        if blocked[0]:
            ws.close(code=1011)
        else:
            ws.connect_to_server()

    page.route_web_socket("**/ws/console/", console_socket)
    login(page, live_server.url, "anna", personas.password)
    expect(page.locator("#connection")).to_be_visible()

    page.locator("#presence-status").select_option("away")
    expect(page.locator("#presence-status")).to_have_value("away")
    shot(page, "chosen while connecting")

    blocked[0] = False
    page.evaluate("window.dispatchEvent(new Event('online'))")  # reconnect now
    expect(page.locator("#connection")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#presence-status")).to_have_value("away", timeout=WAIT)
    page.wait_for_function(
        "() => sessionStorage.getItem('cc.console.status') === null", timeout=WAIT
    )  # the server confirmed it
    assert Presence.objects.get(user=personas.anna).status == Presence.Status.AWAY

    page.reload()
    expect(page.locator("#connection")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#presence-status")).to_have_value("away")
    shot(page, "after the reload")
