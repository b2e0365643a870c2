"""Urgent referrals in real browsers: partner staff refer from a phone-sized page, the
unit's worker is alerted and accepts, the partner's receipt turns to "received"; a referral
nobody accepts reaches the supervisor's dashboard. axe on every referral screen.

Screenshots go to test-results/screens/ (E2E_SCREENS_DIR moves them)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    DESKTOP,
    SERVER_LOGS_DIR,
    _test_db_name,
    current_totp,
    login,
    partner_login,
)
from tests.browser.flows import (
    accept_first_waiting,
    assert_axe_clean,
    open_console,
    worker_panel,
)
from tests.browser.server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
NOTE = "Mannen väntar utanför."


def assert_fits_the_width(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def phone_page(new_context, locale: str = "en-US") -> Page:
    return new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale=locale).new_page()


def test_a_partner_refers_from_a_phone_a_worker_accepts_and_the_partner_sees_the_receipt(
    live_server, personas, partner, new_context, shot
):
    base = live_server.url
    worker = new_context(viewport=DESKTOP, locale="en-US").new_page()
    login(worker, base, "anna", personas.password)
    open_console(worker, base)

    phone = phone_page(new_context)
    partner_login(phone, base, personas.password)
    expect(phone.get_by_text("Is someone in immediate danger?")).to_be_visible()
    expect(phone.locator('a[href="tel:112"]').first).to_be_visible()
    assert_fits_the_width(phone)
    assert_axe_clean(phone)
    shot(phone, "partner-form-360")

    started = time.monotonic()
    phone.get_by_label("The person used the code word").check()
    phone.get_by_label("Call the person on a number, at a safe time").check()
    phone.get_by_label("Phone number to call").fill("070-123 45 67")
    phone.get_by_label("When is it safe to call?").fill("after 17")
    phone.get_by_role("group", name="Are children involved?").get_by_label(
        "yes", exact=True
    ).check()
    phone.get_by_label("Short note (optional)").fill(NOTE)
    phone.get_by_role("button", name="Send to social services").click()
    receipt = phone.locator("#receipt")
    expect(receipt).to_contain_text("Waiting for a social worker")
    print(f"referral form filled and sent in {time.monotonic() - started:.1f} s (scripted)")
    assert NOTE not in phone.content()
    assert_fits_the_width(phone)
    assert_axe_clean(phone)
    shot(phone, "partner-receipt-waiting")

    # The worker: an alert panel above the queue, the title, and the client first in line.
    alert = worker.locator("#referrals")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Apoteket Hjärtat")
    expect(alert).to_contain_text("Storgatan 12")
    expect(alert).to_contain_text("wants a call at a safe time")
    expect(worker).to_have_title(re.compile(r"^Urgent referral"))
    expect(worker.locator("#waiting li").first.locator(".urgent")).to_be_visible()
    assert_axe_clean(worker)
    shot(worker, "console-referral-alert")

    alert.get_by_role("button", name="Accept").click()
    panel = worker_panel(worker)
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("070-123 45 67")
    expect(panel).to_contain_text(NOTE)
    expect(alert).to_be_hidden()
    expect(worker).not_to_have_title(re.compile(r"Urgent referral"))
    shot(worker, "console-referral-accepted")

    expect(receipt).to_contain_text(
        re.compile(r"Received by social services at \d\d:\d\d, being handled\.")
    )
    expect(receipt).not_to_contain_text(NOTE)
    assert_axe_clean(phone)
    shot(phone, "partner-receipt-received")


def test_the_partner_form_in_swedish_keeps_what_was_written_and_says_what_is_missing(
    live_server, personas, partner, new_context, shot
):
    phone = phone_page(new_context, "sv-SE")
    partner_login(phone, live_server.url, personas.password)
    expect(phone.locator("html")).to_have_attribute("lang", "sv")
    phone.locator("#id_note").fill(NOTE)
    phone.locator(".referral-form button[type=submit]").click()
    expect(phone.locator("#form-errors")).to_be_visible()
    expect(phone.locator("#id_note")).to_have_value(NOTE)
    assert_fits_the_width(phone)
    assert_axe_clean(phone)
    shot(phone, "partner-form-errors-sv")


def test_with_no_unit_open_the_partner_is_told_what_to_do_instead(
    live_server, personas, partner, new_context, shot
):
    from django.utils import timezone

    from accounts.models import ClosedDay

    ClosedDay.objects.create(unit=personas.unit, date=timezone.localdate())
    phone = phone_page(new_context)
    partner_login(phone, live_server.url, personas.password)
    phone.get_by_label("The person used the code word").check()
    phone.get_by_label("The person will make contact themselves").check()
    phone.get_by_role("group", name="Are children involved?").get_by_label("no", exact=True).check()
    phone.get_by_role("button", name="Send to social services").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Not sent: no unit is open")
    expect(phone.locator(".instead")).to_contain_text("020-50 50 50")
    assert_fits_the_width(phone)
    assert_axe_clean(phone)
    shot(phone, "partner-no-unit-open")


# --- escalation: a server that runs the timed rules itself --------------------------------------
class TimedRulesServer(LiveServer):
    def environment(self) -> dict[str, str]:
        return {**super().environment(), "TIMED_RULES": "process"}


@pytest.fixture
def timed_server(django_db_setup) -> Iterator[LiveServer]:
    server = TimedRulesServer(db_name=_test_db_name(), log_dir=SERVER_LOGS_DIR).start()
    try:
        yield server
    finally:
        server.stop()


def test_an_unaccepted_referral_escalates_to_the_supervisors_dashboard(
    timed_server, personas, partner, new_context, shot
):
    from django.utils import timezone

    from accounts.models import User
    from chat.models import Referral
    from chat.services.referrals import ReferralForm, referral_send

    sara = User.objects.create_user(
        username="sara", password=personas.password, first_name="Sara", role="supervisor"
    )
    sara.units.set([personas.unit])
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)
    pia = User.objects.get(username="pia")
    referral = referral_send(
        partner=pia,
        form=ReferralForm(
            place_id=partner.pk,
            contact=Referral.Contact.CHAT_NOW,
            children=Referral.Children.UNKNOWN,
            interpreter=True,
        ),
    )
    page = new_context(viewport=DESKTOP, locale="en-US").new_page()
    page.goto(f"{timed_server.url}/dashboard/")
    page.locator("#id_username").fill("sara")
    page.locator("#id_password").fill(personas.password)
    page.locator("#id_password").press("Enter")
    if "/accounts/two-factor/" in page.url:
        page.locator("#id_code").fill(current_totp("sara"))
        page.locator("#id_code").press("Enter")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.locator("#escalations")).to_be_hidden()

    # Nobody accepted it in the set minutes: the server's next sweep (every 15 s) escalates.
    Referral.objects.filter(pk=referral.pk).update(
        escalate_at=timezone.now() - timedelta(seconds=1)
    )
    escalations = page.locator("#escalations")
    expect(escalations).to_be_visible(timeout=40_000)
    expect(escalations).to_contain_text("Ekonomiskt bistånd")
    expect(escalations).to_contain_text("Storgatan 12")
    expect(escalations).to_contain_text("an interpreter is needed")
    expect(page).to_have_title(re.compile(r"^Urgent referral"))
    assert_axe_clean(page)
    shot(page, "dashboard-referral-escalated")
    referral.refresh_from_db()
    assert referral.escalation_step == 1
    assert list(referral.events.values_list("kind", flat=True))[-1] == "escalated_supervisors"


# --- posters ---------------------------------------------------------------------------------
def test_posters_print_on_one_a4_page_in_swedish_and_english(
    live_server, personas, partner, new_context, shot
):
    base = live_server.url
    phone = phone_page(new_context, "sv-SE")
    partner_login(phone, base, personas.password)
    phone.get_by_role("link", name=re.compile("Posters|Affischer")).click()
    assert_axe_clean(phone)
    shot(phone, "partner-posters-list")
    for language in ("sv", "en"):
        page = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
        page.context.add_cookies(phone.context.cookies())
        page.goto(f"{base}/partner/posters/place/{partner.pk}/{language}/")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator(".poster__word")).to_contain_text("mask-19")
        expect(page.locator(".poster__qr img")).to_be_visible()
        assert_axe_clean(page)
        shot(page, f"place-poster-{language}")
        # Printed, it is one A4 page.
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1

    worker = new_context(viewport=PHONE, locale="en-US").new_page()
    login(worker, base, "anna", personas.password)
    worker.goto(f"{base}/console/posters/")
    assert_axe_clean(worker)
    worker.get_by_role("link", name="English").click()
    expect(worker.locator(".poster__title")).to_contain_text("Ekonomiskt bistånd")
    assert_fits_the_width(worker)
    assert_axe_clean(worker)
    shot(worker, "unit-poster-en-360")


# --- chat now on the partner's device -----------------------------------------------------------
STORAGE = "[sessionStorage.length, localStorage.length]"


def send_chat_now(phone: Page) -> None:
    phone.get_by_label("The person used the code word").check()
    phone.get_by_label("Chat now, on this device").check()
    phone.get_by_role("group", name="Are children involved?").get_by_label("no", exact=True).check()
    phone.get_by_role("button", name="Send to social services").click()
    expect(phone.locator("#receipt")).to_contain_text("Waiting for a social worker")


def test_chat_now_on_the_partners_device_leaves_nothing_behind(
    live_server, personas, partner, new_context, shot
):
    base = live_server.url
    worker = new_context(viewport=DESKTOP, locale="en-US").new_page()
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    tablet = new_context(viewport={"width": 800, "height": 1100}, has_touch=True, locale="en-US")
    tablet.route(
        "https://www.google.com/**",
        lambda route: route.fulfill(body="neutral", content_type="text/html"),
    )
    phone = tablet.new_page()
    partner_login(phone, base, personas.password)
    cookies_before = sorted((c["name"], c["value"]) for c in tablet.cookies())
    send_chat_now(phone)
    receipt_url = phone.url
    phone.get_by_role("link", name="Start the chat for the person").click()
    expect(phone.locator("#chat-status")).to_contain_text("A social worker will answer")
    assert_axe_clean(phone)
    shot(phone, "chat-now-waiting")

    worker.locator("#referrals").get_by_role("button", name="Accept").click()
    panel = worker_panel(worker)
    expect(panel).to_be_visible()
    panel.locator("textarea").first.fill(
        "Hej, jag heter Anna. Är du på en plats där du kan skriva?"
    )
    panel.locator("textarea").first.press("Enter")
    expect(phone.locator("#log")).to_contain_text("Är du på en plats")
    phone.locator("#composer-body").fill("Ja, i personalrummet.")
    phone.locator("#composer-body").press("Enter")
    expect(panel).to_contain_text("Ja, i personalrummet.")
    assert phone.evaluate(STORAGE) == [0, 0]
    shot(phone, "chat-now-talking")

    phone.get_by_role("button", name="End chat").click()
    # The chat page replaces itself with the receipt: nothing of it on screen or in history.
    expect(phone).to_have_url(receipt_url, timeout=15_000)
    expect(phone.locator("body")).not_to_contain_text("personalrummet")
    assert phone.evaluate(STORAGE) == [0, 0]
    phone.go_back()
    expect(phone).not_to_have_url(re.compile(r"/chat/"))
    expect(phone.locator("body")).not_to_contain_text("personalrummet")
    # The partner's session is as it was, and still cannot open the chat again.
    assert sorted((c["name"], c["value"]) for c in tablet.cookies()) == cookies_before
    phone.goto(receipt_url.rstrip("/") + "/chat/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("This chat cannot be opened")
    phone.goto(f"{base}/partner/")
    expect(phone).to_have_url(re.compile(r"/partner/$"))
    assert phone.evaluate(STORAGE) == [0, 0]
    shot(phone, "chat-now-after-end")


def console_and_chat_now(base: str, personas, new_context) -> tuple[Page, Page]:
    """Anna's console in Swedish, and a partner's phone that has just sent a chat-now
    referral (the person has not chosen a language yet)."""
    worker = new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    login(worker, base, "anna", personas.password)
    open_console(worker, base)
    phone = phone_page(new_context)
    partner_login(phone, base, personas.password)
    send_chat_now(phone)
    return worker, phone


def test_chat_now_in_the_persons_language_shows_the_worker_that_language(
    live_server, personas, partner, new_context, shot
):
    """The partner lets the person start in Arabic: the chat page is in Arabic, and the
    worker's console says so, as for a client who chose Arabic on the client page."""
    worker, phone = console_and_chat_now(live_server.url, personas, new_context)
    phone.locator(".chat-now__languages button[value='ar']").click()
    expect(phone).to_have_url(re.compile(r"/chat/$"))
    expect(phone.locator("html")).to_have_attribute("lang", "ar")
    expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    expect(phone.locator("#composer")).to_be_visible()  # opened: the chat waits

    row = worker.locator("#waiting li").first
    expect(row.locator(".client-language")).to_have_text("Språk: Arabiska")
    panel = accept_first_waiting(worker)
    expect(panel.locator(".client-language")).to_have_text("Språk: Arabiska")
    shot(worker, "console-chat-now-arabic")
    from chat.models import Conversation

    assert Conversation.objects.get().language == "ar"


def test_a_worker_who_accepted_before_chat_now_opened_is_shown_its_language(
    live_server, personas, partner, new_context
):
    worker, phone = console_and_chat_now(live_server.url, personas, new_context)
    panel = accept_first_waiting(worker)
    expect(panel.locator(".client-language")).to_be_hidden()  # not known yet
    phone.locator(".chat-now__languages button[value='uk']").click()
    expect(phone.locator("html")).to_have_attribute("lang", "uk")
    expect(panel.locator(".client-language")).to_have_text("Språk: Ukrainska")


def test_chat_now_quick_exit_ends_the_chat_and_keeps_the_partner_signed_in(
    live_server, personas, partner, new_context
):
    base = live_server.url
    tablet = new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    tablet.route(
        "https://www.google.com/**",
        lambda route: route.fulfill(body="neutral", content_type="text/html"),
    )
    phone = tablet.new_page()
    partner_login(phone, base, personas.password)
    send_chat_now(phone)
    phone.get_by_role("link", name="Start the chat for the person").click()
    expect(phone.locator("#chat-status")).to_contain_text("A social worker will answer")
    phone.keyboard.press("Escape")
    expect(phone).to_have_url("https://www.google.com/")
    assert phone.evaluate(STORAGE) == [0, 0]
    phone.go_back()
    expect(phone).not_to_have_url(re.compile(r"/chat/"))
    phone.goto(f"{base}/partner/")
    expect(phone).to_have_url(re.compile(r"/partner/$"))

    from chat.models import Conversation, Message

    conversation = Conversation.objects.get()
    assert not conversation.is_open
    assert Message.objects.filter(conversation=conversation, event="quick_exit").exists()
