"""The anonymous client's socket, /ws/client/, through the real ASGI application (origin
check and auth middleware included), on the in-memory channel layer."""

import json

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from tests.factories import (
    client_start,
    new_client_id,
    new_token,
    next_frame,
    receive,
    receive_type,
    send_message,
    settle,
)

# Consumers use the database from asgiref's worker thread, on a connection of their own, so
# tests that store anything need real commits (gotcha G5). Bad frames are refused before any
# query, so those tests need no database at all (and skip the costly flush).
transactional = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def stored_bodies(conversation_id=None):
    messages = Message.objects.order_by("conversation", "seq")
    if conversation_id is not None:
        messages = messages.filter(conversation_id=conversation_id)
    return list(messages.values_list("body", flat=True))


@database_sync_to_async
def stored_seqs(conversation_id):
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


async def ack_for(comm, client_id):
    """The ack for `client_id`, then the socket's own copy of the broadcast."""
    ack = await next_frame(comm, "ack", client_id=client_id)
    echo = await next_frame(comm, "conversation.message")
    assert echo["message"]["seq"] == ack["seq"]
    assert echo["message"]["client_id"] == client_id
    return ack


@transactional
async def test_it_starts_a_conversation_and_syncs_the_first_message(ws, ekonomi):
    client = await ws.client()
    first_id = new_client_id()

    sync, _token = await client_start(
        client, ekonomi, "Hej, jag behöver hjälp.", client_id=first_id
    )

    assert sync["state"] == "queued"
    assert sync["unit"] == ekonomi.pk
    assert sync["last_seq"] == 1
    [message] = sync["messages"]
    assert message["seq"] == 1
    assert message["sender"] == "client"
    assert message["body"] == "Hej, jag behöver hjälp."
    assert message["client_id"] == first_id
    assert "author" not in message
    conversation = await Conversation.objects.aget(pk=sync["conversation"])
    assert conversation.state == Conversation.State.QUEUED
    position = await next_frame(client, "queue.position", conversation=sync["conversation"])
    assert (position["position"], position["waiting"]) == (1, 1)


@transactional
async def test_it_acks_later_messages_with_the_next_seq(ws, ekonomi):
    client = await ws.client()
    sync, _token = await client_start(client, ekonomi)

    acks = []
    for body in ("Andra", "Tredje", "Fjärde"):
        client_id = await send_message(client, body)
        acks.append(await ack_for(client, client_id))

    assert [ack["seq"] for ack in acks] == [2, 3, 4]
    assert {ack["conversation"] for ack in acks} == {sync["conversation"]}
    assert await stored_bodies(sync["conversation"]) == [
        "Hej, jag behöver hjälp.",
        "Andra",
        "Tredje",
        "Fjärde",
    ]


@transactional
async def test_it_acks_a_repeated_client_id_with_the_same_seq_and_stores_it_once(ws, ekonomi):
    client = await ws.client()
    sync, _token = await client_start(client, ekonomi)
    client_id = await send_message(client, "Skickat två gånger")
    first = await ack_for(client, client_id)

    await send_message(client, "Skickat två gånger", client_id=client_id)
    again = await next_frame(client, "ack", client_id=client_id)

    assert again["seq"] == first["seq"] == 2
    assert await stored_seqs(sync["conversation"]) == [1, 2]
    # The repeat was not broadcast again: the next thing on the socket is the pong.
    assert await settle(client) == []


@transactional
async def test_it_gives_the_same_conversation_for_a_repeated_start(ws, ekonomi):
    first_socket = await ws.client()
    sync, token = await client_start(first_socket, ekonomi, "Första")
    await ws.disconnect(first_socket)

    again = await ws.client()
    repeat, _ = await client_start(again, ekonomi, "Första, igen", token=token)

    assert repeat["conversation"] == sync["conversation"]
    assert [m["body"] for m in repeat["messages"]] == ["Första"]
    assert await Conversation.objects.acount() == 1


@transactional
async def test_it_resumes_with_exactly_the_missed_messages_in_order(ws, ekonomi):
    client = await ws.client()
    sync, token = await client_start(client, ekonomi, "Ett")
    for body in ("Två", "Tre", "Fyra", "Fem"):
        await ack_for(client, await send_message(client, body))
    await ws.disconnect(client)

    back = await ws.client()
    await back.send_json_to({"type": "resume", "token": token, "after": 2})
    resumed = await receive_type(back, "conversation.sync")

    assert resumed["conversation"] == sync["conversation"]
    assert resumed["last_seq"] == 5
    assert [(m["seq"], m["body"]) for m in resumed["messages"]] == [
        (3, "Tre"),
        (4, "Fyra"),
        (5, "Fem"),
    ]


@transactional
async def test_it_resumes_from_the_start_without_after_and_with_nothing_when_up_to_date(
    ws, ekonomi
):
    client = await ws.client()
    _sync, token = await client_start(client, ekonomi, "Ett")
    await ack_for(client, await send_message(client, "Två"))

    other = await ws.client()
    await other.send_json_to({"type": "resume", "token": token})
    everything = await receive_type(other, "conversation.sync")
    await other.send_json_to({"type": "resume", "token": token, "after": 2})
    nothing_new = await next_frame(other, "conversation.sync")

    assert [m["seq"] for m in everything["messages"]] == [1, 2]
    assert nothing_new["messages"] == []


@transactional
async def test_it_delivers_a_message_live_to_another_socket_of_the_same_conversation(ws, ekonomi):
    phone = await ws.client()
    sync, token = await client_start(phone, ekonomi)
    laptop = await ws.client()
    await laptop.send_json_to({"type": "resume", "token": token, "after": 1})
    assert (await receive_type(laptop, "conversation.sync"))["messages"] == []

    client_id = await send_message(phone, "Skrivet på telefonen")
    ack = await ack_for(phone, client_id)

    live = await next_frame(laptop, "conversation.message")
    assert live["conversation"] == sync["conversation"]
    assert live["state"] == "queued"
    assert live["message"]["seq"] == ack["seq"] == 2
    assert live["message"]["body"] == "Skrivet på telefonen"
    assert live["message"]["sender"] == "client"


@transactional
async def test_it_never_shows_a_client_another_clients_conversation(ws, ekonomi):
    first = await ws.client()
    first_sync, _ = await client_start(first, ekonomi, "Min hemlighet")
    second = await ws.client()
    second_sync, _ = await client_start(second, ekonomi, "Något annat")

    await ack_for(first, await send_message(first, "Mer hemligt"))

    # Up to its own pong, the second socket saw nothing of the first conversation.
    seen = await settle(second)
    for frame in seen:
        assert frame["type"] == "queue.position", frame
        assert frame["conversation"] == second_sync["conversation"]
    assert "hemlig" not in json.dumps([second_sync, *seen])
    assert first_sync["conversation"] != second_sync["conversation"]

    await second.send_json_to({"type": "resume", "token": new_token(), "after": 0})
    error = await next_frame(second, "error")
    assert error["code"] == "not_found"
    assert error["in_reply_to"] == "resume"
    assert await settle(second) == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_frame"),
        ("{", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('"message"', "bad_frame"),
        ("null", "bad_frame"),
        ('{"body": "Hej"}', "bad_frame"),
        ('{"type": 5}', "bad_frame"),
        ('{"type": null}', "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "conversation.message"}', "unknown_type"),
        ('{"type": "' + "x" * 10000 + '"}', "unknown_type"),
        (
            json.dumps({"type": "message", "body": "Hej", "client_id": new_client_id()}),
            "no_conversation",
        ),
        ('{"type": "end"}', "no_conversation"),
        ('{"type": "resume"}', "not_found"),
        ('{"type": "resume", "token": 42}', "not_found"),
        (
            '{"type": "start", "unit": 1, "token": "short", "body": "Hej", "client_id": "x"}',
            "invalid",
        ),
        ("1" * 5000, "bad_frame"),
    ],
)
async def test_it_answers_a_bad_frame_with_an_error_and_keeps_the_socket_open(ws, raw, code):
    client = await ws.client()

    await client.send_to(text_data=raw)
    error = await receive_type(client, "error")

    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert len(json.dumps(error)) < 1000
    assert await settle(client) == []


async def test_it_refuses_a_binary_frame_and_keeps_the_socket_open(ws):
    client = await ws.client()

    await client.send_to(bytes_data=b'{"type": "ping"}')

    assert (await receive_type(client, "error"))["code"] == "bad_frame"
    assert await settle(client) == []


@transactional
async def test_it_refuses_an_after_that_is_not_a_whole_number(ws, ekonomi):
    client = await ws.client()
    _sync, token = await client_start(client, ekonomi)
    await settle(client)

    for after in (-1, "3", 1.5, True, None, [1]):
        await client.send_json_to({"type": "resume", "token": token, "after": after})
        error = await receive(client)
        assert (error["type"], error.get("code")) == ("error", "invalid"), (after, error)
        assert error["in_reply_to"] == "resume"

    assert await settle(client) == []


@transactional
async def test_it_refuses_an_after_larger_than_any_seq(ws, ekonomi):
    client = await ws.client()
    _sync, token = await client_start(client, ekonomi)
    await settle(client)

    await client.send_json_to({"type": "resume", "token": token, "after": 2**63})
    frame = await receive(client)

    assert (frame["type"], frame.get("code")) == ("error", "invalid"), frame


@transactional
async def test_it_survives_an_after_larger_than_any_seq(ws, ekonomi):
    client = await ws.client()
    _sync, token = await client_start(client, ekonomi)
    await settle(client)

    for after in (2**31, 2**63, 10**40):
        await client.send_json_to({"type": "resume", "token": token, "after": after})
        frame = await receive(client)
        assert frame["type"] in {"error", "conversation.sync"}, frame
        if frame["type"] == "conversation.sync":
            assert frame["messages"] == []
        await settle(client)

    await client.send_json_to({"type": "resume", "token": token, "after": 0})
    assert len((await next_frame(client, "conversation.sync"))["messages"]) == 1


@transactional
async def test_it_refuses_a_second_start_on_one_socket(ws, ekonomi):
    client = await ws.client()
    await client_start(client, ekonomi)
    await settle(client)

    await client.send_json_to(
        {
            "type": "start",
            "unit": ekonomi.pk,
            "token": new_token(),
            "body": "Till",
            "client_id": new_client_id(),
        }
    )

    assert (await next_frame(client, "error"))["code"] == "invalid"
    assert await Conversation.objects.acount() == 1


@transactional
async def test_it_refuses_a_start_in_an_unknown_unit(ws, ekonomi):
    client = await ws.client()

    await client.send_json_to(
        {
            "type": "start",
            "unit": ekonomi.pk + 1000,
            "token": new_token(),
            "body": "Hej",
            "client_id": new_client_id(),
        }
    )

    assert (await receive_type(client, "error"))["code"] == "not_found"
    assert await Conversation.objects.acount() == 0


@transactional
async def test_it_refuses_an_oversized_body_with_too_long_and_stores_nothing(ws, ekonomi, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 50
    client = await ws.client()
    sync, _token = await client_start(client, ekonomi)
    await settle(client)

    client_id = await send_message(client, "x" * 51)
    error = await next_frame(client, "error")

    assert error["code"] == "too_long"
    assert error["client_id"] == client_id
    assert error["limit"] == 50
    assert error["in_reply_to"] == "message"
    assert await stored_seqs(sync["conversation"]) == [1]
    assert await settle(client) == []
    fits = await send_message(client, "x" * 50)
    assert (await ack_for(client, fits))["seq"] == 2


@transactional
async def test_it_refuses_an_oversized_first_message_and_stores_nothing(ws, ekonomi, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 50
    client = await ws.client()
    client_id = new_client_id()

    await client.send_json_to(
        {
            "type": "start",
            "unit": ekonomi.pk,
            "token": new_token(),
            "body": "x" * 51,
            "client_id": client_id,
        }
    )
    error = await receive_type(client, "error")

    assert (error["code"], error["client_id"]) == ("too_long", client_id)
    assert await Conversation.objects.acount() == 0
    assert await Message.objects.acount() == 0


@transactional
@pytest.mark.parametrize(
    ("body", "client_id"),
    [
        (None, "uuid"),
        (7, "uuid"),
        (["Hej"], "uuid"),
        ({"body": "Hej"}, "uuid"),
        ("Hej", None),
        ("Hej", ""),
        ("Hej", "1234"),
        ("Hej", 42),
        ("Hej", ["x"]),
        ("  ", "uuid"),
        ("Hej\x00", "uuid"),
    ],
)
async def test_it_refuses_a_message_without_text_or_a_uuid_and_stays_open(
    ws, ekonomi, body, client_id
):
    """Parsed at the socket (chat/parsing.py), and what a body may hold is the service's
    rule: either way an `invalid` error, nothing stored, and the socket goes on."""
    client = await ws.client()
    sync, _token = await client_start(client, ekonomi)
    await settle(client)
    if client_id == "uuid":
        client_id = new_client_id()

    await client.send_json_to({"type": "message", "body": body, "client_id": client_id})
    error = await next_frame(client, "error")

    assert (error["code"], error["in_reply_to"]) == ("invalid", "message")
    assert await stored_seqs(sync["conversation"]) == [1]
    fits = await send_message(client, "Nu rätt")
    assert (await ack_for(client, fits))["seq"] == 2


@transactional
async def test_it_takes_a_client_id_in_capitals_as_the_same_message(ws, ekonomi):
    client = await ws.client()
    sync, _token = await client_start(client, ekonomi)
    await settle(client)
    client_id = await send_message(client, "En gång")
    first = await ack_for(client, client_id)

    await send_message(client, "En gång", client_id=client_id.upper())
    again = await next_frame(client, "ack")

    assert (again["seq"], again["client_id"]) == (first["seq"], client_id)
    assert await stored_seqs(sync["conversation"]) == [1, 2]
    assert await settle(client) == []


@transactional
async def test_it_refuses_a_message_after_the_client_ended(ws, ekonomi):
    client = await ws.client()
    sync, _token = await client_start(client, ekonomi)

    await client.send_json_to({"type": "end"})
    left = await next_frame(client, "conversation.message")
    assert (left["state"], left["message"]["event"]) == ("abandoned", "abandoned")
    await send_message(client, "Hallå?")
    error = await next_frame(client, "error")

    assert error["code"] == "conflict"
    assert await stored_seqs(sync["conversation"]) == [1, 2]


@transactional
async def test_it_answers_a_ping_with_the_last_seq(ws, ekonomi):
    client = await ws.client()
    await client.send_json_to({"type": "ping"})
    assert await receive(client) == {"type": "pong"}

    await client_start(client, ekonomi)
    await client.send_json_to({"type": "ping"})
    assert await next_frame(client, "pong") == {"type": "pong", "last_seq": 1}


@pytest.mark.parametrize("origin", [None, b"http://evil.example", b"null"])
async def test_it_rejects_a_handshake_without_an_allowed_origin(ws, origin):
    comm = await ws.open("/ws/client/", origin=origin)

    connected, _code = await comm.connect(timeout=3)

    assert connected is False
