"""Demand by hour of the week (chat/selectors/demand.py): the seasonal mean of the last
weeks with a likely range, the staff it needs, and the model checked against the last
weeks; ranges from fewer than five clients hidden."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from chat.selectors.demand import BACKTEST_WEEKS, DEMAND_WEEKS, demand_week
from tests.test_statistics import conversation

pytestmark = pytest.mark.django_db


def _monday_weeks_ago(weeks: int):
    today = timezone.localdate()
    return today - timedelta(days=today.weekday(), weeks=weeks)


def test_each_hour_expects_its_mean_over_the_last_weeks_with_the_staff_it_needs(ekonomi, anna):
    for weeks_ago in range(1, DEMAND_WEEKS + BACKTEST_WEEKS + 1):
        day = _monday_weeks_ago(weeks_ago)
        for n in range(6):
            came = timezone.make_aware(datetime(day.year, day.month, day.day, 10, 5 * n))
            conversation(ekonomi, came=came, waited=1, talked=30, worker=anna)

    demand = demand_week(unit=ekonomi)

    monday_ten = demand["plan"][0][10]
    assert monday_ten.expected == 6
    assert monday_ten.low < 6 < monday_ten.high
    assert not monday_ten.hidden
    # 6 + 1.28 * sqrt(6) = 9.1 chats an hour x 30 minutes = 4.6 at once, 3 each: 2 staff.
    assert demand["handling_minutes"] == 30
    assert monday_ten.staff == 2
    assert demand["plan"][0][11].expected == 0 and demand["plan"][0][11].staff == 0
    # The same every week: the model was exact and every hour was inside its range.
    assert demand["backtest"]["mean_abs_error"] == 0
    assert demand["backtest"]["inside_range"] == 1


def test_a_range_from_fewer_than_five_clients_is_hidden(ekonomi, anna):
    day = _monday_weeks_ago(1)
    came = timezone.make_aware(datetime(day.year, day.month, day.day, 3))
    conversation(ekonomi, came=came, worker=anna)

    night = demand_week(unit=ekonomi)["plan"][0][3]

    assert night.hidden and night.staff == 1
