from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import CAPACITY_VALIDATORS, Presence, User
from chat import realtime, selectors
from chat.errors import InvalidInput
from chat.permissions import require
from chat.services.queue import presence_lock, queue_announce, queue_dispatch_on_commit


def _unit_ids(worker: User) -> list[int]:
    return list(worker.units.values_list("pk", flat=True))


def _announce(worker: User, presence: Presence) -> None:
    """Tell the worker's consoles and every unit of theirs; free capacity may assign."""
    realtime.publish_on_commit(realtime.worker_group(worker.pk), realtime.presence_event(presence))
    for unit_id in _unit_ids(worker):
        queue_announce(unit_id=unit_id)
    queue_dispatch_on_commit(unit_ids=_unit_ids(worker))


def presence_touch(*, worker: User) -> Presence:
    """A sign of life from one of the worker's consoles. Coming back from offline is
    announced; a heartbeat that changes nothing else publishes nothing."""
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        was_offline = (
            selectors.presence_shown(presence=presence, active=0) == Presence.Shown.OFFLINE
        )
        presence.last_seen = timezone.now()
        presence.save(update_fields=["last_seen"])
        if was_offline:
            _announce(worker, presence)
    return presence


def presence_check_offline(*, worker: User) -> None:
    """Called once the grace period after a console closed has passed: if no console has
    spoken since, everyone sees the worker offline."""
    presence = Presence.objects.filter(user=worker).first()
    if selectors.presence_shown(presence=presence, active=0) == Presence.Shown.OFFLINE:
        for unit_id in _unit_ids(worker):
            queue_announce(unit_id=unit_id)


def presence_set_status(*, worker: User, status: object, actor: User) -> Presence:
    if status not in Presence.Status.values:
        raise InvalidInput("status must be available or away")
    require(actor, "accounts.set_presence", worker)
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        presence.status = str(status)
        presence.save(update_fields=["status"])
        _announce(worker, presence)
    return presence


def presence_set_capacity(*, worker: User, capacity: object, actor: User) -> Presence:
    """Supervisors set how many conversations a worker of their units takes at once."""
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise InvalidInput("capacity must be a whole number")
    for validator in CAPACITY_VALIDATORS:
        try:
            validator(capacity)
        except Exception:
            raise InvalidInput("capacity must be between 1 and 10") from None
    require(actor, "accounts.set_capacity", worker)
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        presence.capacity = capacity
        presence.save(update_fields=["capacity"])
        _announce(worker, presence)
    return presence
