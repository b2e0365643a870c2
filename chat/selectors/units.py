"""Units: which staff see which, and opening hours in Stockholm time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django.db.models import IntegerField, QuerySet, TimeField, Value
from django.utils import timezone

from accounts.models import ClosedDay, OpeningHours, Unit, UnitTranslation, User
from chat.permissions import can


def unit_list_for_staff(*, user: User) -> QuerySet[Unit]:
    return user.units.order_by("name")


def unit_list_all() -> QuerySet[Unit]:
    return Unit.objects.order_by("name")


def unit_list_by_ids(*, unit_ids: list[int]) -> QuerySet[Unit]:
    """The units of `unit_ids` that still exist, by id."""
    return Unit.objects.filter(pk__in=unit_ids).order_by("pk")


AROUND_THE_CLOCK = "00:00–24:00"


def unit_list_open() -> QuerySet[Unit]:
    return Unit.objects.filter(is_active=True).order_by("name")


class UnitText(NamedTuple):
    """A unit's name and description as a client page shows them, and their language."""

    name: str
    description: str
    language: str


def unit_texts(*, units: list[Unit], language: str) -> dict[int, UnitText]:
    """Each unit's name and description in `language` where staff have given them, else
    the Swedish ones, marked "sv". One query for all the units."""
    translated = {
        t.unit_id: t for t in UnitTranslation.objects.filter(unit__in=units, language=language)
    }
    texts: dict[int, UnitText] = {}
    for unit in units:
        found = translated.get(unit.pk)
        texts[unit.pk] = (
            UnitText(found.name, found.description, language)
            if found
            else UnitText(unit.name, unit.description, "sv")
        )
    return texts


def local_time(at: datetime | None) -> datetime:
    return timezone.localtime(at or timezone.now())


# Marks the closed day's row in `unit_hours_on`'s one statement (weekdays are 0-6).
CLOSED_MARK = -1


def unit_hours_on(*, unit: Unit, day: date) -> list[tuple[time, time]]:
    """The unit's opening periods on `day`; empty on a closed day. No periods configured at
    all means open around the clock, shown as AROUND_THE_CLOCK. One statement: the unit's
    weekly periods and, marked CLOSED_MARK, the day's closing if there is one."""
    # No ORDER BY in either half: SQLite allows none inside a compound statement.
    periods = (
        OpeningHours.objects.filter(unit=unit).order_by().values_list("weekday", "opens", "closes")
    )
    closed = (
        ClosedDay.objects.filter(unit=unit, date=day)
        .order_by()
        .values_list(
            Value(CLOSED_MARK, output_field=IntegerField()),
            Value(None, output_field=TimeField()),
            Value(None, output_field=TimeField()),
        )
    )
    rows = list(periods.union(closed, all=True))
    if any(weekday == CLOSED_MARK for weekday, _opens, _closes in rows):
        return []
    if not rows:
        return [(time.min, time.max)]
    return sorted((opens, closes) for weekday, opens, closes in rows if weekday == day.weekday())


def periods_open(periods: list[tuple[time, time]], at: time) -> bool:
    """Whether `at` (a local time) falls in one of the periods of `unit_hours_on`."""
    return any(opens <= at < closes for opens, closes in periods)


def unit_is_open(*, unit: Unit, at: datetime | None = None) -> bool:
    local = local_time(at)
    if not unit.is_active:
        return False
    return periods_open(unit_hours_on(unit=unit, day=local.date()), local.time())


def hours_text(periods: list[tuple[time, time]]) -> str:
    """ "08:00–12:00, 13:00–16:00", AROUND_THE_CLOCK, or "" when closed all day, for the
    periods of `unit_hours_on`. The same in every language: dashboards share one
    announcement of it."""
    if periods == [(time.min, time.max)]:
        return AROUND_THE_CLOCK
    return ", ".join(f"{opens:%H:%M}–{closes:%H:%M}" for opens, closes in periods)


def unit_hours_text(*, unit: Unit, day: date) -> str:
    """`hours_text` of the unit's periods on `day`."""
    return hours_text(unit_hours_on(unit=unit, day=day))


def unit_week_hours(*, unit: Unit) -> list[tuple[str, str]]:
    """(weekday name, hours text) for the coming seven days, today first."""
    today = local_time(None).date()
    days = [today + timedelta(days=offset) for offset in range(7)]
    return [
        (str(OpeningHours.Weekday(day.weekday()).label), unit_hours_text(unit=unit, day=day))
        for day in days
    ]


def unit_list_others(*, unit: Unit | None) -> QuerySet[Unit]:
    """Every unit but `unit`, by name: the ones it may borrow staff from."""
    return Unit.objects.exclude(pk=unit.pk if unit else 0).order_by("name")


def unit_list_supervised(*, user: User) -> QuerySet[Unit]:
    if not can(user, "chat.view_dashboard"):
        return Unit.objects.none()
    return user.units.order_by("name")
