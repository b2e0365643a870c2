"""Flood limits (chat/ratelimit.py): per connection a token bucket for frames, per
conversation messages per minute, per client address ceilings for sockets and queue entries
that drop to strict limits once the address has shown abuse. A flood costs its sender and
no one else. The clock of the rate limiter is held still in these tests, so a window
boundary or a slow machine never changes a count."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async

from chat import ratelimit, realtime
from chat.models import Message
from tests import factories
from tests.security_personas import clear_local_cache

ROOT = Path(__file__).resolve().parent.parent


def still_time() -> float:
    """The middle of a minute and of an hour (no fixed window ends during a test), in an
    hour of its own, so a rerun's windows never meet the counts an earlier run left in a
    shared Redis."""
    return 1_800_000_030.0 + 3600 * secrets.randbelow(10**6)


pytestmark = pytest.mark.django_db(transaction=True)


class StillClock:
    """The token buckets' clock: it stands at 0, so no bucket refills, until `jump_after(n)`
    has seen n more readings (one per frame received); from then on it reads a minute
    later, once, so every bucket is full again exactly from the frame after those n."""

    def __init__(self) -> None:
        self.readings = 0
        self.jump_at: int | None = None

    def __call__(self) -> float:
        self.readings += 1
        return 60.0 if self.jump_at is not None and self.readings > self.jump_at else 0.0

    def jump_after(self, frames: int) -> None:
        self.jump_at = self.readings + frames


@pytest.fixture
def clock() -> StillClock:
    return StillClock()


@pytest.fixture
def limits(settings, monkeypatch, clock):
    """Generous limits (each test lowers the one it is about) and a rate limiter whose
    clocks stand still: buckets never refill, windows never roll over."""
    clear_local_cache()
    still = still_time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: still, monotonic=clock))
    settings.RATE_FRAMES_PER_SECOND = 1000
    settings.RATE_FRAME_BURST = 1000
    settings.RATE_MESSAGES_PER_MINUTE = 1000
    settings.RATE_QUEUE_ENTRIES_PER_HOUR = 1000
    settings.RATE_SOCKETS_PER_MINUTE = 1000
    settings.RATE_STRICT_QUEUE_ENTRIES_PER_HOUR = 1000
    settings.RATE_STRICT_SOCKETS_PER_MINUTE = 1000
    settings.RATE_ABUSE_STRIKES = 1000
    yield settings
    clear_local_cache()


async def client_socket(ws, address: str):
    comm = factories.communicator("/ws/client/", address=address)
    ws._open.append(comm)
    connected, _ = await comm.connect(timeout=3)
    assert connected
    return comm


CLIENT_MARKER = {"type": "resume", "token": "no-such-token", "after": 0}
CONSOLE_MARKER = {"type": "sync", "conversation": -2}


async def replies_until_marker(comm, marker=CLIENT_MARKER) -> list[dict]:
    """Send `marker` (the clock has jumped by then: the bucket is full again) and return
    every frame that came before its error: the replies to what was sent before it, in
    order. No waiting for silence, so a slow machine changes nothing."""
    await comm.send_json_to(marker)
    frames = []
    for _ in range(factories.FRAME_LIMIT * 3):
        frame = await factories.receive(comm)
        if (
            frame["type"] == "error"
            and frame.get("in_reply_to") == marker["type"]
            and frame.get("conversation") == marker.get("conversation")
        ):
            return frames
        frames.append(frame)
    raise AssertionError(f"no reply to the marker among {frames[-3:]}")


async def closed_with(comm) -> int | None:
    output = await comm.receive_output(timeout=3)
    return output.get("code") if output["type"] == "websocket.close" else None


# --- frames per connection --------------------------------------------------------------------
async def test_a_flood_of_frames_costs_only_its_sender(ws, limits, clock, ekonomi):
    limits.RATE_FRAMES_PER_SECOND = 1
    limits.RATE_FRAME_BURST = 5
    flooder = await client_socket(ws, factories.new_address())
    neighbour = await client_socket(ws, factories.new_address())

    clock.jump_after(30)
    for _ in range(30):
        await flooder.send_json_to({"type": "ping"})
    flood = await replies_until_marker(flooder)

    assert [f["type"] for f in flood].count("pong") == 5
    errors = [f for f in flood if f["type"] == "error"]
    assert errors and all(e["code"] == "rate_limited" and e["what"] == "frames" for e in errors)
    assert all(isinstance(e["retry_after"], int) and e["retry_after"] >= 1 for e in errors)
    assert len(errors) <= 2  # said at most once a second, not once a frame
    # The neighbour is answered as if nothing happened.
    await factories.client_start(neighbour, ekonomi, "Hej.")
    client_id = await factories.send_message(neighbour, "Är någon där?")
    await factories.frames_until(neighbour, "ack", client_id=client_id)
    await neighbour.send_json_to({"type": "ping"})
    assert (await factories.frames_until(neighbour, "pong"))[-1]["last_seq"] == 2


async def test_a_flooded_socket_stays_open(ws, limits, clock):
    limits.RATE_FRAMES_PER_SECOND = 1
    limits.RATE_FRAME_BURST = 2
    comm = await client_socket(ws, factories.new_address())
    clock.jump_after(10)
    for _ in range(10):
        await comm.send_to(text_data="{not json")
    frames = await replies_until_marker(comm)

    codes = [f["code"] for f in frames]
    assert codes[:2] == ["bad_frame", "bad_frame"]
    assert codes[2:] and set(codes[2:]) == {"rate_limited"}
    await comm.send_json_to({"type": "ping"})
    assert (await factories.receive(comm))["type"] == "pong"


async def test_the_console_has_a_frame_bucket_too(ws, limits, clock, anna):
    limits.RATE_FRAMES_PER_SECOND = 1
    limits.RATE_FRAME_BURST = 3
    console = await ws.open("/ws/console/", user=anna)
    assert (await console.connect(timeout=3))[0]
    assert (await factories.receive(console))["type"] == "console.snapshot"

    clock.jump_after(10)
    for _ in range(10):
        await console.send_json_to({"type": "sync", "conversation": -1})
    frames = await replies_until_marker(console, CONSOLE_MARKER)
    codes = [f["code"] for f in frames if f["type"] == "error"]

    # Three frames within the burst are answered (not found); the rest are dropped.
    assert codes[:3] == ["not_found"] * 3
    assert codes[3:] and set(codes[3:]) == {"rate_limited"}


# --- queue entries and sockets per address, messages per conversation -----------------------
async def test_more_queue_entries_than_the_limit_from_one_address_are_refused(ws, limits, ekonomi):
    limits.RATE_QUEUE_ENTRIES_PER_HOUR = 2
    address = factories.new_address()
    for _ in range(2):
        await factories.client_start(await client_socket(ws, address), ekonomi)
    third = await client_socket(ws, address)

    await third.send_json_to(
        {
            "type": "start",
            "unit": ekonomi.pk,
            "token": factories.new_token(),
            "body": "En gång till.",
            "client_id": factories.new_client_id(),
        }
    )

    error = (await factories.frames_until(third, "error"))[-1]
    assert error["code"] == "rate_limited" and error["what"] == "starts"
    assert error["retry_after"] == 3600 - 30
    assert await database_sync_to_async(Message.objects.filter(body="En gång till.").count)() == 0
    # Someone else, from another address, still gets in.
    elsewhere = await client_socket(ws, factories.new_address())
    sync, _ = await factories.client_start(elsewhere, ekonomi, "Jag också.")
    assert sync["state"] == "queued"


async def test_more_messages_than_the_limit_in_one_conversation_are_refused(ws, limits, ekonomi):
    limits.RATE_MESSAGES_PER_MINUTE = 3
    address = factories.new_address()
    comm = await client_socket(ws, address)
    sync, _ = await factories.client_start(comm, ekonomi, "Första.")

    acked = []
    for n in range(3):
        client_id = await factories.send_message(comm, f"Meddelande {n}")
        acked.append((await factories.frames_until(comm, "ack", client_id=client_id))[-1]["seq"])
    await factories.send_message(comm, "Ett för mycket")
    error = (await factories.frames_until(comm, "error"))[-1]

    assert acked == [2, 3, 4]
    assert error["code"] == "rate_limited" and error["retry_after"] == 30
    assert error["what"] == "messages" and error["in_reply_to"] == "message"
    bodies = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation_id=sync["conversation"]).values_list(
                "body", flat=True
            )
        )
    )()
    assert "Ett för mycket" not in bodies
    # Another conversation from the same address writes on: the limit is the conversation's.
    neighbour = await client_socket(ws, address)
    await factories.client_start(neighbour, ekonomi, "Jag sitter bredvid.")
    client_id = await factories.send_message(neighbour, "Hej.")
    await factories.frames_until(neighbour, "ack", client_id=client_id)


async def test_a_new_socket_does_not_reset_a_conversations_message_limit(ws, limits, ekonomi):
    limits.RATE_MESSAGES_PER_MINUTE = 2
    address = factories.new_address()
    first = await client_socket(ws, address)
    _sync, token = await factories.client_start(first, ekonomi, "Första.")
    for n in range(2):
        client_id = await factories.send_message(first, f"Meddelande {n}")
        await factories.frames_until(first, "ack", client_id=client_id)

    again = await client_socket(ws, address)
    await again.send_json_to({"type": "resume", "token": token, "after": 3})
    await factories.receive_type(again, "conversation.sync")
    await factories.send_message(again, "Ett för mycket")
    error = (await factories.frames_until(again, "error"))[-1]

    assert error["code"] == "rate_limited" and error["what"] == "messages"


async def test_too_many_sockets_from_one_address_are_closed_4429(ws, limits):
    limits.RATE_SOCKETS_PER_MINUTE = 3
    address = factories.new_address()
    for _ in range(3):
        comm = await client_socket(ws, address)
        await comm.send_json_to({"type": "ping"})
        assert (await factories.receive(comm))["type"] == "pong"

    fourth = await client_socket(ws, address)

    error = await factories.receive(fourth)
    assert error["code"] == "rate_limited" and error["what"] == "sockets"
    assert error["retry_after"] == 30
    assert await closed_with(fourth) == 4429
    other = await client_socket(ws, factories.new_address())
    await other.send_json_to({"type": "ping"})
    assert (await factories.receive(other))["type"] == "pong"


async def test_staff_who_share_one_address_are_not_limited_by_it(ws, limits, anna, bengt, sara):
    """The municipality's network is one address: staff sockets never count against it."""
    limits.RATE_SOCKETS_PER_MINUTE = 1
    address = factories.new_address()
    for user, path in [
        (anna, "/ws/console/"),
        (bengt, "/ws/console/"),
        (sara, "/ws/console/"),
        (sara, "/ws/dashboard/"),
    ]:
        cookie = await factories.session_cookie_for(user)
        comm = factories.communicator(path, cookie=cookie, address=address)
        ws._open.append(comm)
        assert (await comm.connect(timeout=3))[0]
        first = await factories.receive(comm)
        assert first["type"].endswith(".snapshot")


# --- strict limits once an address has shown abuse -------------------------------------------
async def flood_frames(comm) -> None:
    """Trip the socket's frame bucket: one strike against its address."""
    for _ in range(5):
        await comm.send_json_to({"type": "ping"})
    frames = [await factories.receive(comm) for _ in range(3)]
    assert frames[-1]["code"] == "rate_limited" and frames[-1]["what"] == "frames"


async def test_an_address_that_has_flooded_gets_the_strict_limits(ws, limits, ekonomi):
    limits.RATE_FRAME_BURST = 2
    limits.RATE_ABUSE_STRIKES = 2
    limits.RATE_STRICT_QUEUE_ENTRIES_PER_HOUR = 1
    flooding, shared = factories.new_address(), factories.new_address()
    for address in (flooding, shared):
        await factories.client_start(await client_socket(ws, address), ekonomi)
    await flood_frames(await client_socket(ws, flooding))  # one strike: not yet abuse
    await factories.client_start(await client_socket(ws, flooding), ekonomi)
    await flood_frames(await client_socket(ws, flooding))

    refused = await client_socket(ws, flooding)
    await refused.send_json_to(
        {
            "type": "start",
            "unit": ekonomi.pk,
            "token": factories.new_token(),
            "body": "Igen.",
            "client_id": factories.new_client_id(),
        }
    )
    error = (await factories.frames_until(refused, "error"))[-1]

    assert error["code"] == "rate_limited" and error["what"] == "starts"
    assert error["retry_after"] == 3600 - 30
    # An address without strikes keeps the ceiling.
    sync, _ = await factories.client_start(await client_socket(ws, shared), ekonomi)
    assert sync["state"] == "queued"


async def test_passing_a_limit_is_a_strike_against_the_address(limits):
    address = ratelimit.address_key({"client": (factories.new_address(), 5000)})
    limits.RATE_ABUSE_STRIKES = 1

    within = [
        await ratelimit.over_limit("messages", "c1", limit=1, window=60, address=address)
        for _ in range(3)
    ]
    strict = await ratelimit.over_limit(
        "starts", address, limit=100, strict=0, window=3600, address=address
    )

    assert within == [0, 30, 30]
    assert await database_sync_to_async(ratelimit.counted)(ratelimit.strike_key(address)) == 1
    assert strict == 3600 - 30


async def test_the_address_is_never_stored_in_the_cache_key(limits):
    scope = {"client": ("203.0.113.7", 5000)}

    key = ratelimit.address_key(scope)

    assert "203.0.113.7" not in key and len(key) == 32
    assert key != ratelimit.address_key({"client": ("203.0.113.8", 5000)})


# --- while the shared cache is down ---------------------------------------------------------
@pytest.fixture
def cache_down(settings, monkeypatch):
    """The shared cache on a Redis that does not answer (nothing listens on the port), and a
    fresh outage record and per-process count."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    monkeypatch.setattr(realtime, "outage", realtime.Outage())
    ratelimit.local_counts.clear()
    yield
    ratelimit.local_counts.clear()


async def test_with_the_cache_down_the_limits_count_in_the_process(limits, cache_down, caplog):
    caplog.set_level(logging.INFO, logger="chat")
    address = ratelimit.address_key({"client": ("203.0.113.9", 5000)})

    counted = [
        await ratelimit.over_limit("messages", address, limit=3, window=60) for _ in range(5)
    ]
    other = await ratelimit.over_limit("messages", "another-address", limit=3, window=60)

    assert counted == [0, 0, 0, 30, 30]  # the clock stands 30 s into its minute
    assert other == 0
    assert realtime.outage.down
    warnings = [r for r in caplog.records if r.name.startswith("chat")]
    assert [r.levelno for r in warnings] == [logging.WARNING]


async def test_with_the_cache_down_a_client_still_writes_within_the_limit(
    ws, limits, cache_down, ekonomi
):
    limits.RATE_MESSAGES_PER_MINUTE = 2
    comm = await client_socket(ws, factories.new_address())
    sync, _ = await factories.client_start(comm, ekonomi, "Första.")

    acked = []
    for n in range(2):
        client_id = await factories.send_message(comm, f"Meddelande {n}")
        acked.append((await factories.frames_until(comm, "ack", client_id=client_id))[-1]["seq"])
    await factories.send_message(comm, "Ett för mycket")
    error = (await factories.frames_until(comm, "error"))[-1]

    assert acked == [2, 3]
    assert error["code"] == "rate_limited" and error["retry_after"] == 30
    count = await Message.objects.filter(conversation_id=sync["conversation"]).acount()
    assert count == 3


# --- the size of one frame --------------------------------------------------------------------
def settings_with(**env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DEBUG": "true", **env}
    environment.pop("DATABASE_URL", None)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.WEBSOCKET_MAX_MESSAGE_BYTES, s.CHAT_MESSAGE_MAX_LENGTH)"
    )
    environment["DJANGO_SETTINGS_MODULE"] = "chatcounsel.settings"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=False)
def test_settings_refuse_a_frame_limit_too_small_for_the_longest_message():
    too_small = settings_with(CHAT_MESSAGE_MAX_LENGTH="4000", WEBSOCKET_MAX_MESSAGE_BYTES="25023")
    just_enough = settings_with(CHAT_MESSAGE_MAX_LENGTH="4000", WEBSOCKET_MAX_MESSAGE_BYTES="25024")
    defaults = settings_with()

    assert too_small.returncode != 0
    assert "WEBSOCKET_MAX_MESSAGE_BYTES must be at least" in too_small.stderr
    assert just_enough.returncode == 0, just_enough.stderr
    assert defaults.stdout.split() == ["65536", "4000"]


@pytest.mark.django_db(transaction=False)
def test_the_longest_message_fits_in_one_frame_even_when_every_character_is_escaped(settings):
    body = "\u202e" * settings.CHAT_MESSAGE_MAX_LENGTH  # escapes to six bytes each
    frame = json.dumps(
        {
            "type": "message",
            "body": body,
            "client_id": factories.new_client_id(),
            "conversation": 2**53,
        }
    )

    assert len(frame.encode()) <= settings.WEBSOCKET_MAX_MESSAGE_BYTES


@pytest.mark.django_db(transaction=False)
def test_the_procfile_gives_daphne_the_same_frame_limit(settings):
    procfile = (ROOT / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))

    words = web.split()
    limit = words[words.index("--websocket-max-message-size") + 1]
    assert limit in {str(settings.WEBSOCKET_MAX_MESSAGE_BYTES), "$WEBSOCKET_MAX_MESSAGE_BYTES"}


# --- on Redis: one round trip per count -----------------------------------------------------
@pytest.fixture
def cache_on_redis(settings, redis_url, monkeypatch):
    """The shared cache on a Redis that answers, under a prefix of its own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"limits{secrets.token_hex(6)}",
        }
    }
    monkeypatch.setattr(realtime, "outage", realtime.Outage())
    return ratelimit.shared_cache()


def test_a_count_in_redis_is_one_round_trip_and_the_key_keeps_its_expiry(
    cache_on_redis, monkeypatch
):
    import redis

    sent = []
    original = redis.connection.Connection.send_packed_command

    def send(connection, command, *args, **kwargs):
        sent.append(command)
        return original(connection, command, *args, **kwargs)

    cache_on_redis.get("warm-up")  # the pool's first connection (its HELLO/SELECT) is not counted
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", send)

    counts = [ratelimit.count_one("rate:test:one", timeout=70) for _ in range(3)]

    assert counts == [1, 2, 3]
    assert len(sent) == 3  # one each
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", original)
    assert ratelimit.counted("rate:test:one") == 3  # the cache's own read sees the count
    key = cache_on_redis.make_and_validate_key("rate:test:one")
    ttl = cache_on_redis._cache.get_client(key).ttl(key)
    assert 60 < ttl <= 70
    assert not realtime.outage.down
