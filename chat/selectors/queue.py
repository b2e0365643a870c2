"""The queue as the waiting client and the supervisor see it: positions, honest
estimates, a unit's numbers.

A unit's queue is read in one pass (`queue_snapshot`): the waiting list, the staff's load,
recent handling times and opening hours, once, however many wait. `queue_places` turns it
into one plain-JSON body from which every waiting client's place is read
(`queue_place_in`), so one event serves them all.

Staff see the front of each queue only (`QueueHead`: at most `CONSOLE_QUEUE_ROWS` rows,
with the exact numbers of the whole queue): a worker takes from the front, and a frame
that grew with the queue would outgrow the server's websocket message limit."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Count, F, IntegerField, Min, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber, Substr
from django.utils import timezone

from accounts.models import Presence, Unit
from chat.models import (
    Conversation,
    Handover,
    Message,
)
from chat.realtime import risk_visible
from chat.selectors.conversations import conversation_list_waiting
from chat.selectors.staff import StaffLoad, unit_staff_load
from chat.selectors.staffing import staffing_status
from chat.selectors.units import hours_text, local_time, periods_open, unit_hours_on, unit_is_open


class WaitingRow(NamedTuple):
    """A waiting conversation as the queue needs it: plain values, no model (a queue of
    hundreds is read on every change)."""

    pk: int
    unit_id: int
    case_id: int
    state: str
    priority: int
    transferred: bool
    queued_at: datetime
    last_seq: int
    risk: dict[str, Any]  # what the risk rules found (chat/services/risk.py), or {}
    identified: bool
    language: str


def waiting_rows(*, unit_id: int) -> list[WaitingRow]:
    """The unit's waiting conversations in queue order."""
    rows = conversation_list_waiting(unit_ids=[unit_id]).values_list(*WaitingRow._fields)
    return [WaitingRow._make(row) for row in rows]


def queue_sort_key(row: WaitingRow) -> tuple[int, int, datetime, int]:
    """Queue order, as `conversation_list_waiting` sorts: urgent first, then handed over,
    then who has waited longest."""
    return (-row.priority, -int(row.transferred), row.queued_at, row.pk)


class QueueHead(NamedTuple):
    """The front of one unit's queue, as consoles and dashboards show it: at most
    `CONSOLE_QUEUE_ROWS` rows in queue order, and exact numbers of the whole queue."""

    rows: list[WaitingRow]
    total: int  # how many wait, shown or not
    urgent_beyond: int  # urgent ones behind the rows shown (only when more are urgent)
    oldest_queued_at: datetime | None  # the longest waiter's, who need not be first


def queue_head(rows: list[WaitingRow], *, limit: int | None = None) -> QueueHead:
    """The head of a queue already read whole (`waiting_rows`)."""
    limit = settings.CONSOLE_QUEUE_ROWS if limit is None else limit
    return QueueHead(
        rows=rows[:limit],
        total=len(rows),
        urgent_beyond=sum(1 for row in rows[limit:] if row.priority > Conversation.Priority.NORMAL),
        oldest_queued_at=min((row.queued_at for row in rows), default=None),
    )


def queue_heads(*, unit_ids: list[int], limit: int | None = None) -> dict[int, QueueHead]:
    """The head of each unit's queue (a unit nobody waits in has an empty one), in one
    statement: each unit's first `limit` rows, each carrying its unit's counts. The
    database counts the queue; only the rows shown come back."""
    limit = settings.CONSOLE_QUEUE_ROWS if limit is None else limit
    unit = F("unit_id")
    waiting = conversation_list_waiting(unit_ids=unit_ids)
    found = (
        waiting.annotate(
            # Places numbered in the queue's own order, as that selector sorts.
            place=Window(
                RowNumber(), partition_by=unit, order_by=[str(by) for by in waiting.query.order_by]
            ),
            unit_total=Window(Count("pk"), partition_by=unit),
            unit_urgent=Window(
                Count("pk", filter=Q(priority__gt=Conversation.Priority.NORMAL)),
                partition_by=unit,
            ),
            unit_oldest=Window(Min("queued_at"), partition_by=unit),
        )
        .filter(place__lte=limit)
        .order_by("unit_id", "place")
        .values_list(*WaitingRow._fields, "unit_total", "unit_urgent", "unit_oldest")
    )
    rows: dict[int, list[WaitingRow]] = {unit_id: [] for unit_id in unit_ids}
    counts: dict[int, tuple[int, int, datetime]] = {}
    width = len(WaitingRow._fields)
    for values in found:
        row = WaitingRow._make(values[:width])
        rows.setdefault(row.unit_id, []).append(row)
        counts[row.unit_id] = values[width:]
    heads = {}
    for unit_id, shown in rows.items():
        total, urgent, oldest = counts.get(unit_id, (0, 0, None))
        shown_urgent = sum(1 for row in shown if row.priority > Conversation.Priority.NORMAL)
        heads[unit_id] = QueueHead(
            rows=shown, total=total, urgent_beyond=urgent - shown_urgent, oldest_queued_at=oldest
        )
    return heads


# How much of a waiting client's latest message staff see in the queue: enough to tell a
# crisis from a question about a form, short enough that the queue stays a list.
PREVIEW_CHARS = 140


class WaitingPreview(NamedTuple):
    """What staff see of a waiting client besides the queue's numbers: the latest message
    the client wrote that the unit may read (cut to `PREVIEW_CHARS`), how many they wrote,
    and, when it came by a handover to the unit's queue, from whom and which unit."""

    conversation_id: int
    seq: int  # the message shown; 0 when there is none the unit may read
    text: str
    cut: bool  # the message goes on beyond `text`
    client_messages: int
    handed_from: str  # the sender's name; "" when it did not come by a handover
    handed_from_unit: str


def queue_head_previews(head: QueueHead) -> dict[int, WaitingPreview]:
    """The previews of the front of one unit's queue: its first `CONSOLE_PREVIEW_ROWS`
    rows (the rows behind them go without, so the frame stays small)."""
    return queue_previews(
        conversation_ids=[row.pk for row in head.rows[: settings.CONSOLE_PREVIEW_ROWS]]
    )


def queue_previews(*, conversation_ids: list[int]) -> dict[int, WaitingPreview]:
    """The previews of waiting conversations, in one statement however many (two when one
    came by a handover): only what the staff of the conversation's unit may read (above
    `unit_visible_from_seq`, so a conversation handed over without its history shows
    nothing from before)."""
    if not conversation_ids:
        return {}
    visible = Message.objects.filter(
        conversation=OuterRef("pk"),
        sender=Message.Sender.CLIENT,
        seq__gt=OuterRef("unit_visible_from_seq"),
    )
    latest = visible.order_by("-seq")
    # The handover that put it in this queue: to this unit's queue, since a worker last
    # took it (it waits again; a handover before that is history).
    handover = Handover.objects.filter(
        conversation=OuterRef("pk"),
        state=Handover.State.QUEUED,
        to_unit=OuterRef("unit_id"),
        created_at__gte=OuterRef("accepted_at"),
    ).order_by("-created_at", "-pk")
    rows = list(
        Conversation.objects.filter(pk__in=conversation_ids)
        .annotate(
            preview_seq=Subquery(latest.values("seq")[:1]),
            # One character more than is shown says whether it was cut, without the
            # whole (up to CHAT_MESSAGE_MAX_LENGTH) coming back.
            preview_text=Subquery(
                latest.annotate(cut=Substr("body", 1, PREVIEW_CHARS + 1)).values("cut")[:1]
            ),
            client_messages=Coalesce(
                Subquery(
                    visible.order_by()
                    .values("conversation")
                    .annotate(n=Count("pk"))
                    .values("n")[:1],
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
            # Only the handover's id: few waiting clients came by one, and their sender
            # and unit are read apart (building this statement is most of its cost).
            handover_id=Subquery(handover.values("pk")[:1]),
        )
        .values_list("pk", "preview_seq", "preview_text", "client_messages", "handover_id")
    )
    senders = _handover_senders([row[4] for row in rows if row[4] is not None])
    previews = {}
    for pk, seq, text, count, handover_id in rows:
        text = text or ""
        name, unit = senders.get(handover_id, ("", ""))
        previews[pk] = WaitingPreview(
            conversation_id=pk,
            seq=seq or 0,
            text=text[:PREVIEW_CHARS],
            cut=len(text) > PREVIEW_CHARS,
            client_messages=count,
            handed_from=name,
            handed_from_unit=unit,
        )
    return previews


def _handover_senders(handover_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Per handover: who handed over (their name) and from which unit. No statement when
    there are none."""
    if not handover_ids:
        return {}
    rows = Handover.objects.filter(pk__in=handover_ids).values_list(
        "pk",
        "from_worker__first_name",
        "from_worker__last_name",
        "from_worker__username",
        "from_unit__name",
    )
    return {
        pk: (f"{first or ''} {last or ''}".strip() or (username or ""), unit or "")
        for pk, first, last, username, unit in rows
    }


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


def estimate_basis(*, staff: list[StaffLoad], durations: list[float]) -> dict[str, Any] | None:
    """What every waiting client's estimate is made of, as plain JSON, or None when we
    cannot stand behind a number: nobody is serving.

    Places free up at about (workers' total capacity / time a conversation takes). With
    at least `ESTIMATE_MIN_SAMPLES` finished conversations the quartiles of the unit's own
    recent handling times give the range (`"based_on": "unit"`); with fewer, a typical
    conversation of `QUEUE_TYPICAL_MINUTES` does, widened to half and one and a half of it
    (`"based_on": "typical"`), and the client is told which (`estimate_at`). A setting of 0
    turns the fallback off: no estimate until the unit has its own numbers."""
    serving = [s for s in staff if s.shown in (Presence.Shown.AVAILABLE, Presence.Shown.BUSY)]
    capacity = sum(s.capacity for s in serving)
    if capacity == 0:
        return None
    basis: dict[str, Any] = {
        "capacity": capacity,
        "free": sum(max(0, s.capacity - s.active) for s in serving),
    }
    if len(durations) >= settings.ESTIMATE_MIN_SAMPLES:
        return {
            **basis,
            "q1": durations[len(durations) // 4],
            "q3": durations[(3 * len(durations)) // 4],
            "based_on": "unit",
        }
    typical = settings.QUEUE_TYPICAL_MINUTES
    if typical <= 0:
        return None
    return {
        **basis,
        "q1": typical / 2,
        "q3": typical * 1.5,
        "based_on": "typical",
        "typical": typical,
    }


def estimate_at(basis: Mapping[str, Any] | None, position: int) -> dict[str, Any] | None:
    """A range in minutes for the client at `position`: they wait for (position - free
    places) conversations to end; with what it is based on (`estimate_basis`) for the
    client's words. None when `basis` is None."""
    if basis is None:
        return None
    based_on = {"based_on": basis.get("based_on", "unit")}
    if based_on["based_on"] == "typical":
        based_on["typical"] = basis["typical"]
    ahead = position - basis["free"]
    if ahead <= 0:
        return {"low": 0, "high": 2, **based_on}
    low = math.floor(ahead * basis["q1"] / basis["capacity"])
    high = max(low + 1, math.ceil(ahead * basis["q3"] / basis["capacity"]))
    return {"low": low, "high": high, **based_on}


def queue_estimate(
    *, unit: Unit, position: int, staff: list[StaffLoad], durations: list[float]
) -> dict[str, Any] | None:
    """A range in minutes for the client at `position`, or None when we cannot stand
    behind a number (`estimate_basis`)."""
    return estimate_at(estimate_basis(staff=staff, durations=durations), position)


@dataclass(frozen=True)
class QueueState:
    """What staff and supervisors are shown of one unit's queue, read once: its head, the
    staff's load and today's opening (`unit_stats` takes it)."""

    unit: Unit
    at: datetime
    head: QueueHead  # what staff see of it: the front and the numbers
    staff: list[StaffLoad]
    is_open: bool
    hours: list[tuple[time, time]]  # today's opening periods (`unit_hours_on`)


@dataclass(frozen=True)
class QueueSnapshot(QueueState):
    """One unit's whole queue and what its estimates and numbers are made of, read once."""

    waiting: list[WaitingRow]
    estimate: dict[str, Any] | None  # estimate_basis


def _staffing_now(
    unit: Unit, now: datetime
) -> tuple[list[StaffLoad], list[tuple[time, time]], bool]:
    """The unit's staff load, today's opening periods, and whether it is open now."""
    local = local_time(now)
    staff = unit_staff_load(unit=unit, at=now)
    hours = unit_hours_on(unit=unit, day=local.date())
    return staff, hours, unit.is_active and periods_open(hours, local.time())  # unit_is_open


def queue_snapshot(*, unit: Unit, at: datetime | None = None) -> QueueSnapshot:
    """The unit's queue in one pass: the same number of statements for 5 or 500 waiting."""
    now = at or timezone.now()
    waiting = waiting_rows(unit_id=unit.pk)
    staff, hours, is_open = _staffing_now(unit, now)
    return QueueSnapshot(
        unit=unit,
        at=now,
        head=queue_head(waiting),
        waiting=waiting,
        staff=staff,
        hours=hours,
        is_open=is_open,
        # Handling times only matter to someone waiting.
        estimate=estimate_basis(staff=staff, durations=handling_minutes(unit=unit, at=now))
        if waiting
        else None,
    )


def queue_head_if_last(
    *, unit_id: int, joined: Collection[int], limit: int | None = None
) -> QueueHead | None:
    """The head of the unit's queue (as `queue_heads`), if the conversations `joined` are
    the last ones in its queue order; else None (one of them left, went ahead, or someone
    waits behind them). One statement: the head's rows and the last `len(joined)` rows,
    each carrying the queue's counts; the rows between never come back."""
    if not joined:
        return None
    limit = settings.CONSOLE_QUEUE_ROWS if limit is None else limit
    waiting = conversation_list_waiting(unit_ids=[unit_id])
    # conversation_list_waiting's order, and the same order backwards (the back first).
    order = [str(by) for by in waiting.query.order_by]
    backwards = [
        F("priority").asc(),
        F("transferred").asc(),
        F("queued_at").desc(),
        F("pk").desc(),
    ]
    found = list(
        waiting.annotate(
            place=Window(RowNumber(), order_by=order),
            from_back=Window(RowNumber(), order_by=backwards),
            unit_total=Window(Count("pk")),
            unit_urgent=Window(Count("pk", filter=Q(priority__gt=Conversation.Priority.NORMAL))),
            unit_oldest=Window(Min("queued_at")),
        )
        .filter(Q(place__lte=limit) | Q(from_back__lte=len(joined)))
        .order_by("place")
        .values_list(*WaitingRow._fields, "from_back", "unit_total", "unit_urgent", "unit_oldest")
    )
    width = len(WaitingRow._fields)
    if {values[0] for values in found if values[width] <= len(joined)} != set(joined):
        return None
    total, urgent, oldest = found[0][width + 1 :]
    shown = [WaitingRow._make(values[:width]) for values in found[:limit]]
    shown_urgent = sum(1 for row in shown if row.priority > Conversation.Priority.NORMAL)
    return QueueHead(
        rows=shown, total=total, urgent_beyond=urgent - shown_urgent, oldest_queued_at=oldest
    )


def queue_state_after_joins(
    *, unit: Unit, joined: Collection[int], at: datetime | None = None
) -> QueueState | None:
    """The unit's queue as staff and supervisors see it, without its whole waiting list,
    when the conversations `joined` wait at its back (`queue_head_if_last`); else None.
    Then nobody else's place changed: they only queued behind everyone."""
    now = at or timezone.now()
    head = queue_head_if_last(unit_id=unit.pk, joined=joined)
    if head is None:
        return None
    staff, hours, is_open = _staffing_now(unit, now)
    return QueueState(unit=unit, at=now, head=head, staff=staff, is_open=is_open, hours=hours)


def _staff_counts(staff: list[StaffLoad]) -> tuple[int, int]:
    available = sum(1 for s in staff if s.shown == Presence.Shown.AVAILABLE)
    serving = sum(1 for s in staff if s.shown in (Presence.Shown.AVAILABLE, Presence.Shown.BUSY))
    return available, serving


def queue_places(snapshot: QueueSnapshot) -> dict[str, Any]:
    """Every waiting client's place in one plain-JSON body: the conversation ids in queue
    order as one string (",12,15,9,": copied and sent whole, searched without parsing by
    each of hundreds of receivers), and what each estimate is made of. Read a place with
    `queue_place_in`."""
    available, serving = _staff_counts(snapshot.staff)
    return {
        "order": "," + "".join(f"{row.pk}," for row in snapshot.waiting),
        "waiting": len(snapshot.waiting),
        "estimate": snapshot.estimate,
        "unit_open": snapshot.is_open,
        "staff_available": available,
        "staff_serving": serving,
    }


def _place(places: Mapping[str, Any], conversation_id: int, position: int) -> dict[str, Any]:
    return {
        "conversation": conversation_id,
        "position": position,
        "waiting": places["waiting"],
        "estimate": estimate_at(places["estimate"], position),
        "unit_open": places["unit_open"],
        "staff_available": places["staff_available"],
        "staff_serving": places["staff_serving"],
    }


def queue_place_in(places: Mapping[str, Any], *, conversation_id: int) -> dict[str, Any] | None:
    """One waiting conversation's position and estimate from `queue_places`; None when it
    does not wait there. Nothing of the other conversations is in the answer."""
    order = places.get("order")
    if not isinstance(order, str):
        return None
    at = order.find(f",{conversation_id},")
    if at < 0:
        return None
    return _place(places, conversation_id, order.count(",", 0, at) + 1)


PLACE_FIELDS = ("estimate", "unit_open", "staff_available", "staff_serving")


def queue_places_unchanged(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether every client waiting in `before` has the same place and estimate in
    `after`: the same estimate basis, opening and staffing, and an order that only grew or
    shrank at its back (a start, the last one leaving). A client who joined at the back
    read their place when they joined."""
    if any(before.get(key) != after.get(key) for key in PLACE_FIELDS):
        return False
    old, new = before.get("order"), after.get("order")
    if not isinstance(old, str) or not isinstance(new, str):
        return False
    return new.startswith(old) or old.startswith(new)


def queue_places_joined(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[int]:
    """The conversations new at the back of `after`'s order, behind all of `before`'s
    (none unless `after`'s order starts with `before`'s)."""
    old, new = before.get("order"), after.get("order")
    if not isinstance(old, str) or not isinstance(new, str) or not new.startswith(old):
        return set()
    return {int(pk) for pk in new[len(old) :].split(",") if pk}


def queue_positions(*, unit: Unit, at: datetime | None = None) -> list[dict[str, Any]]:
    """For every waiting conversation of the unit: its position and an honest estimate."""
    snapshot = queue_snapshot(unit=unit, at=at)
    places = queue_places(snapshot)
    return [
        _place(places, row.pk, position) for position, row in enumerate(snapshot.waiting, start=1)
    ]


def queue_position_for(
    *, conversation: Conversation, at: datetime | None = None
) -> dict[str, Any] | None:
    """The waiting conversation's position and estimate, by counting who is ahead (queue
    order: urgent, then handed over, then who has waited longest); None unless it waits."""
    if conversation.state != Conversation.State.QUEUED:
        return None
    now = at or timezone.now()
    unit = conversation.unit
    priority, transferred = conversation.priority, conversation.transferred
    queued_at, same = conversation.queued_at, Q(priority=priority, transferred=transferred)
    ahead = (
        Q(priority__gt=priority)
        | (same & Q(queued_at__lt=queued_at))
        | (same & Q(queued_at=queued_at, pk__lt=conversation.pk))
    )
    if not transferred:
        ahead |= Q(priority=priority, transferred=True)
    counts = conversation_list_waiting(unit_ids=[unit.pk]).aggregate(
        ahead=Count("pk", filter=ahead), waiting=Count("pk")
    )
    staff = unit_staff_load(unit=unit, at=now)
    available, serving = _staff_counts(staff)
    position = counts["ahead"] + 1
    return {
        "conversation": conversation.pk,
        "position": position,
        "waiting": counts["waiting"],
        "estimate": estimate_at(
            estimate_basis(staff=staff, durations=handling_minutes(unit=unit, at=now)),
            position,
        ),
        "unit_open": unit_is_open(unit=unit, at=now),
        "staff_available": available,
        "staff_serving": serving,
    }


def unit_stats(
    *,
    unit: Unit,
    at: datetime | None = None,
    snapshot: QueueState | None = None,
) -> dict[str, Any]:
    """Everything the dashboard shows of one unit, as plain JSON: exact numbers, and the
    front of the queue (`QueueHead`). With `snapshot` (a `QueueState` read at `snapshot.at`),
    its head, staff and opening are used, not read again."""
    if snapshot is None:
        now = at or timezone.now()
        local = local_time(now)
        head = queue_heads(unit_ids=[unit.pk])[unit.pk]
        staff = unit_staff_load(unit=unit, at=now)
        hours = unit_hours_on(unit=unit, day=local.date())
        is_open = unit.is_active and periods_open(hours, local.time())  # unit_is_open's rule
    else:
        now, head, staff, is_open, hours = (
            snapshot.at,
            snapshot.head,
            snapshot.staff,
            snapshot.is_open,
            snapshot.hours,
        )
        local = local_time(now)
    start_of_day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Today's accepted and abandoned conversations in one read: the waits and the count.
    today = Conversation.objects.filter(unit=unit, created_at__gte=start_of_day).filter(
        Q(accepted_at__isnull=False) | Q(state=Conversation.State.ABANDONED)
    )
    accepted_today, abandoned_today = [], 0
    for queued, accepted, state in today.values_list("queued_at", "accepted_at", "state"):
        if state == Conversation.State.ABANDONED:
            abandoned_today += 1
        if accepted is not None:
            accepted_today.append((accepted - queued).total_seconds())
    # The active conversations in one read: how many, and which are flagged unanswered.
    active = list(
        Conversation.objects.filter(unit=unit, state=Conversation.State.ACTIVE)
        .order_by("pk")
        .values_list("pk", "unanswered_flagged_at")
    )
    return {
        "id": unit.pk,
        "name": unit.name,
        "is_open": is_open,
        "hours_today": hours_text(hours),
        "auto_assign": unit.auto_assign,
        "waiting_count": head.total,
        "urgent_beyond": head.urgent_beyond,
        # The longest waiter, not the first in line: urgent clients go ahead.
        "longest_wait_seconds": int((now - head.oldest_queued_at).total_seconds())
        if head.oldest_queued_at is not None
        else None,
        "average_wait_today_seconds": int(sum(accepted_today) / len(accepted_today))
        if accepted_today
        else None,
        "abandoned_today": abandoned_today,
        "active_count": len(active),
        "unanswered": [pk for pk, flagged_at in active if flagged_at is not None],
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
                "risk": risk_visible(c.risk, c.unit_id),
            }
            for position, c in enumerate(head.rows, start=1)
        ],
        # Staffed against the unit's minimum (chat/selectors/staffing.py).
        "staffing": staffing_status(unit=unit, serving=_staff_counts(staff)[1], at=now),
    }
