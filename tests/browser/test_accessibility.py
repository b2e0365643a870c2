"""axe-core on every screen a client or worker sees, in Swedish and in English, and the
client page by keyboard alone, including quick exit.

The language comes from the browser (Accept-Language via the context's locale). The
Swedish catalogue is still being written, so the tests check `<html lang>`, never wording.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, LOCALES, MOBILE, login
from tests.browser.flows import (
    AXE_DEFAULT,
    accept_first_waiting,
    assert_axe_clean,
    client_log,
    client_send,
    expect_bodies,
    open_console,
    start_chat,
    worker_log,
    worker_send,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEUTRAL_URL = "https://www.google.com/"
AXE_REGION_ONLY = {**AXE_DEFAULT, "runOnly": {"type": "rule", "values": ["region"]}}


def _client_in_conversation(live_server, personas, new_context, lang):
    """A client page in an active conversation (with a link) and the worker's console."""
    worker = new_context(viewport=DESKTOP, locale=LOCALES[lang]).new_page()
    client = new_context(viewport=MOBILE, is_mobile=True, locale=LOCALES[lang]).new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    start_chat(client, live_server.url, "Hej, jag behöver hjälp.")
    expect(worker.locator("#waiting li")).to_have_count(1)
    return client, worker


def _talk(client, worker) -> None:
    accept_first_waiting(worker)
    bodies = [
        "Hej, jag behöver hjälp.",
        "Hej! Vad kan jag hjälpa till med? https://example.org/info",
    ]
    worker_send(worker, bodies[-1])
    expect_bodies(client_log(client), bodies)
    bodies.append("Jag har frågor om min ansökan.")
    client_send(client, bodies[-1])
    expect_bodies(client_log(client), bodies)
    expect_bodies(worker_log(worker), bodies)


def test_axe_client_start_page(live_server, personas, new_context, lang, shot):
    page = new_context(viewport=MOBILE, is_mobile=True, locale=LOCALES[lang]).new_page()
    page.goto(f"{live_server.url}/")
    expect(page.locator("#start")).to_be_visible()
    shot(page, f"client-start-{lang}")
    assert_axe_clean(page, lang, AXE_DEFAULT)
    # The form's own error message, shown when nothing is chosen.
    page.locator("#start-form button[type=submit]").click()
    expect(page.locator("#start-error")).to_be_visible()
    shot(page, f"client-start-error-{lang}")
    assert_axe_clean(page, lang, AXE_DEFAULT)


def test_axe_client_waiting(live_server, personas, new_context, lang, shot):
    page = new_context(viewport=MOBILE, is_mobile=True, locale=LOCALES[lang]).new_page()
    start_chat(page, live_server.url, "Jag vill prata om min situation.")
    expect(page.locator("#chat-status")).not_to_have_text("")
    shot(page, f"client-waiting-{lang}")
    assert_axe_clean(page, lang, AXE_DEFAULT)


def test_axe_client_in_conversation(live_server, personas, new_context, lang, shot):
    client, worker = _client_in_conversation(live_server, personas, new_context, lang)
    _talk(client, worker)
    shot(client, f"client-active-{lang}")
    assert_axe_clean(client, lang, AXE_DEFAULT)


def test_client_page_content_is_all_in_landmarks(live_server, personas, new_context, lang):
    page = new_context(viewport=MOBILE, is_mobile=True, locale=LOCALES[lang]).new_page()
    page.goto(f"{live_server.url}/")
    expect(page.locator("#start")).to_be_visible()
    assert_axe_clean(page, lang, AXE_REGION_ONLY)


def test_axe_login_page(live_server, new_context, lang, shot):
    page = new_context(viewport=DESKTOP, locale=LOCALES[lang]).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    shot(page, f"login-{lang}")
    assert_axe_clean(page, lang)
    # A wrong password shows an error that is also accessible.
    page.locator("#id_username").fill("anna")
    page.locator("#id_password").fill("wrong")
    page.locator("#id_password").press("Enter")
    expect(page.locator(".form-error")).to_be_visible()
    shot(page, f"login-error-{lang}")
    assert_axe_clean(page, lang)


def test_axe_staff_error_pages_have_the_staff_layout(live_server, new_context, lang, shot):
    """An error under a staff path: the staff layout (no quick exit, no client picker), in
    Swedish or English, even for a browser set to Arabic."""
    locale = {"sv": "ar", "en": LOCALES["en"]}[lang]  # Arabic is not a staff language
    page = new_context(viewport=DESKTOP, locale=locale).new_page()
    for status in (400, 403, 404, 500):
        page.goto(f"{live_server.url}/console/test-errors/{status}/")
        expect(page.locator("#error-title")).to_have_attribute("data-status", str(status))
        expect(page.locator("body")).to_have_class("staff-page")
        expect(page.locator(".quick-exit, #language-picker")).to_have_count(0)
        assert_axe_clean(page, lang)
        if status == 404:
            shot(page, f"staff-error-404-{lang}")
    expect(page.locator("main a.button")).to_have_attribute("href", "/console/")


def test_axe_console_with_active_conversation(live_server, personas, new_context, lang, shot):
    client, worker = _client_in_conversation(live_server, personas, new_context, lang)
    shot(worker, f"console-waiting-{lang}")
    assert_axe_clean(worker, lang)
    _talk(client, worker)
    shot(worker, f"console-active-{lang}")
    assert_axe_clean(worker, lang)


def test_language_button_switches_language_and_keeps_nothing(
    live_server, personas, new_context, shot
):
    context = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE")
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    page.locator("#language-picker summary").click()
    page.locator("#language-picker button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#start")).to_be_visible()
    shot(page, "switched-to-english")
    # The choice is a session cookie: nothing stays on a shared device.
    lasting = [c["name"] for c in context.cookies() if c["expires"] != -1]
    assert lasting == [], f"cookies that outlive the browser: {lasting}"
    page.locator("#language-picker summary").click()
    page.locator("#language-picker button[value=sv]").click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")


# --- keyboard only ---------------------------------------------------------------------------
def focused(page: Page) -> str:
    """A short description of the focused element, for assertions and messages."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return 'body';
            return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (el.type ? '[' + el.type + ']' : '');
        }"""
    )


def tab_until(page: Page, selector: str, *, limit: int = 25, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the element matching selector has focus."""
    key = "Shift+Tab" if back else "Tab"
    seen = []
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press(key)
        seen.append(focused(page))
    raise AssertionError(f"{selector} never got focus with {key}; focus went {seen}")


@pytest.fixture
def neutral_exit(new_context):
    """A client context where the quick-exit target answers with a neutral page."""

    def make():
        context = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE")
        context.route(
            "https://www.google.com/**",
            lambda route: route.fulfill(body="neutral", content_type="text/html"),
        )
        return context

    return make


def test_client_by_keyboard_only_and_quick_exit_first(live_server, personas, neutral_exit, shot):
    page = neutral_exit().new_page()
    page.goto(f"{live_server.url}/")
    expect(page.locator("#start")).to_be_visible()

    # The very first Tab reaches quick exit.
    page.keyboard.press("Tab")
    expect(page.locator("#quick-exit")).to_be_focused()
    expect(page.locator("#quick-exit")).to_be_visible()
    shot(page, "quick-exit-focused")

    # Choose the unit: Tab to the radio group, Space selects.
    tab_until(page, "input[type=radio]")
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="Ekonomiskt bistånd")).to_be_checked()
    # Shift+Tab goes back, Tab comes forward again, the choice stays.
    page.keyboard.press("Shift+Tab")
    tab_until(page, "input[type=radio]")
    expect(page.get_by_role("radio", name="Ekonomiskt bistånd")).to_be_checked()

    tab_until(page, "#first-message")
    page.keyboard.type("Jag skriver bara med tangentbordet.")
    tab_until(page, "#start-form button[type=submit]")
    shot(page, "keyboard-ready-to-start")
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-state", "queued")
    expect_bodies(client_log(page), ["Jag skriver bara med tangentbordet."])

    # Focus lands in the composer: write and send with Enter; Shift+Enter is a new line.
    expect(page.locator("#composer-body")).to_be_focused()
    page.keyboard.type("Rad ett")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("rad två")
    page.keyboard.press("Enter")
    expect_bodies(client_log(page), ["Jag skriver bara med tangentbordet.", "Rad ett\nrad två"])
    expect(page.locator("#composer-body")).to_have_value("")
    expect(page.locator("#composer-body")).to_be_focused()
    shot(page, "keyboard-message-sent")

    # The send button is reachable by Tab and works with Space too.
    page.keyboard.type("Med knappen")
    tab_until(page, "#composer button[type=submit]")
    page.keyboard.press("Space")
    expect_bodies(
        client_log(page),
        ["Jag skriver bara med tangentbordet.", "Rad ett\nrad två", "Med knappen"],
    )
    assert page.evaluate("sessionStorage.length") > 0  # the chat lives in this tab

    # Escape leaves at once, without a trace in this tab.
    page.keyboard.press("Escape")
    expect(page).to_have_url(NEUTRAL_URL)
    expect(page.locator("body")).to_have_text("neutral")
    # Coming back in the same tab finds nothing: sessionStorage is per tab and origin.
    page.goto(f"{live_server.url}/")
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.locator("#start")).to_be_visible()
    expect(page.locator("#chat")).to_be_hidden()
    expect(page.locator("#log li")).to_have_count(0)
    shot(page, "after-quick-exit-and-back")


def test_quick_exit_button_leaves_no_way_back_and_tells_the_worker(
    live_server, personas, neutral_exit, new_context, shot
):
    from chat.models import Conversation, Message

    worker = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    page = neutral_exit().new_page()
    page.goto(f"{live_server.url}/")
    start_chat(page, None, "Jag måste kanske gå snabbt.")
    panel = accept_first_waiting(worker)
    expect(page.locator("body")).to_have_attribute("data-state", "active")

    page.locator("#quick-exit").click()
    expect(page).to_have_url(NEUTRAL_URL)
    # location.replace: Back does not lead to the chat.
    page.go_back()
    assert not re.match(rf"{re.escape(live_server.url)}/?$", page.url), page.url
    page.goto(f"{live_server.url}/")
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.locator("#start")).to_be_visible()

    # The worker is told at once and cannot write back.
    expect(panel.locator("form.composer")).to_be_hidden()
    expect(panel.locator(".ended")).to_be_visible()
    expect(panel.locator("li.message--system").last).not_to_have_text("")
    shot(worker, "worker-after-client-quick-exit")
    conversation = Conversation.objects.get()
    assert conversation.state == Conversation.State.ENDED
    last = conversation.messages.order_by("seq").last()
    assert last.event == Message.Event.QUICK_EXIT


@pytest.mark.parametrize("locale", ["sv-SE", "en-GB"])
def test_quick_exit_covers_nothing_in_the_header_on_a_phone(
    live_server, personas, new_context, locale
):
    page = new_context(viewport=MOBILE, is_mobile=True, locale=locale).new_page()
    page.goto(f"{live_server.url}/")
    expect(page.locator("#start")).to_be_visible()
    quick = page.locator("#quick-exit").bounding_box()
    for control in page.locator(".site-header :is(a, button):not(#quick-exit)").all():
        box = control.bounding_box()
        overlaps = (
            box["x"] < quick["x"] + quick["width"]
            and quick["x"] < box["x"] + box["width"]
            and box["y"] < quick["y"] + quick["height"]
            and quick["y"] < box["y"] + box["height"]
        )
        assert not overlaps, f"quick exit {quick} covers {control.inner_text()!r} {box}"
