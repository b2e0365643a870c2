"""Minimum staffing per unit and hour of the week, and each unit's priority list of units
to borrow staff from. Supervisors of the unit set both; dashboards hear of a change through
the unit's announcement (`dashboard.unit` carries the staffing)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from accounts.models import Unit, User
from chat.errors import InvalidInput
from chat.models import StaffingLender, StaffingMinimum
from chat.permissions import require
from chat.services.queue import queue_announce

MINIMUM_MAX = 50
LENDERS_MAX = 5


def staffing_minimum_set(
    *,
    actor: User,
    unit: Unit,
    weekdays: Sequence[int],
    first_hour: int,
    last_hour: int,
    minimum: int,
) -> int:
    """Set at least `minimum` staff serving on each of `weekdays` (0 Monday) from the hour
    starting `first_hour` through the one starting `last_hour`; 0 removes the minimum.
    Returns how many hours of the week were set. Announces the unit after commit."""
    require(actor, "chat.manage_staffing", unit)
    if not weekdays or any(not 0 <= day <= 6 for day in weekdays):
        raise InvalidInput("weekdays are 0 (Monday) to 6 (Sunday)")
    if not (0 <= first_hour <= last_hour <= 23):
        raise InvalidInput("hours run from 0 to 23, the first not after the last")
    if not 0 <= minimum <= MINIMUM_MAX:
        raise InvalidInput(f"a minimum from 0 to {MINIMUM_MAX}")
    cells = [
        (day, hour) for day in sorted(set(weekdays)) for hour in range(first_hour, last_hour + 1)
    ]
    with transaction.atomic():
        for day, hour in cells:
            if minimum == 0:
                StaffingMinimum.objects.filter(unit=unit, weekday=day, hour=hour).delete()
            else:
                StaffingMinimum.objects.update_or_create(
                    unit=unit, weekday=day, hour=hour, defaults={"minimum": minimum}
                )
        queue_announce(unit_id=unit.pk)
    return len(cells)


def staffing_lenders_set(*, actor: User, unit: Unit, lenders: Sequence[Unit]) -> None:
    """Replace the unit's priority list: borrow from `lenders`, in this order. A unit once,
    never the unit itself, at most LENDERS_MAX."""
    require(actor, "chat.manage_staffing", unit)
    ids = [lender.pk for lender in lenders]
    if len(ids) != len(set(ids)) or unit.pk in ids:
        raise InvalidInput("each other unit at most once")
    if len(ids) > LENDERS_MAX:
        raise InvalidInput(f"at most {LENDERS_MAX} units")
    with transaction.atomic():
        StaffingLender.objects.filter(unit=unit).delete()
        StaffingLender.objects.bulk_create(
            StaffingLender(unit=unit, lender=lender, rank=rank)
            for rank, lender in enumerate(lenders, start=1)
        )
        queue_announce(unit_id=unit.pk)
