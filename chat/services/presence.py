"""Presence: a worker's chosen status and capacity, and whether a console of theirs is
open. Only a worker with an open console is ever given a client: signing out, or closing
the last console for the grace period, takes them out of assignment and puts the clients
they had back at the front of the queue."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from accounts.models import CAPACITY_VALIDATORS, ConsoleConnection, Presence, User
from chat import realtime, selectors
from chat.models import Conversation, Message
from chat.parsing import in_range
from chat.permissions import require
from chat.services.calls import call_worker_away
from chat.services.queue import (
    conversation_return_to_queue,
    presence_lock,
    queue_announce,
    queue_dispatch_on_commit,
)

# How many conversations a worker may take at once: the model's validators, as a range.
CAPACITY_MIN, CAPACITY_MAX = (validator.limit_value for validator in CAPACITY_VALIDATORS)


def session_hash(session_key: str | None) -> str:
    """What a console row keeps of its session: never the key itself."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()


def _unit_ids(worker: User) -> list[int]:
    return list(worker.units.values_list("pk", flat=True))


def _announce(worker: User, presence: Presence) -> None:
    """Tell the worker's consoles and every unit of theirs; free capacity may assign."""
    realtime.publish_on_commit(realtime.worker_group(worker.pk), realtime.presence_event(presence))
    unit_ids = _unit_ids(worker)
    for unit_id in unit_ids:
        queue_announce(unit_id=unit_id)
    queue_dispatch_on_commit(unit_ids=unit_ids)


def presence_touch(*, worker: User) -> Presence:
    """A sign of life from one of the worker's consoles. Coming back from offline is
    announced; a heartbeat that changes nothing else publishes nothing."""
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        was_offline = _shown(presence) == Presence.Shown.OFFLINE
        presence.last_seen = timezone.now()
        presence.save(update_fields=["last_seen"])
        if was_offline:
            _announce(worker, presence)
    return presence


# Rows per UPDATE of a batch of heartbeats: the statement stays small on either database.
TOUCH_BATCH = 500


def presence_touch_many(*, seen: Mapping[int, datetime]) -> None:
    """Heartbeats of consoles, gathered in memory (chat/liveness.py): worker id -> when a
    console of theirs was last seen. Workers seen within the grace period get one UPDATE
    (per TOUCH_BATCH), which publishes nothing, as a heartbeat that changes nothing should;
    a sign of life never moves `last_seen` back. A worker others see offline by now (a
    console that was silent past the grace, a first heartbeat) goes through `presence_touch`,
    which announces their coming back."""
    if not seen:
        return
    cutoff = timezone.now() - timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)
    online = sorted(
        Presence.objects.filter(user_id__in=list(seen), last_seen__gte=cutoff).values_list(
            "user_id", flat=True
        )
    )
    for start in range(0, len(online), TOUCH_BATCH):
        chunk = online[start : start + TOUCH_BATCH]
        later = models.Case(
            *(
                models.When(
                    user_id=user_id,
                    last_seen__lt=seen[user_id],
                    then=models.Value(seen[user_id]),
                )
                for user_id in chunk
            ),
            default=models.F("last_seen"),
            output_field=models.DateTimeField(),
        )
        Presence.objects.filter(user_id__in=chunk).update(last_seen=later)
    for worker in User.objects.filter(pk__in=set(seen) - set(online)):
        presence_touch(worker=worker)


def _shown(presence: Presence) -> str:
    connected = ConsoleConnection.objects.filter(user_id=presence.user_id).exists()
    return selectors.presence_shown(presence=presence, active=0, connected=connected)


def presence_console_opened(
    *, worker: User, channel_name: str, session_key: str | None
) -> Presence:
    """A console socket of the worker opened: they can be given clients again. A worker
    others already see online (another console of theirs is open and spoke within the
    grace) changes nothing anyone sees: their `last_seen` is left to the console's sign of
    life, batched like a heartbeat's (chat/liveness.py), and nothing is announced."""
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        was_offline = _shown(presence) == Presence.Shown.OFFLINE
        # One statement, whether the row is new (a socket opening) or not (the same socket
        # reading its state again after an access change).
        ConsoleConnection.objects.bulk_create(
            [
                ConsoleConnection(
                    user=worker, channel_name=channel_name, session_hash=session_hash(session_key)
                )
            ],
            update_conflicts=True,
            unique_fields=["channel_name"],
            update_fields=["user", "session_hash"],
        )
        presence.last_seen = timezone.now()
        if was_offline:
            presence.save(update_fields=["last_seen"])
            _announce(worker, presence)
    return presence


def presence_console_closed(*, worker: User, channel_name: str) -> None:
    """A console socket closed. With no console left the worker gets no new client at
    once; the clients they have wait for the grace period (a reload, a lost network), then
    go back to the queue: see `presence_check_offline`. A call of theirs waits too, for
    CALL_RECONNECT_GRACE_SECONDS (chat/services/calls.py `call_worker_away`)."""
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        ConsoleConnection.objects.filter(channel_name=channel_name).delete()
        presence.last_seen = timezone.now()
        presence.save(update_fields=["last_seen"])
        if not ConsoleConnection.objects.filter(user=worker).exists():
            _announce(worker, presence)
            call_worker_away(worker=worker)


def presence_signed_out(*, worker: User, session_key: str | None) -> None:
    """The worker signed out of one browser (`session_key`), or of every one (None: log out
    everywhere, a new password, a deactivated account). Those sessions' consoles stop
    counting at once and their sockets are told to close; with no console left anywhere the
    worker is offline now and the clients they had go back to the front of the queue."""
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        consoles = ConsoleConnection.objects.filter(user=worker)
        if session_key is not None:
            hashed = session_hash(session_key)
            consoles.filter(session_hash=hashed).delete()
            realtime.publish_on_commit(
                realtime.worker_group(worker.pk), realtime.session_ended_event(session_hash=hashed)
            )
        else:
            consoles.delete()
        if ConsoleConnection.objects.filter(user=worker).exists():
            return
        presence.last_seen = None
        presence.save(update_fields=["last_seen"])
        _worker_gone(worker, presence)


def presence_check_offline(*, worker: User) -> None:
    """After the grace period since a console closed: if no console of the worker has
    spoken since, everyone sees them offline and their clients go back to the queue."""
    cutoff = timezone.now() - timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        if presence.last_seen is not None and presence.last_seen >= cutoff:
            return  # a console is open, or closed too recently: a later check decides
        # Rows left by a process that died without closing its sockets are stale by now.
        ConsoleConnection.objects.filter(user=worker).delete()
        _worker_gone(worker, presence)


def _worker_gone(worker: User, presence: Presence) -> None:
    """The worker has no console: announce it and put each active conversation of theirs
    back at the front of the queue with an honest notice to the client."""
    active = Conversation.objects.select_for_update(of=("self",)).filter(
        worker=worker, state=Conversation.State.ACTIVE
    )
    for conversation in active:
        conversation_return_to_queue(conversation=conversation, event=Message.Event.WORKER_GONE)
    _announce(worker, presence)


def presence_set_status(
    *, worker: User, status: Presence.Status, actor: User, chosen_at: datetime | None = None
) -> Presence:
    """The worker (or their supervisor) chooses available or away. The last choice wins:
    `chosen_at` is when it was made (the browser's clock, never later than now); a choice
    older than the one in force changes nothing, but the worker's consoles are told the
    status in force either way."""
    require(actor, "accounts.set_presence", worker)
    now = timezone.now()
    chosen = min(chosen_at, now) if chosen_at is not None else now
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        if presence.status_chosen_at is not None and chosen < presence.status_chosen_at:
            realtime.publish_on_commit(
                realtime.worker_group(worker.pk), realtime.presence_event(presence)
            )
            return presence
        presence.status = status
        presence.status_chosen_at = chosen
        presence.save(update_fields=["status", "status_chosen_at"])
        _announce(worker, presence)
    return presence


def presence_set_capacity(*, worker: User, capacity: int, actor: User) -> Presence:
    """Supervisors set how many conversations a worker of their units takes at once."""
    chosen = in_range(capacity, minimum=CAPACITY_MIN, maximum=CAPACITY_MAX, name="capacity")
    require(actor, "accounts.set_capacity", worker)
    with transaction.atomic():
        presence = presence_lock(worker=worker)
        presence.capacity = chosen
        presence.save(update_fields=["capacity"])
        _announce(worker, presence)
    return presence
