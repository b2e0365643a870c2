"""All realtime plumbing: group names, event builders and publishing.

No other module spells a group name or calls `group_send`. Services call `publish_on_commit`,
so nothing is broadcast that could still roll back. Events carry plain JSON, never models.
The layer is at-most-once: every event about messages carries `seq`, and clients resync gaps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat.text import message_parts

if TYPE_CHECKING:
    from accounts.models import Presence, Unit
    from chat.models import Conversation, Message

log = logging.getLogger(__name__)

Event = dict[str, Any]


# --- groups ----------------------------------------------------------------------------
def conversation_group(conversation_id: int) -> str:
    """Everyone in a conversation: its client and the staff taking part."""
    return f"conversation.{conversation_id}"


def unit_staff_group(unit_id: int) -> str:
    """Consoles of the unit's workers and supervisors: its queue and staffing."""
    return f"unit.{unit_id}.staff"


def unit_supervisors_group(unit_id: int) -> str:
    """Dashboards of the unit's supervisors: its numbers and staffing."""
    return f"unit.{unit_id}.supervisors"


def worker_group(user_id: int) -> str:
    """Every console tab of one staff member."""
    return f"worker.{user_id}"


# --- events ----------------------------------------------------------------------------
def message_payload(message: Message) -> dict[str, Any]:
    author = message.author
    return {
        "seq": message.seq,
        "sender": message.sender,
        "event": message.event,
        "body": message.body,
        "parts": message_parts(message.body),
        "author": author.short_name if author is not None else "",
        "client_id": str(message.client_id) if message.client_id else "",
        "created_at": message.created_at.isoformat(),
    }


def message_event(message: Message) -> Event:
    return {
        "type": "conversation.message",
        "conversation": message.conversation_id,
        "state": message.conversation.state,
        "message": message_payload(message),
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "unit": conversation.unit_id,
        "state": conversation.state,
        "priority": conversation.priority,
        "queued_at": conversation.queued_at.isoformat(),
        "last_seq": conversation.last_seq,
    }


STAFF_ONLY_MESSAGE_FIELDS = ("author",)


def for_client(event: Event) -> Event:
    """The event as a client may see it: no staff member's name (staff choose later
    whether the client sees their first name)."""
    if event.get("type") == "conversation.message":
        message = {k: v for k, v in event["message"].items() if k not in STAFF_ONLY_MESSAGE_FIELDS}
        return {**event, "message": message}
    if event.get("type") == "conversation.sync":
        messages = [
            {k: v for k, v in m.items() if k not in STAFF_ONLY_MESSAGE_FIELDS}
            for m in event["messages"]
        ]
        return {**event, "messages": messages}
    return event


def sync_event(conversation: Conversation, messages: Iterable[Message]) -> Event:
    return {
        "type": "conversation.sync",
        "conversation": conversation.pk,
        "state": conversation.state,
        "unit": conversation.unit_id,
        "last_seq": conversation.last_seq,
        "messages": [message_payload(m) for m in messages],
    }


def queue_event(unit: Unit, waiting: Iterable[Conversation]) -> Event:
    """The whole waiting list of a unit: a dropped event is healed by the next one."""
    return {
        "type": "queue.updated",
        "unit": unit.pk,
        "waiting": [conversation_payload(c) for c in waiting],
    }


def assigned_event(conversation: Conversation) -> Event:
    return {
        "type": "conversation.assigned",
        "conversation": conversation.pk,
        "detail": conversation_payload(conversation),
    }


def position_event(entry: dict[str, Any]) -> Event:
    """A waiting client's place in the queue and the honest estimate (None: can't say)."""
    return {"type": "queue.position", **entry}


def dashboard_unit_event(stats: dict[str, Any]) -> Event:
    return {"type": "dashboard.unit", "unit": stats}


def presence_event(presence: Presence) -> Event:
    return {
        "type": "presence.updated",
        "status": presence.status,
        "capacity": presence.capacity,
    }


# --- publishing ------------------------------------------------------------------------
def publish(group: str, event: Event) -> None:
    """Send now. Never raises: the database is the truth and clients resync what they miss."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        log.exception("publishing %s to %s failed", event.get("type"), group)


def publish_on_commit(group: str, event: Event) -> None:
    """Send once the current transaction commits (at once when there is none)."""
    transaction.on_commit(lambda: publish(group, event))
