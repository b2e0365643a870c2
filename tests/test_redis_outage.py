"""While Redis is down, clients and staff keep writing: messages are stored and acknowledged,
handshakes succeed, flood limits count in the process, and the log says once that Redis is
down. Once it is back, live delivery returns without a reconnect and a resync gives
everything in order (docs/realtime.md, "When Redis is down").

These tests stop and start Redis, so they never use a shared server: each starts a
redis-server of its own, on a free port, and points the cache and the channel layer at it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from accounts.models import ConsoleConnection
from chat import realtime
from chat.consumers.base import JsonFrameConsumer
from chat.models import Message

# Importing the application runs django.setup(), which configures logging anew and so
# detaches caplog's handler: it must happen now, not in the middle of a test.
from chatcounsel.asgi import application  # noqa: F401
from tests.conftest import REDIS_SERVER
from tests.factories import (
    accepted,
    client_start,
    frames_until,
    is_event,
    next_frame,
    send_message,
)

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
LAYER_BACKEND = "chat.realtime.RedisLayer"  # what the settings choose with REDIS_URL
WAIT_SECONDS = 10  # the longest wait for something that must happen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server this test owns: stopped and started again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                if client.ping():
                    break
            assert self.process.poll() is None, "redis-server did not start"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # our own child, by its handle
            self.process.wait(timeout=WAIT_SECONDS)
            self.process = None

    def subscribers(self, channel: str) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
        finally:
            client.close()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def on_private_redis(settings, private_redis, monkeypatch):
    """The cache and the channel layer on the private server, and a fresh outage record."""
    prefix = f"outage{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": prefix,
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": LAYER_BACKEND,
            "CONFIG": {"hosts": [private_redis.url], "prefix": prefix},
        }
    }
    monkeypatch.setattr(realtime, "outage", realtime.Outage())
    layer = get_channel_layer()
    yield private_redis, layer
    if private_redis.process is None:
        private_redis.start()  # a failed test left it stopped: flush needs no errors
    await layer.flush()


def chat_logs(caplog, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name.startswith("chat") and r.levelno == level
    ]


@database_sync_to_async
def stored(client_ids: list[str]) -> list[int]:
    return [Message.objects.filter(client_id=c).count() for c in client_ids]


@database_sync_to_async
def consoles_of(user) -> int:
    return ConsoleConnection.objects.filter(user=user).count()


async def subscribed(server: PrivateRedis, layer, group: str) -> None:
    """Wait until Redis has a subscriber for `group` (redis-py subscribes again in the
    background when it reconnects)."""
    channel = f"{layer._get_layer().prefix}__group__{group}"
    deadline = time.monotonic() + WAIT_SECONDS
    while not await sync_to_async(server.subscribers)(channel):
        assert time.monotonic() < deadline, f"nobody subscribed to {group}"
        await asyncio.sleep(0.05)


async def test_clients_and_staff_keep_writing_while_redis_is_down(
    on_private_redis, ws, caplog, ekonomi, anna, bengt
):
    server, layer = on_private_redis
    caplog.set_level(logging.INFO, logger="chat")
    client, console, conversation_id = await accepted(ws, anna, ekonomi)
    leaving, _snapshot = await ws.console(bengt)
    written_before = await database_sync_to_async(
        lambda: list(Message.objects.filter(conversation_id=conversation_id).order_by("seq"))
    )()

    server.stop()

    # The client and the worker write: stored and acknowledged, the sockets stay open.
    during = []
    for body in ("Första under avbrottet", "Andra under avbrottet"):
        during.append(await send_message(client, body))
        await next_frame(client, "ack", client_id=during[-1])
    during.append(await send_message(console, "Svar under avbrottet", conversation=conversation_id))
    await next_frame(console, "ack", client_id=during[-1])
    # Typing and seen are relayed nowhere, and fail nothing.
    await client.send_json_to({"type": "typing"})
    await client.send_json_to({"type": "seen", "seq": 2})
    await console.send_json_to({"type": "seen", "conversation": conversation_id, "seq": 4})
    await client.send_json_to({"type": "ping"})
    pong = await next_frame(client, "pong")
    assert pong["last_seq"] == len(written_before) + 3

    # A console closing runs its disconnect: the worker's open console is gone.
    assert await consoles_of(bengt) == 1
    await ws.disconnect(leaving)
    assert await consoles_of(bengt) == 0

    # New handshakes: a client who starts a conversation, and a console.
    newcomer = await ws.client()
    first, _token = await client_start(newcomer, ekonomi, "Ny klient under avbrottet")
    waiting_id = first["conversation"]
    late_console, snapshot = await ws.console(bengt)
    assert waiting_id in [c["id"] for c in snapshot["waiting"]]
    assert await consoles_of(bengt) == 1

    assert await stored(during) == [1, 1, 1]
    warnings = chat_logs(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert "Redis is down" in warnings[0]
    assert chat_logs(caplog, logging.ERROR) == []
    assert chat_logs(caplog, logging.INFO) == []

    server.start()

    # A socket that joined its group during the outage joins it at its next heartbeat...
    await newcomer.send_json_to({"type": "ping"})
    await next_frame(newcomer, "pong")
    await subscribed(server, layer, realtime.conversation_group(waiting_id))
    # ...and one that joined before has its subscription back without doing anything.
    await subscribed(server, layer, realtime.conversation_group(conversation_id))

    after = await send_message(client, "Efter avbrottet")
    await next_frame(client, "ack", client_id=after)
    live = await frames_until(
        console, "conversation.message", where=lambda f: f["message"]["client_id"] == after
    )
    assert live[-1]["conversation"] == conversation_id
    await late_console.send_json_to({"type": "accept", "conversation": waiting_id})
    await next_frame(late_console, "conversation.assigned", conversation=waiting_id)
    await next_frame(newcomer, "conversation.message", where=is_event("accepted"))

    # The resync gives everything after `after`, in order, each message once.
    await console.send_json_to(
        {"type": "sync", "conversation": conversation_id, "after": len(written_before)}
    )
    sync = await frames_until(console, "conversation.sync", conversation=conversation_id)
    messages = sync[-1]["messages"]
    assert [m["seq"] for m in messages] == list(
        range(len(written_before) + 1, sync[-1]["last_seq"] + 1)
    )
    assert [m["client_id"] for m in messages] == [*during, after]
    assert [m["body"] for m in messages] == [
        "Första under avbrottet",
        "Andra under avbrottet",
        "Svar under avbrottet",
        "Efter avbrottet",
    ]

    assert len(chat_logs(caplog, logging.WARNING)) == 1
    assert len(chat_logs(caplog, logging.INFO)) == 1
    assert "Redis answers again" in chat_logs(caplog, logging.INFO)[0]
    assert chat_logs(caplog, logging.ERROR) == []


class DownLayer:
    """A channel layer whose Redis does not answer until `down` is cleared."""

    def __init__(self) -> None:
        self.down = True
        self.added: list[str] = []

    async def group_add(self, group: str, channel: str) -> None:
        if self.down:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
        self.added.append(group)


async def test_a_socket_joins_at_its_next_heartbeat_only_the_groups_it_is_still_in(monkeypatch):
    monkeypatch.setattr(realtime, "outage", realtime.Outage())
    consumer = JsonFrameConsumer()
    consumer.channel_layer, consumer.channel_name = DownLayer(), "specific.one"
    await consumer.join("conversation.1")
    await consumer.join("unit.1.staff")
    assert consumer.groups == ["conversation.1", "unit.1.staff"]
    assert consumer.unjoined == {"conversation.1", "unit.1.staff"}
    await consumer.rejoin()  # still down: nothing changes, nothing raises
    assert consumer.unjoined == {"conversation.1", "unit.1.staff"}

    consumer.groups.remove("unit.1.staff")  # left meanwhile: a right was taken away
    consumer.channel_layer.down = False
    await consumer.rejoin()
    assert consumer.channel_layer.added == ["conversation.1"]
    assert consumer.unjoined == frozenset()
    assert not realtime.outage.down


@pytest.mark.django_db(transaction=False)
def test_with_redis_url_the_settings_choose_the_layer_that_survives_an_outage():
    environment = {**os.environ, "DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:1/0"}
    environment["DJANGO_SETTINGS_MODULE"] = "chatcounsel.settings"
    environment.pop("DATABASE_URL", None)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == LAYER_BACKEND, result.stderr
