"""The queue as the waiting client and the supervisor see it: positions, honest
estimates, a unit's numbers."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import Presence, Unit
from chat.models import (
    Conversation,
)
from chat.selectors.conversations import conversation_list_waiting
from chat.selectors.staff import StaffLoad, unit_staff_load
from chat.selectors.units import local_time, unit_hours_text, unit_is_open


def handling_minutes(*, unit: Unit, at: datetime | None = None) -> list[float]:
    """How long the unit's recent conversations lasted, in minutes, shortest first."""
    now = at or timezone.now()
    rows = (
        Conversation.objects.filter(
            unit=unit,
            state=Conversation.State.ENDED,
            accepted_at__isnull=False,
            ended_at__gte=now - timedelta(days=settings.ESTIMATE_DAYS),
        )
        .order_by("-ended_at")
        .values_list("accepted_at", "ended_at")[:100]
    )
    return sorted(
        (ended - accepted).total_seconds() / 60 for accepted, ended in rows if accepted and ended
    )


def queue_estimate(
    *, unit: Unit, position: int, staff: list[StaffLoad], durations: list[float]
) -> dict[str, int] | None:
    """A range in minutes for the client at `position`, or None when we cannot stand
    behind a number: nobody available, or too few finished conversations to go on.

    Places free up at about (workers' total capacity / time a conversation takes), so the
    client waits for (position - free places) of them; the quartiles of recent handling
    times give the range.
    """
    serving = [s for s in staff if s.shown in (Presence.Shown.AVAILABLE, Presence.Shown.BUSY)]
    total_capacity = sum(s.capacity for s in serving)
    if total_capacity == 0 or len(durations) < settings.ESTIMATE_MIN_SAMPLES:
        return None
    free = sum(max(0, s.capacity - s.active) for s in serving)
    ahead = position - free
    if ahead <= 0:
        return {"low": 0, "high": 2}
    q1 = durations[len(durations) // 4]
    q3 = durations[(3 * len(durations)) // 4]
    low = math.floor(ahead * q1 / total_capacity)
    high = max(low + 1, math.ceil(ahead * q3 / total_capacity))
    return {"low": low, "high": high}


def queue_positions(*, unit: Unit, at: datetime | None = None) -> list[dict[str, Any]]:
    """For every waiting conversation of the unit: its position and an honest estimate."""
    now = at or timezone.now()
    waiting = list(conversation_list_waiting(unit_ids=[unit.pk]))
    if not waiting:
        return []
    staff = unit_staff_load(unit=unit, at=now)
    durations = handling_minutes(unit=unit, at=now)
    is_open = unit_is_open(unit=unit, at=now)
    available = sum(1 for s in staff if s.shown == Presence.Shown.AVAILABLE)
    serving = sum(1 for s in staff if s.shown in (Presence.Shown.AVAILABLE, Presence.Shown.BUSY))
    return [
        {
            "conversation": conversation.pk,
            "position": position,
            "waiting": len(waiting),
            "estimate": queue_estimate(
                unit=unit, position=position, staff=staff, durations=durations
            ),
            "unit_open": is_open,
            "staff_available": available,
            "staff_serving": serving,
        }
        for position, conversation in enumerate(waiting, start=1)
    ]


def queue_position_for(*, conversation: Conversation) -> dict[str, Any] | None:
    for entry in queue_positions(unit=conversation.unit):
        if entry["conversation"] == conversation.pk:
            return entry
    return None


def unit_stats(*, unit: Unit, at: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows of one unit, as plain JSON."""
    now = at or timezone.now()
    local = local_time(now)
    start_of_day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    waiting = list(conversation_list_waiting(unit_ids=[unit.pk]))
    today = Conversation.objects.filter(unit=unit, created_at__gte=start_of_day)
    accepted_today = [
        (accepted - queued).total_seconds()
        for queued, accepted in today.filter(accepted_at__isnull=False).values_list(
            "queued_at", "accepted_at"
        )
        if accepted is not None
    ]
    staff = unit_staff_load(unit=unit, at=now)
    return {
        "id": unit.pk,
        "name": unit.name,
        "is_open": unit_is_open(unit=unit, at=now),
        "hours_today": unit_hours_text(unit=unit, day=local.date()),
        "auto_assign": unit.auto_assign,
        "waiting_count": len(waiting),
        # The longest waiter, not the first in line: urgent clients go ahead.
        "longest_wait_seconds": int((now - min(c.queued_at for c in waiting)).total_seconds())
        if waiting
        else None,
        "average_wait_today_seconds": int(sum(accepted_today) / len(accepted_today))
        if accepted_today
        else None,
        "abandoned_today": today.filter(state=Conversation.State.ABANDONED).count(),
        "active_count": Conversation.objects.filter(
            unit=unit, state=Conversation.State.ACTIVE
        ).count(),
        "unanswered": list(
            Conversation.objects.filter(
                unit=unit,
                state=Conversation.State.ACTIVE,
                unanswered_flagged_at__isnull=False,
            ).values_list("pk", flat=True)
        ),
        "workers": [
            {
                "id": s.user.pk,
                "name": s.user.display_name,
                "presence": s.shown,
                "status": s.status,
                "role": s.user.role,
                "active": s.active,
                "capacity": s.capacity,
            }
            for s in staff
        ],
        "waiting": [
            {
                "id": c.pk,
                "priority": c.priority,
                "queued_at": c.queued_at.isoformat(),
                "position": position,
            }
            for position, c in enumerate(waiting, start=1)
        ],
    }
