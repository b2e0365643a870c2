"""Minimum staffing per unit and hour of the week and the priority list
(chat/services/staffing.py, chat/selectors/staffing.py): set by the unit's supervisors only,
validated, and shown on the dashboard's unit as staffed against the minimum."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from accounts.models import Presence
from chat.errors import InvalidInput, NotAllowed
from chat.models import StaffingLender, StaffingMinimum
from chat.selectors import unit_stats
from chat.selectors.staffing import staffing_status, staffing_week
from chat.services.staffing import staffing_lenders_set, staffing_minimum_set
from tests import factories
from tests.security_personas import http_client

pytestmark = pytest.mark.django_db

MONDAY_10 = timezone.make_aware(datetime(2026, 11, 9, 10, 30))


def test_a_supervisor_sets_a_minimum_for_weekdays_and_hours(ekonomi, sara):
    cells = staffing_minimum_set(
        actor=sara, unit=ekonomi, weekdays=[0, 1, 2, 3, 4], first_hour=8, last_hour=16, minimum=2
    )

    week = staffing_week(unit=ekonomi)
    assert cells == 45
    assert week[0][8] == week[4][16] == 2
    assert week[0][7] == week[0][17] == week[5][10] == 0


def test_zero_removes_the_minimum(ekonomi, sara):
    staffing_minimum_set(
        actor=sara, unit=ekonomi, weekdays=[0], first_hour=8, last_hour=9, minimum=2
    )
    staffing_minimum_set(
        actor=sara, unit=ekonomi, weekdays=[0], first_hour=9, last_hour=9, minimum=0
    )

    assert list(StaffingMinimum.objects.values_list("hour", flat=True)) == [8]


@pytest.mark.parametrize(
    ("weekdays", "first", "last", "minimum"),
    [
        ([], 8, 9, 1),
        ([7], 8, 9, 1),
        ([0], 10, 9, 1),
        ([0], 8, 24, 1),
        ([0], 8, 9, 51),
        ([0], 8, 9, -1),
    ],
)
def test_a_minimum_out_of_range_is_refused_and_changes_nothing(
    ekonomi, sara, weekdays, first, last, minimum
):
    with pytest.raises(InvalidInput):
        staffing_minimum_set(
            actor=sara,
            unit=ekonomi,
            weekdays=weekdays,
            first_hour=first,
            last_hour=last,
            minimum=minimum,
        )

    assert not StaffingMinimum.objects.exists()


def test_only_the_units_supervisors_set_its_staffing(ekonomi, vald, anna):
    other = factories.make_user("olle", role="supervisor", units=[vald])
    for actor in (anna, other):
        with pytest.raises(NotAllowed):
            staffing_minimum_set(
                actor=actor, unit=ekonomi, weekdays=[0], first_hour=8, last_hour=9, minimum=1
            )
        with pytest.raises(NotAllowed):
            staffing_lenders_set(actor=actor, unit=ekonomi, lenders=[vald])


def test_the_priority_list_is_kept_in_order_and_replaced_whole(ekonomi, vald, sara):
    barn = factories.make_unit("Barn och familj", "barn")
    staffing_lenders_set(actor=sara, unit=ekonomi, lenders=[vald, barn])
    staffing_lenders_set(actor=sara, unit=ekonomi, lenders=[barn, vald])

    assert list(StaffingLender.objects.values_list("lender__slug", "rank")) == [
        ("barn", 1),
        ("vald-i-nara-relationer", 2),
    ]


def test_a_unit_never_borrows_from_itself_or_twice_from_one(ekonomi, vald, sara):
    for lenders in ([ekonomi], [vald, vald]):
        with pytest.raises(InvalidInput):
            staffing_lenders_set(actor=sara, unit=ekonomi, lenders=lenders)


def test_below_the_minimum_the_status_names_the_units_to_borrow_from(ekonomi, vald, sara):
    staffing_minimum_set(
        actor=sara, unit=ekonomi, weekdays=[0], first_hour=10, last_hour=12, minimum=2
    )
    staffing_minimum_set(
        actor=sara, unit=ekonomi, weekdays=[0], first_hour=14, last_hour=14, minimum=1
    )
    staffing_lenders_set(actor=sara, unit=ekonomi, lenders=[vald])

    short = staffing_status(unit=ekonomi, serving=1, at=MONDAY_10)
    enough = staffing_status(unit=ekonomi, serving=2, at=MONDAY_10)

    assert short["below"] and short["minimum_now"] == 2
    assert short["borrow_from"] == [{"id": vald.pk, "name": vald.name}]
    assert short["rest_of_day"] == [
        {"hour": 11, "minimum": 2},
        {"hour": 12, "minimum": 2},
        {"hour": 14, "minimum": 1},
    ]
    assert not enough["below"] and enough["borrow_from"] == []


def test_the_dashboard_unit_carries_its_staffing(ekonomi, sara, anna):
    now = timezone.localtime()
    staffing_minimum_set(
        actor=sara,
        unit=ekonomi,
        weekdays=[now.weekday()],
        first_hour=now.hour,
        last_hour=now.hour,
        minimum=3,
    )
    Presence.objects.create(user=anna, last_seen=timezone.now())

    stats = unit_stats(unit=ekonomi)

    assert stats["staffing"]["minimum_now"] == 3
    assert stats["staffing"]["below"] is True


def test_the_staffing_page_sets_a_minimum_and_refuses_bad_input(ekonomi, vald, sara):
    client = http_client(sara, HTTP_ACCEPT_LANGUAGE="en")

    saved = client.post(
        "/dashboard/staffing/",
        {
            "form": "minimum",
            "unit": ekonomi.pk,
            "weekdays": ["0", "2"],
            "first_hour": "9",
            "last_hour": "10",
            "minimum": "2",
        },
    )
    backwards = client.post(
        "/dashboard/staffing/",
        {
            "form": "minimum",
            "unit": ekonomi.pk,
            "weekdays": ["0"],
            "first_hour": "10",
            "last_hour": "9",
            "minimum": "2",
        },
    )
    other_unit = client.get("/dashboard/staffing/", {"unit": vald.pk})

    assert saved.status_code == 302
    assert StaffingMinimum.objects.filter(unit=ekonomi, minimum=2).count() == 4
    assert backwards.status_code == 400
    assert b"The last hour comes before the first." in backwards.content
    assert other_unit.status_code == 400
    page = client.get("/dashboard/staffing/").content.decode()
    assert "Minimum staffing in Ekonomiskt bistånd" in page
