"""Identified clients in Chromium, through the real test e-ID provider (Node): signing in,
the client's page, signing out, and a refusal's page; axe clean in Swedish and English, at
360 px and on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP
from tests.browser.test_accessibility import LOCALES, assert_no_axe_violations

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
    assert_no_axe_violations(page, lang)
    shot(page, "sign-in")
    sign_in(page, live_server.url)
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("#me-identified")).to_contain_text("Tolvan Tolvansson")
    expect(page.locator("body")).not_to_contain_text("191212121212")
    assert_no_axe_violations(page, lang)
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
    assert_no_axe_violations(page, lang)
    shot(page, "cancelled")
    sign_in(page, live_server.url, "Utan Nummer [no personal identity number]")
    expect(page.locator("#eid-error")).to_have_attribute("data-reason", "claims")
    assert_no_axe_violations(page, lang)
    shot(page, "refused")
