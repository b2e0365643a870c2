"""Staff: presence as others see it, load, and the people a worker can reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import ConsoleConnection, Presence, Unit, User
from chat.errors import NotFound
from chat.models import (
    CannedReply,
    Conversation,
)
from chat.permissions import can
from chat.selectors.units import unit_list_supervised


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


def worker_get_for_supervisor(*, actor: User, worker_id: int) -> User:
    """A worker of one of the supervisor's units, else `NotFound`."""
    worker = User.objects.filter(pk=worker_id, units__in=actor.units.all()).distinct().first()
    if worker is None or not can(actor, "chat.view_dashboard"):
        raise NotFound("no such worker")
    return worker


def staff_list_supervised(*, supervisor: User) -> QuerySet[User]:
    return (
        User.objects.filter(units__in=unit_list_supervised(user=supervisor))
        .distinct()
        .order_by("first_name", "username")
    )


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


def canned_reply_get_for(*, user: User, reply_id: int) -> CannedReply | None:
    """One of the snippets the worker sees, or None."""
    return canned_reply_list(user=user).filter(pk=reply_id).first()


def canned_reply_list(*, user: User) -> QuerySet[CannedReply]:
    """The worker's own snippets and those of their units."""
    return CannedReply.objects.filter(Q(owner=user) | Q(unit__in=user.units.all())).order_by(
        "title", "pk"
    )
