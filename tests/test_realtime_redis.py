"""The production channel layer, channels_redis's pub/sub layer, carries a conversation
between a client and a worker, including events published by another process.

These use a real Redis: REDIS_URL, or a private redis-server from pytest-redis. Disconnects
are slower on Redis (gotcha G11), so the everyday consumer tests stay on the in-memory
layer and only these few run here."""

import pytest
from channels.db import database_sync_to_async
from channels_redis.pubsub import RedisPubSubChannelLayer

from chat import realtime
from chat.models import Message
from tests.factories import accepted, frames_until, next_frame, send_message

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def message_with(socket, client_id):
    """The broadcast of the message with `client_id` (other messages may come first)."""
    frames = await frames_until(
        socket, "conversation.message", where=lambda f: f["message"]["client_id"] == client_id
    )
    return frames[-1]


async def test_it_carries_messages_between_client_and_console_over_redis(
    redis_layer, ws, ekonomi, anna
):
    assert isinstance(redis_layer, RedisPubSubChannelLayer)
    client, console, conversation_id = await accepted(ws, anna, ekonomi)

    asked = await send_message(client, "Hej via Redis")
    await next_frame(client, "ack", client_id=asked)
    at_console = await message_with(console, asked)
    assert at_console["conversation"] == conversation_id
    assert at_console["message"]["body"] == "Hej via Redis"

    answered = await send_message(console, "Svar via Redis", conversation=conversation_id)
    await next_frame(console, "ack", client_id=answered)
    at_client = await message_with(client, answered)
    assert at_client["message"]["body"] == "Svar via Redis"
    assert at_client["message"]["sender"] == "worker"
    assert [m["message"]["seq"] for m in (at_console, at_client)] == [3, 4]


async def test_it_delivers_what_another_process_publishes(redis_layer, settings, ws, ekonomi, anna):
    client, console, conversation_id = await accepted(ws, anna, ekonomi)
    # Another daphne process: its own layer object and connection, the same Redis and prefix.
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    other_process = RedisPubSubChannelLayer(hosts=config["hosts"], prefix=config["prefix"])
    stored = await Message.objects.select_related("conversation", "author").aget(
        conversation_id=conversation_id, seq=2
    )
    event = await database_sync_to_async(realtime.message_event)(stored)
    try:
        await other_process.group_send(realtime.conversation_group(conversation_id), event)
    finally:
        await other_process.flush()

    for socket in (client, console):
        relayed = await next_frame(socket, "conversation.message", conversation=conversation_id)
        assert (relayed["message"]["seq"], relayed["message"]["event"]) == (2, "accepted")
