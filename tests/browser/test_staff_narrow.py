"""Every staff page on a 360 px phone: one navigation (a "Menu" button that opens the list),
no control off the screen, no sideways scrolling of the page, signing out reachable by
keyboard, and axe clean with the menu open. Each page is also photographed at desktop size.

A supervisor sees every staff page; she has a conversation in the console, a case with a
client's unanswered question, a canned reply, and reads in the access log.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
CONTROLS = "a, button, input, select, textarea, summary"
TAB_LIMIT = 40
# One row: the brand, the menu button (44 px, a touch target) and the language.
HEADER_MAX = 72

# Every rendered control (not in a closed dialog or a template, not clipped to 1px for
# screen readers) whose box leaves the viewport horizontally.
OFF_SCREEN_JS = """(selector) => {
    const width = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll(selector)) {
        if (!el.getClientRects().length) continue;
        if (el.closest('.visually-hidden, dialog:not([open])')) continue;
        const box = el.getBoundingClientRect();
        if (box.width <= 1 && box.height <= 1) continue;
        if (box.right > width + 1 || box.left < -1) {
            out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim()
                .slice(0, 40)}" left=${Math.round(box.left)} right=${Math.round(box.right)}`);
        }
    }
    return out;
}"""

PAGES = [
    "console",
    "inbox",
    "case",
    "canned-replies",
    "own-statistics",
    "dashboard",
    "access-log",
    "surveys",
]

_axe = Axe()


@pytest.fixture
def sara_with_work(personas):
    """Supervisor sara of the personas' unit, with something on every page."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from chat.models import CannedReply, FollowUp
    from tests.factories import accept, start_conversation

    sara = User.objects.create_user(
        username="sara",
        password=personas.password,
        first_name="Sara",
        last_name="Svensson-Lindqvist",
        role=User.Role.SUPERVISOR,
    )
    sara.units.set([personas.unit])
    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)
    conversation, _token = start_conversation(
        personas.unit, "Hej, jag behöver hjälp med min ansökan om försörjningsstöd."
    )
    accept(sara, conversation)
    conversation.refresh_from_db()
    FollowUp.objects.create(
        case=conversation.case,
        conversation=conversation,
        kind=FollowUp.Kind.FROM_CLIENT,
        body="Hur lång tid brukar beslutet ta? Jag behöver veta innan hyran ska betalas.",
    )
    CannedReply.objects.create(
        unit=personas.unit,
        title="Handläggningstid för ekonomiskt bistånd",
        body="Ett beslut tar oftast två till fyra veckor från att ansökan är komplett.",
    )
    return sara, conversation.case


def _url(base: str, name: str, case_id: int) -> str:
    return {
        "console": f"{base}/console/",
        "inbox": f"{base}/console/inbox/",
        "case": f"{base}/console/cases/{case_id}/",
        "canned-replies": f"{base}/console/replies/",
        "own-statistics": f"{base}/console/my-statistics/",
        "dashboard": f"{base}/dashboard/",
        "access-log": f"{base}/dashboard/access-log/",
        "surveys": f"{base}/dashboard/surveys/",
    }[name]


def _ready(page: Page, name: str, unit_id: int) -> None:
    if name == "console":
        expect(page.locator("#connection")).to_be_hidden()
        expect(page.locator("#conversation-panels .conversation")).to_have_count(1)
    elif name == "inbox":
        expect(page.locator("#connection")).to_be_hidden()
    elif name == "dashboard":
        expect(page.locator(f"#unit-{unit_id}")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "sv")


def _assert_fits(page: Page, name: str, when: str) -> None:
    off = page.evaluate(OFF_SCREEN_JS, CONTROLS)
    assert off == [], f"{name} ({when}): controls off a 360 px screen: {off}"
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{name} ({when}): the page scrolls sideways {widths}"


def _tab_to_sign_out(page: Page) -> None:
    """From the top of the page, Tab (opening the menu with Enter when Tab meets it) until
    "Sign out" has focus."""
    page.locator("body").focus()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen = []
    for _ in range(TAB_LIMIT):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('.staff-nav__sign-out')"):
            return
        if page.evaluate(
            "() => document.activeElement.matches('.staff-nav__toggle[aria-expanded=false]')"
        ):
            page.keyboard.press("Enter")
        seen.append(page.evaluate("() => document.activeElement.outerHTML.slice(0, 60)"))
    raise AssertionError(f"sign out never got focus by Tab; focus went {seen}")


@pytest.mark.parametrize("name", PAGES)
def test_staff_page_fits_a_360_px_phone(
    live_server, personas, sara_with_work, new_context, name, shot
):
    _sara, case = sara_with_work
    base = live_server.url
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="sv-SE").new_page()
    login(page, base, "sara", personas.password)
    page.goto(_url(base, name, case.pk))
    _ready(page, name, personas.unit.pk)

    # Folded: the header is one short row and the content starts right below it.
    toggle = page.locator(".staff-nav__toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#staff-nav-list")).to_be_hidden()
    header = page.locator(".site-header").bounding_box()
    assert header["y"] + header["height"] <= HEADER_MAX, f"{name}: header {header}"
    _assert_fits(page, name, "menu folded")
    shot(page, f"{name}-360-sv")

    # Open: every link, and signing out, on the screen.
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    sign_out = page.locator(".staff-nav__sign-out")
    expect(sign_out).to_be_visible()
    expect(sign_out).to_be_in_viewport()
    _assert_fits(page, name, "menu open")
    shot(page, f"{name}-360-sv-menu")
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    assert results.violations_count == 0, results.generate_report()

    # Escape folds it and gives focus back to the button; by keyboard alone sign out is
    # reached again.
    page.locator("#staff-nav-list a").first.focus()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    _tab_to_sign_out(page)
    expect(sign_out).to_be_focused()
    expect(sign_out).to_be_visible()
    expect(sign_out).to_be_in_viewport()

    # At desktop size there is no menu button: the links are a row in the header.
    desk = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(desk, base, "sara", personas.password)
    desk.goto(_url(base, name, case.pk))
    _ready(desk, name, personas.unit.pk)
    expect(desk.locator(".staff-nav__toggle")).to_be_hidden()
    expect(desk.locator(".staff-nav__sign-out")).to_be_visible()
    shot(desk, f"{name}-desktop-sv")
