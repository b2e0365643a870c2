"""Handover: a worker passes a live conversation to a named colleague (who accepts or
declines) or to a unit's queue, with a note the receiver sees first. The client keeps the
same conversation and never has to tell their story again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Unit, User
from chat import realtime, selectors
from chat.errors import Conflict, InvalidInput, NotFound
from chat.models import Conversation, Handover, Message
from chat.permissions import can, require
from chat.services.access import conversation_announce_context
from chat.services.calls import call_end_with_conversation
from chat.services.cases import case_for_transfer
from chat.services.messages import message_append
from chat.services.participants import participants_leave_all
from chat.services.queue import (
    conversation_assign,
    conversation_return_to_queue,
    queue_dispatch_on_commit,
)

NOTE_MAX_LENGTH = 2000


def _clean_note(note: str) -> str:
    if not note.strip():
        raise InvalidInput("a handover needs a note for the receiver")
    if len(note) > NOTE_MAX_LENGTH or "\x00" in note:
        raise InvalidInput(f"the note must be text of at most {NOTE_MAX_LENGTH} characters")
    return note.strip()


def _notify(handover: Handover) -> None:
    event = realtime.handover_event(handover)
    realtime.publish_on_commit(realtime.worker_group(handover.from_worker_id), event)
    if handover.to_worker_id:
        realtime.publish_on_commit(realtime.worker_group(handover.to_worker_id), event)
    realtime.publish_on_commit(realtime.conversation_staff_group(handover.conversation_id), event)
    conversation_announce_context(conversation_id=handover.conversation_id)


def _settle_move(conversation: Conversation, handover: Handover) -> None:
    """What goes with the conversation to the receiving unit (the caller moves it there):
    the client's case with that unit, and, without its history, only what is written from
    the handover on for that unit's staff."""
    if handover.to_unit_id == conversation.unit_id:
        return
    conversation.case = case_for_transfer(case=conversation.case, unit=handover.to_unit)
    # Whoever the sending unit invited leaves with it: secrecy between units.
    participants_leave_all(conversation=conversation, reason="handed_over")
    if not handover.share_history:
        conversation.unit_visible_from_seq = max(
            conversation.unit_visible_from_seq, handover.at_seq
        )


def conversation_hand_over(
    *,
    conversation: Conversation,
    actor: User,
    note: str,
    share_history: bool = False,
    to_worker_id: int | None = None,
    to_unit_id: int | None = None,
) -> Handover:
    """Offer the conversation to a named colleague, or send it to a unit's queue.

    To a person: an offer they accept or decline; the sender keeps the conversation until
    then. To a unit: it waits in that unit's queue ahead of normal-priority clients. Within
    one unit the history always goes along; between units the sender chooses, and only the
    note goes unless they choose otherwise (secrecy between units).
    """
    clean_note = _clean_note(note)
    worker_id, unit_id = to_worker_id, to_unit_id
    if worker_id is None and unit_id is None:
        raise InvalidInput("hand over to a colleague or to a unit")
    with transaction.atomic():
        locked = require(
            actor,
            "chat.hand_over",
            Conversation.objects.select_for_update().filter(pk=conversation.pk).first(),
        )
        if locked.state != Conversation.State.ACTIVE:
            raise Conflict("only an active conversation can be handed over")
        if Handover.objects.filter(conversation=locked, state=Handover.State.OFFERED).exists():
            raise Conflict("this conversation is already being handed over", code="handover_open")
        receiver = None
        if worker_id is not None:
            receiver = User.objects.filter(pk=worker_id).first()
            if receiver is None or receiver.pk == actor.pk or not can(receiver, "chat.use_console"):
                raise NotFound("no such colleague")
            units = receiver.units.all()
            if unit_id is not None:
                to_unit = units.filter(pk=unit_id).first()
            else:
                to_unit = units.filter(pk=locked.unit_id).first() or units.first()
        else:
            to_unit = Unit.objects.filter(pk=unit_id or 0, is_active=True).first()
        if to_unit is None:
            raise NotFound("no such unit")
        if receiver is None and not selectors.unit_is_open(unit=to_unit):
            raise Conflict("that unit is closed now", code="unit_closed")
        same_unit = to_unit.pk == locked.unit_id
        handover = Handover.objects.create(
            conversation=locked,
            from_worker=actor,
            from_unit_id=locked.unit_id,
            from_case_id=locked.case_id,
            to_worker=receiver,
            to_unit=to_unit,
            note=clean_note,
            share_history=True if same_unit else share_history,
            at_seq=locked.last_seq,
            state=Handover.State.OFFERED if receiver else Handover.State.QUEUED,
            expires_at=(
                timezone.now() + timedelta(seconds=settings.HANDOVER_OFFER_SECONDS)
                if receiver
                else None
            ),
        )
        if receiver is None:
            # To the unit's queue: the sender lets go now; the receiving unit takes it.
            _settle_move(locked, handover)
            conversation_return_to_queue(
                conversation=locked,
                event=Message.Event.HANDOVER_STARTED,
                reason="handed_over",
                unit=to_unit,
            )
        else:
            message_append(
                locked, sender=Message.Sender.SYSTEM, event=Message.Event.HANDOVER_STARTED
            )
        _notify(handover)
    return handover


def handover_accept(*, handover: Handover, actor: User, show_name: bool = False) -> Conversation:
    """The named colleague takes the conversation. The client is told a colleague joined
    (with the receiver's first name only if they choose); the sender lets go."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=handover.conversation_id)
        locked = Handover.objects.select_for_update().get(pk=handover.pk)
        require(actor, "chat.answer_handover", locked)
        if locked.state != Handover.State.OFFERED or conversation.state != "active":
            raise Conflict("the offer is no longer open", code="handover_closed")
        if locked.expires_at and locked.expires_at < timezone.now():
            raise Conflict("the offer has expired", code="handover_closed")
        sender_id = conversation.worker_id
        call_end_with_conversation(conversation=conversation, handed_on=True)
        # Free the sender's place first, then take the receiver's (capacity holds).
        conversation.state = Conversation.State.QUEUED
        conversation.worker = None
        _settle_move(conversation, locked)
        conversation.unit_id = locked.to_unit_id
        conversation.save()
        conversation_assign(conversation=conversation, worker=actor, announce_accepted=False)
        locked.state = Handover.State.ACCEPTED
        locked.answered_at = timezone.now()
        locked.save(update_fields=["state", "answered_at"])
        message_append(
            conversation,
            sender=Message.Sender.SYSTEM,
            author=actor,
            event=Message.Event.HANDOVER_JOINED,
            body=actor.first_name if show_name and actor.first_name else "",
        )
        if sender_id:
            realtime.publish_on_commit(
                realtime.worker_group(sender_id),
                realtime.left_event(conversation.pk, reason="handed_over"),
            )
            queue_dispatch_on_commit(
                unit_ids=list(User.objects.get(pk=sender_id).units.values_list("pk", flat=True))
            )
        _notify(locked)
    return conversation


def _cancel(handover: Handover, *, state: str, reason: str = "") -> None:
    handover.state = state
    handover.decline_reason = reason
    handover.answered_at = timezone.now()
    handover.save(update_fields=["state", "decline_reason", "answered_at"])
    conversation = handover.conversation
    if conversation.is_open:
        message_append(
            conversation, sender=Message.Sender.SYSTEM, event=Message.Event.HANDOVER_CANCELLED
        )
    _notify(handover)


def handover_decline(*, handover: Handover, actor: User, reason: str) -> Handover:
    """The named colleague says no, with a reason the sender is shown."""
    if not reason.strip() or len(reason) > NOTE_MAX_LENGTH or "\x00" in reason:
        raise InvalidInput("say why you decline")
    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=handover.conversation_id)
        locked = (
            Handover.objects.select_for_update().select_related("conversation").get(pk=handover.pk)
        )
        require(actor, "chat.answer_handover", locked)
        if locked.state != Handover.State.OFFERED:
            raise Conflict("the offer is no longer open", code="handover_closed")
        _cancel(locked, state=Handover.State.DECLINED, reason=reason.strip())
    return locked


def handover_expire_if_due(*, handover_id: int) -> bool:
    """An offer nobody answered in time goes back to its sender. Returns whether it did."""
    with transaction.atomic():
        locked = (
            Handover.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=handover_id, state=Handover.State.OFFERED, expires_at__lt=timezone.now())
            .first()
        )
        if locked is None:
            return False
        _cancel(locked, state=Handover.State.EXPIRED)
    return True
