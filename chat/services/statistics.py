"""Statistics' own writes: the staffing samples the timed sweep takes, and the nightly
roll-up of closed days (both run by chat/services/timed.py).

A sample is counts only (staff online, staff serving, clients waiting) for one unit at the
start of a STAFFING_SAMPLE_MINUTES slot; the unique (unit, at) makes a second sweep in the
same slot, or a second scheduler, write nothing.

The roll-up stores one unit's tally of one closed day (`StatisticsDay`): the same counts
chat/selectors/statistics.py reads live, grouped by unit and day, so a period's figures are
the same whether its days are read from the roll-up or from the tables.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Count, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Presence, Unit
from chat import selectors
from chat.models import (
    Conversation,
    Handover,
    StaffingSample,
    StatisticsDay,
    StatisticsMonth,
    SurveyAnswer,
)
from chat.selectors.statistics import Period, PeriodKind, Tally, statistics_tallies

STAFFING_SAMPLE_MINUTES = 5


def staffing_slot(at: datetime) -> datetime:
    """The start of the sample slot that holds `at`."""
    minute = at.minute - at.minute % STAFFING_SAMPLE_MINUTES
    return at.replace(minute=minute, second=0, microsecond=0)


def staffing_sample_take(*, at: datetime | None = None) -> int:
    """One sample per unit for the slot of `at`, unless it was taken. Returns how many rows
    were written."""
    slot = staffing_slot(at or timezone.now())
    taken = set(StaffingSample.objects.filter(at=slot).values_list("unit_id", flat=True))
    samples = []
    for unit in Unit.objects.exclude(pk__in=taken):
        staff = selectors.unit_staff_load(unit=unit, at=slot)
        samples.append(
            StaffingSample(
                unit=unit,
                at=slot,
                staff_online=sum(1 for s in staff if s.shown != Presence.Shown.OFFLINE),
                staff_serving=sum(
                    1 for s in staff if s.shown in (Presence.Shown.AVAILABLE, Presence.Shown.BUSY)
                ),
                waiting=selectors.conversation_list_waiting(unit_ids=[unit.pk]).count(),
            )
        )
    StaffingSample.objects.bulk_create(samples, ignore_conflicts=True)
    return len(samples)


def statistics_roll_up(*, since: date | None = None, through: date | None = None) -> int:
    """Store the tally of every closed local day that has none yet, per unit: from `since`
    (default: the first day anything happened) through `through` (default and at most:
    yesterday). A day is closed once it is over and none of the unit's conversations begun
    that day is still waiting or active. Idempotent: a stored day is never written again, so
    a missed night is caught up by the next run. Returns how many days were written."""
    yesterday = timezone.localdate() - timedelta(days=1)
    through = min(through or yesterday, yesterday)
    first = since or _first_day()
    if first is None or first > through:
        return 0
    unit_ids = list(Unit.objects.order_by("pk").values_list("pk", flat=True))
    start, end = Period(PeriodKind.CUSTOM, first, through).bounds()
    done = set(
        StatisticsDay.objects.filter(day__gte=first, day__lte=through).values_list("unit_id", "day")
    )
    still_open = set(
        Conversation.objects.filter(
            state__in=Conversation.OPEN_STATES, created_at__gte=start, created_at__lt=end
        )
        .annotate(day=TruncDate("created_at"))
        .values_list("unit_id", "day")
        .distinct()
    )
    written = 0
    chunk_start = first
    while chunk_start <= through:
        chunk_end = min(chunk_start + timedelta(days=ROLL_UP_CHUNK_DAYS - 1), through)
        due: list[tuple[int, date]] = []
        day = chunk_start
        while day <= chunk_end:
            due += [
                (unit_id, day)
                for unit_id in unit_ids
                if (unit_id, day) not in done and (unit_id, day) not in still_open
            ]
            day += timedelta(days=1)
        if due:
            written += _roll_up(due)
        chunk_start = chunk_end + timedelta(days=1)
    _roll_up_months(first, yesterday)  # also a month that a --through range left whole
    return written


def _roll_up_months(first: date, through: date) -> int:
    """Sum the stored days of every whole calendar month from `first`'s through `through`
    whose days are all stored and that has no month row yet. Returns how many written."""
    month = first.replace(day=1)
    done = set(StatisticsMonth.objects.filter(month__gte=month).values_list("unit_id", "month"))
    unit_ids = set(Unit.objects.values_list("pk", flat=True))
    rows = []
    while True:
        following = (month + timedelta(days=32)).replace(day=1)
        last = following - timedelta(days=1)
        if last > through:
            break
        if all((unit_id, month) in done for unit_id in unit_ids):  # every unit's is stored
            month = following
            continue
        stored = (
            StatisticsDay.objects.filter(day__gte=month, day__lte=last)
            .values("unit_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        complete = [
            r["unit_id"] for r in stored if r["n"] == last.day and (r["unit_id"], month) not in done
        ]
        for unit_id in complete:
            tally = Tally()
            for data in StatisticsDay.objects.filter(
                unit_id=unit_id, day__gte=month, day__lte=last
            ).values_list("tally", flat=True):
                tally.add(data)
            rows.append(StatisticsMonth(unit_id=unit_id, month=month, tally=tally.as_json()))
        month = following
    StatisticsMonth.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


ROLL_UP_CHUNK_DAYS = 31  # days read at once: a month of every unit's rows


def _roll_up(due: list[tuple[int, date]]) -> int:
    """Write the tallies of these (unit id, day) pairs, each day of each unit read once."""
    by_day: dict[date, set[int]] = defaultdict(set)
    for unit_id, day in due:
        by_day[day].add(unit_id)
    segments = [
        (frozenset(unit_ids), *Period(PeriodKind.DAY, day, day).bounds())
        for day, unit_ids in sorted(by_day.items())
    ]
    tallies = statistics_tallies(segments=segments, by_day=True)
    rows = [
        StatisticsDay(
            unit_id=unit_id,
            day=day,
            tally=tallies.get((unit_id, day), Tally()).as_json(),
        )
        for unit_id, day in due
    ]
    # A second scheduler, or a run still going, wrote the same day: nothing is written twice.
    StatisticsDay.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _first_day() -> date | None:
    """The first local day with anything the figures read."""
    firsts = [
        Conversation.objects.aggregate(m=Min("created_at"))["m"],
        StaffingSample.objects.aggregate(m=Min("at"))["m"],
        Handover.objects.aggregate(m=Min("created_at"))["m"],
        SurveyAnswer.objects.aggregate(m=Min("created_at"))["m"],
    ]
    moments = [m for m in firsts if m is not None]
    return timezone.localdate(min(moments)) if moments else None


def statistics_roll_up_discard(*, since: date | None = None, through: date | None = None) -> int:
    """Remove stored days from `since` through `through` (both optional), so that they are
    rolled up again from the tables (after history was imported or corrected). Returns how
    many were removed."""
    stored = StatisticsDay.objects.all()
    months = StatisticsMonth.objects.all()  # every month that holds one of the days
    if since is not None:
        stored = stored.filter(day__gte=since)
        months = months.filter(month__gte=since.replace(day=1))
    if through is not None:
        stored = stored.filter(day__lte=through)
        months = months.filter(month__lte=through)
    months.delete()
    removed, _kinds = stored.delete()
    return removed
