"""Identified clients in Chromium, through the real test e-ID provider (Node): signing in,
the client's page, signing out, and a refusal's page; axe clean in Swedish and English, at
360 px and on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, LOCALES, login
from tests.browser.flows import (
    accept_first_waiting,
    assert_axe_clean,
    client_log,
    client_send,
    expect_bodies,
    open_console,
    set_available,
    start_chat,
    worker_log,
    worker_send,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
TOLVAN = "Tolvan Tolvansson (191212121212)"


def sign_in(page: Page, base_url: str, identity: str = TOLVAN) -> None:
    """From the client's page: identify with e-ID and choose a test identity."""
    page.goto(f"{base_url}/me/")
    page.locator("#eid-start").click()
    expect(page.get_by_role("heading", name="Test e-ID: choose a test identity")).to_be_visible()
    page.get_by_role("button", name=identity).click()


@pytest.fixture(params=[("sv", PHONE), ("en", DESKTOP)], ids=["sv-360px", "en-desktop"])
def client_page(request, new_context) -> tuple[Page, str]:
    lang, viewport = request.param
    page = new_context(viewport=viewport, locale=LOCALES[lang]).new_page()
    return page, lang


def test_a_client_signs_in_with_e_id_and_out_again(live_server, oidc_provider, client_page, shot):
    from chat.models import ClientRecord

    page, lang = client_page
    page.goto(f"{live_server.url}/me/")
    assert_axe_clean(page, lang)
    shot(page, "sign-in")
    sign_in(page, live_server.url)
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("#me-identified")).to_contain_text("Tolvan Tolvansson")
    expect(page.locator("body")).not_to_contain_text("191212121212")
    assert_axe_clean(page, lang)
    shot(page, "my-page")
    record = ClientRecord.objects.get()
    assert record.subject == "test-subject-0001"
    assert record.issuer == oidc_provider.issuer
    # No staff session: the console asks for a staff sign-in.
    page.goto(f"{live_server.url}/console/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto(f"{live_server.url}/me/")
    page.locator("#eid-sign-out").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/me/")
    expect(page.locator("#eid-start")).to_be_visible()


def test_a_cancelled_or_refused_identification_ends_on_a_clear_page(
    live_server, oidc_provider, client_page, shot
):
    page, lang = client_page
    page.goto(f"{live_server.url}/me/")
    page.locator("#eid-start").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#eid-error")).to_have_attribute("data-reason", "cancelled")
    assert_axe_clean(page, lang)
    shot(page, "cancelled")
    sign_in(page, live_server.url, "Utan Nummer [no personal identity number]")
    expect(page.locator("#eid-error")).to_have_attribute("data-reason", "claims")
    assert_axe_clean(page, lang)
    shot(page, "refused")


def test_an_identified_client_comes_back_to_their_case_and_the_worker_sees_it(
    live_server, oidc_provider, personas, client_context, worker_context, shot
):
    """Issue 13's "done when": a client signs in, chats, leaves, signs in again and chats on
    the same case; the worker sees the mark and, on the case, the earlier conversation
    (the opening is in the access log)."""
    from chat.models import AccessLog, Case, Conversation

    worker = worker_context.new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    set_available(worker)

    client = client_context.new_page()
    sign_in(client, live_server.url)
    expect(client).to_have_url(re.compile(r"/me/$"))
    client.goto(f"{live_server.url}/")
    expect(client.locator("#identified")).to_contain_text("Tolvan Tolvansson")
    assert_axe_clean(client, "sv")
    shot(client, "client-page-identified")
    start_chat(client, None, "Hej, det är Tolvan.")
    waiting = worker.locator("#waiting li").first
    expect(waiting.locator(".identified-mark")).to_be_visible()
    panel = accept_first_waiting(worker)
    expect(panel.locator(".identified-mark")).to_be_visible()
    shot(worker, "console-identified")
    worker_send(worker, "Hej Tolvan.")
    expect_bodies(client_log(client), ["Hej, det är Tolvan.", "Hej Tolvan."])
    client.locator("#end-button").click()
    expect(client.locator("#ended")).to_be_visible()
    client.context.close()

    again = client_context.browser.new_context(locale="sv-SE", viewport=PHONE).new_page()
    sign_in(again, live_server.url)
    start_chat(again, live_server.url, "Jag är tillbaka.")
    panel = accept_first_waiting(worker)
    expect(panel.locator(".identified-mark")).to_be_visible()
    first, second = Conversation.objects.order_by("pk")
    assert first.case_id == second.case_id
    assert Case.objects.get().client.subject == "test-subject-0001"

    worker.goto(f"{live_server.url}/console/cases/{second.case_id}/")
    expect(worker.locator("#client-name")).to_have_text("Tolvan Tolvansson")
    expect(worker.locator(".timeline__item--conversation")).to_have_count(2)
    assert AccessLog.objects.filter(
        case_id=second.case_id, action=AccessLog.Action.READ_CASE, actor=personas.anna
    ).exists()
    assert_axe_clean(worker, "sv")
    shot(worker, "case-identified")


def test_my_pages_show_the_clients_cases_and_lead_to_a_new_chat_on_one(
    live_server, oidc_provider, personas, client_page, shot
):
    import uuid

    from chat.models import ClientRecord, Conversation
    from chat.services.cases import followup_ask
    from chat.services.conversations import conversation_end, conversation_start
    from tests import factories

    page, lang = client_page
    record = ClientRecord.objects.create(
        issuer=oidc_provider.issuer, subject="test-subject-0001", name="Tolvan Tolvansson"
    )
    earlier, _created = conversation_start(
        unit_id=personas.unit.pk,
        token=factories.new_token(),
        body="Det gäller hyran.",
        client_id=uuid.uuid4(),
        client=record,
    )
    factories.accept(personas.anna, earlier)
    conversation_end(conversation=earlier, actor=personas.anna)
    followup_ask(case=earlier.case, actor=personas.anna, body="Har hyran betalats?", choices=[])

    sign_in(page, live_server.url)
    case_item = page.locator(f"#case-{earlier.case_id}")
    expect(case_item).to_be_visible()
    expect(case_item.locator(".my-case__waiting")).to_be_visible()
    assert_axe_clean(page, lang)
    shot(page, "my-cases")
    case_item.get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/return/case/$"))
    expect(page.locator("body")).to_contain_text("Har hyran betalats?")
    assert_axe_clean(page, lang)
    page.goto(f"{live_server.url}/")
    start_chat(page, None, "En sak till om hyran.")
    new = Conversation.objects.exclude(pk=earlier.pk).get()
    assert (new.case_id, new.identified) == (earlier.case_id, True)


def test_an_anonymous_chat_steps_up_mid_conversation_without_losing_a_message(
    live_server, oidc_provider, personas, client_context, worker_context, shot
):
    """Issue 13's step-up: the client identifies inside the chat, consents, and is back in
    the same conversation with every message once; the worker sees the mark appear live."""
    from chat.models import Conversation
    from tests.browser.flows import assert_log_is_gapless, assert_stored_once, stored_conversation

    worker = worker_context.new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    set_available(worker)
    client = client_context.new_page()
    client.set_viewport_size(PHONE)
    start_chat(client, live_server.url, "Hej, först anonymt.")
    panel = accept_first_waiting(worker)
    expect(panel.locator(".identified-mark")).to_be_hidden()
    worker_send(worker, "Hej! Vad kan jag hjälpa till med?")
    client_send(client, "Jag vill identifiera mig.")
    expect_bodies(
        client_log(client),
        ["Hej, först anonymt.", "Hej! Vad kan jag hjälpa till med?", "Jag vill identifiera mig."],
    )
    expect(client.locator("#step-up")).to_be_visible()
    shot(client, "chat-with-step-up")
    # A message written just before leaving for the provider is kept and sent once.
    client_send(client, "En sak till innan.")
    client.locator("#step-up").click()
    expect(client.get_by_role("heading", name="Test e-ID: choose a test identity")).to_be_visible()
    client.get_by_role("button", name=TOLVAN).click()
    expect(client).to_have_url(re.compile(r"/eid/consent/$"))
    assert not Conversation.objects.get().identified  # nothing linked before consent
    assert_axe_clean(client, "sv")
    shot(client, "consent")
    client.locator("#consent-link").click()

    expect(client).to_have_url(f"{live_server.url}/")
    bodies = [
        "Hej, först anonymt.",
        "Hej! Vad kan jag hjälpa till med?",
        "Jag vill identifiera mig.",
        "En sak till innan.",
    ]
    expect_bodies(client_log(client), bodies)
    expect(client.locator("#chat-identified")).to_be_visible()
    expect(client.locator("#step-up")).to_have_count(0)
    expect(panel.locator(".identified-mark")).to_be_visible()  # live, no reload
    shot(worker, "console-after-step-up")
    client_send(client, "Nu är jag identifierad.")
    bodies.append("Nu är jag identifierad.")
    expect_bodies(client_log(client), bodies)
    expect_bodies(worker_log(worker), bodies)
    stored = stored_conversation()
    assert_stored_once(stored, bodies)
    assert_log_is_gapless(client_log(client), stored.last_seq)
    conversation = Conversation.objects.get()
    assert conversation.identified
    assert conversation.case.client.subject == "test-subject-0001"


def test_declining_consent_returns_to_the_same_anonymous_chat(
    live_server, oidc_provider, personas, client_context, worker_context, shot
):
    from chat.models import Conversation

    worker = worker_context.new_page()
    login(worker, live_server.url, "anna", personas.password)
    open_console(worker, live_server.url)
    set_available(worker)
    client = client_context.new_page()
    start_chat(client, live_server.url, "Hej.")
    accept_first_waiting(worker)
    client.locator("#step-up").click()
    client.get_by_role("button", name="Cancel").click()
    expect(client).to_have_url(f"{live_server.url}/")
    expect_bodies(client_log(client), ["Hej."])
    client.locator("#step-up").click()
    client.get_by_role("button", name=TOLVAN).click()
    client.set_viewport_size(DESKTOP)
    assert_axe_clean(client, "sv")
    shot(client, "consent-desktop")
    client.locator("#consent-decline").click()
    expect(client).to_have_url(f"{live_server.url}/")
    client_send(client, "Fortfarande anonym.")
    expect_bodies(worker_log(worker), ["Hej.", "Fortfarande anonym."])
    expect(client.locator("#step-up")).to_be_visible()
    assert not Conversation.objects.get().identified


def test_a_protected_case_is_refused_to_an_unnamed_colleague(
    live_server, personas, worker_context, new_context, shot
):
    from chat.models import AccessLog, Case, ClientRecord, Conversation
    from tests.browser.conftest import colleague

    bengt = colleague(personas, "bengt", "Bengt", "Berg")
    record = ClientRecord.objects.create(
        issuer="https://e-id.example.se", subject="skyddad", name="Tolvan Tolvansson"
    )
    case = Case.objects.create(client=record, unit=personas.unit, owner=personas.anna)
    Conversation.objects.create(
        unit=personas.unit,
        case=case,
        token_hash="0" * 64,
        state=Conversation.State.ENDED,
        queued_at=case.created_at,
        identified=True,
    )

    anna = worker_context.new_page()
    login(anna, live_server.url, "anna", personas.password)
    anna.goto(f"{live_server.url}/console/cases/{case.pk}/")
    expect(anna.locator("#protected-mark")).to_have_count(0)
    anna.locator("#protect").click()
    expect(anna.locator("#protected-mark")).to_be_visible()
    assert_axe_clean(anna, "sv")
    shot(anna, "protected-case")

    other = new_context(viewport=PHONE, locale="sv-SE").new_page()
    login(other, live_server.url, "bengt", personas.password)
    response = other.goto(f"{live_server.url}/console/cases/{case.pk}/")
    assert response is not None and response.status == 404
    expect(other.locator("body")).not_to_contain_text("Tolvan")
    assert not AccessLog.objects.filter(actor=bengt).exists()
    assert AccessLog.objects.filter(actor=personas.anna, case_id=case.pk, flagged=True).exists()
