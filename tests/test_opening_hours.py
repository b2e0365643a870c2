"""Opening hours (chat/selectors/units.py: unit_is_open, unit_hours_on, unit_hours_text,
unit_week_hours) and conversation_start refusing a closed unit. All times are Stockholm
wall-clock times or UTC instants, fixed, so the tests pass on any day of the year."""

from __future__ import annotations

from datetime import date, time, timedelta
from unittest.mock import patch

import pytest
from django.utils import timezone, translation

from accounts.models import ClosedDay, OpeningHours
from chat.errors import Conflict
from chat.models import Conversation, Message
from chat.selectors import unit_hours_on, unit_hours_text, unit_is_open, unit_week_hours
from chat.services.conversations import conversation_start
from tests.factories import make_unit, new_client_id, new_token
from tests.queue_personas import stockholm, utc

pytestmark = pytest.mark.django_db

MONDAY = date(2025, 6, 2)
SUNDAY = date(2025, 6, 1)


def hours(unit, weekday: int, opens: str, closes: str) -> OpeningHours:
    return OpeningHours.objects.create(
        unit=unit,
        weekday=weekday,
        opens=time.fromisoformat(opens),
        closes=time.fromisoformat(closes),
    )


@pytest.fixture
def office(ekonomi):
    """Ekonomiskt bistånd open on weekdays 08:00–16:30 (Monday with a lunch break)."""
    hours(ekonomi, OpeningHours.Weekday.MONDAY, "13:00", "16:30")
    hours(ekonomi, OpeningHours.Weekday.MONDAY, "08:00", "12:00")
    for weekday in range(OpeningHours.Weekday.TUESDAY, OpeningHours.Weekday.SATURDAY):
        hours(ekonomi, weekday, "08:00", "16:30")
    return ekonomi


# --- no periods ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "at",
    [stockholm(2025, 6, 2, 0, 0), stockholm(2025, 6, 1, 3, 15), stockholm(2025, 6, 7, 23, 59, 59)],
)
def test_it_keeps_a_unit_without_periods_open_around_the_clock(ekonomi, at):
    assert unit_is_open(unit=ekonomi, at=at) is True


def test_it_shows_a_unit_without_periods_as_open_all_day(ekonomi):
    assert unit_hours_on(unit=ekonomi, day=MONDAY) == [(time.min, time.max)]
    assert unit_hours_text(unit=ekonomi, day=MONDAY) == "00:00–24:00"


# --- periods ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (stockholm(2025, 6, 3, 7, 59, 59), False),  # Tuesday, a second before opening
        (stockholm(2025, 6, 3, 8, 0), True),  # opens is inclusive
        (stockholm(2025, 6, 3, 12, 0), True),
        (stockholm(2025, 6, 3, 16, 29, 59), True),
        (stockholm(2025, 6, 3, 16, 30), False),  # closes is exclusive
        (stockholm(2025, 6, 3, 22, 0), False),
    ],
)
def test_it_is_open_inside_a_period_and_closed_before_and_after(office, at, expected):
    assert unit_is_open(unit=office, at=at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (stockholm(2025, 6, 2, 11, 59), True),
        (stockholm(2025, 6, 2, 12, 0), False),  # lunch
        (stockholm(2025, 6, 2, 12, 59), False),
        (stockholm(2025, 6, 2, 13, 0), True),
    ],
)
def test_it_is_closed_between_two_periods_of_one_day(office, at, expected):
    assert unit_is_open(unit=office, at=at) is expected


def test_it_is_closed_all_day_on_a_weekday_without_periods(office):
    assert unit_is_open(unit=office, at=stockholm(2025, 6, 1, 10, 0)) is False  # Sunday
    assert unit_hours_on(unit=office, day=SUNDAY) == []
    assert unit_hours_text(unit=office, day=SUNDAY) == ""


def test_it_reads_the_time_on_the_stockholm_clock_not_in_utc(office):
    # 06:30 UTC is 08:30 in Stockholm in June: open, although 06:30 is before 08:00.
    assert unit_is_open(unit=office, at=utc(2025, 6, 3, 6, 30)) is True
    # 14:45 UTC is 16:45 in Stockholm: closed, although 14:45 is before 16:30.
    assert unit_is_open(unit=office, at=utc(2025, 6, 3, 14, 45)) is False


def test_it_takes_the_weekday_from_the_stockholm_date(ekonomi):
    hours(ekonomi, OpeningHours.Weekday.MONDAY, "00:00", "01:00")

    # Sunday 22:30 UTC is already Monday 00:30 in Stockholm.
    assert unit_is_open(unit=ekonomi, at=utc(2025, 6, 1, 22, 30)) is True
    assert unit_is_open(unit=ekonomi, at=utc(2025, 6, 2, 22, 30)) is False  # Tuesday 00:30


def test_it_formats_the_hours_of_a_day_in_order(office):
    assert unit_hours_text(unit=office, day=date(2025, 6, 3)) == "08:00–16:30"
    assert unit_hours_text(unit=office, day=MONDAY) == "08:00–12:00, 13:00–16:30"
    assert unit_hours_on(unit=office, day=MONDAY) == [
        (time(8, 0), time(12, 0)),
        (time(13, 0), time(16, 30)),
    ]


def test_it_lists_the_coming_week_from_today(office):
    saturday = stockholm(2025, 6, 7, 10, 0)
    with patch("django.utils.timezone.now", return_value=saturday), translation.override("en"):
        week = unit_week_hours(unit=office)

    assert week == [
        ("Saturday", ""),
        ("Sunday", ""),
        ("Monday", "08:00–12:00, 13:00–16:30"),
        ("Tuesday", "08:00–16:30"),
        ("Wednesday", "08:00–16:30"),
        ("Thursday", "08:00–16:30"),
        ("Friday", "08:00–16:30"),
    ]


# --- closed days -----------------------------------------------------------------------------
def test_it_is_closed_the_whole_of_a_closed_day(office):
    ClosedDay.objects.create(unit=office, date=MONDAY, reason="Kompetensdag")

    for hour in (8, 10, 14):
        assert unit_is_open(unit=office, at=stockholm(2025, 6, 2, hour, 0)) is False
    assert unit_hours_on(unit=office, day=MONDAY) == []
    assert unit_hours_text(unit=office, day=MONDAY) == ""
    assert unit_is_open(unit=office, at=stockholm(2025, 6, 3, 10, 0)) is True  # next day


def test_it_closes_a_unit_without_periods_on_a_closed_day(ekonomi):
    ClosedDay.objects.create(unit=ekonomi, date=MONDAY, reason="Pingstdagen")

    assert unit_is_open(unit=ekonomi, at=stockholm(2025, 6, 2, 0, 0)) is False
    assert unit_is_open(unit=ekonomi, at=stockholm(2025, 6, 2, 23, 59)) is False
    # The closed day is the Stockholm date: Sunday 22:30 UTC is Monday already.
    assert unit_is_open(unit=ekonomi, at=utc(2025, 6, 1, 22, 30)) is False
    assert unit_is_open(unit=ekonomi, at=utc(2025, 6, 1, 21, 30)) is True


def test_it_keeps_one_units_closed_day_to_that_unit(ekonomi, vald):
    ClosedDay.objects.create(unit=vald, date=MONDAY)

    assert unit_is_open(unit=ekonomi, at=stockholm(2025, 6, 2, 10, 0)) is True
    assert unit_is_open(unit=vald, at=stockholm(2025, 6, 2, 10, 0)) is False


# --- daylight saving time ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Sunday 23 March 2025, winter time (UTC+1)
        (utc(2025, 3, 23, 6, 59), False),
        (utc(2025, 3, 23, 7, 0), True),
        # Sunday 30 March 2025: clocks go 02:00 -> 03:00, summer time (UTC+2) from then on
        (utc(2025, 3, 30, 5, 59), False),
        (utc(2025, 3, 30, 6, 0), True),
        (utc(2025, 3, 30, 14, 29), True),
        (utc(2025, 3, 30, 14, 30), False),
        # Sunday 26 October 2025: clocks go 03:00 -> 02:00, winter time again
        (utc(2025, 10, 26, 6, 30), False),  # 07:30 CET, although 08:30 in summer time
        (utc(2025, 10, 26, 7, 0), True),
        (utc(2025, 10, 26, 15, 29), True),
        (utc(2025, 10, 26, 15, 30), False),
    ],
)
def test_it_follows_the_wall_clock_on_the_days_the_clocks_change(ekonomi, at, expected):
    hours(ekonomi, OpeningHours.Weekday.SUNDAY, "08:00", "16:30")

    assert unit_is_open(unit=ekonomi, at=at) is expected


def test_it_keeps_a_night_period_right_when_the_clocks_go_forward(ekonomi):
    hours(ekonomi, OpeningHours.Weekday.SUNDAY, "01:00", "04:00")

    assert unit_is_open(unit=ekonomi, at=utc(2025, 3, 29, 23, 59)) is False  # 00:59 CET
    assert unit_is_open(unit=ekonomi, at=utc(2025, 3, 30, 0, 30)) is True  # 01:30 CET
    assert unit_is_open(unit=ekonomi, at=utc(2025, 3, 30, 1, 30)) is True  # 03:30 CEST
    assert unit_is_open(unit=ekonomi, at=utc(2025, 3, 30, 2, 0)) is False  # 04:00 CEST


def test_it_is_open_twice_in_the_hour_that_repeats_when_the_clocks_go_back(ekonomi):
    hours(ekonomi, OpeningHours.Weekday.SUNDAY, "02:00", "03:00")

    assert unit_is_open(unit=ekonomi, at=utc(2025, 10, 26, 0, 30)) is True  # 02:30 CEST
    assert unit_is_open(unit=ekonomi, at=utc(2025, 10, 26, 1, 30)) is True  # 02:30 CET
    assert unit_is_open(unit=ekonomi, at=utc(2025, 10, 26, 2, 0)) is False  # 03:00 CET


# --- an inactive unit -------------------------------------------------------------------------
def test_it_keeps_an_inactive_unit_closed_inside_its_hours(office):
    office.is_active = False
    office.save()

    assert unit_is_open(unit=office, at=stockholm(2025, 6, 3, 10, 0)) is False


def test_it_keeps_an_inactive_unit_without_periods_closed(ekonomi):
    ekonomi.is_active = False
    ekonomi.save()

    assert unit_is_open(unit=ekonomi, at=stockholm(2025, 6, 3, 10, 0)) is False


# --- conversation_start -----------------------------------------------------------------------
def close_today_and_tomorrow(unit) -> None:
    """Closed now, even if the test crosses midnight."""
    today = timezone.localdate()
    for day in (today, today + timedelta(days=1)):
        ClosedDay.objects.create(unit=unit, date=day)


def test_it_refuses_a_new_conversation_while_the_unit_is_closed(
    ekonomi, published, django_capture_on_commit_callbacks
):
    close_today_and_tomorrow(ekonomi)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Conflict) as error,
    ):
        conversation_start(
            unit_id=ekonomi.pk, token=new_token(), body="Hej", client_id=new_client_id()
        )

    assert error.value.code == "unit_closed"
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0
    assert callbacks == []
    assert published == []


@pytest.mark.parametrize(
    ("at", "opened"),
    [
        (stockholm(2025, 6, 3, 7, 59), False),
        (stockholm(2025, 6, 3, 8, 0), True),
        (stockholm(2025, 6, 3, 16, 29), True),
        (stockholm(2025, 6, 3, 16, 30), False),
    ],
)
def test_it_takes_conversations_only_inside_the_opening_hours(office, published, at, opened):
    with patch("django.utils.timezone.now", return_value=at):
        if opened:
            conversation, created = conversation_start(
                unit_id=office.pk, token=new_token(), body="Hej", client_id=new_client_id()
            )
        else:
            with pytest.raises(Conflict) as error:
                conversation_start(
                    unit_id=office.pk, token=new_token(), body="Hej", client_id=new_client_id()
                )

    if opened:
        assert created is True
        assert conversation.queued_at == at
        assert conversation.state == Conversation.State.QUEUED
    else:
        assert error.value.code == "unit_closed"
        assert Conversation.objects.count() == 0


def test_it_takes_conversations_in_another_unit_that_is_open(ekonomi, published):
    other = make_unit("Försörjningsstöd", "forsorjningsstod")
    close_today_and_tomorrow(ekonomi)

    conversation, created = conversation_start(
        unit_id=other.pk, token=new_token(), body="Hej", client_id=new_client_id()
    )

    assert created is True
    assert conversation.unit == other


def test_the_start_page_says_every_day_for_a_unit_with_the_same_hours_all_week(ekonomi, client):
    """Not "Sunday–Saturday 08:00–16:00": a client reads at once when the chat opens."""
    for weekday in range(7):
        hours(ekonomi, weekday, "08:00", "16:00")
    evening = stockholm(2025, 6, 2, 20, 0)
    with patch("django.utils.timezone.now", return_value=evening):
        english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        swedish = client.get("/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()

    assert "Every day, 08:00–16:00" in english
    assert "Alla dagar, 08:00–16:00" in swedish


def test_a_unit_open_around_the_clock_gives_the_queue_no_hours_to_repeat(ekonomi, client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.context["unit_info"][str(ekonomi.pk)]["hours"] == ""
    assert "23:59" not in page.content.decode()
