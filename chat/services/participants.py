"""Inviting a colleague or an interpreter into a live conversation. Whoever joins sees
only what is written from their joining on, and nothing else in the system."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from chat import realtime, selectors
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Conversation, Message, Participant
from chat.permissions import can, require
from chat.services.access import conversation_announce_assigned, conversation_announce_context
from chat.services.calls import call_leave
from chat.services.messages import message_append


def _joined(conversation: Conversation, participant: Participant) -> None:
    conversation_announce_context(
        conversation_id=conversation.pk, except_user_id=participant.user_id
    )
    message_append(
        conversation,
        sender=Message.Sender.SYSTEM,
        event=Message.Event.PARTICIPANT_JOINED,
        body=participant.role,
    )


def participant_invite(*, conversation: Conversation, actor: User, user_id: int) -> Participant:
    """The conversation's worker invites a colleague (any unit) or an interpreter user."""
    with transaction.atomic():
        locked = require(
            actor,
            "chat.invite",
            Conversation.objects.select_for_update().filter(pk=conversation.pk).first(),
        )
        if locked.state != Conversation.State.ACTIVE:
            raise Conflict("only an active conversation takes participants")
        invitee = User.objects.filter(pk=user_id, is_active=True).exclude(pk=actor.pk).first()
        if invitee is None:
            raise NotFound("no such colleague")
        if invitee.role == User.Role.INTERPRETER:
            role = Participant.Role.INTERPRETER
        elif can(invitee, "chat.use_console"):
            role = Participant.Role.COLLEAGUE
        else:
            raise NotFound("no such colleague")
        try:
            with transaction.atomic():
                participant = Participant.objects.create(
                    conversation=locked,
                    user=invitee,
                    role=role,
                    invited_by=actor,
                    visible_from_seq=locked.last_seq,
                    joined_at=timezone.now(),
                )
        except IntegrityError:
            raise Conflict("already in the conversation", code="already_present") from None
        _joined(locked, participant)
        if role == Participant.Role.COLLEAGUE:  # an interpreter's page resumes by itself
            conversation_announce_assigned(conversation_id=locked.pk, worker=invitee)
    return participant


def participant_invite_link(*, conversation: Conversation, actor: User) -> str:
    """A single-use invitation for an external interpreter, for this conversation only.
    Returns the secret, shown once to the worker; only its hash is stored."""
    with transaction.atomic():
        locked = require(
            actor,
            "chat.invite",
            Conversation.objects.select_for_update().filter(pk=conversation.pk).first(),
        )
        if locked.state != Conversation.State.ACTIVE:
            raise Conflict("only an active conversation takes participants")
        invitation = secrets.token_urlsafe(24)
        Participant.objects.create(
            conversation=locked,
            role=Participant.Role.INTERPRETER,
            invited_by=actor,
            visible_from_seq=locked.last_seq,
            invitation_hash=selectors.token_hash(invitation),
        )
    return invitation


def participant_join_by_link(*, invitation: str, token: str) -> Participant:
    """An external interpreter opens the link. The invitation works once; the browser's
    own token (made like a client's) lets the same tab come back. A repeat with the same
    pair answers the same seat."""
    if not selectors.TOKEN_PATTERN.fullmatch(token):
        raise InvalidInput("token must be 43 base64url characters")
    if not invitation:
        raise NotFound("no such invitation")
    with transaction.atomic():
        seat = (
            Participant.objects.select_for_update()
            .filter(invitation_hash=selectors.token_hash(invitation), left_at__isnull=True)
            .first()
        )
        if seat is None:
            raise NotFound("no such invitation")
        if seat.invitation_used_at is not None:
            if seat.token_hash == selectors.token_hash(token):
                return seat
            raise NotFound("no such invitation")
        conversation = Conversation.objects.select_for_update().get(pk=seat.conversation_id)
        if conversation.state != Conversation.State.ACTIVE:
            raise Conflict("the conversation has ended")
        now = timezone.now()
        seat.invitation_used_at = now
        seat.joined_at = now
        seat.token_hash = selectors.token_hash(token)
        seat.visible_from_seq = conversation.last_seq
        seat.save()
        _joined(conversation, seat)
    return seat


def participant_leave(*, participant: Participant, actor: User | None) -> None:
    """A participant leaves, or the conversation's worker removes them. `actor=None` is an
    external interpreter leaving by their own token."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=participant.conversation_id)
        seat = Participant.objects.select_for_update().get(pk=participant.pk)
        if seat.left_at is not None:
            return
        is_self = actor is None or seat.user_id == actor.pk
        if not is_self and not can(actor, "chat.invite", conversation):
            raise NotAllowed("only the conversation's worker removes participants")
        seat.left_at = timezone.now()
        seat.save(update_fields=["left_at"])
        call_leave(participant=seat)  # out of the chat is out of its call
        conversation_announce_context(conversation_id=conversation.pk)
        if seat.joined_at is not None and conversation.is_open:
            message_append(
                conversation,
                sender=Message.Sender.SYSTEM,
                event=Message.Event.PARTICIPANT_LEFT,
                body=seat.role,
            )
        event = realtime.left_event(conversation.pk, reason="removed" if not is_self else "left")
        realtime.publish_on_commit(realtime.participant_group(seat.pk), event)
        if seat.user_id:
            realtime.publish_on_commit(realtime.worker_group(seat.user_id), event)


def participants_leave_all(*, conversation: Conversation, reason: str) -> None:
    """Everyone invited into the conversation leaves it (it moved to another unit). The
    caller holds the conversation's row lock."""
    seats = list(conversation.participants.filter(left_at__isnull=True))
    if not seats:
        return
    Participant.objects.filter(pk__in=[seat.pk for seat in seats]).update(left_at=timezone.now())
    for seat in seats:
        call_leave(participant=seat)
    event = realtime.left_event(conversation.pk, reason=reason)
    for seat in seats:
        realtime.publish_on_commit(realtime.participant_group(seat.pk), event)
        if seat.user_id:
            realtime.publish_on_commit(realtime.worker_group(seat.user_id), event)
