"""Statistics' own writes: the staffing samples the timed sweep takes (chat/services/timed.py).

A sample is counts only (staff online, staff serving, clients waiting) for one unit at the
start of a STAFFING_SAMPLE_MINUTES slot; the unique (unit, at) makes a second sweep in the
same slot, or a second scheduler, write nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.models import Presence, Unit
from chat import selectors
from chat.models import StaffingSample

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
