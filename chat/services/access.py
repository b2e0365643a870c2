from __future__ import annotations

import uuid

from accounts.models import User
from chat import selectors
from chat.models import AccessLog, Conversation, Message


def access_log_record(
    *, actor: User, conversation: Conversation, action: str, request_id: uuid.UUID
) -> AccessLog:
    """Write one append-only row: who read what of which conversation, and whether they
    took part in it. Callers write it in the same transaction as the read it records."""
    return AccessLog.objects.create(
        actor=actor,
        actor_name=actor.get_full_name() or actor.username,
        unit_id=conversation.unit_id,
        unit_name=conversation.unit.name,
        conversation_id=conversation.pk,
        action=action,
        took_part=conversation.worker_id == actor.pk,
        request_id=request_id,
    )


def conversation_read_messages(
    *, actor: User, conversation_id: object, after: int, request_id: uuid.UUID
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
