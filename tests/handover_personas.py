"""Personas and builders for the handover, participant, private-note, canned-reply and
unanswered tests. The everyday cast (ekonomi, vald, anna, bengt, cecilia, sara) comes from
tests/conftest.py, `vera` from tests/queue_personas.py; this module adds:

| fixture | who                                                  | units  |
|---------|------------------------------------------------------|--------|
| `jour`  | unit "Socialjour" (a third unit, for trails)         |        |
| `dora`  | social worker in Socialjour only                     | jour   |
| `tove`  | interpreter with an account (no console, no units)   |        |

Import the fixtures into a test module with
`from tests.handover_personas import dora_fixture, jour_fixture, tove_fixture  # noqa: F401`:
each is registered under its persona's name (`name=`), so a test asks for `tove` and ruff
sees no redefinition.

Time is moved by writing timestamps (`expire`, `silent_since`), never by sleeping.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts.models import Presence, Unit, User
from chat import realtime
from chat.models import Conversation, Handover, Message
from chat.services.access import conversation_read_messages
from chat.services.handover import conversation_hand_over
from chat.services.messages import message_post, private_note_post
from tests import factories


# --- personas -----------------------------------------------------------------------------
@pytest.fixture(name="jour")
def jour_fixture(db) -> Unit:
    return factories.make_unit("Socialjour", "socialjour")


@pytest.fixture(name="dora")
def dora_fixture(jour: Unit) -> User:
    """Social worker in Socialjour only: a stranger to Ekonomiskt bistånd and to Våld."""
    return factories.make_user("dora", units=[jour])


@pytest.fixture(name="tove")
def tove_fixture(db) -> User:
    """An interpreter with an account: joins by invitation, never uses the console."""
    return factories.make_user("tove", role=User.Role.INTERPRETER, last_name="Tolk")


# --- conversations --------------------------------------------------------------------------
def active_conversation(
    unit: Unit, worker: User, body: str = "Hej, jag behöver hjälp."
) -> tuple[Conversation, str]:
    """A client's conversation in `unit` that `worker` has accepted: seq 1 is the client's
    opening message, seq 2 the `accepted` event. Returns (conversation, token)."""
    conversation, token = factories.start_conversation(unit, body)
    return factories.accept(worker, conversation), token


def fresh(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def client_says(conversation: Conversation, body: str) -> Message:
    message, _created = message_post(
        conversation_id=conversation.pk, author=None, body=body, client_id=factories.new_client_id()
    )
    return message


def staff_says(conversation: Conversation, author: User, body: str) -> Message:
    message, _created = message_post(
        conversation_id=conversation.pk,
        author=author,
        body=body,
        client_id=factories.new_client_id(),
    )
    return message


def note(conversation: Conversation, author: User, body: str, client_id: str | None = None):
    """A private note; returns (note, created)."""
    return private_note_post(
        conversation=conversation,
        author=author,
        body=body,
        client_id=client_id or factories.new_client_id(),
    )


def hand_over(
    conversation: Conversation,
    actor: User,
    *,
    to_worker: User | None = None,
    to_unit: Unit | None = None,
    note: str = "Klienten behöver hjälp med hyran, se ansökan från i måndags.",
    share_history: bool = True,
) -> Handover:
    return conversation_hand_over(
        conversation=conversation,
        actor=actor,
        note=note,
        share_history=share_history,
        to_worker_id=to_worker.pk if to_worker else None,
        to_unit_id=to_unit.pk if to_unit else None,
    )


def expire(handover: Handover) -> None:
    """The offer's time ran out a minute ago."""
    Handover.objects.filter(pk=handover.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def read(user: User, conversation: Conversation, after: int = 0) -> tuple[int, list[int]]:
    """What `user` may read of the conversation: (from_seq, seqs of the messages)."""
    _conversation, messages, from_seq = conversation_read_messages(
        actor=user, conversation_id=conversation.pk, after=after, request_id=uuid.uuid4()
    )
    return from_seq, [m.seq for m in messages]


def fill_to_capacity(worker: User, unit: Unit, capacity: int = 1) -> list[Conversation]:
    """Give the worker `capacity` active conversations and that capacity."""
    Presence.objects.update_or_create(user=worker, defaults={"capacity": capacity})
    return [active_conversation(unit, worker)[0] for _ in range(capacity)]


# --- broadcasts -----------------------------------------------------------------------------
def sent_to(published: list[tuple[str, dict]], group: str) -> list[dict[str, Any]]:
    """The events published to one group, in order."""
    return [event for name, event in published if name == group]


def types_to(published: list[tuple[str, dict]], group: str) -> list[str]:
    return [event["type"] for event in sent_to(published, group)]


def message_events(published: list[tuple[str, dict]], conversation: Conversation) -> list[str]:
    """The system events (or "" for text) published to the conversation's group."""
    return [
        event["message"]["event"]
        for event in sent_to(published, realtime.conversation_group(conversation.pk))
        if event["type"] == "conversation.message"
    ]


# --- sockets --------------------------------------------------------------------------------
active_conversation_async = database_sync_to_async(active_conversation)


async def console_sync(
    console: WebsocketCommunicator, conversation_id: int, after: int = 0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A console's `sync`: (conversation.sync, conversation.context)."""
    await console.send_json_to({"type": "sync", "conversation": conversation_id, "after": after})
    sync = await factories.next_frame(console, "conversation.sync", conversation=conversation_id)
    context = await factories.next_frame(
        console, "conversation.context", conversation=conversation_id
    )
    return sync, context


async def interpreter_socket(ws: factories.Sockets, user: User | None = None):
    """A connected /ws/interpreter/ socket, signed in as `user` if given."""
    comm = await ws.open("/ws/interpreter/", user=user)
    connected, _code = await comm.connect(timeout=factories.RECEIVE_TIMEOUT)
    assert connected
    return comm


def of_type(frames: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["type"] == type_]
