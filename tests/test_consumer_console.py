"""The staff console's socket, /ws/console/, signed in with a real session cookie, through
the real ASGI application, on the in-memory channel layer."""

import json

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from tests import factories
from tests.factories import (
    accepted,
    frames_until,
    new_client_id,
    next_frame,
    send_message,
    settle,
    waiting_client,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def start(unit, body="Hej, jag behöver hjälp."):
    return factories.start_conversation(unit, body)


@database_sync_to_async
def stored(conversation_id):
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", "sender", "event", "body")
    )


async def staff_sync(console, conversation_id, after=0):
    """A console's `sync`: the missed messages, then the staff-only context frame."""
    await console.send_json_to({"type": "sync", "conversation": conversation_id, "after": after})
    sync = await next_frame(console, "conversation.sync", conversation=conversation_id)
    await next_frame(console, "conversation.context", conversation=conversation_id)
    return sync


# --- who may connect ------------------------------------------------------------------------
async def test_it_closes_an_anonymous_console_with_4401(ws, db):
    console = await ws.open("/ws/console/")

    connected, _ = await console.connect(timeout=3)

    assert connected is True
    assert await console.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_it_closes_the_console_of_partner_staff_with_4403(ws, pelle):
    console = await ws.open("/ws/console/", user=pelle)

    connected, _ = await console.connect(timeout=3)

    assert connected is True
    assert await console.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_it_closes_a_console_whose_session_skipped_the_second_factor(ws, anna, settings):
    settings.STAFF_TWO_FACTOR = True
    console = await ws.open("/ws/console/", user=anna, second_factor=False)

    assert (await console.connect(timeout=3))[0] is True
    assert await console.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_it_treats_a_forged_session_cookie_as_anonymous(ws, db):
    console = factories.communicator("/ws/console/", cookie=b"sessionid=forged-not-a-session")
    ws._open.append(console)

    assert (await console.connect(timeout=3))[0] is True
    assert await console.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_it_rejects_a_console_handshake_from_another_origin(ws, anna):
    console = await ws.open("/ws/console/", user=anna, origin=b"https://evil.example")

    connected, _ = await console.connect(timeout=3)

    assert connected is False


# --- snapshot and queue -----------------------------------------------------------------------
async def test_it_sends_a_worker_their_units_and_waiting_list(ws, ekonomi, vald, anna):
    first, _ = await start(ekonomi, "Först")
    second, _ = await start(ekonomi, "Sedan")
    await start(vald, "I en annan enhet")

    _console, snapshot = await ws.console(anna)

    assert snapshot["units"] == [
        {"id": ekonomi.pk, "name": "Ekonomiskt bistånd", "waiting_total": 2, "urgent_beyond": 0}
    ]
    assert [c["id"] for c in snapshot["waiting"]] == [first.pk, second.pk]
    assert {c["unit"] for c in snapshot["waiting"]} == {ekonomi.pk}
    assert snapshot["conversations"] == []


async def test_it_lists_a_supervisors_units_and_a_workers_own_conversations(ws, ekonomi, sara):
    conversation, _ = await start(ekonomi)
    await database_sync_to_async(factories.accept)(sara, conversation)

    _console, snapshot = await ws.console(sara)

    assert [u["id"] for u in snapshot["units"]] == [ekonomi.pk]
    assert snapshot["waiting"] == []
    [mine] = snapshot["conversations"]
    assert (mine["id"], mine["state"]) == (conversation.pk, "active")


async def test_it_shows_a_new_client_live_only_to_staff_of_that_unit(
    ws, ekonomi, vald, anna, cecilia
):
    anna_console, _ = await ws.console(anna)
    cecilia_console, _ = await ws.console(cecilia)
    await settle(anna_console)

    _client, in_ekonomi = await waiting_client(ws, ekonomi)
    # (On Redis, the news of Anna's own arrival, an empty queue, may still be on its way.)
    queue = await next_frame(
        anna_console, "queue.updated", unit=ekonomi.pk, where=lambda f: f["waiting"]
    )
    assert [c["id"] for c in queue["waiting"]] == [in_ekonomi]

    # A vald start reaches Cecilia; nothing about ekonomi may have come before it.
    _other, in_vald = await waiting_client(ws, vald)
    # (On Redis, the news of Cecilia's own arrival, an empty queue, may come first.)
    frames = await frames_until(
        cecilia_console, "queue.updated", unit=vald.pk, where=lambda f: f["waiting"]
    )
    assert [c["id"] for c in frames[-1]["waiting"]] == [in_vald]
    assert all(frame.get("unit") != ekonomi.pk for frame in frames), frames
    assert all(frame["type"] in factories.BACKGROUND for frame in frames), frames


async def test_it_takes_a_client_out_of_the_queue_the_colleague_sees(ws, ekonomi, anna, bengt):
    anna_console, _ = await ws.console(anna)
    bengt_console, _ = await ws.console(bengt)
    await settle(anna_console)
    _client, conversation_id = await waiting_client(ws, ekonomi)
    await next_frame(bengt_console, "queue.updated", where=lambda f: f["waiting"])

    await anna_console.send_json_to({"type": "accept"})

    emptied = await next_frame(bengt_console, "queue.updated", waiting=[])
    assert emptied["unit"] == ekonomi.pk
    await bengt_console.send_json_to({"type": "accept", "conversation": conversation_id})
    assert (await next_frame(bengt_console, "error"))["code"] == "conflict"


# --- accept and talk ------------------------------------------------------------------------
async def test_it_assigns_on_accept_and_then_relays_the_conversation_live(ws, ekonomi, anna):
    console, _ = await ws.console(anna)
    client, conversation_id = await waiting_client(ws, ekonomi, "Jag har en fråga")

    await console.send_json_to({"type": "accept"})
    assigned = await next_frame(console, "conversation.assigned")
    assert assigned["conversation"] == conversation_id
    assert assigned["detail"]["state"] == "active"

    joined = await next_frame(client, "conversation.message")
    assert (joined["state"], joined["message"]["event"]) == ("active", "accepted")
    assert "author" not in joined["message"]  # the client is not told the worker's name

    client_id = await send_message(client, "Hur ansöker jag?")
    await next_frame(client, "ack", client_id=client_id)
    await next_frame(client, "conversation.message", where=lambda f: f["message"]["seq"] == 3)
    live = await next_frame(console, "conversation.message", conversation=conversation_id)
    assert live["message"]["body"] == "Hur ansöker jag?"
    assert live["message"]["sender"] == "client"
    assert live["message"]["client_id"] == client_id

    history = await staff_sync(console, conversation_id)
    assert [(m["seq"], m["sender"]) for m in history["messages"]] == [
        (1, "client"),
        (2, "system"),
        (3, "client"),
    ]

    reply_id = await send_message(console, "Du ansöker i e-tjänsten.", conversation=conversation_id)
    ack = await next_frame(console, "ack", client_id=reply_id)
    assert (ack["conversation"], ack["seq"]) == (conversation_id, 4)
    echo = await next_frame(console, "conversation.message", conversation=conversation_id)
    assert (echo["message"]["seq"], echo["message"]["author"]) == (4, "Anna")
    answer = await next_frame(
        client, "conversation.message", where=lambda f: f["message"]["seq"] == 4
    )
    assert answer["message"]["sender"] == "worker"
    assert answer["message"]["body"] == "Du ansöker i e-tjänsten."
    assert "Anna" not in json.dumps(answer)
    # The console, unlike the client, sees who wrote what.
    staff_view = await staff_sync(console, conversation_id, after=1)
    assert [m["author"] for m in staff_view["messages"]] == ["Anna", "", "Anna"]


async def test_it_follows_a_workers_conversations_again_after_a_reconnect(ws, ekonomi, anna):
    client, console, conversation_id = await accepted(ws, anna, ekonomi)
    await ws.disconnect(console)

    again, snapshot = await ws.console(anna)
    assert [c["id"] for c in snapshot["conversations"]] == [conversation_id]
    await send_message(client, "Är du kvar?")

    live = await next_frame(again, "conversation.message", conversation=conversation_id)
    assert live["message"]["body"] == "Är du kvar?"


async def test_it_gives_error_not_found_for_a_conversation_of_another_unit(ws, ekonomi, cecilia):
    console, _ = await ws.console(cecilia)
    conversation, _ = await start(ekonomi, "Bara för ekonomi")

    for frame in (
        {"type": "sync", "conversation": conversation.pk, "after": 0},
        {"type": "sync", "conversation": conversation.pk + 1000},
        {
            "type": "message",
            "conversation": conversation.pk,
            "body": "Hej",
            "client_id": new_client_id(),
        },
        {"type": "end", "conversation": conversation.pk},
    ):
        await console.send_json_to(frame)
        error = await next_frame(console, "error")
        assert error["code"] == "not_found", (frame, error)
        assert "Bara för ekonomi" not in str(error)

    await console.send_json_to({"type": "accept", "conversation": conversation.pk})
    assert (await next_frame(console, "error"))["code"] in {"conflict", "not_found"}
    assert await stored(conversation.pk) == [(1, "client", "", "Bara för ekonomi")]


async def test_it_refuses_a_message_from_a_colleague_who_was_not_assigned(ws, ekonomi, anna, bengt):
    client, _anna_console, conversation_id = await accepted(ws, anna, ekonomi)
    bengt_console, _ = await ws.console(bengt)

    await send_message(bengt_console, "Jag tar över", conversation=conversation_id)
    assert (await next_frame(bengt_console, "error"))["code"] == "forbidden"
    await bengt_console.send_json_to({"type": "end", "conversation": conversation_id})
    assert (await next_frame(bengt_console, "error"))["code"] == "forbidden"

    assert [m[0] for m in await stored(conversation_id)] == [1, 2]
    assert all(frame["type"] in factories.BACKGROUND for frame in await settle(client))


async def test_it_acks_a_repeated_client_id_with_the_same_seq(ws, ekonomi, anna):
    client, console, conversation_id = await accepted(ws, anna, ekonomi)
    reply_id = new_client_id()

    acks = []
    for _ in range(2):
        await send_message(
            console, "Skickat två gånger", client_id=reply_id, conversation=conversation_id
        )
        acks.append(
            await next_frame(
                console,
                "ack",
                skip=factories.BACKGROUND | {"conversation.message"},
                client_id=reply_id,
            )
        )

    assert acks[0]["seq"] == acks[1]["seq"] == 3
    assert [m[0] for m in await stored(conversation_id)] == [1, 2, 3]
    # The client got the message once.
    frames = await settle(client)
    messages = [frame for frame in frames if frame["type"] == "conversation.message"]
    assert [m["message"]["seq"] for m in messages] == [3]


async def test_it_refuses_a_worker_message_while_the_conversation_is_queued(ws, ekonomi, anna):
    console, _ = await ws.console(anna)
    _client, conversation_id = await waiting_client(ws, ekonomi)

    await send_message(console, "För tidigt", conversation=conversation_id)

    assert (await next_frame(console, "error"))["code"] == "conflict"


async def test_it_answers_bad_console_frames_with_errors_and_stays_open(ws, anna):
    console, _ = await ws.console(anna)
    missing = 10**6  # no such conversation

    for frame, code in [
        ({"type": "accept", "conversation": "1"}, "invalid"),
        ({"type": "accept", "conversation": True}, "invalid"),
        ({"type": "sync", "conversation": "1"}, "not_found"),
        ({"type": "sync", "conversation": missing, "after": -1}, "invalid"),
        ({"type": "message", "conversation": missing, "body": "", "client_id": "x"}, "invalid"),
        ({"type": "end", "conversation": None}, "not_found"),
        ({"type": "start"}, "unknown_type"),
        ({"type": "resume"}, "unknown_type"),
    ]:
        await console.send_json_to(frame)
        error = await next_frame(console, "error")
        # Whether the id or the other fields are checked first is not part of the contract.
        assert error["code"] in {code, "not_found"}, (frame, error)

    assert all(f["type"] in factories.BACKGROUND for f in await settle(console))


async def test_it_says_nothing_waiting_when_the_queue_is_empty(ws, ekonomi, anna):
    console, _ = await ws.console(anna)

    await console.send_json_to({"type": "accept"})

    assert (await next_frame(console, "error"))["code"] == "nothing_waiting"


# --- end --------------------------------------------------------------------------------------
async def test_it_shows_the_end_to_both_sides(ws, ekonomi, anna):
    client, console, conversation_id = await accepted(ws, anna, ekonomi)

    await console.send_json_to({"type": "end", "conversation": conversation_id})

    for socket in (client, console):
        ended = await next_frame(socket, "conversation.message", conversation=conversation_id)
        assert ended["state"] == "ended"
        assert ended["message"]["event"] == "ended"
        assert ended["message"]["sender"] == "system"
    conversation = await Conversation.objects.aget(pk=conversation_id)
    assert (conversation.state, conversation.ended_by) == ("ended", "worker")

    await console.send_json_to({"type": "end", "conversation": conversation_id})
    assert all(f["type"] in factories.BACKGROUND for f in await settle(console))
    assert [m[2] for m in await stored(conversation_id)] == ["", "accepted", "ended"]


async def test_it_shows_the_worker_when_the_client_ends(ws, ekonomi, anna):
    client, console, conversation_id = await accepted(ws, anna, ekonomi)

    await client.send_json_to({"type": "end"})

    ended = await next_frame(console, "conversation.message", conversation=conversation_id)
    assert (ended["state"], ended["message"]["event"]) == ("ended", "ended")
    await send_message(console, "Hallå?", conversation=conversation_id)
    assert (await next_frame(console, "error"))["code"] == "conflict"


async def test_it_takes_a_client_who_leaves_the_queue_off_the_console(ws, ekonomi, anna):
    console, _ = await ws.console(anna)
    client, conversation_id = await waiting_client(ws, ekonomi)
    await next_frame(console, "queue.updated", where=lambda f: f["waiting"])

    await client.send_json_to({"type": "end"})

    left = await next_frame(client, "conversation.message")
    assert (left["state"], left["message"]["event"]) == ("abandoned", "abandoned")
    queue = await next_frame(console, "queue.updated", unit=ekonomi.pk)
    assert queue["waiting"] == []
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    assert (await next_frame(console, "error"))["code"] == "conflict"
