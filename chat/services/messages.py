"""Messages and private notes: the one place a conversation's `seq` is handed out.

`message_post` is the hot path of the whole site (every chat line of every client), so on
PostgreSQL it stores a message with one hand-written statement instead of the ORM's six
round trips: see `_store_in_one_statement`. The rules (who writes in which state, which
times a message moves, the rights of staff and interpreters) live once, here, for both
that statement and the ORM path SQLite takes.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from chat import announce, realtime, selectors
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound, TooLong
from chat.models import Conversation, Message, Participant, PrivateNote
from chat.permissions import can, require
from chat.services.risk import risk_check_message_safely
from chat.text import message_parts


def message_clean_body(body: str) -> str:
    """The body as it will be stored, or `InvalidInput`/`TooLong`: what a message's text may
    hold (not blank, no NUL, at most CHAT_MESSAGE_MAX_LENGTH characters). Text stays text."""
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


def _message_times(sender: str, now: datetime) -> dict[str, datetime | None]:
    """The conversation's fields a new message moves: the last word from each side (for
    "when nobody answers"); a staff message clears the unanswered flag."""
    if sender == Message.Sender.CLIENT:
        return {"last_client_message_at": now}
    if sender in (Message.Sender.WORKER, Message.Sender.INTERPRETER):
        return {"last_staff_message_at": now, "unanswered_flagged_at": None}
    return {}


def _writable_states(sender: str) -> tuple[str, ...]:
    """The client writes while waiting and while talking; staff and interpreters only in
    an active conversation."""
    if sender == Message.Sender.CLIENT:
        return tuple(Conversation.OPEN_STATES)
    return (Conversation.State.ACTIVE,)


def _publish(message: Message) -> None:
    realtime.publish_on_commit(
        realtime.conversation_group(message.conversation_id), realtime.message_event(message)
    )


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
    if connection.vendor == "postgresql":
        message = _store_in_one_statement(
            conversation.pk,
            sender=sender,
            author=author,
            body=body,
            event=event,
            client_id=client_id,
            checked=False,
        )
        if message is None:
            raise NotFound("no such conversation")
        # The caller's copy of the row, as the statement left it.
        conversation.last_seq = message.seq
        for field, value in _message_times(sender, message.created_at).items():
            setattr(conversation, field, value)
        message.conversation = conversation
    else:
        message = _append_with_the_orm(
            conversation, sender=sender, author=author, body=body, event=event, client_id=client_id
        )
    _publish(message)
    return message


def _parts(sender: str, body: str) -> list[dict[str, str]]:
    return message_parts(body) if sender != Message.Sender.SYSTEM else []


def _append_with_the_orm(
    conversation: Conversation,
    *,
    sender: str,
    author: User | None,
    body: str,
    event: str,
    client_id: uuid.UUID | None,
) -> Message:
    conversation.last_seq += 1
    times = _message_times(sender, timezone.now())
    for field, value in times.items():
        setattr(conversation, field, value)
    conversation.save(update_fields=["last_seq", *times])
    return Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author,
        body=body,
        parts=_parts(sender, body),
        event=event,
        client_id=client_id,
    )


def message_post(
    *,
    conversation_id: int,
    author: User | None,
    body: str,
    client_id: uuid.UUID,
    participant: Participant | None = None,
) -> tuple[Message, bool]:
    """Store a message once per `client_id` and return it with `created`.

    `author=None` is the conversation's client, whose socket knows the conversation by its
    token, unless `participant` names an external interpreter's seat (known by its own
    token). A repeat of a `client_id` returns the stored message (same seq) and publishes
    nothing, even after the conversation has ended, so a resend after a lost ack is always
    answered. A staff member who may not read the conversation learns nothing about it
    (`NotFound`). Publishes `conversation.message` after commit.

    Round trips on PostgreSQL: a client message is one statement, in autocommit; staff and
    interpreters add BEGIN and COMMIT around it, because their right to write is checked
    after the statement, under the row lock it took, and a refusal must roll it back.
    """
    clean_body = message_clean_body(body)
    sender = _sender(author, participant)
    try:
        with _transaction_for(sender):
            if connection.vendor == "postgresql":
                message = _store_in_one_statement(
                    conversation_id,
                    sender=sender,
                    author=author,
                    body=clean_body,
                    client_id=client_id,
                )
            else:
                message = _store_with_the_orm(
                    conversation_id,
                    sender=sender,
                    author=author,
                    body=clean_body,
                    client_id=client_id,
                )
            if message is None:  # a repeat, or a conversation that takes no message now
                return _repeat_or_refuse(conversation_id, sender, author, client_id), False
            if sender != Message.Sender.CLIENT:
                _require_writer(message.conversation, author, participant)
            _publish(message)
            if sender == Message.Sender.CLIENT:
                _announce_if_waiting(message.conversation)
    except IntegrityError:
        # Two sends of one client_id at once: both passed the check for an earlier copy,
        # the unique constraint let one in and rolled the other back whole (seq too).
        existing = _existing(conversation_id, client_id)
        if existing is None:
            raise
        return existing, False
    if sender == Message.Sender.CLIENT:
        # The unit's risk rules, on the stored message (chat/services/risk.py).
        risk_check_message_safely(message=message)
    return message, True


def _announce_if_waiting(conversation: Conversation) -> None:
    """A waiting client wrote: the queue's staff see its latest words (the previews), so
    the unit's queue is announced again after commit (coalesced, chat/announce.py)."""
    if conversation.state == Conversation.State.QUEUED:
        transaction.on_commit(partial(announce.unit_changed, conversation.unit_id))


def _sender(author: User | None, participant: Participant | None) -> str:
    if author is not None:
        if author.role == User.Role.INTERPRETER:
            return Message.Sender.INTERPRETER
        return Message.Sender.WORKER
    return Message.Sender.CLIENT if participant is None else Message.Sender.INTERPRETER


def _transaction_for(sender: str) -> contextlib.AbstractContextManager[object]:
    """A client message on PostgreSQL is one statement, atomic by itself: it runs alone in
    autocommit (inside a caller's transaction, under a savepoint, so that a repeat's
    IntegrityError spoils nothing). Everything else decides after writing, and needs a
    transaction to roll back in."""
    if (
        sender == Message.Sender.CLIENT
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    ):
        return contextlib.nullcontext()
    return transaction.atomic()


def _existing(conversation_id: int, client_id: uuid.UUID) -> Message | None:
    return Message.objects.filter(conversation_id=conversation_id, client_id=client_id).first()


def _repeat_or_refuse(
    conversation_id: int, sender: str, author: User | None, client_id: uuid.UUID
) -> Message:
    """Nothing was stored: the stored copy of a repeat, else why not (the rare path)."""
    if author is not None:
        # A staff member who may not read the conversation hears only "not found".
        selectors.conversation_get_for_staff(user=author, conversation_id=conversation_id)
    existing = _existing(conversation_id, client_id)
    if existing is not None:
        return existing
    if not Conversation.objects.filter(pk=conversation_id).exists():
        raise NotFound("no such conversation")
    if sender == Message.Sender.CLIENT:
        raise Conflict("the conversation has ended")
    raise Conflict("the conversation is not active")


def _require_writer(
    conversation: Conversation, author: User | None, participant: Participant | None
) -> None:
    """Staff write by `chat.write_conversation`, an external interpreter while their seat
    is present. Checked under the conversation's row lock, so a handover or a removal that
    commits first is seen, and one that comes later waits for this message."""
    if author is not None:
        if not can(author, "chat.write_conversation", conversation):
            require(author, "chat.read_conversation", conversation, hide=True)
            raise NotAllowed("not allowed: chat.write_conversation")
        return
    seat = Participant.objects.filter(pk=participant.pk, conversation=conversation).first()  # type: ignore[union-attr]
    if seat is None or not seat.is_present:
        raise NotAllowed("you are no longer in this conversation")


def _store_with_the_orm(
    conversation_id: int, *, sender: str, author: User | None, body: str, client_id: uuid.UUID
) -> Message | None:
    """The new message, or None when this `client_id` is already stored or the conversation
    takes no message from `sender` now (or is purged). Inside a transaction: the row lock
    serialises writers of one conversation, so no two messages get one seq (SQLite ignores
    the lock and lets one writer at a time in anyway)."""
    locked = (
        Conversation.objects.select_for_update()
        .filter(pk=conversation_id, state__in=_writable_states(sender), purged_at__isnull=True)
        .first()
    )
    if locked is None or _existing(conversation_id, client_id) is not None:
        return None
    return _append_with_the_orm(
        locked, sender=sender, author=author, body=body, event="", client_id=client_id
    )


# What the statement gives back of the conversation: the message event's state, and what
# the rights of staff are decided on (`chat.permissions` reads these fields). In the
# model's field order, which is the order `Model.from_db` reads a partial row in.
_RETURNED = tuple(
    field.column
    for field in Conversation._meta.concrete_fields
    if field.attname in {"id", "unit_id", "case_id", "state", "worker_id", "last_seq"}
)


def _store_in_one_statement(
    conversation_id: int,
    *,
    sender: str,
    author: User | None,
    body: str,
    client_id: uuid.UUID | None,
    event: str = "",
    checked: bool = True,
) -> Message | None:
    """`_store_with_the_orm` (`checked`) or `_append_with_the_orm` in one round trip
    (PostgreSQL), with the same answers.

    Why hand-written: this runs for every chat line. The ORM takes six round trips (lock,
    look for a repeat, bump `last_seq`, insert, and BEGIN/COMMIT around them); here the
    UPDATE takes the row lock and bumps `last_seq` (the message's seq), and the INSERT
    reads the new seq from it, in one statement that is atomic by itself.

    `checked`: nothing is updated when the conversation is not writable for `sender`, is
    purged, or already holds this `client_id`; then no row comes back. Two copies of one
    `client_id` at once: the second waits for the row lock, then fails on the unique
    constraint (conversation, client_id) and is rolled back whole, seq included (the caller
    fetches the first). Unchecked, the caller holds the row lock and has decided."""
    now = timezone.now()
    times = _message_times(sender, now)
    moved = "".join(f", {name} = %({name})s" for name in times)  # the columns' own names
    checks = (
        """
               AND state = ANY(%(states)s)
               AND purged_at IS NULL
               AND NOT EXISTS (
                   SELECT 1 FROM chat_message
                    WHERE conversation_id = %(conversation)s AND client_id = %(client_id)s::uuid
               )"""
        if checked
        else ""
    )
    sql = f"""
        WITH conversation AS (
            UPDATE chat_conversation
               SET last_seq = last_seq + 1{moved}
             WHERE id = %(conversation)s{checks}
            RETURNING {", ".join(_RETURNED)}
        ), message AS (
            INSERT INTO chat_message
                   (conversation_id, seq, sender, author_id, body, parts, event, client_id,
                    created_at)
            SELECT id, last_seq, %(sender)s, %(author)s::bigint, %(body)s, %(parts)s::jsonb,
                   %(event)s, %(client_id)s::uuid, %(now)s::timestamptz
              FROM conversation
            RETURNING id
        )
        SELECT message.id, {", ".join(f"conversation.{c}" for c in _RETURNED)}
          FROM message CROSS JOIN conversation
    """  # noqa: S608 (the only interpolations are column names from the models)
    parts = _parts(sender, body)
    params = {
        **times,
        "conversation": conversation_id,
        "states": list(_writable_states(sender)),
        "client_id": client_id,
        "sender": sender,
        "author": author.pk if author is not None else None,
        "body": body,
        "parts": json.dumps(parts),
        "event": event,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    message_id, *returned = row
    conversation = Conversation.from_db(connection.alias, list(_RETURNED), returned)
    message = Message(
        id=message_id,
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author,
        body=body,
        parts=parts,
        event=event,
        client_id=client_id,
        created_at=now,
    )
    message._state.adding, message._state.db = False, connection.alias
    return message


def private_note_post(
    *, conversation: Conversation, author: User, body: str, client_id: uuid.UUID
) -> tuple[PrivateNote, bool]:
    """A note for the staff in the conversation, placed after the latest message. It goes
    to the staff group only and is never part of what a client or interpreter receives."""
    clean_body = message_clean_body(body)
    with transaction.atomic():
        locked = require(
            author,
            "chat.private_notes",
            Conversation.objects.select_for_update().filter(pk=conversation.pk).first(),
        )
        existing = PrivateNote.objects.filter(conversation=locked, client_id=client_id).first()
        if existing is not None:
            return existing, False
        note = PrivateNote.objects.create(
            conversation=locked,
            author=author,
            body=clean_body,
            after_seq=locked.last_seq,
            client_id=client_id,
        )
        realtime.publish_on_commit(
            realtime.conversation_staff_group(locked.pk), realtime.note_event(note)
        )
    return note, True
