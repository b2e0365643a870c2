"""Conversations and their messages: for the client by token, for staff by access."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from chat.errors import NotFound
from chat.models import (
    Conversation,
    Message,
    Participant,
    PrivateNote,
)
from chat.permissions import require
from chat.transcripts import Transcript

SYNC_LIMIT = 1000  # messages in one sync frame; the browser asks again for the rest


# A browser-made token: 32 random bytes, base64url without padding (crypto.getRandomValues).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    if not token:
        raise NotFound("no such conversation")
    try:
        return Conversation.objects.select_related("unit").get(token_hash=token_hash(token))
    except Conversation.DoesNotExist:
        raise NotFound("no such conversation") from None


def conversation_get_for_staff(*, user: User, conversation_id: int) -> Conversation:
    """A conversation the staff member may read (chat.read_conversation), else NotFound."""
    conversation = (
        Conversation.objects.select_related("unit", "worker", "case")
        .filter(pk=conversation_id)
        .first()
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


def conversation_list_open_for(*, user: User) -> QuerySet[Conversation]:
    """Active conversations the staff member works in: their own and those they were
    invited into."""
    return (
        Conversation.objects.filter(state=Conversation.State.ACTIVE)
        .filter(Q(worker=user) | Q(participants__user=user, participants__left_at__isnull=True))
        .distinct()
        .order_by("accepted_at", "pk")
    )


def conversation_list_mine(*, user: User) -> QuerySet[Conversation]:
    """`conversation_list_open_for` with `unread`: the client messages above the worker's
    `worker_read_seq` (the worker's own count; an invited colleague has none of their
    own), in the same one statement."""
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            sender=Message.Sender.CLIENT,
            seq__gt=OuterRef("worker_read_seq"),
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return conversation_list_open_for(user=user).annotate(
        unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0))
    )


def transcript_for_client(*, token: str) -> Transcript:
    """The client's own transcript: what they and the unit wrote, no notes, no names."""
    conversation = conversation_get_for_client(token=token)
    return Transcript(
        conversation=conversation,
        messages=message_list_all_after(conversation=conversation, after=0),
        for_client=True,
    )
