from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from accounts.models import Presence, Unit, User
from chat import announce, realtime, selectors
from chat.errors import Conflict
from chat.models import Case, Conversation, Message
from chat.services.access import conversation_announce_assigned
from chat.services.calls import call_end_with_conversation
from chat.services.messages import message_append
from chat.services.referral_audit import referral_mark_accepted

DISPATCH_ROUNDS = 100  # most conversations one dispatch hands out; the next trigger goes on


def queue_announce(*, unit_id: int, joined: int | None = None) -> None:
    """After commit, announce the unit's queue: its waiting list to its staff, every
    waiting client's place to those clients in one event, its numbers to its supervisors.
    Coalesced per process and sent from the event loop (chat/announce.py). `joined`: the
    change is only this conversation joining the queue (where it goes is read then)."""
    transaction.on_commit(partial(announce.unit_changed, unit_id, joined))


def presence_lock(*, worker: User) -> Presence:
    """The worker's presence row, created on first use, locked until the transaction ends.
    Every assignment to a worker takes this lock, so capacity is never exceeded. One
    statement once the row exists."""
    found = Presence.objects.select_for_update().filter(user=worker).first()
    if found is not None:
        return found
    presence, created = Presence.objects.get_or_create(
        user=worker, defaults={"capacity": selectors.default_capacity_for(worker=worker)}
    )
    if created:
        return presence  # a row this transaction inserted is locked until it ends
    return Presence.objects.select_for_update().get(user=worker)  # another made it meanwhile


def conversation_assign(
    *, conversation: Conversation, worker: User, announce_accepted: bool = True
) -> None:
    """Make the waiting `conversation` the worker's. The caller holds the conversation's row
    lock in a transaction; raises Conflict(at_capacity) when the worker is full.
    `announce_accepted=False` when the caller writes its own event (a handover)."""
    presence = presence_lock(worker=worker)
    active = Conversation.objects.filter(worker=worker, state=Conversation.State.ACTIVE).count()
    if active >= presence.capacity:
        raise Conflict("the worker is at capacity", code="at_capacity")
    now = timezone.now()
    conversation.state = Conversation.State.ACTIVE
    conversation.worker = worker
    conversation.accepted_at = now
    if conversation.first_accepted_at is None:
        conversation.first_accepted_at = now
    conversation.unanswered_flagged_at = None  # a fresh start for whoever takes it
    conversation.worker_read_seq = 0  # nothing of it read by this worker yet
    conversation.save(
        update_fields=[
            "state",
            "worker",
            "accepted_at",
            "first_accepted_at",
            "unanswered_flagged_at",
            "worker_read_seq",
        ]
    )
    # The first worker to take a case's conversation owns the case.
    Case.objects.filter(pk=conversation.case_id, owner__isnull=True).update(owner=worker)
    presence.idle_since = now
    presence.save(update_fields=["idle_since"])
    # An urgent referral: the partner's receipt says when a social worker took it.
    referral_mark_accepted(conversation=conversation, worker=worker)
    if announce_accepted:
        message_append(
            conversation,
            sender=Message.Sender.SYSTEM,
            author=worker,
            event=Message.Event.ACCEPTED,
        )
    conversation_announce_assigned(conversation_id=conversation.pk, worker=worker)
    queue_announce(unit_id=conversation.unit_id)


def queue_dispatch(*, unit_id: int) -> int:
    """If the unit auto-assigns, give its waiting conversations, in queue order, to the
    available worker with the fewest active conversations (ties: idle longest), never above
    capacity. Returns how many were assigned."""
    unit = Unit.objects.get(pk=unit_id)
    if not unit.auto_assign:
        return 0
    assigned = 0
    for _round in range(DISPATCH_ROUNDS):
        try:
            with transaction.atomic():
                # skip_locked: a conversation a worker is accepting right now is passed over.
                conversation = (
                    selectors.conversation_list_waiting(unit_ids=[unit_id])
                    .select_for_update(skip_locked=True, of=("self",))
                    .first()
                )
                if conversation is None:
                    break
                candidates = [
                    load
                    for load in selectors.unit_staff_load(unit=unit)
                    if load.shown == Presence.Shown.AVAILABLE
                ]
                if not candidates:
                    break
                oldest = timezone.now() - timedelta(days=3650)
                candidates.sort(key=lambda load: (load.active, load.idle_since or oldest))
                conversation_assign(conversation=conversation, worker=candidates[0].user)
        except Conflict:
            continue  # another process filled that worker first; look again
        assigned += 1
    return assigned


def queue_dispatch_on_commit(*, unit_ids: list[int]) -> None:
    for unit_id in unit_ids:
        transaction.on_commit(partial(queue_dispatch, unit_id=unit_id))


def conversation_flag_if_unanswered(*, conversation_id: int) -> bool:
    """Flag a conversation whose worker has not written in the unit's set time, on the
    worker's console and the supervisors' dashboard; where the unit says so, put it back at
    the front of the queue instead. Decided again on the locked row: the worker may have
    answered meanwhile. Returns whether it was flagged."""
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("unit")
            .filter(pk=conversation_id, unanswered_flagged_at__isnull=True)
            .first()
        )
        if locked is None or not selectors.conversation_is_unanswered(conversation=locked):
            return False
        worker_id = locked.worker_id
        assert worker_id is not None  # noqa: S101 - active conversations have a worker (DB constraint)
        if locked.unit.return_unanswered:
            conversation_return_to_queue(conversation=locked, event=Message.Event.RETURNED)
        else:
            locked.unanswered_flagged_at = timezone.now()
            locked.save(update_fields=["unanswered_flagged_at"])
            realtime.publish_on_commit(
                realtime.worker_group(worker_id), realtime.unanswered_event(locked)
            )
            queue_announce(unit_id=locked.unit_id)
    return True


def conversation_return_to_queue(
    *, conversation: Conversation, event: str, reason: str = "", unit: Unit | None = None
) -> None:
    """Put an active conversation back at the front of a queue, ahead of normal priority:
    its own unit's, keeping its waiting time (unanswered, its worker gone), or with `unit`
    that unit's, where it waits from now (a handover to a unit's queue; the caller has
    settled its case and history mark for the move, and they are saved here). Tell the
    client and staff why with the system message `event`, and let go of the worker:
    `conversation.left` with `reason` (the event when not given). The caller holds the
    conversation's row lock. The queues it left and joined are announced after commit."""
    call_end_with_conversation(conversation=conversation, handed_on=True)
    worker_id = conversation.worker_id
    from_unit_id = conversation.unit_id
    conversation.state = Conversation.State.QUEUED
    conversation.worker = None
    conversation.transferred = True
    conversation.unanswered_flagged_at = None
    fields = ["state", "worker", "transferred", "unanswered_flagged_at"]
    if unit is not None:
        conversation.unit = unit
        conversation.queued_at = timezone.now()
        fields += ["unit", "case", "unit_visible_from_seq", "queued_at"]
    conversation.save(update_fields=fields)
    message_append(conversation, sender=Message.Sender.SYSTEM, event=event)
    if worker_id is not None:
        realtime.publish_on_commit(
            realtime.worker_group(worker_id),
            realtime.left_event(conversation.pk, reason=reason or str(event)),
        )
    if from_unit_id != conversation.unit_id:
        queue_announce(unit_id=from_unit_id)
    queue_announce(unit_id=conversation.unit_id)
    queue_dispatch_on_commit(unit_ids=[conversation.unit_id])
