"""Reads that are more than a `.get()`, and the access helpers that raise `NotFound`.

Access helpers answer "not found" for a conversation the reader may not see, so a probe
learns nothing about which conversations exist.
"""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet

from accounts.models import Unit, User
from chat.errors import NotFound
from chat.models import Conversation, Message

SYNC_LIMIT = 1000  # messages in one sync frame; the browser asks again for the rest


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unit_list_for_staff(*, user: User) -> QuerySet[Unit]:
    return user.units.order_by("name")


def unit_list_open() -> QuerySet[Unit]:
    return Unit.objects.filter(is_active=True).order_by("name")


def conversation_list_waiting(*, unit_ids: list[int] | QuerySet) -> QuerySet[Conversation]:
    """Waiting conversations in queue order: priority first, then who has waited longest."""
    return Conversation.objects.filter(
        unit_id__in=unit_ids, state=Conversation.State.QUEUED
    ).order_by("-priority", "queued_at", "pk")


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
    """A conversation the staff member takes part in or whose unit they belong to."""
    if not user.works_in_console or not isinstance(conversation_id, int):
        raise NotFound("no such conversation")
    conversation = (
        Conversation.objects.select_related("unit", "worker").filter(pk=conversation_id).first()
    )
    if conversation is None:
        raise NotFound("no such conversation")
    if conversation.worker_id == user.pk or user.units.filter(pk=conversation.unit_id).exists():
        return conversation
    raise NotFound("no such conversation")


def message_list_after(*, conversation: Conversation, after: int) -> list[Message]:
    """Messages with `seq > after`, in order, at most SYNC_LIMIT of them."""
    return list(
        Message.objects.filter(conversation=conversation, seq__gt=after)
        .select_related("author")
        .order_by("seq")[:SYNC_LIMIT]
    )
