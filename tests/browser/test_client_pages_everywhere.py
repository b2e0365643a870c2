"""Every client page in every client language: axe (WCAG 2.1 AA) clean, reflowing at
320 px without sideways scrolling, and usable with forced colours and reduced motion.
Cheap on purpose: one browser context per language, pages rather than flows."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.browser.flows import start_chat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LANGUAGES = [code for code, _name in settings.CLIENT_LANGUAGES]
RTL = {"ar", "fa"}
PAGES = ["/", "/return/", "/interpret/"]
NARROW = {"width": 320, "height": 640}
AXE = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
}

_axe = Axe()


def choose_language(page: Page, base: str, code: str) -> None:
    page.goto(f"{base}/")
    if page.locator("html").get_attribute("lang") != code:
        page.locator("#language-picker summary").click()
        page.locator(f"#language-picker button[value='{code}']").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def assert_clean(page: Page, what: str) -> None:
    results = _axe.run(page, options=AXE)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def assert_reflows(page: Page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways by {overflow}px at 320 px"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_client_page_is_accessible_in(live_server, personas, new_context, lang):
    context = new_context(
        viewport=NARROW,
        is_mobile=True,
        locale="sv-SE",
        reduced_motion="reduce",
        forced_colors="active",
    )
    page = context.new_page()
    choose_language(page, live_server.url, lang)
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang in RTL else "ltr")
        assert_clean(page, f"{path} in {lang}")
        assert_reflows(page, f"{path} in {lang}")
    # The picker open, and the chat waiting in the queue.
    page.goto(f"{live_server.url}/")
    page.locator("#language-picker summary").click()
    assert_clean(page, f"the open picker in {lang}")
    page.locator("#language-picker summary").click()
    start_chat(page, None, "Hej")
    assert_clean(page, f"the queue in {lang}")
    assert_reflows(page, f"the queue in {lang}")
