"""Minimum staffing and the priority lists: the week's plan of a unit, and how it stands now
(for the dashboard's `dashboard.unit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import Unit
from chat.models import StaffingLender, StaffingMinimum


def staffing_week(*, unit: Unit) -> list[list[int]]:
    """The unit's minimum for every hour of the week: [weekday][hour], 0 for none."""
    week = [[0] * 24 for _ in range(7)]
    for day, hour, minimum in StaffingMinimum.objects.filter(unit=unit).values_list(
        "weekday", "hour", "minimum"
    ):
        week[day][hour] = minimum
    return week


def staffing_lender_list(*, unit: Unit) -> list[Unit]:
    return [
        row.lender
        for row in StaffingLender.objects.filter(unit=unit)
        .select_related("lender")
        .order_by("rank")
    ]


def staffing_status(*, unit: Unit, serving: int, at: datetime | None = None) -> dict[str, Any]:
    """How the unit stands against its minimum now and for the rest of today (local hours),
    and, when it is below, the units it borrows from, in order. Plain JSON for the dashboard."""
    local = timezone.localtime(at or timezone.now())
    today = dict(
        StaffingMinimum.objects.filter(
            unit=unit, weekday=local.weekday(), hour__gte=local.hour
        ).values_list("hour", "minimum")
    )
    minimum_now = today.get(local.hour, 0)
    below = serving < minimum_now
    return {
        "serving": serving,
        "minimum_now": minimum_now,
        "below": below,
        "rest_of_day": [
            {"hour": hour, "minimum": today[hour]}
            for hour in range(local.hour + 1, 24)
            if hour in today
        ],
        "borrow_from": [
            {"id": lender.pk, "name": lender.name} for lender in staffing_lender_list(unit=unit)
        ]
        if below
        else [],
    }
