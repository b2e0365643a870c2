"""Statistics (chat/selectors/statistics.py, frontend/statistics_views.py): the figures of a
period beside the period before, per unit and for all the reader's units; cells from fewer
than five clients hidden; per-worker figures only for supervisors; no message text read;
a CSV without formulas."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation, FollowUp, Handover, Message, StaffingSample, SurveyAnswer
from chat.selectors.statistics import (
    MIN_CLIENTS,
    Period,
    call_figures,
    referral_figures,
    statistics_figures,
    statistics_report,
    statistics_units_for,
    worker_figures,
    worker_own_figures,
)
from chat.services.statistics import staffing_sample_take
from tests import factories
from tests.security_personas import http_client

pytest_plugins = ["tests.referral_personas"]

pytestmark = pytest.mark.django_db

SECRET = "Min man slår mig, hjälp."  # message text: never read by the statistics
DAY = date(2026, 11, 11)  # a Wednesday


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def conversation(
    unit,
    *,
    came: datetime,
    waited: float | None = 2,
    talked: float = 10,
    state: str = Conversation.State.ENDED,
    worker: User | None = None,
) -> Conversation:
    """A conversation that began at `came`, was first answered after `waited` minutes (None:
    never) and lasted `talked` minutes, with one message of SECRET text."""
    c = factories.past_conversation(
        unit, came=came, waited=waited, talked=talked, state=state, worker=worker, last_seq=1
    )
    Message.objects.create(conversation=c, seq=1, sender="client", body=SECRET)
    c.refresh_from_db()
    return c


@pytest.fixture
def admin_user(db):
    return factories.make_user("karin", role=User.Role.ADMIN)


def week_of(day: date) -> Period:
    return Period.ending("week", day)


# --- periods -------------------------------------------------------------------------------
def test_a_week_runs_monday_to_sunday_and_the_one_before_is_the_week_before():
    week = week_of(DAY)

    assert (week.start, week.end) == (date(2026, 11, 9), date(2026, 11, 15))
    assert (week.previous().start, week.previous().end) == (date(2026, 11, 2), date(2026, 11, 8))


def test_a_month_is_compared_with_the_calendar_month_before():
    march = Period.ending("month", date(2026, 3, 31))

    assert (march.start, march.end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (march.previous().start, march.previous().end) == (date(2026, 2, 1), date(2026, 2, 28))


def test_a_custom_period_is_compared_with_as_many_days_before():
    period = Period("custom", date(2026, 11, 1), date(2026, 11, 10))

    assert (period.previous().start, period.previous().end) == (
        date(2026, 10, 22),
        date(2026, 10, 31),
    )


# --- the figures ---------------------------------------------------------------------------
def test_waits_come_from_the_first_answer_with_median_and_ninetieth_percentile(ekonomi, anna):
    for minutes in range(1, 11):  # 1..10 minutes, all at 10:00
        conversation(ekonomi, came=at(DAY, 10), waited=minutes, worker=anna)

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.chats.shown == 10
    assert figures.wait_median.shown == pytest.approx(5.5)
    assert figures.wait_p90.shown == pytest.approx(9)
    by_hour = {hour: (median.shown, p90.shown) for hour, median, p90 in figures.wait_by_hour}
    assert by_hour[10] == (pytest.approx(5.5), pytest.approx(9))
    assert by_hour[11] == (None, None)


def test_a_handover_does_not_reset_the_time_to_first_answer(ekonomi, anna):
    for _ in range(MIN_CLIENTS):
        c = conversation(ekonomi, came=at(DAY, 10), waited=3, worker=anna)
        # Handed over later: accepted_at moves on, the first answer stays.
        Conversation.objects.filter(pk=c.pk).update(accepted_at=at(DAY, 10, 40))

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.wait_median.shown == pytest.approx(3)


def test_abandonment_is_a_share_of_the_chats_with_how_long_they_waited(ekonomi, anna):
    for _ in range(15):
        conversation(ekonomi, came=at(DAY, 9), worker=anna)
    for _ in range(5):
        conversation(
            ekonomi, came=at(DAY, 9), waited=None, talked=4, state=Conversation.State.ABANDONED
        )

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.chats.shown == 20
    assert figures.abandoned.shown == 5
    assert figures.abandoned_share.shown == pytest.approx(0.25)
    assert figures.abandoned_after_median.shown == pytest.approx(4)


def test_fewer_than_five_clients_hide_a_figure_and_none_shows_nothing(ekonomi, anna):
    for _ in range(MIN_CLIENTS - 1):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.chats.hidden and figures.chats.shown is None
    assert figures.wait_median.hidden and figures.wait_median.shown is None
    assert figures.abandoned_share.hidden  # 0 of 4: still a group of four
    assert figures.abandoned.empty and not figures.abandoned.hidden  # nobody: nothing to hide


def test_the_survey_shows_nothing_below_five_answers(ekonomi, anna):
    for n in range(MIN_CLIENTS - 1):
        c = conversation(ekonomi, came=at(DAY, 10), worker=anna)
        SurveyAnswer.objects.create(conversation=c, helped="yes", rating=5 - n % 2)

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.survey_too_few
    assert figures.survey_rating.shown is None
    assert figures.survey_helped["yes"].shown is None


def test_follow_up_counts_questions_answers_and_the_time_to_answer(ekonomi, anna):
    c = conversation(ekonomi, came=at(DAY, 10), worker=anna)
    for hours in range(1, 6):
        f = FollowUp.objects.create(case=c.case, kind="to_client", body="Hur gick det?")
        FollowUp.objects.filter(pk=f.pk).update(
            created_at=at(DAY, 11), answered_at=at(DAY, 11) + timedelta(hours=hours), answer="Bra"
        )
    FollowUp.objects.create(case=c.case, kind="to_client", body="Och sen?")  # today: not in

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.followups_asked.shown == 5
    assert figures.followups_answered.shown == 5
    assert figures.followup_answers.shown == 5
    assert figures.followup_answer_hours_median.shown == pytest.approx(3)


def test_handovers_say_where_they_went(ekonomi, vald, anna):
    for _ in range(MIN_CLIENTS):
        c = conversation(ekonomi, came=at(DAY, 10), worker=anna)
        h = Handover.objects.create(
            conversation=c,
            from_worker=anna,
            from_unit=ekonomi,
            to_unit=vald,
            note="Våld",
            share_history=False,
            at_seq=1,
            state="queued",
        )
        Handover.objects.filter(pk=h.pk).update(created_at=at(DAY, 10, 30))

    figures = statistics_figures(units=[ekonomi], period=week_of(DAY))

    assert figures.handovers.shown == MIN_CLIENTS
    assert [(name, fig.shown) for name, fig in figures.handovers_to] == [
        ("Våld i nära relationer", MIN_CLIENTS)
    ]


def test_personal_contacts_are_counted_per_week_of_the_period(ekonomi, anna):
    for day in (DAY, DAY + timedelta(days=7)):
        for _ in range(6):
            conversation(ekonomi, came=at(day, 10), worker=anna)

    figures = statistics_figures(
        units=[ekonomi], period=Period("custom", date(2026, 11, 9), date(2026, 11, 22))
    )

    assert [(week, fig.shown) for week, fig in figures.personal_per_week] == [
        (date(2026, 11, 9), 6),
        (date(2026, 11, 16), 6),
    ]


def test_staffing_per_hour_comes_from_the_samples_and_the_arrivals(ekonomi, vald, anna):
    for unit, online in ((ekonomi, 2), (vald, 3)):
        StaffingSample.objects.create(
            unit=unit, at=at(DAY, 10), staff_online=online, staff_serving=1, waiting=1
        )
    for _ in range(MIN_CLIENTS):
        conversation(ekonomi, came=at(DAY, 10, 5), worker=anna)

    figures = statistics_figures(units=[ekonomi, vald], period=Period("day", DAY, DAY))

    ten = figures.staffing_by_hour[10]
    assert (ten["staff_online"], ten["staff_serving"]) == (5, 2)
    assert ten["arrivals"].shown == MIN_CLIENTS
    assert ten["waiting"].shown == 2


def test_the_comparison_reads_the_period_before(ekonomi, anna, sara):
    for _ in range(6):
        conversation(ekonomi, came=at(DAY - timedelta(days=7), 10), worker=anna)
    for _ in range(8):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    report = statistics_report(user=sara, unit=None, period=week_of(DAY))

    assert (report.current.chats.shown, report.previous.chats.shown) == (8, 6)


def test_computing_the_figures_reads_no_message_text(ekonomi, anna, sara):
    for _ in range(6):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    with CaptureQueriesContext(connection) as queries:
        statistics_report(user=sara, unit=None, period=week_of(DAY))

    sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
    assert '"body"' not in sql and '"comment"' not in sql and '"answer"' not in sql
    assert "chat_message" not in sql


# --- who sees what --------------------------------------------------------------------------
def test_a_supervisor_sees_their_units_and_an_administrator_every_unit(
    ekonomi, vald, sara, anna, admin_user
):
    assert list(statistics_units_for(user=sara)) == [ekonomi]
    assert list(statistics_units_for(user=admin_user)) == [ekonomi, vald]
    assert list(statistics_units_for(user=anna)) == []


def test_all_my_units_never_includes_another_units_clients(ekonomi, vald, sara, anna, cecilia):
    for _ in range(6):
        conversation(vald, came=at(DAY, 10), worker=cecilia)

    report = statistics_report(user=sara, unit=None, period=week_of(DAY))

    assert report.current.chats.empty


def test_per_worker_figures_go_to_supervisors_and_the_worker_only(
    ekonomi, anna, bengt, sara, admin_user
):
    for _ in range(6):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    by_supervisor = worker_figures(viewer=sara, units=[ekonomi], period=week_of(DAY))
    by_worker = worker_figures(viewer=bengt, units=[ekonomi], period=week_of(DAY))
    by_admin = worker_figures(viewer=admin_user, units=[ekonomi], period=week_of(DAY))

    assert {row["name"]: row["chats"].shown for row in by_supervisor} == {
        "Anna": 6,
        "Bengt": None,  # none at all: nothing shown
        "Sara": None,
    }
    assert [row["name"] for row in by_worker] == ["Bengt"]
    assert by_admin == []


# --- the page and the CSV -------------------------------------------------------------------
def test_the_page_shows_the_period_and_hides_small_cells(ekonomi, anna, sara):
    for _ in range(3):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    response = http_client(sara, HTTP_ACCEPT_LANGUAGE="en").get(
        "/dashboard/statistics/", {"period": "week", "date": DAY.isoformat()}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nov. 9, 2026" in page and "Nov. 15, 2026" in page  # the locale's date format
    assert f"fewer than {MIN_CLIENTS}" in page
    assert SECRET not in page
    assert 'data-key="reminders"' in page
    swedish = http_client(sara, HTTP_ACCEPT_LANGUAGE="sv").get(
        "/dashboard/statistics/", {"period": "week", "date": DAY.isoformat()}
    )
    assert "9 november 2026" in swedish.content.decode()  # months in lower case


def test_the_page_refuses_a_unit_the_reader_does_not_supervise(ekonomi, vald, sara):
    response = http_client(sara).get("/dashboard/statistics/", {"unit": vald.pk})
    csv_response = http_client(sara).get("/dashboard/statistics.csv", {"unit": vald.pk})

    assert response.status_code == 400
    assert csv_response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"period": "custom", "start": "2026-11-10", "end": "2026-11-01"},
        {"period": "custom", "start": "2025-01-01", "end": "2026-11-01"},
        {"period": "custom", "start": "2026-11-01"},
        {"period": "fortnight"},
        {"period": "week", "date": "not a date"},
    ],
)
def test_a_period_that_is_not_one_is_a_clear_error(sara, query):
    response = http_client(sara).get("/dashboard/statistics/", query)

    assert response.status_code == 400
    assert b"form-error" in response.content


def test_the_csv_has_the_figures_and_no_formulas(ekonomi, anna, sara):
    ekonomi.name = '=HYPERLINK("http://evil")'
    ekonomi.save()
    for _ in range(6):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    response = http_client(sara, HTTP_ACCEPT_LANGUAGE="en").get(
        "/dashboard/statistics.csv", {"period": "week", "date": DAY.isoformat(), "unit": ekonomi.pk}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Unit", '\'=HYPERLINK("http://evil")']
    assert ["Contacts", "Chats started", "6", "–", ""] in rows
    assert not any(cell[:1] in ("=", "+", "@") for row in rows for cell in row)
    assert SECRET not in response.content.decode()


# --- the staffing samples -------------------------------------------------------------------
def test_a_staffing_sample_is_taken_once_per_slot(ekonomi, vald):
    now = timezone.now()

    first = staffing_sample_take(at=now)
    again = staffing_sample_take(at=now)

    assert (first, again) == (2, 0)
    assert StaffingSample.objects.count() == 2


def test_the_first_answer_is_kept_when_the_conversation_is_taken_again(ekonomi, anna, bengt):
    c = factories.accept(anna, factories.start_conversation(ekonomi)[0])
    first = c.first_accepted_at
    # Back in the queue (a return or a handover to the queue), then taken by a colleague.
    Conversation.objects.filter(pk=c.pk).update(state="queued", worker=None)

    again = factories.accept(bengt, c)

    assert first is not None and first == c.accepted_at
    assert again.first_accepted_at == first
    assert again.accepted_at > first


def test_referrals_and_risk_raised_chats_are_counted_per_unit_and_period(
    vald, ekonomi, pia, pharmacy_place, chain
):
    """Five referrals reach Våld i nära relationer this week; the risk rules raise one chat
    there and one in another unit. Only the unit's own, and only this week's, count."""
    from chat.models import RiskRule
    from chat.services.risk import risk_rules_changed_on_commit
    from tests.referral_personas import send

    for _ in range(5):
        send(pia, pharmacy_place)
    for unit in (vald, ekonomi):
        RiskRule.objects.create(
            unit=unit, label="Suicide", phrases="ta livet av mig", action=RiskRule.Action.URGENT
        )
        risk_rules_changed_on_commit(unit_id=unit.pk)
    factories.start_conversation(vald, body="Jag vill ta livet av mig.")
    factories.start_conversation(ekonomi, body="Jag vill ta livet av mig.")

    today = week_of(timezone.localdate())
    figures = referral_figures(units=[vald], period=today)
    before = referral_figures(units=[vald], period=today.previous())

    assert figures["referrals"].value == 5 and figures["referrals"].shown == 5
    assert figures["urgent"].value == 1 and figures["urgent"].hidden  # one client: hidden
    assert before["referrals"].value == 0 and before["urgent"].value == 0


# --- a worker's own figures ----------------------------------------------------------------
def own_page(user, **query):
    return http_client(user, HTTP_ACCEPT_LANGUAGE="en").get("/console/my-statistics/", query)


def own_rows(response) -> dict[str, str]:
    """The summary's rows: key -> this period's text."""
    html = response.content.decode()
    rows = {}
    for chunk in html.split('<tr data-key="')[1:]:
        key = chunk.split('"')[0]
        first_cell = chunk.split('<td class="stats-cell')[1]
        rows[key] = first_cell.split(">", 1)[1].split("</td>")[0].strip()
    return rows


def test_a_worker_sees_their_own_figures_and_nobody_elses(ekonomi, anna, bengt):
    for minutes in (10, 20, 30, 40, 50, 60):
        c = conversation(ekonomi, came=at(DAY, 10), talked=minutes, worker=anna)
        SurveyAnswer.objects.create(conversation=c, helped="yes", rating=4)
    SurveyAnswer.objects.update(created_at=at(DAY, 12))
    conversation(ekonomi, came=at(DAY, 11), worker=bengt)

    mine = worker_own_figures(worker=anna, period=week_of(DAY))
    page = own_page(anna, period="week", date=DAY.isoformat())

    assert mine["chats"].shown == 6
    assert mine["length_median"].shown == pytest.approx(35)
    assert mine["survey_rating"].shown == pytest.approx(4)
    rows = own_rows(page)
    assert page.status_code == 200
    assert rows["chats"] == "6" and rows["survey_answers"] == "6"
    assert "Anna" not in page.content.decode().split("<main", 1)[1].split("staff-nav__me")[0]
    assert SECRET not in page.content.decode()
    # Bengt's page is his: one chat, hidden, nothing of Anna's.
    bengt_rows = own_rows(own_page(bengt, period="week", date=DAY.isoformat()))
    assert bengt_rows["chats"] == f"fewer than {MIN_CLIENTS}"
    assert bengt_rows["survey_answers"] == "–"


def test_a_workers_survey_results_show_from_five_answers(ekonomi, anna):
    chats = [conversation(ekonomi, came=at(DAY, 10), worker=anna) for _ in range(MIN_CLIENTS)]
    for c in chats[:-1]:
        SurveyAnswer.objects.create(conversation=c, helped="yes", rating=5)

    SurveyAnswer.objects.update(created_at=at(DAY, 12))
    too_few = worker_own_figures(worker=anna, period=week_of(DAY))
    SurveyAnswer.objects.create(conversation=chats[-1], helped="no", rating=1)
    SurveyAnswer.objects.update(created_at=at(DAY, 12))
    enough = worker_own_figures(worker=anna, period=week_of(DAY))

    assert too_few["survey_rating"].hidden and too_few["survey_helped"].hidden
    assert enough["survey_rating"].shown == pytest.approx((4 * 5 + 1) / 5)
    assert enough["survey_helped"].shown == 4


def test_own_statistics_read_no_message_text_and_refuse_a_bad_period(ekonomi, anna):
    for _ in range(6):
        conversation(ekonomi, came=at(DAY, 10), worker=anna)

    with CaptureQueriesContext(connection) as queries:
        worker_own_figures(worker=anna, period=week_of(DAY))

    sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
    assert '"body"' not in sql and '"comment"' not in sql and '"answer"' not in sql
    assert "chat_message" not in sql
    bad = own_page(anna, period="custom", start="2026-11-10", end="2026-11-01")
    assert bad.status_code == 400
    assert "The last day comes before the first." in bad.content.decode()


# --- reminders about clients' questions ------------------------------------------------------
def test_reminders_are_recorded_once_by_the_timed_rule_and_counted(settings, ekonomi, vald, anna):
    from chat.services.cases import followup_client_ask, followup_worker_answer
    from chat.services.timed import followup_remind_due

    settings.FOLLOWUP_REMINDER_DAYS = 2
    c = conversation(ekonomi, came=at(DAY, 10), worker=anna)
    old = [followup_client_ask(case=c.case, body=f"Fråga {n}?") for n in range(6)]
    fresh = followup_client_ask(case=c.case, body="Ny fråga?")
    answered_in_time = followup_client_ask(case=c.case, body="Besvarad?")
    followup_worker_answer(followup=answered_in_time, actor=anna, answer="Ja.")
    elsewhere = followup_client_ask(case=factories.new_case(vald), body="Annan enhet?")
    FollowUp.objects.exclude(pk=fresh.pk).update(created_at=timezone.now() - timedelta(days=3))

    first = followup_remind_due()
    again = followup_remind_due()

    assert (first, again) == (7, 0)  # six old ones and the other unit's; once each
    reminded = set(FollowUp.objects.filter(reminded_at__isnull=False).values_list("pk", flat=True))
    assert reminded == {f.pk for f in old} | {elsewhere.pk}
    today = Period("day", timezone.localdate(), timezone.localdate())
    figures = statistics_figures(units=[ekonomi], period=today)
    assert figures.reminders is not None and figures.reminders.shown == 6
    assert statistics_figures(units=[vald], period=today).reminders.hidden  # one: hidden
    assert statistics_figures(units=[ekonomi], period=week_of(DAY)).reminders.empty


def test_calls_are_counted_as_personal_contacts_by_medium(ekonomi, vald, anna, sara):
    from chat.models import Call

    today = timezone.localdate()
    now = timezone.now()
    for unit, media, answered in [
        *[(ekonomi, "video", now)] * 5,
        (ekonomi, "voice", now),  # one client: hidden
        (ekonomi, "voice", None),  # declined: no contact
        (vald, "voice", now),  # another unit
        (ekonomi, "video", now - timedelta(days=8)),  # the week before
    ]:
        Call.objects.create(
            conversation=conversation(unit, came=now - timedelta(days=9), worker=anna),
            worker=anna,
            media=media,
            state=Call.State.ENDED,
            answered_at=answered,
            ended_at=now,
        )

    figures = call_figures(units=[ekonomi], period=week_of(today))
    assert (figures["video"].shown, figures["voice"].value) == (5, 1)
    assert figures["voice"].hidden
    assert call_figures(units=[ekonomi], period=week_of(today).previous())["video"].value == 1
    # A row of the summary, beside the chats.
    page = http_client(sara, HTTP_ACCEPT_LANGUAGE="en").get(
        "/dashboard/statistics/", {"period": "week", "date": today.isoformat()}
    )
    row = re.search(
        r'data-key="calls_video">\s*<th[^>]*>(.*?)</th>\s*<td[^>]*>(.*?)</td>',
        page.content.decode(),
    )
    assert row is not None
    assert (row[1], row[2]) == ("Personal contacts by video call", "5")
