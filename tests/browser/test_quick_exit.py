"""Quick exit in Chromium: Escape on a returning client's case page ends the case in that
browser (the beacon's POST ends the session and clears the site's data); a link to /exit/
from another site changes nothing, so it never signs a social worker out."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import DESKTOP, MOBILE, login
from tests.browser.flows import open_console

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEUTRAL_URL = "https://www.google.com/"
ELSEWHERE = "https://elsewhere.example/"
WAIT_SECONDS = 15  # the machine is loaded: a generous bound, never a sleep


def serve_neutral_page(context: BrowserContext) -> None:
    context.route(
        f"{NEUTRAL_URL}**", lambda route: route.fulfill(body="neutral", content_type="text/html")
    )


def wait_until(page: Page, done: Callable[[], bool], what: str) -> None:
    """Polls `done` (the beacon goes out on its own, after the page is gone)."""
    for _ in range(WAIT_SECONDS * 10):
        if done():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never: {what}")


def test_escape_on_the_case_page_ends_the_case_in_this_browser(
    live_server, personas, new_context, shot
):
    from django.conf import settings
    from django.contrib.sessions.models import Session

    from chat.models import Case, ClientRecord
    from chat.services.cases import case_issue_code

    case = Case.objects.create(client=ClientRecord.objects.create(), unit=personas.unit)
    code = case_issue_code(case=case)
    context = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE")
    serve_neutral_page(context)
    page = context.new_page()
    page.goto(f"{live_server.url}/return/")
    page.locator("#case-code").fill(code)
    page.locator("#case-code").press("Enter")
    expect(page).to_have_url(re.compile(r"/return/case/$"))
    page.wait_for_load_state()  # quick-exit.js (a module) has run: Escape is heard
    cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
    session_key = cookies[settings.SESSION_COOKIE_NAME]
    assert "csrftoken" in cookies
    page.evaluate("localStorage.setItem('left-behind', 'x')")

    page.keyboard.press("Escape")

    expect(page).to_have_url(NEUTRAL_URL)
    expect(page.locator("body")).to_have_text("neutral")
    wait_until(
        page,
        lambda: not Session.objects.filter(session_key=session_key).exists(),
        "the beacon ended the session",
    )
    # Clear-Site-Data on the beacon's answer: the cookies go, even the CSRF cookie that
    # nothing else removes.
    wait_until(page, lambda: not context.cookies(live_server.url), "the site's cookies cleared")
    # Someone who takes the device afterwards cannot open the case again.
    page.goto(f"{live_server.url}/return/case/")
    expect(page).to_have_url(re.compile(r"/return/$"))
    assert page.evaluate("localStorage.length") == 0
    page.goto(f"{live_server.url}/")
    expect(page.locator("#start")).to_be_visible()
    expect(page.locator("#returning")).to_have_count(0)
    shot(page, "after-quick-exit-from-the-case")


def test_a_link_to_the_exit_from_another_site_leaves_the_worker_signed_in(
    live_server, personas, new_context
):
    context = new_context(viewport=DESKTOP, locale="sv-SE")
    serve_neutral_page(context)
    context.route(
        f"{ELSEWHERE}**",
        lambda route: route.fulfill(
            body=f'<a id="away" href="{live_server.url}/exit/">away</a>', content_type="text/html"
        ),
    )
    console = context.new_page()
    login(console, live_server.url, "anna", personas.password)
    open_console(console, live_server.url)

    other = context.new_page()
    other.goto(ELSEWHERE)
    other.locator("#away").click()
    expect(other).to_have_url(NEUTRAL_URL)

    console.reload()
    expect(console).to_have_url(f"{live_server.url}/console/")  # not sent to sign in
    expect(console.locator("#waiting")).to_have_count(1)
    expect(console.locator("#connection")).to_be_hidden()
