"""A worker's own statistics, as the worker reaches them from the console, in Swedish and
English: their figures only (a colleague's chats never counted, nobody named or ranked),
small cells hidden, the period picker by keyboard alone; axe clean."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import DESKTOP, LOCALES, login
from tests.browser.flows import assert_axe_clean

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HIDDEN = {"sv": "färre än 5", "en": "fewer than 5"}


@pytest.fixture
def history(personas):
    """Anna ended 12 chats over the last two weeks (6 with a survey answer); her colleague
    Bengt ended 30 in the same unit, which Anna's page never counts."""
    from accounts.models import User
    from chat.models import SurveyAnswer

    bengt = User.objects.create_user(
        username="bengt", password=personas.password, first_name="Bengt", role="worker"
    )
    bengt.units.set([personas.unit])
    today = timezone.localdate()
    made = [(personas.anna, n) for n in range(12)] + [(bengt, n) for n in range(30)]
    for worker, n in made:
        day = today - timedelta(days=1 + n % 10)
        came = timezone.make_aware(datetime(day.year, day.month, day.day, 9 + n % 8, 5))
        c = factories.past_conversation(
            personas.unit, came=came, talked=10 + n, worker=worker, last_seq=6
        )
        if worker == personas.anna and n < 6:
            s = SurveyAnswer.objects.create(conversation=c, helped="yes", rating=4)
            SurveyAnswer.objects.filter(pk=s.pk).update(created_at=c.ended_at)
    return bengt


def test_a_worker_reads_their_own_figures_from_the_console(
    live_server, personas, history, new_context, lang, shot
):
    base = live_server.url
    page = new_context(viewport=DESKTOP, locale=LOCALES[lang]).new_page()
    login(page, base, "anna", personas.password)
    page.locator(".staff-nav a[href='/console/my-statistics/']").click()
    expect(page.locator("h1")).to_be_visible()

    # The last four weeks: Anna's 12 chats and 6 survey answers, never Bengt's 30.
    chats = page.locator("#summary tr[data-key=chats] td").first
    expect(chats).to_have_text("12")
    expect(page.locator("#summary tr[data-key=survey_answers] td").first).to_have_text("6")
    expect(page.locator("#summary tr[data-key=survey_rating] td").first).to_contain_text("4")
    main = page.locator("main").inner_text()
    assert "Bengt" not in main and "30" not in main
    shot(page, f"own-statistics-{lang}")
    assert_axe_clean(page, lang)

    # By keyboard alone: one day in which Anna had only two chats, so they are hidden.
    page.locator("#id_period").focus()
    page.keyboard.press("ArrowDown")  # "Day", the choice after the default
    expect(page.locator("#id_period")).to_have_value("day")
    day = timezone.localdate() - timedelta(days=1)
    page.locator("#id_date").focus()
    page.locator("#id_date").fill(day.isoformat())
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"period=day"))
    expect(page.locator("#summary tr[data-key=chats] td").first).to_have_text(HIDDEN[lang])
    expect(page.locator("#summary tr[data-key=survey_answers] td").first).to_have_text(HIDDEN[lang])
    shot(page, f"own-statistics-one-day-{lang}")
    assert_axe_clean(page, lang)


def test_a_supervisors_statistics_link_and_a_workers_own_are_apart(
    live_server, personas, history, new_context
):
    """A worker has no link to the units' statistics page, and it refuses them."""
    page = new_context(viewport=DESKTOP, locale="en-GB").new_page()
    login(page, live_server.url, "anna", personas.password)
    expect(page.locator(".staff-nav a[href='/dashboard/statistics/']")).to_have_count(0)
    response = page.goto(f"{live_server.url}/dashboard/statistics/")
    assert response is not None and response.status == 403
