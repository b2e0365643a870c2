"""Heartbeats are cheap (conventions habit 22): a `ping` on any socket costs no database
statement. Signs of life are noted in memory and written in batches (chat/liveness.py);
the staff account and session are checked, and `last_seq` read from the database, at a
slow interval only. Flood counters share one Redis connection pool per process.

Statements are counted at Django's one door to the database cursor, in every thread, so
the consumer's crossings into sync code count too. The clock the consumers read is faked
(`chat.consumers.base.monotonic`); nothing here sleeps."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.db.backends import utils
from django.utils import timezone

from accounts.models import Presence, User
from chat import liveness, realtime
from chat.consumers import base as consumers_base
from chat.models import Conversation
from chat.services.conversations import conversation_touch_clients
from chat.services.messages import message_post
from chat.services.presence import presence_touch_many
from chat.services.timed import conversation_abandon_silent, presence_sweep_offline
from tests import factories
from tests.factories import frames_until, next_frame, settle
from tests.handover_personas import interpreter_socket
from tests.queue_personas import set_presence

pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_cache", "memory_layer"),
]

ROOT = Path(__file__).resolve().parent.parent


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement run from now on, in any thread."""
    seen: list[str] = []
    original = utils.CursorWrapper._execute_with_wrappers

    def counting(self, sql, params, many, executor):
        seen.append(sql)
        return original(self, sql, params, many, executor)

    monkeypatch.setattr(utils.CursorWrapper, "_execute_with_wrappers", counting)
    return seen


class Clock:
    """The consumers' monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(consumers_base, "monotonic", fake)
    return fake


@pytest.fixture(autouse=True)
def no_notes_from_other_tests(monkeypatch):
    """Every test starts with nothing noted, and leaves nothing behind."""
    monkeypatch.setattr(liveness, "pending", liveness.Seen())


async def ping(comm) -> dict:
    await comm.send_json_to({"type": "ping"})
    return (await frames_until(comm, "pong"))[-1]


@database_sync_to_async
def stored_quietly(conversation_id: int, body: str) -> int:
    """A client message stored while its broadcast is lost; its seq."""
    conversation = Conversation.objects.get(pk=conversation_id)
    message, _created = message_post(
        conversation_id=conversation.pk,
        author=None,
        body=body,
        client_id=uuid.UUID(factories.new_client_id()),
    )
    return message.seq


@database_sync_to_async
def client_seen_at(conversation_id: int):
    return Conversation.objects.get(pk=conversation_id).client_seen_at


@database_sync_to_async
def last_seen(worker: User):
    return Presence.objects.get(user=worker).last_seen


def silent_since(conversation_id: int, seconds: int) -> None:
    Conversation.objects.filter(pk=conversation_id).update(
        client_seen_at=timezone.now() - timedelta(seconds=seconds)
    )


# --- 0 statements per ping, on every kind of socket --------------------------------------------
async def test_a_waiting_clients_ping_costs_no_statement(ws, ekonomi, clock, statements):
    client, conversation_id = await factories.waiting_client(ws, ekonomi)
    statements.clear()

    pong = await ping(client)

    assert statements == []
    assert pong == {"type": "pong", "last_seq": 1}
    assert conversation_id in liveness.pending.clients  # the sign of life, in memory


async def test_a_clients_ping_before_start_costs_no_statement(ws, clock, statements):
    client = await ws.client()
    statements.clear()

    assert await ping(client) == {"type": "pong"}
    assert statements == []


async def test_a_consoles_ping_costs_no_statement(ws, ekonomi, anna, clock, statements):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    statements.clear()

    pong = await ping(console)

    assert statements == []
    assert pong == {"type": "pong", "last_seqs": {str(conversation_id): 2}}
    assert anna.pk in liveness.pending.workers


async def test_a_dashboards_ping_costs_no_statement(ws, ekonomi, sara, clock, statements):
    dashboard = await ws.open("/ws/dashboard/", user=sara)
    assert (await dashboard.connect(timeout=3))[0]
    await settle(dashboard)
    statements.clear()

    assert await ping(dashboard) == {"type": "pong"}
    assert statements == []


async def test_an_interpreters_ping_costs_no_statement(ws, ekonomi, anna, clock, statements):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await console.send_json_to({"type": "invite_link", "conversation": conversation_id})
    invitation = (await frames_until(console, "invitation"))[-1]["invitation"]
    interpreter = await interpreter_socket(ws)
    await interpreter.send_json_to(
        {"type": "join", "invitation": invitation, "token": factories.new_token()}
    )
    await next_frame(interpreter, "conversation.sync")
    await settle(interpreter)
    statements.clear()

    assert await ping(interpreter) == {"type": "pong"}
    assert statements == []


async def test_many_pings_in_a_minute_cost_no_statement(ws, ekonomi, anna, clock, statements):
    client, console, _conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(client)
    await settle(console)
    statements.clear()

    for _ in range(3):
        clock.advance(15)  # the browser's heartbeat
        await ping(client)
        await ping(console)

    assert statements == []


# --- the slow checks --------------------------------------------------------------------------
async def test_a_clients_slow_check_finds_a_broadcast_that_was_lost(
    ws, ekonomi, clock, statements, monkeypatch
):
    client, conversation_id = await factories.waiting_client(ws, ekonomi)
    with monkeypatch.context() as redis_drops:
        redis_drops.setattr(realtime, "publish", lambda group, event: None)  # lost broadcast
        lost = await stored_quietly(conversation_id, "Hallå?")

    assert (await ping(client))["last_seq"] == 1  # from memory: what the socket sent
    clock.advance(consumers_base.SLOW_CHECK_SECONDS)
    statements.clear()

    assert (await ping(client))["last_seq"] == lost  # read: the browser sees the gap
    assert len(statements) == 1
    statements.clear()
    assert (await ping(client))["last_seq"] == 1  # and from memory again until the next check
    assert statements == []


async def test_the_first_client_heartbeat_after_a_redis_outage_reads_the_last_seq(
    ws, ekonomi, clock, monkeypatch
):
    client, conversation_id = await factories.waiting_client(ws, ekonomi)
    with monkeypatch.context() as redis_drops:
        redis_drops.setattr(realtime, "publish", lambda group, event: None)  # Redis is down
        lost = await stored_quietly(conversation_id, "Hallå?")
    monkeypatch.setattr(realtime.outage, "ended", realtime.outage.ended + 1)  # Redis is back

    assert (await ping(client))["last_seq"] == lost


async def test_a_consoles_slow_check_reads_the_last_seqs_and_keeps_the_session(
    ws, ekonomi, anna, clock, statements
):
    cookie = await factories.session_cookie_for(anna)
    key = cookie.decode().split("=", 1)[1]
    console = factories.communicator("/ws/console/", cookie=cookie)
    ws._open.append(console)
    assert (await console.connect(timeout=3))[0]
    await settle(console)
    soon = timezone.now() + timedelta(seconds=5)
    await database_sync_to_async(
        lambda: Session.objects.filter(session_key=key).update(expire_date=soon)
    )()

    await ping(console)  # from memory: the session is not touched
    unchanged = await database_sync_to_async(
        lambda: Session.objects.get(session_key=key).expire_date
    )()
    clock.advance(consumers_base.staff_check_seconds())
    statements.clear()
    pong = await ping(console)

    assert unchanged == soon
    assert pong == {"type": "pong", "last_seqs": {}, "clients_seen": {}}
    assert any("django_session" in sql for sql in statements)
    expires = await database_sync_to_async(
        lambda: Session.objects.get(session_key=key).expire_date
    )()
    assert expires > soon + timedelta(seconds=60)  # kept alive by the slow check


async def test_a_deactivated_account_whose_news_was_lost_closes_at_the_slow_check(
    ws, ekonomi, anna, clock
):
    console, _snapshot = await ws.console(anna)
    # No access.changed: the update bypasses the signal, as a lost event would.
    await database_sync_to_async(User.objects.filter(pk=anna.pk).update)(is_active=False)

    assert (await ping(console))["type"] == "pong"  # between checks: memory only
    clock.advance(consumers_base.staff_check_seconds())
    await console.send_json_to({"type": "ping"})

    output = await console.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": consumers_base.CLOSE_FORBIDDEN}


def test_the_staff_check_comes_often_enough_for_a_short_idle_session(settings):
    settings.SESSION_COOKIE_AGE = 60
    settings.CHAT_HEARTBEAT_SECONDS = 15

    # A save at most check + heartbeat after the last one: 35 s, before the 60 s run out.
    every = consumers_base.staff_check_seconds()
    assert every + settings.CHAT_HEARTBEAT_SECONDS < settings.SESSION_COOKIE_AGE
    settings.SESSION_COOKIE_AGE = 30 * 60
    assert consumers_base.staff_check_seconds() == consumers_base.SLOW_CHECK_SECONDS


# --- signs of life, written in batches -----------------------------------------------------------
async def test_a_flush_writes_every_sign_of_life_in_one_update_per_table(
    ws, ekonomi, anna, bengt, clock, statements
):
    clients = [await factories.waiting_client(ws, ekonomi) for _ in range(3)]
    consoles = [(await ws.console(worker))[0] for worker in (anna, bengt)]
    long_ago = timezone.now() - timedelta(seconds=30)
    await database_sync_to_async(lambda: Conversation.objects.update(client_seen_at=long_ago))()
    await database_sync_to_async(lambda: Presence.objects.update(last_seen=long_ago))()
    for comm, _conversation_id in clients:
        await ping(comm)
    for comm in consoles:
        await ping(comm)
    statements.clear()

    written = await liveness.flush()

    assert written == 5
    updates = [sql for sql in statements if sql.startswith("UPDATE")]
    assert [sql.split('"')[1] for sql in updates] == ["chat_conversation", "accounts_presence"]
    for _comm, conversation_id in clients:
        assert await client_seen_at(conversation_id) > long_ago
    for worker in (anna, bengt):
        assert await last_seen(worker) > long_ago
    assert not liveness.pending
    assert await liveness.flush() == 0  # nothing noted since: nothing written


async def test_the_silent_client_rule_keeps_a_client_that_pings_and_removes_one_that_stopped(
    ws, ekonomi, clock, settings
):
    pinging, pinging_id = await factories.waiting_client(ws, ekonomi)
    _silent, silent_id = await factories.waiting_client(ws, ekonomi)
    liveness.take()  # forget the setup's pings: from here on, the second client is silent
    for conversation_id in (pinging_id, silent_id):
        await database_sync_to_async(silent_since)(
            conversation_id, settings.QUEUE_GRACE_SECONDS + 5
        )

    await ping(pinging)
    await liveness.flush()
    left = await database_sync_to_async(conversation_abandon_silent)()

    states = await database_sync_to_async(
        lambda: dict(
            Conversation.objects.filter(pk__in=[pinging_id, silent_id]).values_list("pk", "state")
        )
    )()
    assert left == 1
    assert states == {
        pinging_id: Conversation.State.QUEUED,
        silent_id: Conversation.State.ABANDONED,
    }


async def test_a_ping_not_yet_flushed_does_not_keep_the_place(ws, ekonomi, clock, settings):
    """The timed rules read the database only: what matters is what was flushed (every
    LIVENESS_FLUSH_SECONDS, far inside the grace)."""
    client, conversation_id = await factories.waiting_client(ws, ekonomi)
    await database_sync_to_async(silent_since)(conversation_id, settings.QUEUE_GRACE_SECONDS + 5)

    await ping(client)
    left = await database_sync_to_async(conversation_abandon_silent)()

    assert left == 1


async def test_a_console_that_pings_keeps_its_worker_and_clients(
    ws, ekonomi, anna, clock, settings
):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    stale = timezone.now() - timedelta(seconds=settings.PRESENCE_GRACE_SECONDS - 5)
    await database_sync_to_async(
        lambda: Presence.objects.filter(user=anna).update(last_seen=stale)
    )()
    await ping(console)
    await liveness.flush()
    settings.PRESENCE_GRACE_SECONDS -= 10  # time passes: the old heartbeat is past the grace

    found = await database_sync_to_async(presence_sweep_offline)()

    state = await database_sync_to_async(
        lambda: Conversation.objects.get(pk=conversation_id).state
    )()
    assert found == 0 and state == Conversation.State.ACTIVE


def test_a_sign_of_life_never_moves_the_time_back(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi)
    set_presence(anna)
    later = timezone.now() + timedelta(seconds=30)
    Conversation.objects.filter(pk=conversation.pk).update(client_seen_at=later)
    Presence.objects.filter(user=anna).update(last_seen=later)
    earlier = later - timedelta(seconds=20)

    conversation_touch_clients(seen={conversation.pk: earlier})
    presence_touch_many(seen={anna.pk: earlier})

    conversation.refresh_from_db()
    assert conversation.client_seen_at == later
    assert Presence.objects.get(user=anna).last_seen == later


def test_a_worker_seen_again_after_the_grace_is_announced(
    anna, published, settings, django_capture_on_commit_callbacks
):
    set_presence(anna, seen_ago=timedelta(seconds=settings.PRESENCE_GRACE_SECONDS + 10))

    with django_capture_on_commit_callbacks(execute=True):
        presence_touch_many(seen={anna.pk: timezone.now()})

    assert "presence.updated" in [
        event["type"] for group, event in published if group == realtime.worker_group(anna.pk)
    ]


def test_a_worker_seen_within_the_grace_publishes_nothing(
    anna, published, django_capture_on_commit_callbacks
):
    set_presence(anna, seen_ago=timedelta(seconds=10))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        presence_touch_many(seen={anna.pk: timezone.now()})

    assert published == [] and callbacks == []
    seen = Presence.objects.get(user=anna).last_seen
    assert seen is not None and seen > timezone.now() - timedelta(seconds=5)


async def test_a_flush_that_fails_keeps_its_notes_for_the_next(ws, ekonomi, clock, monkeypatch):
    client, conversation_id = await factories.waiting_client(ws, ekonomi)
    await ping(client)

    def database_away(batch):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(liveness, "liveness_write", database_away)
        with pytest.raises(RuntimeError):
            await liveness.flush()
    assert conversation_id in liveness.pending.clients
    assert await liveness.flush() == 1


async def test_the_flusher_runs_in_every_process_whatever_the_timed_rules(settings, monkeypatch):
    settings.TIMED_RULES = "scheduler"
    settings.LIVENESS_FLUSH_SECONDS = 0.001
    flushes: list[int] = []
    exits: list[object] = []

    async def counted_flush() -> int:
        flushes.append(1)
        return 0

    async def app(scope, receive, send) -> None:
        return None

    monkeypatch.setattr(liveness, "flush", counted_flush)
    monkeypatch.setattr(liveness.atexit, "register", exits.append)
    flusher = liveness.LivenessFlusher(app)
    await flusher({"type": "websocket"}, None, None)
    first = flusher.task
    await flusher({"type": "http"}, None, None)
    try:
        for _ in range(2000):  # bounded: a couple of seconds on a loaded machine
            if len(flushes) >= 2:
                break
            await asyncio.sleep(0.001)
        assert len(flushes) >= 2
        assert flusher.task is first  # one flusher, however many connections
        assert exits == [liveness.flush_at_exit]  # and one last flush at exit
    finally:
        flusher.task.cancel()


async def test_no_flusher_starts_where_the_tests_flush_themselves(settings):
    async def app(scope, receive, send) -> None:
        return None

    flusher = liveness.LivenessFlusher(app)
    await flusher({"type": "websocket"}, None, None)

    assert settings.LIVENESS_FLUSH_SECONDS == 0 and flusher.task is None


def test_the_served_application_carries_the_flusher():
    from chatcounsel.asgi import application

    inner = application.app
    assert isinstance(inner, liveness.LivenessFlusher)


# --- the flood counters' Redis connections --------------------------------------------------
@pytest.mark.redis
async def test_fifty_client_sockets_share_one_redis_connection_for_the_flood_counters(
    ws, settings, redis_url
):
    import redis

    name = f"flood-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"{os.environ.get('REDIS_PREFIX', 'cc')}.test.{name}",
            "OPTIONS": {"client_name": name},
        }
    }
    admin = redis.Redis.from_url(redis_url)

    def flood_connections() -> int:
        return sum(1 for c in admin.client_list() if c.get("name") == name)

    try:
        for _ in range(50):
            comm = await ws.open("/ws/client/")
            assert (await comm.connect(timeout=3))[0]
            await ping(comm)  # answered once connect has counted the socket in the cache
        assert flood_connections() == 1
    finally:
        await ws.close_all()
        admin.close()


# --- the collector --------------------------------------------------------------------------
def test_the_server_process_tunes_the_garbage_collector():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatcounsel.settings"}
    code = (
        "import gc, chatcounsel.asgi as a; "
        "print(gc.get_threshold() == a.GC_THRESHOLDS, gc.get_freeze_count() > 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
