"""The statistics page as a supervisor uses it, in Swedish and English: four weeks of
history shown as charts with tables beside them, a chart read by keyboard, a small unit's
figures hidden, the CSV downloaded, the period picker; axe clean at desktop size and on a
360 px phone, without sideways scrolling."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import DESKTOP, LOCALES, login
from tests.browser.flows import assert_axe_clean

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
HIDDEN = {"sv": "färre än 5", "en": "fewer than 5"}


@pytest.fixture
def history(personas):
    """Supervisor sara of the personas' unit and of a small unit; four weeks of answered
    chats in the big unit (8 a day, 09-16) and three in the small one."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Unit, User

    small = Unit.objects.create(name="Beroende", slug="beroende")
    sara = User.objects.create_user(
        username="sara",
        password=personas.password,
        first_name="Sara",
        last_name="Berglund",
        role=User.Role.SUPERVISOR,
    )
    sara.units.set([personas.unit, small])
    TOTPDevice.objects.create(user=sara, name="authenticator", confirmed=True)
    today = timezone.localdate()
    rows = []
    for days_ago in range(1, 28):
        day = today - timedelta(days=days_ago)
        for n in range(8):
            came = timezone.make_aware(datetime(day.year, day.month, day.day, 9 + n, 5))
            rows.append((personas.unit, came, 1 + n % 4))
    for n in range(3):
        day = today - timedelta(days=2 + n)
        rows.append((small, timezone.make_aware(datetime(day.year, day.month, day.day, 10)), 2))
    for unit, came, wait in rows:
        factories.past_conversation(
            unit, came=came, waited=wait, talked=15, worker=personas.anna, last_seq=6
        )
    return sara, small


def test_a_supervisor_reads_four_weeks_with_charts_tables_and_csv(
    live_server, personas, history, new_context, lang, shot
):
    _sara, small = history
    base = live_server.url
    page = new_context(viewport=DESKTOP, locale=LOCALES[lang], accept_downloads=True).new_page()
    login(page, base, "sara", personas.password)
    page.locator(".staff-nav a[href='/dashboard/statistics/']").click()
    expect(page.locator("h1")).to_be_visible()

    # The last four weeks by default: the charts are drawn, each beside its table.
    for chart in ("#chart-weeks", "#chart-waits", "#chart-staffing"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    expect(page.locator("#table-weeks tbody tr")).to_have_count(4)
    expect(page.locator("#summary tr[data-key=chats] td").first).to_have_text("219")
    expect(page.locator("#table-waits tbody tr")).to_have_count(8)
    shot(page, f"statistics-desktop-{lang}")
    assert_axe_clean(page, lang)

    # A chart by keyboard: focus it, move with the arrow keys, hear the values.
    page.locator("#chart-waits").focus()
    expect(page.locator("#chart-waits")).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#chart-readout")).to_contain_text("01:00")
    page.keyboard.press("End")
    expect(page.locator("#chart-readout")).to_contain_text("23:00")

    # The CSV of the same period.
    with page.expect_download() as download_info:
        page.locator("#stats-csv").click()
    content = download_info.value.path().read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(content)))
    assert any(row[2:3] == ["219"] for row in rows), rows[:12]

    # Printed: the figures and tables without the controls.
    expect(page.locator("#stats-print")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator("#summary")).to_be_visible()
    shot(page, f"statistics-print-{lang}")
    page.emulate_media(media="screen")

    # One small unit: three clients, every cell about them hidden.
    page.locator("#id_unit").select_option(str(small.pk))
    page.locator("form.filters button[type=submit]").click()
    expect(page.locator("#summary tr[data-key=chats] td").first).to_have_text(HIDDEN[lang])
    shot(page, f"statistics-small-unit-{lang}")

    # A week of the period picker: the date field shows, the custom dates do not.
    page.locator("#id_period").select_option("custom")
    expect(page.locator("#id_start")).to_be_visible()
    expect(page.locator("#id_date")).to_be_hidden()
    page.locator("#id_start").fill("2026-01-10")
    page.locator("#id_end").fill("2026-01-01")
    page.locator("form.filters button[type=submit]").click()
    expect(page.locator(".form-error")).to_be_visible()
    assert_axe_clean(page, lang)


def test_the_statistics_page_fits_a_360_px_phone(
    live_server, personas, history, new_context, lang, shot
):
    page = new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale=LOCALES[lang]
    ).new_page()
    login(page, live_server.url, "sara", personas.password)
    page.goto(f"{live_server.url}/dashboard/statistics/")
    expect(page.locator("#chart-weeks canvas")).to_have_count(1)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways {widths}"
    box = page.locator("#chart-waits").bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    shot(page, f"statistics-360-{lang}")
    assert_axe_clean(page, lang)
