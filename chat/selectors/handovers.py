"""Handovers and participants: offers, the trail a reader may see, invited seats."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User
from chat.errors import NotFound
from chat.models import (
    Conversation,
    Handover,
    Participant,
)
from chat.permissions import require
from chat.selectors.conversations import token_hash


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


def participant_get_by_token(*, token: str) -> Participant:
    """An external interpreter's seat, by the resume token their tab holds."""
    if not token:
        raise NotFound("no such invitation")
    participant = (
        Participant.objects.select_related("conversation", "conversation__unit")
        .filter(token_hash=token_hash(token), left_at__isnull=True)
        .first()
    )
    if participant is None:
        raise NotFound("no such invitation")
    return participant


def handover_get_for(*, user: User, handover_id: int) -> Handover:
    handover = (
        Handover.objects.select_related("conversation", "to_unit", "from_worker")
        .filter(pk=handover_id)
        .first()
    )
    return require(user, "chat.answer_handover", handover, hide=True)


def participant_get_for_removal(*, conversation: Conversation, participant_id: int) -> Participant:
    seat = Participant.objects.filter(pk=participant_id, conversation=conversation).first()
    if seat is None:
        raise NotFound("no such participant")
    return seat


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


def handover_list_offered_to(*, user: User) -> list[Handover]:
    offered = Handover.objects.filter(to_worker=user, state=Handover.State.OFFERED)
    # Every console's connect asks, and almost always none waits: asked first without the
    # four joins, whose SQL took a fifth of a console connect's CPU to build.
    if not offered.exists():
        return []
    return list(offered.select_related("from_worker", "to_worker", "to_unit", "from_unit"))


def participant_get_present(*, participant_id: int) -> Participant | None:
    """A seat that is still in its conversation (joined, not left), or None."""
    seat = (
        Participant.objects.select_related("conversation", "user").filter(pk=participant_id).first()
    )
    return seat if seat is not None and seat.is_present else None


def conversation_staff_readers(*, conversation: Conversation) -> list[User]:
    """The staff whose consoles show the conversation: its worker and the colleagues
    invited into it who are still there."""
    return list(
        User.objects.filter(
            Q(pk=conversation.worker_id)
            | Q(
                participations__conversation=conversation,
                participations__role=Participant.Role.COLLEAGUE,
                participations__left_at__isnull=True,
            ),
            is_active=True,
        ).distinct()
    )
