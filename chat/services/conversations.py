from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Least
from django.utils import timezone

from accounts.models import Presence, Unit, User
from chat import selectors
from chat.errors import Conflict, InvalidInput, NotFound, NothingWaiting
from chat.models import Case, ClientRecord, Conversation, Message
from chat.permissions import require
from chat.services.calls import call_end_with_conversation
from chat.services.cases import (
    FollowUpQuestion,
    case_for_transfer,
    case_open_for_new_conversation,
    followup_ask,
)
from chat.services.messages import message_append, message_clean_body
from chat.services.participants import participants_leave_all
from chat.services.queue import conversation_assign, queue_announce, queue_dispatch_on_commit
from chat.services.risk import risk_check_message_safely

TOKEN_PATTERN = selectors.TOKEN_PATTERN


def conversation_language_clean(language: str) -> str:
    """The client page's language as a conversation keeps it (`Conversation.language`, the
    console's "Language: Arabic"): a code of settings.CLIENT_LANGUAGES, or "" when not
    known. Raises InvalidInput for any other code. Every way a client starts uses it."""
    if language and language not in dict(settings.CLIENT_LANGUAGES):
        raise InvalidInput("language must be one of the client languages")
    return language


def conversation_start(
    *,
    unit_id: int,
    token: str,
    body: str,
    client_id: uuid.UUID,
    case: Case | None = None,
    client: ClientRecord | None = None,
    language: str = "",
) -> tuple[Conversation, bool]:
    """Open a conversation in the unit's queue with the client's first message, in the
    client's page `language` (a code of settings.CLIENT_LANGUAGES, or "").

    The browser makes the resume token before it asks, so a repeat (lost answer, reload)
    finds the same conversation instead of queueing the client twice. Only the token's hash
    is stored. A closed unit takes no new conversations. The conversation belongs to the
    returning client's `case`, to an identified `client`'s case with the unit, or to a new
    case. Returns `(conversation, created)`.
    """
    if not TOKEN_PATTERN.fullmatch(token):
        raise InvalidInput("token must be 43 base64url characters")
    language = conversation_language_clean(language)
    clean_body = message_clean_body(body)
    token_hash = selectors.token_hash(token)
    existing = Conversation.objects.filter(token_hash=token_hash).first()
    if existing is not None:
        return existing, False
    unit = Unit.objects.filter(pk=unit_id, is_active=True).first()
    if unit is None:
        raise NotFound("no such unit")
    if not selectors.unit_is_open(unit=unit):
        raise Conflict("the unit is closed now", code="unit_closed")
    try:
        with transaction.atomic():
            now = timezone.now()
            conversation = Conversation.objects.create(
                unit=unit,
                case=case_open_for_new_conversation(unit=unit, case=case, client=client),
                identified=client is not None and client.is_identified,
                token_hash=token_hash,
                queued_at=now,
                client_seen_at=now,
                language=language,
            )
            first = message_append(
                conversation,
                sender=Message.Sender.CLIENT,
                body=clean_body,
                client_id=client_id,
            )
            # The unit's risk rules on the first message: a hit may lift it to the front.
            if risk_check_message_safely(message=first):
                conversation.refresh_from_db(fields=["priority", "risk"])
            # Most joins land at the back: the announcement checks, and reads less then.
            queue_announce(unit_id=unit.pk, joined=conversation.pk)
            queue_dispatch_on_commit(unit_ids=[unit.pk])
    except IntegrityError:
        # The same token raced in twice; the other request created it.
        return Conversation.objects.get(token_hash=token_hash), False
    return conversation, True


# A client's sign of life younger than this is not written again: the grace periods that
# read it are tens of seconds.
TOUCH_AGAIN_AFTER = timedelta(seconds=1)


def conversation_touch_client(*, conversation: Conversation) -> None:
    """A sign of life from the client's socket written at once (a resume, a socket that
    closed); keeps a waiting client's place. Heartbeats go through chat/liveness.py. One
    stored under a second ago (as `conversation` was read: a start's own sync) is not
    written again."""
    now = timezone.now()
    seen = conversation.client_seen_at
    if seen is not None and timedelta(0) <= now - seen < TOUCH_AGAIN_AFTER:
        return
    Conversation.objects.filter(pk=conversation.pk).update(client_seen_at=now)


# Rows per UPDATE of a batch of heartbeats: the statement stays small on either database.
TOUCH_BATCH = 500


def conversation_touch_clients(*, seen: Mapping[int, datetime]) -> None:
    """Heartbeats of client sockets, gathered in memory (chat/liveness.py): conversation id
    -> when its client was last seen. One UPDATE per TOUCH_BATCH conversations; a sign of
    life never moves `client_seen_at` back (a later one may already be stored)."""
    ids = sorted(seen)
    for start in range(0, len(ids), TOUCH_BATCH):
        chunk = ids[start : start + TOUCH_BATCH]
        later = models.Case(
            *(
                models.When(
                    models.Q(pk=pk)
                    & (
                        models.Q(client_seen_at__isnull=True)
                        | models.Q(client_seen_at__lt=seen[pk])
                    ),
                    then=models.Value(seen[pk]),
                )
                for pk in chunk
            ),
            default=models.F("client_seen_at"),
            output_field=models.DateTimeField(),
        )
        Conversation.objects.filter(pk__in=chunk).update(client_seen_at=later)


def conversation_mark_read(*, conversation: Conversation, reader: User, seq: int) -> bool:
    """The conversation's worker has had its messages up to `seq` in view (the console's
    `seen`): what the client wrote above it stays unread. Only ever rises, never past
    `last_seq`; anyone else's `seen` changes nothing. One UPDATE; True when it rose."""
    return bool(
        Conversation.objects.filter(
            pk=conversation.pk,
            worker=reader,
            worker_read_seq__lt=seq,
            last_seq__gt=models.F("worker_read_seq"),
        ).update(worker_read_seq=Least(models.F("last_seq"), models.Value(seq)))
    )


def conversation_accept(*, worker: User, conversation_id: int | None = None) -> Conversation:
    """Give the worker the next waiting conversation of their units, or the named one,
    within the worker's capacity. Publishes `conversation.assigned`, the `accepted` event
    and the unit's new queue after commit."""
    require(worker, "chat.use_console")
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
        require(worker, "chat.accept_conversation", conversation)
        conversation_assign(conversation=conversation, worker=worker)
    return conversation


def conversation_end(
    *,
    conversation: Conversation,
    actor: User | None,
    followups: Sequence[FollowUpQuestion] = (),
) -> Conversation:
    """End the conversation for everyone. `actor=None` is its client: a client who ends
    while still waiting has left the queue (abandoned). Ending twice is harmless. A worker
    may add follow-up questions for the client to answer when they come back."""
    if followups and actor is None:
        raise InvalidInput("only a worker leaves follow-up questions")
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if actor is not None:
            require(actor, "chat.end_conversation", locked)
        if locked.is_open:
            ended_by = Conversation.EndedBy.CLIENT if actor is None else Conversation.EndedBy.WORKER
            _close(locked, ended_by=ended_by, actor=actor)
        # Questions still count when the client ended a moment before the worker did.
        if actor is not None:
            for question in followups:
                followup_ask(
                    case=locked.case,
                    actor=actor,
                    body=question.body,
                    choices=question.choices,
                    translated_choices=question.translated_choices,
                    conversation=locked,
                )
    return locked


def conversation_quick_exit(*, token: str) -> None:
    """The client left with the quick exit: end the conversation and tell the worker, so
    nothing is written back that someone near the client could see. Unknown tokens (and
    none, "") and conversations already over are ignored: the client is gone either way."""
    if not token:
        return
    conversation = Conversation.objects.filter(token_hash=selectors.token_hash(token)).first()
    if conversation is None:
        return
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.is_open:
            _close(
                locked,
                ended_by=Conversation.EndedBy.CLIENT,
                actor=None,
                event=Message.Event.QUICK_EXIT,
            )


def _close(
    conversation: Conversation, *, ended_by: str, actor: User | None, event: str = ""
) -> None:
    """Close a locked, open conversation and free its worker's place."""
    was_queued = conversation.state == Conversation.State.QUEUED
    conversation.state = Conversation.State.ABANDONED if was_queued else Conversation.State.ENDED
    conversation.ended_by = ended_by
    conversation.ended_at = timezone.now()
    conversation.save(update_fields=["state", "ended_by", "ended_at"])
    event = event or (Message.Event.ABANDONED if was_queued else Message.Event.ENDED)
    # A call in it ends with it (the quick exit's at once, said as such to the worker).
    call_end_with_conversation(
        conversation=conversation, quick_exit=event == Message.Event.QUICK_EXIT
    )
    message_append(conversation, sender=Message.Sender.SYSTEM, author=actor, event=event)
    # Invited colleagues and interpreters see the end, then nothing more: their sockets
    # leave the conversation (after the end message, in publishing order).
    participants_leave_all(conversation=conversation, reason="ended")
    queue_announce(unit_id=conversation.unit_id)
    if conversation.worker is not None:
        Presence.objects.filter(user=conversation.worker).update(idle_since=timezone.now())
        queue_dispatch_on_commit(
            unit_ids=list(conversation.worker.units.values_list("pk", flat=True))
        )


def conversation_abandon_if_silent(*, conversation_id: int) -> bool:
    """A waiting client whose socket has been silent for the grace period has left the
    queue. A reload within the grace period keeps the place. Returns whether it left."""
    cutoff = timezone.now() - timedelta(seconds=settings.QUEUE_GRACE_SECONDS)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if (
            locked is None
            or locked.state != Conversation.State.QUEUED
            or (locked.client_seen_at is not None and locked.client_seen_at >= cutoff)
        ):
            return False
        _close(locked, ended_by=Conversation.EndedBy.SYSTEM, actor=None)
    return True


def conversation_rejoin(*, conversation: Conversation) -> bool:
    """A client whose place was given up for silence (a phone that froze the tab, a lost
    network) and who comes back within QUEUE_REJOIN_SECONDS gets the same place back: the
    original waiting time counts. Returns whether it rejoined."""
    window = timedelta(seconds=settings.QUEUE_REJOIN_SECONDS)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not (
            locked.state == Conversation.State.ABANDONED
            and locked.ended_by == Conversation.EndedBy.SYSTEM
            and locked.ended_at is not None
            and locked.ended_at >= timezone.now() - window
            and selectors.unit_is_open(unit=locked.unit)
        ):
            return False
        locked.state = Conversation.State.QUEUED
        locked.ended_by = ""
        locked.ended_at = None
        locked.client_seen_at = timezone.now()
        locked.save(update_fields=["state", "ended_by", "ended_at", "client_seen_at"])
        message_append(locked, sender=Message.Sender.SYSTEM, event=Message.Event.REJOINED)
        queue_announce(unit_id=locked.unit_id)
        queue_dispatch_on_commit(unit_ids=[locked.unit_id])
    return True


def _supervised_waiting(*, actor: User, conversation_id: int) -> Conversation:
    """Lock a waiting conversation of one of the supervisor's units."""
    conversation = require(
        actor,
        "chat.manage_waiting",
        Conversation.objects.select_for_update().filter(pk=conversation_id).first(),
        hide=True,
    )
    if conversation.state != Conversation.State.QUEUED:
        raise Conflict("the conversation is no longer waiting")
    return conversation


def conversation_set_priority(
    *, conversation_id: int, priority: Conversation.Priority, actor: User
) -> None:
    """A supervisor marks a waiting conversation urgent (first in the queue) or normal."""
    with transaction.atomic():
        conversation = _supervised_waiting(actor=actor, conversation_id=conversation_id)
        conversation.priority = priority
        conversation.save(update_fields=["priority"])
        queue_announce(unit_id=conversation.unit_id)


def conversation_move(*, conversation_id: int, unit_id: int, actor: User) -> None:
    """A supervisor moves a waiting conversation to another of their units. It keeps its
    waiting time, so the client loses no place for the move."""
    with transaction.atomic():
        conversation = _supervised_waiting(actor=actor, conversation_id=conversation_id)
        target = require(
            actor, "chat.receive_moved", Unit.objects.filter(pk=unit_id).first(), hide=True
        )
        if target.pk == conversation.unit_id:
            return
        old_unit_id = conversation.unit_id
        conversation.unit = target
        conversation.case = case_for_transfer(case=conversation.case, unit=target)
        conversation.save(update_fields=["unit", "case"])
        participants_leave_all(conversation=conversation, reason="removed")
        message_append(
            conversation, sender=Message.Sender.SYSTEM, author=actor, event=Message.Event.MOVED
        )
        queue_announce(unit_id=old_unit_id)
        queue_announce(unit_id=target.pk)
        queue_dispatch_on_commit(unit_ids=[target.pk])
