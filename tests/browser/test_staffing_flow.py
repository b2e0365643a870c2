"""Minimum staffing as a supervisor sets it, in Swedish and English: a minimum for this hour
and the rest of today and a priority list on the staffing plan, then the dashboard's warning
that the unit is below it, naming the unit to borrow from. Axe clean, 360 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, LOCALES, login
from tests.browser.flows import assert_axe_clean

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
BELOW = {"sv": "under sin lägsta bemanning", "en": "below its minimum staffing"}


@pytest.fixture
def supervisor(personas):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Unit, User

    other = Unit.objects.create(name="Beroende", slug="beroende")
    sara = User.objects.create_user(
        username="sara",
        password=personas.password,
        first_name="Sara",
        last_name="Berglund",
        role=User.Role.SUPERVISOR,
    )
    sara.units.set([personas.unit])
    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)
    return sara, other


def test_a_supervisor_sets_a_minimum_and_the_dashboard_warns(
    live_server, personas, supervisor, new_context, lang, shot
):
    from django.utils import timezone

    _sara, other = supervisor
    now = timezone.localtime()
    base = live_server.url
    page = new_context(viewport=DESKTOP, locale=LOCALES[lang]).new_page()
    login(page, base, "sara", personas.password)
    page.locator(".staff-nav a[href='/dashboard/staffing/']").click()
    expect(page.locator("#staffing-plan")).to_be_visible()
    assert_axe_clean(page, lang)

    # At least two serving from this hour to midnight today; sara alone is one.
    page.locator(f"input[name=weekdays][value='{now.weekday()}']").check()
    page.locator("#id_first_hour").select_option(str(now.hour))
    page.locator("#id_last_hour").select_option("23")
    page.locator("#id_minimum").fill("2")
    page.locator("form:has(input[value=minimum]) button[type=submit]").click()
    expect(page.locator(".notice--ok")).to_be_visible()
    row = page.locator("#staffing-plan tbody tr").nth(now.hour)
    expect(row.locator("td").nth(now.weekday())).to_contain_text("2")

    page.locator("#id_lender_1").select_option(str(other.pk))
    page.locator("form:has(input[value=lenders]) button[type=submit]").click()
    expect(page.locator(".notice--ok")).to_be_visible()
    expect(page.locator("#id_lender_1")).to_have_value(str(other.pk))
    shot(page, f"staffing-plan-{lang}")
    assert_axe_clean(page, lang)

    # The dashboard: serving now against the minimum, the warning and whom to borrow from.
    page.locator(".staff-nav a[href='/dashboard/']").click()
    status = page.locator(f"#unit-{personas.unit.pk} .staffing-status")
    expect(status).to_be_visible()
    expect(status.locator(".staffing-status__below")).to_contain_text(BELOW[lang])
    expect(status.locator(".staffing-status__borrow")).to_contain_text("Beroende")
    shot(page, f"dashboard-below-minimum-{lang}")
    assert_axe_clean(page, lang)


def test_the_staffing_plan_fits_a_360_px_phone(
    live_server, personas, supervisor, new_context, lang, shot
):
    page = new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale=LOCALES[lang]
    ).new_page()
    login(page, live_server.url, "sara", personas.password)
    page.goto(f"{live_server.url}/dashboard/staffing/")
    expect(page.locator("#staffing-plan")).to_be_visible()
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways {widths}"
    shot(page, f"staffing-plan-360-{lang}")
    assert_axe_clean(page, lang)
