"""Demand by hour of the week: the chats a unit can expect in each hour, from its last weeks,
with a likely range and the staff that needs (docs/statistics.md says which model and how
well it predicted). Reads conversation start times only, grouped in the database."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from accounts.models import Unit
from chat.models import Conversation
from chat.selectors.queue import handling_minutes
from chat.selectors.statistics import MIN_CLIENTS

DEMAND_WEEKS = 8  # the history a forecast reads
BACKTEST_WEEKS = 4  # the weeks a forecast is checked against
RANGE_Z = 1.28  # the likely range: about 8 in 10 hours land in it (Poisson, normal approx.)
FALLBACK_HANDLING_MINUTES = 20.0  # before a unit has ended any chat


@dataclass(frozen=True)
class DemandCell:
    """Chats expected to begin in one hour of the week, a likely range, and the staff that
    range needs at the unit's handling time and capacity."""

    expected: float
    low: float
    high: float
    staff: int
    clients: int  # chats in the history it is built from

    @property
    def hidden(self) -> bool:
        """Fewer than five clients behind the range: it is not shown (the staff are)."""
        return 0 < self.clients < MIN_CLIENTS


def _weekly_counts(*, unit: Unit, start: date, weeks: int) -> list[list[list[int]]]:
    """Chats (not questions left outside hours) that began in each hour of each of `weeks`
    weeks from the Monday `start`: [week][weekday][hour]."""
    tz = timezone.get_current_timezone()
    counts = [[[0] * 24 for _ in range(7)] for _ in range(weeks)]
    rows = (
        Conversation.objects.filter(
            unit=unit,
            created_at__gte=datetime.combine(start, time.min, tzinfo=tz),
            created_at__lt=datetime.combine(start + timedelta(weeks=weeks), time.min, tzinfo=tz),
        )
        .exclude(state=Conversation.State.OFFLINE)
        .annotate(day=TruncDate("created_at"), hour=ExtractHour("created_at"))
        .values_list("day", "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, hour, n in rows:
        offset = (day - start).days
        counts[offset // 7][offset % 7][hour] += n
    return counts


def _forecast(
    history: list[list[list[int]]], handling: float, capacity: int
) -> list[list[DemandCell]]:
    """The seasonal mean: each hour of the week expects the mean of that hour in the weeks
    of `history`; the range is a Poisson 80 % band around it."""
    weeks = len(history)
    plan = []
    for day in range(7):
        row = []
        for hour in range(24):
            clients = sum(history[w][day][hour] for w in range(weeks))
            expected = clients / weeks
            spread = RANGE_Z * math.sqrt(expected)
            low, high = max(0.0, expected - spread), expected + spread
            # Offered load (chats at once) = arrivals per hour x handling hours; each worker
            # takes `capacity` chats at once.
            staff = math.ceil(high * handling / 60 / capacity) if expected > 0 else 0
            row.append(
                DemandCell(round(expected, 1), round(low, 1), round(high, 1), staff, clients)
            )
        plan.append(row)
    return plan


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def demand_week(*, unit: Unit, today: date | None = None) -> dict[str, Any]:
    """The expected demand per hour of the week from the last DEMAND_WEEKS whole weeks, the
    staff it needs, and how well the same model predicted each of the last BACKTEST_WEEKS
    weeks from the weeks before it."""
    this_monday = _monday(today or timezone.localdate())
    durations = [minutes for minutes in handling_minutes(unit=unit) if minutes > 0]
    handling = round(statistics.median(durations), 1) if durations else FALLBACK_HANDLING_MINUTES
    capacity = unit.default_capacity
    weeks = _weekly_counts(
        unit=unit,
        start=this_monday - timedelta(weeks=DEMAND_WEEKS + BACKTEST_WEEKS),
        weeks=DEMAND_WEEKS + BACKTEST_WEEKS,
    )
    plan = _forecast(weeks[-DEMAND_WEEKS:], handling, capacity)
    # Backtest: for each of the last weeks, forecast it from the DEMAND_WEEKS before it.
    errors: list[float] = []
    inside = hours = 0
    for k in range(BACKTEST_WEEKS):
        target = DEMAND_WEEKS + k
        past = weeks[target - DEMAND_WEEKS : target]
        if len(past) < DEMAND_WEEKS:
            continue
        forecast = _forecast(past, handling, capacity)
        for day in range(7):
            for hour in range(24):
                cell, actual = forecast[day][hour], weeks[target][day][hour]
                if cell.expected == 0 and actual == 0:
                    continue  # closed hours say nothing about the model
                hours += 1
                errors.append(abs(actual - cell.expected))
                inside += cell.low <= actual <= cell.high
    return {
        "plan": plan,
        "weeks": DEMAND_WEEKS,
        "handling_minutes": handling,
        "capacity": capacity,
        "backtest": {
            "weeks": BACKTEST_WEEKS,
            "hours": hours,
            "mean_abs_error": round(sum(errors) / len(errors), 2) if errors else None,
            "inside_range": round(inside / hours, 2) if hours else None,
        },
    }
