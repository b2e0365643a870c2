from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Unit, User
from chat import realtime, selectors
from chat.errors import Conflict, InvalidInput, NotAllowed, NothingWaiting, NotFound
from chat.models import Conversation, Message
from chat.services.messages import (
    message_append,
    message_clean_body,
    message_clean_client_id,
)
from chat.services.queue import queue_announce

# 32 random bytes, base64url without padding, made by the browser's crypto.getRandomValues.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def conversation_start(
    *, unit_id: object, token: object, body: object, client_id: object
) -> tuple[Conversation, bool]:
    """Open a conversation in the unit's queue with the client's first message.

    The browser makes the resume token before it asks, so a repeat (lost answer, reload)
    finds the same conversation instead of queueing the client twice. Only the token's hash
    is stored. Returns `(conversation, created)`.
    """
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise InvalidInput("token must be 43 base64url characters")
    clean_body = message_clean_body(body)
    clean_client_id = message_clean_client_id(client_id)
    token_hash = selectors.token_hash(token)
    existing = Conversation.objects.filter(token_hash=token_hash).first()
    if existing is not None:
        return existing, False
    if not isinstance(unit_id, int):
        raise InvalidInput("unit must be a unit id")
    unit = Unit.objects.filter(pk=unit_id, is_active=True).first()
    if unit is None:
        raise NotFound("no such unit")
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                unit=unit, token_hash=token_hash, queued_at=timezone.now()
            )
            message_append(
                conversation,
                sender=Message.Sender.CLIENT,
                body=clean_body,
                client_id=clean_client_id,
            )
            queue_announce(unit_id=unit.pk)
    except IntegrityError:
        # The same token raced in twice; the other request created it.
        return Conversation.objects.get(token_hash=token_hash), False
    return conversation, True


def conversation_accept(*, worker: User, conversation_id: int | None = None) -> Conversation:
    """Give the worker the next waiting conversation of their units, or the named one.

    Publishes `conversation.assigned` to the worker, the `accepted` event to the
    conversation and the unit's new queue after commit.
    """
    if not worker.works_in_console:
        raise NotAllowed("only social workers and supervisors accept conversations")
    with transaction.atomic():
        candidates = selectors.conversation_list_waiting(unit_ids=worker.units.values("pk"))
        if conversation_id is not None:
            candidates = candidates.filter(pk=conversation_id)
        # skip_locked: a row another worker is claiming right now is passed over, never
        # given twice; the state check below runs on the locked, current row.
        conversation = candidates.select_for_update(skip_locked=True, of=("self",)).first()
        if conversation is None:
            if conversation_id is not None:
                raise Conflict("that conversation is no longer waiting")
            raise NothingWaiting("nobody is waiting")
        conversation.state = Conversation.State.ACTIVE
        conversation.worker = worker
        conversation.accepted_at = timezone.now()
        conversation.save(update_fields=["state", "worker", "accepted_at"])
        message_append(
            conversation, sender=Message.Sender.SYSTEM, author=worker, event=Message.Event.ACCEPTED
        )
        realtime.publish_on_commit(
            realtime.worker_group(worker.pk), realtime.assigned_event(conversation)
        )
        queue_announce(unit_id=conversation.unit_id)
    return conversation


def conversation_end(*, conversation: Conversation, actor: User | None) -> Conversation:
    """End the conversation for everyone. `actor=None` is its client: a client who ends
    while still waiting has left the queue (abandoned). Ending twice is harmless."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not locked.is_open:
            return locked
        was_queued = locked.state == Conversation.State.QUEUED
        if actor is None:
            locked.ended_by = Conversation.EndedBy.CLIENT
            locked.state = (
                Conversation.State.ABANDONED if was_queued else Conversation.State.ENDED
            )
        else:
            if locked.worker_id != actor.pk:
                raise NotAllowed("only the assigned worker can end this conversation")
            locked.ended_by = Conversation.EndedBy.WORKER
            locked.state = Conversation.State.ENDED
        locked.ended_at = timezone.now()
        locked.save(update_fields=["state", "ended_by", "ended_at"])
        event = (
            Message.Event.ABANDONED
            if locked.state == Conversation.State.ABANDONED
            else Message.Event.ENDED
        )
        message_append(locked, sender=Message.Sender.SYSTEM, author=actor, event=event)
        if was_queued:
            queue_announce(unit_id=locked.unit_id)
    return locked
