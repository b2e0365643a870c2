"""Every client page in every client language: axe (WCAG 2.1 AA) clean, reflowing at
320 px without sideways scrolling, and usable with forced colours and reduced motion.
Cheap on purpose: one browser context per language, pages rather than flows; the pages
behind a code, an e-ID sign-in or an error share one prepared server session."""

from __future__ import annotations

import re

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


# --- the other pages a client sees -----------------------------------------------------------
ERROR_STATUSES = (400, 403, 404, 500)
PHONE = {"width": 360, "height": 740}


def _returning_identified_client(personas) -> str:
    """One server session, as a client would have it after coming back: their case opened
    (a question with quick answers waits on it), signed in with e-ID, and a step-up waiting
    for consent. Returns the session key; the pages read what they need from it."""
    from django.contrib.sessions.backends.db import SessionStore

    from chat import eid
    from chat.services.cases import followup_ask
    from frontend.case_views import RETURN_SESSION_KEY
    from frontend.eid_views import CONSENT_SESSION_KEY
    from tests.oidc import LOA3
    from tests.test_eid_chat import start, tolvan

    record = tolvan()
    conversation = start(personas.unit, client=record, body="Hej, det gäller hyran.")
    followup_ask(
        case=conversation.case,
        actor=personas.anna,
        body="Har hyran betalats?",
        choices=["Ja", "Nej"],
        translated_choices={"ar": ["نعم", "لا"], "fi": ["Kyllä", "Ei"]},
    )
    session = SessionStore()
    session[RETURN_SESSION_KEY] = conversation.case.pk
    session[eid.SESSION_CLIENT] = {"client": record.pk, "acr": LOA3}
    session[CONSENT_SESSION_KEY] = {
        "client": record.pk,
        "acr": LOA3,
        "conversation": conversation.pk,
    }
    session.create()
    return str(session.session_key)


def phone_shot(page: Page, shot, step: str) -> None:
    """A screenshot at 360 px in ordinary colours, then back to 320 px and forced colours."""
    page.set_viewport_size(PHONE)
    page.emulate_media(forced_colors="none")
    shot(page, step)
    page.emulate_media(forced_colors="active")
    page.set_viewport_size(NARROW)


def _check(page: Page, what: str, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang in RTL else "ltr")
    assert_clean(page, f"{what} in {lang}")
    assert_reflows(page, f"{what} in {lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_other_client_page_is_accessible_in(
    live_server, personas, partner, new_context, shot, lang
):
    """The case page and answering on it, My pages, e-ID consent and refusal, every error
    page, a refused form, and the partner's "chat now" device: one context each for the
    client and the device, all pages in the chosen language."""
    from accounts.models import User
    from chat.models import Referral
    from chat.services.referrals import ReferralForm, referral_send
    from tests.browser.conftest import partner_login

    base = live_server.url
    context = new_context(
        viewport=NARROW, is_mobile=True, locale="sv-SE", reduced_motion="reduce",
        forced_colors="active",
    )  # fmt: skip
    page = context.new_page()
    choose_language(page, base, lang)
    context.add_cookies(
        [{"name": "sessionid", "value": _returning_identified_client(personas), "url": base}]
    )

    page.goto(f"{base}/return/case/")
    expect(page.locator(".followup--open")).to_have_count(1)
    _check(page, "the case page", lang)
    page.locator(".followup--open input[name=choice]").first.check()
    page.locator(".followup--open button[type=submit]").click()
    expect(page.locator(".followup__answer")).to_have_count(1)
    _check(page, "the case page, answered", lang)
    if lang == "ar":
        phone_shot(page, shot, "case-page-ar-360")

    page.goto(f"{base}/me/")
    expect(page.locator("#me-identified")).to_be_visible()
    _check(page, "My pages", lang)
    page.goto(f"{base}/eid/consent/")
    expect(page.locator("#consent-link")).to_be_visible()
    _check(page, "the e-ID consent page", lang)
    page.goto(f"{base}/eid/callback/?state=unknown&error=access_denied")
    expect(page.locator("#eid-error")).to_have_attribute("data-reason", "cancelled")
    _check(page, "the e-ID refusal page", lang)

    for status in ERROR_STATUSES:
        page.goto(f"{base}/test-errors/{status}/")
        expect(page.locator("#error-title")).to_have_attribute("data-status", str(status))
        _check(page, f"the {status} page", lang)
        if lang == "ar" and status == 404:
            phone_shot(page, shot, "error-404-ar-360")
    # A form refused by the CSRF check, as after quick exit in another tab.
    page.goto(f"{base}/return/")
    page.locator("main input[name=csrfmiddlewaretoken]").evaluate(
        "input => input.value = 'x'.repeat(64)"
    )
    page.locator("#case-code").fill("ABCD-EFGH-JKMN")
    page.locator("#case-code").press("Enter")
    expect(page.locator("#error-title")).to_have_attribute("data-status", "403")
    _check(page, "the refused form's page", lang)

    # Chat now: the person picks their language on the partner's receipt page.
    referral = referral_send(
        partner=User.objects.get(username="pia"),
        form=ReferralForm(
            place_id=partner.pk,
            contact=Referral.Contact.CHAT_NOW,
            children=Referral.Children.UNKNOWN,
        ),
    )
    device = new_context(viewport=NARROW, is_mobile=True, locale="sv-SE").new_page()
    partner_login(device, base, personas.password)
    device.goto(f"{base}/partner/referrals/{referral.pk}/")
    device.locator(f".chat-now__languages button[value='{lang}']").click()
    expect(device).to_have_url(re.compile(rf"/partner/referrals/{referral.pk}/chat/$"))
    expect(device.locator("#composer")).to_be_visible()
    _check(device, "chat now", lang)
