from __future__ import annotations

import uuid
from typing import NamedTuple

from django.db import transaction

from accounts.models import User
from chat import realtime, selectors
from chat.errors import ChatError
from chat.models import AccessLog, Case, Conversation, FollowUp, Message
from chat.permissions import can, require
from chat.transcripts import Transcript


def access_log_record(
    *,
    actor: User,
    action: str,
    request_id: uuid.UUID,
    conversation: Conversation | None = None,
    case: Case | None = None,
) -> AccessLog:
    """Write one append-only row: who read what of which conversation or case, and whether
    they took part in it (see `selectors.staff_took_part`). Callers write it in the same
    transaction as the read it records."""
    row = _row(actor, action, request_id, conversation, case)
    row.save()
    return row


def _row(
    actor: User,
    action: str,
    request_id: uuid.UUID,
    conversation: Conversation | None,
    case: Case | None,
) -> AccessLog:
    subject = conversation if conversation is not None else case
    assert subject is not None  # noqa: S101 - a read is of a conversation or a case
    return AccessLog(
        actor=actor,
        actor_name=actor.display_name,
        unit_id=subject.unit_id,
        unit_name=subject.unit.name,
        conversation_id=conversation.pk if conversation is not None else None,
        case_id=case.pk if case is not None else None,
        action=action,
        took_part=selectors.staff_took_part(user=actor, conversation=conversation, case=case),
        flagged=(case or conversation.case).protected,  # type: ignore[union-attr]
        request_id=request_id,
    )


class PreviewShown(NamedTuple):
    """A waiting client's preview that a console was sent (`realtime.waiting_payload`)."""

    conversation_id: int
    unit_id: int
    unit_name: str


def queue_previews_read(
    *, actor: User, shown: list[PreviewShown], request_id: uuid.UUID
) -> list[AccessLog]:
    """A console was shown waiting clients' latest messages (the queue's previews): one
    access-log row per conversation, all written in one INSERT, whether the reader took
    part in each worked out inside it (`selectors.staff_took_part_in`). Callers send the
    previews only once this returned, and log each new preview once per console."""
    if not shown:
        return []
    return AccessLog.objects.bulk_create(
        AccessLog(
            actor=actor,
            actor_name=actor.display_name,
            unit_id=item.unit_id,
            unit_name=item.unit_name,
            conversation_id=item.conversation_id,
            action=AccessLog.Action.READ_PREVIEW,
            took_part=selectors.staff_took_part_in(
                user=actor, conversation_id=item.conversation_id
            ),
            request_id=request_id,
        )
        for item in shown
    )


def conversation_read_messages(
    *, actor: User, conversation_id: int, after: int, request_id: uuid.UUID
) -> tuple[Conversation, list[Message], int]:
    """A staff member reads a conversation's messages after `after`: allowed by
    chat.read_conversation (else NotFound), never before where the reader's view starts,
    and written to the access log when any message was shown. Returns the conversation,
    the messages and where the reader's view starts."""
    conversation = selectors.conversation_get_for_staff(user=actor, conversation_id=conversation_id)
    from_seq = selectors.visible_from_seq(user=actor, conversation=conversation)
    messages = selectors.message_list_after(conversation=conversation, after=max(after, from_seq))
    if messages:
        access_log_record(
            actor=actor,
            conversation=conversation,
            action=AccessLog.Action.READ_MESSAGES,
            request_id=request_id,
        )
    return conversation, messages, from_seq


def conversation_open(
    *, actor: User, conversation_id: int, after: int, request_id: uuid.UUID
) -> tuple[realtime.Event, realtime.Event]:
    """What a console shows of a conversation: the messages after `after` (from where the
    reader's view starts) and the staff context beside them (handover trail, private notes
    the reader may see, participants). Logged like any read of messages."""
    conversation, messages, from_seq = conversation_read_messages(
        actor=actor, conversation_id=conversation_id, after=after, request_id=request_id
    )
    notes = (
        selectors.private_note_list(conversation=conversation, from_seq=from_seq)
        if can(actor, "chat.private_notes", conversation)
        else []
    )
    return (
        realtime.sync_event(conversation, messages, from_seq=from_seq),
        realtime.staff_context_event(
            conversation,
            notes=notes,
            trail=selectors.handover_trail(user=actor, conversation=conversation),
            participants=selectors.participant_list(conversation=conversation),
        ),
    )


def conversation_announce_assigned(*, conversation_id: int, worker: User) -> None:
    """After commit: tell every console tab of `worker` (given the conversation, or invited
    into it) and hand them what they need to show it at once, the messages and the staff
    context, so no tab has to ask. The one read is logged once, not per tab."""

    def send() -> None:
        try:
            sync, context = conversation_open(
                actor=worker, conversation_id=conversation_id, after=0, request_id=uuid.uuid4()
            )
        except ChatError:
            return  # no longer theirs to read (taken back in between): nothing to show
        conversation = Conversation.objects.get(pk=conversation_id)
        realtime.publish(
            realtime.worker_group(worker.pk),
            realtime.assigned_event(conversation, sync=sync, context=context),
        )

    transaction.on_commit(send)


def conversation_announce_context(
    *, conversation_id: int, except_user_id: int | None = None
) -> None:
    """After commit: the staff context (handover trail, private notes, participants) to each
    staff member whose console shows the conversation, as each may see it, so no console
    has to ask when a handover or an invitation changes it. No messages, so no read.
    `except_user_id`: someone who gets it in their conversation.assigned anyway."""

    def send() -> None:
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            return
        for reader in selectors.conversation_staff_readers(conversation=conversation):
            if reader.pk == except_user_id:
                continue
            try:
                _sync, context = conversation_open(
                    actor=reader,
                    conversation_id=conversation_id,
                    after=conversation.last_seq,
                    request_id=uuid.uuid4(),
                )
            except ChatError:
                continue
            realtime.publish(realtime.worker_group(reader.pk), context)

    transaction.on_commit(send)


def conversation_transcript(
    *, actor: User, conversation_id: int, include_notes: bool, request_id: uuid.UUID
) -> Transcript:
    """A journal-ready transcript for staff: what the reader may see of the messages,
    the handover trail, participants, and private notes only if asked and allowed.
    Written to the access log. The history of a protected case is for the staff named on
    it (and the conversation's own worker)."""
    conversation = selectors.conversation_get_for_staff(user=actor, conversation_id=conversation_id)
    if conversation.case.protected and conversation.worker_id != actor.pk:
        require(actor, "chat.manage_case", conversation.case, hide=True)
    from_seq = selectors.visible_from_seq(user=actor, conversation=conversation)
    messages = selectors.message_list_all_after(conversation=conversation, after=from_seq)
    notes = (
        selectors.private_note_list(conversation=conversation, from_seq=from_seq)
        if include_notes and can(actor, "chat.private_notes", conversation)
        else []
    )
    access_log_record(
        actor=actor,
        conversation=conversation,
        action=AccessLog.Action.READ_TRANSCRIPT,
        request_id=request_id,
    )
    return Transcript(
        conversation=conversation,
        messages=messages,
        handovers=selectors.handover_trail(user=actor, conversation=conversation),
        participants=list(conversation.participants.select_related("user")),
        notes=notes,
    )


def followup_inbox_read(*, actor: User, request_id: uuid.UUID) -> list:
    """The follow-up inbox shows clients' texts from many cases: one access-log row per
    case shown, like opening each."""
    items = selectors.followup_inbox(user=actor)
    cases = {f.case_id: f.case for f in items}
    AccessLog.objects.bulk_create(
        _row(actor, AccessLog.Action.READ_CASE, request_id, None, case) for case in cases.values()
    )
    return items


def case_read(*, actor: User, case_id: int, request_id: uuid.UUID) -> Case:
    """A staff member opens a case page: allowed by chat.manage_case, and logged."""
    case = selectors.case_get_for_staff(user=actor, case_id=case_id)
    access_log_record(
        actor=actor, action=AccessLog.Action.READ_CASE, request_id=request_id, case=case
    )
    return case


def followup_read(*, actor: User, followup_id: int, request_id: uuid.UUID) -> FollowUp:
    """A staff member shows one follow-up's text (the live inbox): allowed like the case
    page, and logged like opening the case."""
    followup = selectors.followup_get_for_staff(user=actor, followup_id=followup_id)
    access_log_record(
        actor=actor, action=AccessLog.Action.READ_CASE, request_id=request_id, case=followup.case
    )
    return followup
