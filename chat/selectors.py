"""Reads that are more than a `.get()`, and the access helpers that raise `NotFound`.

Access helpers answer "not found" for a conversation the reader may not see, so a probe
learns nothing about which conversations exist.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import ClosedDay, ConsoleConnection, OpeningHours, Presence, Unit, User
from chat.errors import InvalidInput, NotFound
from chat.models import (
    AccessLog,
    CannedReply,
    Case,
    Conversation,
    FollowUp,
    Handover,
    Message,
    Participant,
    PrivateNote,
    SurveyAnswer,
)
from chat.permissions import can, require
from chat.transcripts import Transcript

SYNC_LIMIT = 1000  # messages in one sync frame; the browser asks again for the rest


# A browser-made token: 32 random bytes, base64url without padding (crypto.getRandomValues).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unit_list_for_staff(*, user: User) -> QuerySet[Unit]:
    return user.units.order_by("name")


def unit_list_open() -> QuerySet[Unit]:
    return Unit.objects.filter(is_active=True).order_by("name")


def conversation_list_waiting(*, unit_ids: list[int] | QuerySet) -> QuerySet[Conversation]:
    """Waiting conversations in queue order: urgent first, then those handed over from
    another worker, then who has waited longest."""
    return Conversation.objects.filter(
        unit_id__in=unit_ids, state=Conversation.State.QUEUED
    ).order_by("-priority", "-transferred", "queued_at", "pk")


def conversation_list_active_for(*, worker: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(worker=worker, state=Conversation.State.ACTIVE).order_by(
        "accepted_at", "pk"
    )


def conversation_get_for_client(*, token: str) -> Conversation:
    """The conversation whose resume token this is; `NotFound` for any other string."""
    if not isinstance(token, str) or not token:
        raise NotFound("no such conversation")
    try:
        return Conversation.objects.select_related("unit").get(token_hash=token_hash(token))
    except Conversation.DoesNotExist:
        raise NotFound("no such conversation") from None


def conversation_get_for_staff(*, user: User, conversation_id: object) -> Conversation:
    """A conversation the staff member may read (chat.read_conversation), else NotFound."""
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
        raise NotFound("no such conversation")
    conversation = (
        Conversation.objects.select_related("unit", "worker").filter(pk=conversation_id).first()
    )
    return require(user, "chat.read_conversation", conversation, hide=True)


def message_list_all_after(*, conversation: Conversation, after: int) -> list[Message]:
    """Every message with `seq > after`, in order (transcripts)."""
    return list(
        Message.objects.filter(conversation=conversation, seq__gt=after)
        .select_related("author")
        .order_by("seq")
    )


def message_list_after(*, conversation: Conversation, after: int) -> list[Message]:
    """Messages with `seq > after`, in order, at most SYNC_LIMIT of them."""
    return list(
        Message.objects.filter(conversation=conversation, seq__gt=after)
        .select_related("author")
        .order_by("seq")[:SYNC_LIMIT]
    )


# --- opening hours ------------------------------------------------------------------------
def _local(at: datetime | None) -> datetime:
    return timezone.localtime(at or timezone.now())


def unit_hours_on(*, unit: Unit, day: date) -> list[tuple[time, time]]:
    """The unit's opening periods on `day`; empty on a closed day. No periods configured at
    all means open around the clock, shown as one period 00:00-23:59."""
    if ClosedDay.objects.filter(unit=unit, date=day).exists():
        return []
    periods = list(OpeningHours.objects.filter(unit=unit).values_list("weekday", "opens", "closes"))
    if not periods:
        return [(time.min, time.max)]
    return [(opens, closes) for weekday, opens, closes in periods if weekday == day.weekday()]


def unit_is_open(*, unit: Unit, at: datetime | None = None) -> bool:
    local = _local(at)
    if not unit.is_active:
        return False
    periods = unit_hours_on(unit=unit, day=local.date())
    now = local.time()
    return any(opens <= now < closes for opens, closes in periods)


def unit_hours_text(*, unit: Unit, day: date) -> str:
    """ "08:00–12:00, 13:00–16:00", or "" when closed all day."""
    return ", ".join(
        f"{opens:%H:%M}–{closes:%H:%M}" for opens, closes in unit_hours_on(unit=unit, day=day)
    )


def unit_week_hours(*, unit: Unit) -> list[tuple[str, str]]:
    """(weekday name, hours text) for the coming seven days, today first."""
    today = _local(None).date()
    days = [today + timedelta(days=offset) for offset in range(7)]
    return [
        (str(OpeningHours.Weekday(day.weekday()).label), unit_hours_text(unit=unit, day=day))
        for day in days
    ]


# --- presence and staffing ------------------------------------------------------------------
@dataclass(frozen=True)
class StaffLoad:
    user: User
    shown: str  # Presence.Shown
    active: int
    capacity: int
    idle_since: datetime | None
    status: str = "available"  # Presence.Status: what the worker chose (or will start as)


def presence_shown(
    *, presence: Presence | None, active: int, connected: bool, at: datetime | None = None
) -> str:
    """What others see: offline with no console open or after the grace period of silence
    (a console of a process that died), busy at capacity. Only `available` gets clients."""
    now = at or timezone.now()
    grace = timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)
    if (
        not connected
        or presence is None
        or presence.last_seen is None
        or presence.last_seen < now - grace
    ):
        return Presence.Shown.OFFLINE
    if presence.status == Presence.Status.AWAY:
        return Presence.Shown.AWAY
    if active >= presence.capacity:
        return Presence.Shown.BUSY
    return Presence.Shown.AVAILABLE


def user_get_active(*, user_id: int) -> User | None:
    """A staff account as it is now, or None once it is deactivated or gone."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def default_capacity_for(*, worker: User) -> int:
    """A new worker's capacity: the smallest default among their units."""
    return min((unit.default_capacity for unit in worker.units.all()), default=3)


def unit_staff_load(*, unit: Unit, at: datetime | None = None) -> list[StaffLoad]:
    """Every worker and supervisor of the unit with what others see of them."""
    users = (
        User.objects.filter(
            units=unit, is_active=True, role__in=[User.Role.WORKER, User.Role.SUPERVISOR]
        )
        .select_related("presence")
        .annotate(
            active=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__state=Conversation.State.ACTIVE),
            ),
            connected=Exists(ConsoleConnection.objects.filter(user=OuterRef("pk"))),
        )
        .order_by("first_name", "username")
    )
    loads = []
    for user in users:
        presence = getattr(user, "presence", None)
        loads.append(
            StaffLoad(
                user=user,
                shown=presence_shown(
                    presence=presence, active=user.active, connected=user.connected, at=at
                ),
                status=presence.status if presence else Presence.Status.AVAILABLE,
                active=user.active,
                capacity=presence.capacity if presence else default_capacity_for(worker=user),
                idle_since=presence.idle_since if presence else None,
            )
        )
    return loads


# --- the waiting client's view ----------------------------------------------------------------
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


# --- the supervisor's view ------------------------------------------------------------------
def unit_list_supervised(*, user: User) -> QuerySet[Unit]:
    if not can(user, "chat.view_dashboard"):
        return Unit.objects.none()
    return user.units.order_by("name")


def unit_stats(*, unit: Unit, at: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows of one unit, as plain JSON."""
    now = at or timezone.now()
    local = _local(now)
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


def worker_get_for_supervisor(*, actor: User, worker_id: object) -> User:
    """A worker of one of the supervisor's units, else `NotFound`."""
    if isinstance(worker_id, bool) or not isinstance(worker_id, int):
        raise InvalidInput("`worker` must be a user id")
    worker = User.objects.filter(pk=worker_id, units__in=actor.units.all()).distinct().first()
    if worker is None or not can(actor, "chat.view_dashboard"):
        raise NotFound("no such worker")
    return worker


# --- the read-access log --------------------------------------------------------------------
def access_log_list(
    *,
    supervisor: User,
    actor_id: int | None = None,
    conversation_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AccessLog]:
    """Reads in the supervisor's units, newest first, filtered as asked."""
    if not can(supervisor, "chat.review_access_log"):
        return AccessLog.objects.none()
    rows = AccessLog.objects.filter(unit_id__in=unit_list_supervised(user=supervisor).values("pk"))
    if actor_id is not None:
        rows = rows.filter(actor_id=actor_id)
    if conversation_id is not None:
        rows = rows.filter(conversation_id=conversation_id)
    if since is not None:
        rows = rows.filter(at__date__gte=since)
    if until is not None:
        rows = rows.filter(at__date__lte=until)
    return rows.order_by("-at", "-pk")


def staff_list_supervised(*, supervisor: User) -> QuerySet[User]:
    return (
        User.objects.filter(units__in=unit_list_supervised(user=supervisor))
        .distinct()
        .order_by("first_name", "username")
    )


# --- what a reader of a conversation may see ---------------------------------------------
def visible_from_seq(*, user: User, conversation: Conversation) -> int:
    """Staff of the conversation's unit and its worker see messages above the unit's
    mark (raised when it came from another unit without its history); someone invited
    in sees what was written from their joining on. Callers have checked
    chat.read_conversation."""
    if conversation.worker_id == user.pk or user.units.filter(pk=conversation.unit_id).exists():
        return conversation.unit_visible_from_seq
    participant = (
        Participant.objects.filter(
            conversation=conversation, user=user, joined_at__isnull=False, left_at__isnull=True
        )
        .order_by("-joined_at")
        .first()
    )
    return participant.visible_from_seq if participant else conversation.last_seq


def private_note_list(*, conversation: Conversation, from_seq: int = 0) -> list[PrivateNote]:
    """Private notes placed after message `from_seq`: like messages, a reader who came
    later, or to whom only the handover note was sent, sees none from before."""
    notes = PrivateNote.objects.filter(conversation=conversation)
    if from_seq:
        notes = notes.filter(after_seq__gt=from_seq)
    return list(notes.select_related("author"))


def handover_trail(*, user: User, conversation: Conversation) -> list[Handover]:
    """The conversation's handovers that the reader may see: those of their unit, those
    they sent or received. A note written for another unit stays with that unit."""
    unit_ids = list(user.units.values_list("pk", flat=True))
    return list(
        Handover.objects.filter(conversation=conversation)
        .filter(
            Q(to_worker=user)
            | Q(from_worker=user)
            | Q(to_unit_id__in=unit_ids)
            | Q(from_unit_id__in=unit_ids)
        )
        .select_related("from_worker", "to_worker", "to_unit", "from_unit")
    )


def participant_list(*, conversation: Conversation) -> list[Participant]:
    return list(
        Participant.objects.filter(
            conversation=conversation, joined_at__isnull=False, left_at__isnull=True
        ).select_related("user")
    )


def participant_get_by_token(*, token: object) -> Participant:
    """An external interpreter's seat, by the resume token their tab holds."""
    if not isinstance(token, str) or not token:
        raise NotFound("no such invitation")
    participant = (
        Participant.objects.select_related("conversation", "conversation__unit")
        .filter(token_hash=token_hash(token), left_at__isnull=True)
        .first()
    )
    if participant is None:
        raise NotFound("no such invitation")
    return participant


def handover_get_for(*, user: User, handover_id: object) -> Handover:
    if isinstance(handover_id, bool) or not isinstance(handover_id, int):
        raise NotFound("no such handover")
    handover = (
        Handover.objects.select_related("conversation", "to_unit", "from_worker")
        .filter(pk=handover_id)
        .first()
    )
    return require(user, "chat.answer_handover", handover, hide=True)


def colleague_list(*, user: User) -> QuerySet[User]:
    """Whom a worker can hand over to or invite: active console staff, any unit."""
    return (
        User.objects.filter(is_active=True, role__in=[User.Role.WORKER, User.Role.SUPERVISOR])
        .exclude(pk=user.pk)
        .prefetch_related("units")
        .order_by("first_name", "username")
    )


def interpreter_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True, role=User.Role.INTERPRETER).order_by(
        "first_name", "username"
    )


def canned_reply_list(*, user: User) -> QuerySet[CannedReply]:
    """The worker's own snippets and those of their units."""
    return CannedReply.objects.filter(Q(owner=user) | Q(unit__in=user.units.all())).order_by(
        "title", "pk"
    )


def conversation_is_unanswered(*, conversation: Conversation, at: datetime | None = None) -> bool:
    """Its worker has not written for the unit's set time since accepting or since the
    client's last message."""
    now = at or timezone.now()
    if conversation.state != Conversation.State.ACTIVE or conversation.accepted_at is None:
        return False
    since = max(filter(None, [conversation.accepted_at, conversation.last_client_message_at]))
    answered = (
        conversation.last_staff_message_at is not None
        and conversation.last_staff_message_at >= since
    )
    limit = timedelta(minutes=conversation.unit.unanswered_minutes)
    return not answered and now - since >= limit


def conversation_list_unanswered(*, at: datetime | None = None) -> QuerySet[Conversation]:
    """Active conversations not yet flagged whose worker has not answered in time."""
    rows = Conversation.objects.filter(
        state=Conversation.State.ACTIVE, unanswered_flagged_at__isnull=True
    ).select_related("unit")
    due = [c.pk for c in rows if conversation_is_unanswered(conversation=c, at=at)]
    return Conversation.objects.filter(pk__in=due)


def participant_get_for_removal(
    *, conversation: Conversation, participant_id: object
) -> Participant:
    if isinstance(participant_id, bool) or not isinstance(participant_id, int):
        raise InvalidInput("`participant` must be an id")
    seat = Participant.objects.filter(pk=participant_id, conversation=conversation).first()
    if seat is None:
        raise NotFound("no such participant")
    return seat


def case_get_returning(*, case_id: object) -> Case | None:
    """The case a returning client opened with its code (kept in their session)."""
    if isinstance(case_id, bool) or not isinstance(case_id, int):
        return None
    return Case.objects.select_related("unit").filter(pk=case_id).first()


def case_get_for_staff(*, user: User, case_id: object) -> Case:
    if isinstance(case_id, bool) or not isinstance(case_id, int):
        raise NotFound("no such case")
    case = Case.objects.select_related("unit", "owner").filter(pk=case_id).first()
    return require(user, "chat.manage_case", case, hide=True)


def followup_list_for_client(*, case: Case) -> list[FollowUp]:
    return list(FollowUp.objects.filter(case=case).order_by("created_at", "pk"))


def followup_inbox(*, user: User, limit: int = 200) -> list[FollowUp]:
    """The follow-up inbox of the worker's units: clients' questions still waiting for an
    answer, longest waiting first; then answers (clients' to the unit's questions, and
    the unit's to clients'), newest first."""
    rows = FollowUp.objects.filter(case__unit__in=user.units.all()).select_related(
        "case", "case__unit", "asked_by", "answered_by"
    )
    waiting = rows.filter(kind=FollowUp.Kind.FROM_CLIENT, answered_at__isnull=True).order_by(
        "created_at", "pk"
    )
    answered = rows.filter(answered_at__isnull=False).order_by("-answered_at", "-pk")
    first = list(waiting[:limit])
    return first + list(answered[: max(0, limit - len(first))])


def case_timeline(*, user: User, case: Case) -> list[dict[str, Any]]:
    """Everything on a case the reader may see, oldest first: conversations, the handovers
    of their unit or their own, follow-ups, and private notes of conversations whose notes
    they may read."""
    entries: list[dict[str, Any]] = []
    shown: set[int] = set()
    for c in case.conversations.order_by("created_at"):
        entries.append({"at": c.created_at, "kind": "conversation", "item": c})
        for h in handover_trail(user=user, conversation=c):
            entries.append({"at": h.created_at, "kind": "handover", "item": h})
            shown.add(h.pk)
        if can(user, "chat.private_notes", c):
            for n in private_note_list(
                conversation=c, from_seq=visible_from_seq(user=user, conversation=c)
            ):
                entries.append({"at": n.created_at, "kind": "note", "item": n})
    # Handovers that took a conversation of this case to another unit's case: the record
    # of where the client went stays, while what happened there does not.
    unit_ids = set(user.units.values_list("pk", flat=True))
    for h in case.handovers_out.exclude(pk__in=shown).select_related(
        "from_worker", "to_worker", "to_unit"
    ):
        if h.from_unit_id in unit_ids or h.from_worker_id == user.pk:
            entries.append({"at": h.created_at, "kind": "handover", "item": h})
    for f in case.followups.select_related("asked_by", "answered_by"):
        entries.append({"at": f.created_at, "kind": "followup", "item": f})
    return sorted(entries, key=lambda e: e["at"])


def participant_present_for(*, user: User) -> Participant:
    """A signed-in interpreter's current seat: the latest conversation they are in."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound("no conversation")
    seat = (
        Participant.objects.select_related("conversation")
        .filter(user=user, joined_at__isnull=False, left_at__isnull=True)
        .order_by("-joined_at")
        .first()
    )
    if seat is None:
        raise NotFound("no conversation")
    return seat


def staff_took_part(
    *, user: User, conversation: Conversation | None = None, case: Case | None = None
) -> bool:
    """Did the staff member take any part in the conversation (or in any conversation or
    follow-up of the case): assigned, wrote or ended (a message or event of theirs), handed
    it over or took it over, or was invited? The access log marks every other read."""
    if conversation is not None:
        conversations = Conversation.objects.filter(pk=conversation.pk)
    else:
        assert case is not None  # noqa: S101 - one of the two is given
        if case.owner_id == user.pk:
            return True
        conversations = Conversation.objects.filter(case_id=case.pk)
        if FollowUp.objects.filter(
            Q(asked_by=user) | Q(answered_by=user), case_id=case.pk
        ).exists():
            return True
    return conversations.filter(
        Q(worker=user)
        | Exists(Message.objects.filter(conversation=OuterRef("pk"), author=user))
        | Exists(Handover.objects.filter(conversation=OuterRef("pk"), from_worker=user))
        | Exists(
            Handover.objects.filter(
                conversation=OuterRef("pk"), to_worker=user, state=Handover.State.ACCEPTED
            )
        )
        | Exists(Participant.objects.filter(conversation=OuterRef("pk"), user=user))
    ).exists()


def participant_get(*, participant_id: int) -> Participant | None:
    """A present seat with its user and conversation, or None once it has ended."""
    return (
        Participant.objects.select_related("user", "conversation")
        .filter(pk=participant_id, left_at__isnull=True, user__isnull=False)
        .first()
    )


def conversation_list_open_for(*, user: User) -> QuerySet[Conversation]:
    """Active conversations the staff member works in: their own and those they were
    invited into."""
    return (
        Conversation.objects.filter(state=Conversation.State.ACTIVE)
        .filter(Q(worker=user) | Q(participants__user=user, participants__left_at__isnull=True))
        .distinct()
        .order_by("accepted_at", "pk")
    )


def handover_list_offered_to(*, user: User) -> list[Handover]:
    return list(
        Handover.objects.filter(to_worker=user, state=Handover.State.OFFERED).select_related(
            "from_worker", "to_worker", "to_unit", "from_unit"
        )
    )


def followup_get_for_staff(*, user: User, followup_id: object) -> FollowUp:
    if isinstance(followup_id, bool) or not isinstance(followup_id, int):
        raise NotFound("no such question")
    followup = FollowUp.objects.select_related("case").filter(pk=followup_id).first()
    require(user, "chat.manage_case", followup.case if followup else None, hide=True)
    return followup  # type: ignore[return-value]  # require() refused None


def transcript_for_client(*, token: object) -> Transcript:
    """The client's own transcript: what they and the unit wrote, no notes, no names."""
    conversation = conversation_get_for_client(token=token)  # type: ignore[arg-type]
    return Transcript(
        conversation=conversation,
        messages=message_list_all_after(conversation=conversation, after=0),
        for_client=True,
    )


SURVEY_MIN_ANSWERS = 5


def survey_summary(*, supervisor: User, since: date | None = None) -> list[dict[str, Any]]:
    """Survey answers per unit of the supervisor, as counts and an average only: no single
    answer, comment or conversation is ever shown, and a unit with fewer than
    SURVEY_MIN_ANSWERS answers shows only that there are too few (one answer would be
    that client's)."""
    rows = []
    for unit in unit_list_supervised(user=supervisor):
        answers = SurveyAnswer.objects.filter(conversation__unit=unit)
        if since is not None:
            answers = answers.filter(created_at__date__gte=since)
        counts = {
            choice: answers.filter(helped=choice).count() for choice in SurveyAnswer.Helped.values
        }
        rated = answers.filter(rating__isnull=False)
        total_rating = sum(r or 0 for r in rated.values_list("rating", flat=True))
        rows.append(
            {
                "unit": unit,
                "answers": answers.count(),
                "helped": counts,
                "ratings": rated.count(),
                "average_rating": round(total_rating / rated.count(), 1)
                if rated.exists()
                else None,
                "comments": answers.exclude(comment="").count(),
                "too_few": answers.count() < SURVEY_MIN_ANSWERS,
            }
        )
    return rows
