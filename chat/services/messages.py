from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chat import realtime
from chat.errors import Conflict, InvalidInput, NotAllowed, TooLong
from chat.models import Conversation, Message, Participant, PrivateNote
from chat.permissions import require
from chat.text import message_parts


def message_clean_body(body: object) -> str:
    """The body as it will be stored, or `InvalidInput`/`TooLong`. Text stays text."""
    if not isinstance(body, str):
        raise InvalidInput("body must be text")
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in body:
        raise InvalidInput("body contains a NUL character")
    if not body.strip():
        raise InvalidInput("body is empty")
    if len(body) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise TooLong(
            f"body is longer than {settings.CHAT_MESSAGE_MAX_LENGTH} characters",
            limit=settings.CHAT_MESSAGE_MAX_LENGTH,
        )
    return body


def message_clean_client_id(client_id: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(client_id))
    except (TypeError, ValueError, AttributeError):
        raise InvalidInput("client_id must be a UUID") from None


def message_append(
    conversation: Conversation,
    *,
    sender: str,
    author: User | None = None,
    body: str = "",
    event: str = "",
    client_id: uuid.UUID | None = None,
) -> Message:
    """Store the next message. The caller holds the conversation's row lock inside a
    transaction, which is what makes `seq` gapless and unique. Publishes after commit."""
    conversation.last_seq += 1
    fields = ["last_seq"]
    if sender == Message.Sender.CLIENT:
        conversation.last_client_message_at = timezone.now()
        fields.append("last_client_message_at")
    elif sender in (Message.Sender.WORKER, Message.Sender.INTERPRETER):
        conversation.last_staff_message_at = timezone.now()
        conversation.unanswered_flagged_at = None
        fields += ["last_staff_message_at", "unanswered_flagged_at"]
    conversation.save(update_fields=fields)
    message = Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author,
        body=body,
        parts=message_parts(body) if sender != Message.Sender.SYSTEM else [],
        event=event,
        client_id=client_id,
    )
    realtime.publish_on_commit(
        realtime.conversation_group(conversation.pk), realtime.message_event(message)
    )
    return message


def message_post(
    *,
    conversation: Conversation,
    author: User | None,
    body: object,
    client_id: object,
    participant: Participant | None = None,
) -> tuple[Message, bool]:
    """Store a message once per `client_id` and return it with `created`.

    `author=None` is the conversation's client, already known by its token, unless
    `participant` names an external interpreter's seat (known by its own token). A repeat
    of a `client_id` returns the stored message (same seq) and publishes nothing, even
    after the conversation has ended, so a resend after a lost ack is always answered.
    """
    clean_body = message_clean_body(body)
    clean_client_id = message_clean_client_id(client_id)
    with transaction.atomic():
        # The row lock serialises writers of one conversation: no two messages get one seq.
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        existing = Message.objects.filter(conversation=locked, client_id=clean_client_id).first()
        if existing is not None:
            return existing, False
        if author is None and participant is None:
            if not locked.is_open:
                raise Conflict("the conversation has ended")
            sender = Message.Sender.CLIENT
        else:
            if locked.state != Conversation.State.ACTIVE:
                raise Conflict("the conversation is not active")
            if author is not None:
                require(author, "chat.write_conversation", locked)
                interpreter = author.role == User.Role.INTERPRETER
            else:
                seat = Participant.objects.filter(pk=participant.pk, conversation=locked).first()  # type: ignore[union-attr]
                if seat is None or not seat.is_present:
                    raise NotAllowed("you are no longer in this conversation")
                interpreter = True
            sender = Message.Sender.INTERPRETER if interpreter else Message.Sender.WORKER
        message = message_append(
            locked, sender=sender, author=author, body=clean_body, client_id=clean_client_id
        )
    return message, True


def private_note_post(
    *, conversation: Conversation, author: User, body: object, client_id: object
) -> tuple[PrivateNote, bool]:
    """A note for the staff in the conversation, placed after the latest message. It goes
    to the staff group only and is never part of what a client or interpreter receives."""
    clean_body = message_clean_body(body)
    clean_client_id = message_clean_client_id(client_id)
    with transaction.atomic():
        locked = require(
            author,
            "chat.private_notes",
            Conversation.objects.select_for_update().filter(pk=conversation.pk).first(),
        )
        existing = PrivateNote.objects.filter(
            conversation=locked, client_id=clean_client_id
        ).first()
        if existing is not None:
            return existing, False
        note = PrivateNote.objects.create(
            conversation=locked,
            author=author,
            body=clean_body,
            after_seq=locked.last_seq,
            client_id=clean_client_id,
        )
        realtime.publish_on_commit(
            realtime.conversation_staff_group(locked.pk), realtime.note_event(note)
        )
    return note, True
