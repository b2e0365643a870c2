"""One click, one round trip: the console's `accept` is answered by a conversation.assigned
that carries everything needed to show the conversation (its messages and staff context),
and every frame a worker sends crosses into sync code once, the account check included.
Crossings are counted at Channels' one door into the sync thread."""

from __future__ import annotations

import pytest
from channels.db import DatabaseSyncToAsync, database_sync_to_async

from chat.consumers import base as consumers_base
from chat.models import AccessLog
from tests import factories
from tests.factories import next_frame, settle

pytestmark = pytest.mark.django_db(transaction=True)


# Crossings no frame asked for: the queue's coalesced announcements (chat/announce.py),
# read whenever a change is due to go out, and a client socket reading its place again
# after a system message (a handover may take it into another unit's queue).
BACKGROUND = frozenset({"announcements", "client_queue_place"})


@pytest.fixture
def crossings(monkeypatch):
    """The name of every function run in the sync thread through database_sync_to_async,
    but the background ones."""
    names: list[str] = []
    original = DatabaseSyncToAsync.thread_handler

    def counting(self, loop, *args, **kwargs):
        name = getattr(self.func, "__name__", repr(self.func))
        if name not in BACKGROUND:
            names.append(name)
        return original(self, loop, *args, **kwargs)

    monkeypatch.setattr(DatabaseSyncToAsync, "thread_handler", counting)
    return names


@database_sync_to_async
def reads_of(conversation_id: int) -> int:
    return AccessLog.objects.filter(
        conversation_id=conversation_id, action=AccessLog.Action.READ_MESSAGES
    ).count()


def previewing(conversation_id: int):
    return lambda frame: any(
        row["id"] == conversation_id and row.get("preview") for row in frame["waiting"]
    )


async def test_an_accept_shows_the_conversation_after_one_round_trip(ws, ekonomi, anna, crossings):
    console, _snapshot = await ws.console(anna)
    other_tab, _snapshot = await ws.console(anna)
    _client, conversation_id = await factories.waiting_client(ws, ekonomi, "Jag behöver hjälp.")
    for tab in (console, other_tab):
        # The queue with the client's preview is announced after a pause (chat/announce.py);
        # each tab logs that preview in a crossing of its own, before the accept.
        await factories.frames_until(tab, "queue.updated", where=previewing(conversation_id))
        await settle(tab)
    crossings.clear()

    await console.send_json_to({"type": "accept", "conversation": conversation_id})

    assigned = await next_frame(console, "conversation.assigned", conversation=conversation_id)
    sync, context = assigned["sync"], assigned["context"]
    assert sync["type"] == "conversation.sync" and sync["conversation"] == conversation_id
    assert [m["body"] for m in sync["messages"] if m["sender"] == "client"] == [
        "Jag behöver hjälp."
    ]
    assert sync["messages"][-1]["event"] == "accepted"
    assert sync["last_seq"] == sync["messages"][-1]["seq"]
    assert context["type"] == "conversation.context"
    assert context["participants"] == [] and context["handovers"] == []
    assert crossings == ["as_current_user"]  # the accept itself; nothing asked for more
    # The other tab of the same worker can show it too, without another read in the log.
    again = await next_frame(other_tab, "conversation.assigned", conversation=conversation_id)
    assert again["sync"]["messages"] == sync["messages"]
    assert await reads_of(conversation_id) == 1


@pytest.mark.parametrize(
    ("frame", "answer"),
    [
        ({"type": "presence", "status": "away"}, "presence.updated"),
        (
            {"type": "message", "body": "Hej", "client_id": "4f6d5c1e-5b0e-4c1a-9a7e-2f4b8d3c6a10"},
            "ack",
        ),
    ],
    ids=["presence", "message"],
)
async def test_a_worker_frame_crosses_into_sync_code_once(
    ws, ekonomi, anna, crossings, frame, answer
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    await settle(client)
    crossings.clear()

    await console.send_json_to({**frame, "conversation": conversation_id})
    await factories.frames_until(console, answer)

    assert crossings == ["as_current_user"]  # the account check and the action, together


async def test_a_worker_heartbeat_does_not_cross_into_sync_code(
    ws, ekonomi, anna, crossings, monkeypatch
):
    """Between its slow checks a ping is answered from memory (tests/test_heartbeats.py)."""
    monkeypatch.setattr(consumers_base, "monotonic", lambda: 5.0)  # no slow check falls due
    client, console, _conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    await settle(client)
    crossings.clear()

    await console.send_json_to({"type": "ping"})
    await factories.frames_until(console, "pong")

    assert crossings == []


async def test_an_invitation_brings_the_new_context_without_asking(
    ws, ekonomi, anna, bengt, crossings
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    await settle(client)
    crossings.clear()

    await console.send_json_to(
        {"type": "invite", "conversation": conversation_id, "user": bengt.pk}
    )

    context = await factories.frames_until(console, "conversation.context")
    assert [p["user"] for p in context[-1]["participants"]] == [bengt.pk]
    assert crossings == ["as_current_user"]  # the invite; the console asked for nothing


async def test_a_handover_offer_brings_the_senders_new_trail_without_asking(
    ws, ekonomi, anna, bengt, crossings
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    await settle(client)
    crossings.clear()

    await console.send_json_to(
        {
            "type": "hand_over",
            "conversation": conversation_id,
            "to_worker": bengt.pk,
            "note": "Hyran, se ansökan.",
        }
    )

    context = (await factories.frames_until(console, "conversation.context"))[-1]
    assert [(h["to_id"], h["note"]) for h in context["handovers"]] == [
        (bengt.pk, "Hyran, se ansökan.")
    ]
    assert crossings == ["as_current_user"]
