"""The statistics' nightly roll-up (chat.StatisticsDay, chat/services/statistics.py): the
figures read from stored days equal the figures read from the tables, the rule writes each
closed day once and catches up missed nights, a day with a conversation still open waits,
small cells stay hidden, and neither writing nor reading the roll-up reads message text."""

from __future__ import annotations

import random
import statistics as pystats
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import (
    Conversation,
    Handover,
    StaffingSample,
    StatisticsDay,
    StatisticsMonth,
    SurveyAnswer,
)
from chat.selectors.statistics import (
    MIN_CLIENTS,
    STEP_SECONDS,
    Period,
    statistics_figures,
    statistics_report,
    worker_figures,
)
from chat.services.statistics import statistics_roll_up
from chat.services.timed import timed_nightly
from tests.test_statistics import SECRET, conversation

pytestmark = pytest.mark.django_db

DAYS = 12  # of history before today


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second)))


@pytest.fixture
def history(ekonomi, vald, anna, bengt, cecilia):
    """DAYS days of two units' history up to and including today, from a fixed seed: chats
    answered after a wait of seconds to minutes, some left the queue, some left as a
    message, handovers, survey answers and a staffing sample every hour."""
    rng = random.Random(15)  # test data, not a secret
    today = timezone.localdate()
    made = []
    for offset in range(DAYS, -1, -1):
        day = today - timedelta(days=offset)
        for unit, workers in ((ekonomi, [anna, bengt]), (vald, [cecilia])):
            for hour in range(0, 24, 3):
                StaffingSample.objects.create(
                    unit=unit,
                    at=local(day, hour),
                    staff_online=rng.randint(0, 4),
                    staff_serving=rng.randint(0, 2),
                    waiting=rng.randint(0, 3),
                )
            for _ in range(rng.randint(3, 12)):
                # Today's conversations began before now, whatever the time of the run.
                came = local(day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
                if offset == 0:
                    came = min(came, timezone.now() - timedelta(minutes=1))
                roll = rng.random()
                if roll < 0.1:
                    c = conversation(unit, came=came, waited=None, state="offline")
                elif roll < 0.25:
                    c = conversation(
                        unit,
                        came=came,
                        waited=None,
                        talked=rng.uniform(0.1, 9),
                        state=Conversation.State.ABANDONED,
                    )
                else:
                    c = conversation(
                        unit,
                        came=came,
                        waited=rng.uniform(0, 12),
                        talked=rng.uniform(1, 40),
                        worker=rng.choice(workers),
                    )
                    Conversation.objects.filter(pk=c.pk).update(last_seq=rng.randint(2, 30))
                    if rng.random() < 0.2:
                        h = Handover.objects.create(
                            conversation=c,
                            from_worker=c.worker,
                            from_unit=unit,
                            to_unit=vald if unit == ekonomi else ekonomi,
                            note="",
                            share_history=False,
                            at_seq=1,
                            state="queued",
                        )
                        Handover.objects.filter(pk=h.pk).update(created_at=c.ended_at)
                    if rng.random() < 0.5:
                        s = SurveyAnswer.objects.create(
                            conversation=c,
                            helped=rng.choice(["yes", "partly", "no"]),
                            rating=rng.choice([None, 1, 3, 4, 5]),
                        )
                        SurveyAnswer.objects.filter(pk=s.pk).update(created_at=c.ended_at)
                made.append(c)
    return made


def the_period() -> Period:
    today = timezone.localdate()
    return Period("custom", today - timedelta(days=DAYS), today)


def test_the_figures_from_the_roll_up_equal_the_figures_from_the_tables(
    history, ekonomi, vald, anna, sara
):
    period = the_period()
    units = [ekonomi, vald]
    live = statistics_figures(units=units, period=period)
    live_one = statistics_figures(units=[vald], period=period)
    live_workers = worker_figures(viewer=sara, units=[ekonomi], period=period)

    written = statistics_roll_up()

    assert written == 2 * DAYS  # every closed day of both units; today is not closed
    assert StatisticsDay.objects.filter(day=timezone.localdate()).count() == 0
    rolled = statistics_figures(units=units, period=period)
    assert rolled == live  # every figure, hidden cells and charts' series alike
    assert statistics_figures(units=[vald], period=period) == live_one
    assert worker_figures(viewer=sara, units=[ekonomi], period=period) == live_workers
    # A period that begins and ends inside the rolled-up days reads only stored days...
    inside = Period("custom", period.start + timedelta(days=2), period.start + timedelta(days=6))
    with CaptureQueriesContext(connection) as queries:
        from_roll_up = statistics_figures(units=units, period=inside)
    # (Calls are counted live, like follow-ups and referrals: their query joins the
    # conversation for its unit, and reads the calls of the period only.)
    assert not any(
        '"chat_conversation"' in q["sql"] and '"chat_call"' not in q["sql"]
        for q in queries.captured_queries
    )
    # ... and equals the tables' figures for it.
    StatisticsDay.objects.all().delete()
    assert statistics_figures(units=units, period=inside) == from_roll_up


def test_the_roll_up_figures_match_the_conversations_themselves(history, ekonomi, vald):
    statistics_roll_up()
    period = the_period()
    yesterday = timezone.localdate() - timedelta(days=1)
    past = Period("custom", period.start, yesterday)  # read from the roll-up alone

    figures = statistics_figures(units=[ekonomi, vald], period=past)

    start, end = past.bounds()
    rows = [c for c in history if start <= c.created_at < end]
    answered = [c for c in rows if c.first_accepted_at is not None]
    assert figures.chats.shown == sum(1 for c in rows if c.state != "offline")
    assert figures.answered.shown == len(answered)
    assert figures.offline_questions.shown == sum(1 for c in rows if c.state == "offline")
    assert figures.abandoned.shown == sum(1 for c in rows if c.state == "abandoned")

    def step_minutes(later: datetime, earlier: datetime) -> float:
        return ((later - earlier).total_seconds() + 0.01) // STEP_SECONDS * STEP_SECONDS / 60

    waits = [step_minutes(c.first_accepted_at, c.created_at) for c in answered]
    assert figures.wait_median.shown == pytest.approx(pystats.median(waits))
    lengths = [step_minutes(c.ended_at, c.first_accepted_at) for c in answered]
    assert figures.length_median.shown == pytest.approx(pystats.median(lengths))
    assert (
        figures.handovers.shown
        == Handover.objects.filter(created_at__gte=start, created_at__lt=end).count()
    )
    ratings = [
        s.rating
        for s in SurveyAnswer.objects.filter(created_at__gte=start, created_at__lt=end)
        if s.rating is not None
    ]
    assert figures.survey_rating.shown == pytest.approx(pystats.mean(ratings))


def test_a_day_with_a_conversation_still_open_waits_and_is_read_live(history, ekonomi, anna):
    three_days_ago = timezone.localdate() - timedelta(days=3)
    conversation(ekonomi, came=local(three_days_ago, 23, 50), state=Conversation.State.QUEUED)
    period = Period("day", three_days_ago, three_days_ago)
    before = statistics_figures(units=[ekonomi], period=period)

    statistics_roll_up()

    assert not StatisticsDay.objects.filter(unit=ekonomi, day=three_days_ago).exists()
    assert statistics_figures(units=[ekonomi], period=period) == before
    Conversation.objects.filter(state=Conversation.State.QUEUED).update(
        state=Conversation.State.ABANDONED, ended_at=local(three_days_ago, 23, 59)
    )
    assert statistics_roll_up() == 1  # the next night rolls it up
    after = statistics_figures(units=[ekonomi], period=period)
    assert after.abandoned.value == before.abandoned.value + 1
    assert after.chats == before.chats


def test_the_nightly_rule_writes_each_day_once_and_catches_up_missed_nights(history):
    timed_nightly()
    stored = StatisticsDay.objects.count()
    assert stored == 2 * DAYS

    timed_nightly()  # again: nothing new
    assert StatisticsDay.objects.count() == stored

    # Three nights missed: the next run fills them in.
    missed = StatisticsDay.objects.filter(day__gte=timezone.localdate() - timedelta(days=3))
    first_ids = set(StatisticsDay.objects.exclude(pk__in=missed).values_list("pk", flat=True))
    missed.delete()
    timed_nightly()
    assert StatisticsDay.objects.count() == stored
    assert first_ids <= set(StatisticsDay.objects.values_list("pk", flat=True))  # kept


def test_the_backfill_command_rolls_up_and_rebuilds(history, ekonomi):
    call_command("statistics_roll_up")
    assert StatisticsDay.objects.count() == 2 * DAYS
    day = timezone.localdate() - timedelta(days=5)
    StatisticsDay.objects.filter(day=day).update(tally={})  # a stored day gone wrong

    call_command(
        "statistics_roll_up", "--rebuild", "--since", day.isoformat(), "--through", day.isoformat()
    )

    assert StatisticsDay.objects.count() == 2 * DAYS
    assert StatisticsDay.objects.get(unit=ekonomi, day=day).tally["chats"] >= 0
    assert StatisticsDay.objects.get(unit=ekonomi, day=day).tally != {}


def test_a_small_day_stays_hidden_when_read_from_the_roll_up(ekonomi, anna):
    day = timezone.localdate() - timedelta(days=2)
    for _ in range(MIN_CLIENTS - 1):
        conversation(ekonomi, came=local(day, 10), worker=anna)
    statistics_roll_up()
    assert StatisticsDay.objects.filter(unit=ekonomi, day=day).exists()

    figures = statistics_figures(units=[ekonomi], period=Period("day", day, day))

    assert figures.chats.hidden and figures.chats.shown is None
    assert figures.wait_median.hidden and figures.length_median.hidden
    assert figures.wait_by_hour[10][1].hidden


def test_rolling_up_and_reading_the_roll_up_read_no_message_text(history, sara):
    with CaptureQueriesContext(connection) as writing:
        statistics_roll_up()
    with CaptureQueriesContext(connection) as reading:
        statistics_report(user=sara, unit=None, period=the_period())

    for queries in (writing, reading):
        sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
        assert '"body"' not in sql and '"comment"' not in sql and '"answer"' not in sql
        assert "chat_message" not in sql
    stored = str(list(StatisticsDay.objects.values_list("tally", flat=True)))
    assert SECRET not in stored


def test_a_whole_month_is_read_from_its_month_row_and_equals_the_tables(ekonomi, vald, anna):
    rng = random.Random(7)  # test data, not a secret
    last_month_end = timezone.localdate().replace(day=1) - timedelta(days=1)
    month = (last_month_end - timedelta(days=40)).replace(day=1)  # the month before last
    day = month - timedelta(days=3)  # a few days before it, too
    while day <= last_month_end:
        for _ in range(rng.randint(0, 3)):
            conversation(
                rng.choice([ekonomi, vald]),
                came=local(day, rng.randint(0, 23), rng.randint(0, 59)),
                waited=rng.uniform(0, 10),
                talked=rng.uniform(1, 30),
                worker=anna,
            )
        day += timedelta(days=1)
    # From the middle of the days before the month to the middle of last month.
    period = Period("custom", month - timedelta(days=2), last_month_end - timedelta(days=10))
    live = statistics_figures(units=[ekonomi, vald], period=period)

    statistics_roll_up()

    assert set(StatisticsMonth.objects.values_list("unit__slug", "month")) >= {
        (ekonomi.slug, month),
        (vald.slug, month),
    }
    assert statistics_figures(units=[ekonomi, vald], period=period) == live
    # The month row is what is read: spoil the days under it and nothing changes.
    StatisticsDay.objects.filter(day__gte=month, day__lt=month + timedelta(days=28)).update(
        tally={}
    )
    assert statistics_figures(units=[ekonomi, vald], period=period) == live
    # Discarding a day discards its month too, and rolling up again restores both.
    call_command(
        "statistics_roll_up",
        "--rebuild",
        "--since",
        month.isoformat(),
        "--through",
        (month + timedelta(days=27)).isoformat(),
    )
    assert statistics_figures(units=[ekonomi, vald], period=period) == live


def test_the_day_the_clocks_go_back_rolls_up_like_any_other(ekonomi, anna):
    """25 hours on 25 October 2026 in Stockholm: the hour 02 comes twice, and a chat just
    after midnight UTC belongs to the local day before or after."""
    for utc in (
        datetime(2026, 10, 24, 21, 30),  # 23:30 on the 24th (summer time)
        datetime(2026, 10, 24, 22, 30),  # 00:30 on the 25th
        datetime(2026, 10, 25, 0, 30),  # 02:30 summer time
        datetime(2026, 10, 25, 1, 30),  # 02:30 winter time
        datetime(2026, 10, 25, 23, 30),  # 00:30 on the 26th
    ):
        for _ in range(3):
            conversation(ekonomi, came=utc.replace(tzinfo=UTC), waited=3, worker=anna)
    period = Period("custom", date(2026, 10, 24), date(2026, 10, 26))
    live = statistics_figures(units=[ekonomi], period=period)

    statistics_roll_up(since=date(2026, 10, 20), through=date(2026, 10, 31))

    days = dict(StatisticsDay.objects.filter(unit=ekonomi).values_list("day", "tally"))
    assert (days[date(2026, 10, 24)]["chats"], days[date(2026, 10, 25)]["chats"]) == (3, 9)
    assert days[date(2026, 10, 25)]["waits"]["2"] == {"36": 6}  # both 02:30s, 3 minutes
    assert statistics_figures(units=[ekonomi], period=period) == live
