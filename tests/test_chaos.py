"""Chaos: fifty conversations on two daphne processes that share PostgreSQL and a Redis of
the test's own, with steady traffic both ways, while one server is killed (SIGKILL) and
started again on its port, and then Redis is restarted. The pages are the browser's
protocol (tests/protocol_client.py): outbox with resend by client_id, resume from the
last seq, resync of gaps. At the end every message is stored once and every side has seen
every message once, in order, with no gap.

PostgreSQL only: SQLite's file cannot be shared by two server processes under this load,
and the row locks that keep seq gapless are what is under test."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from accounts.models import Presence
from chat.models import Conversation, Message
from tests.factories import make_unit, make_user
from tests.protocol_client import ClientPage, ConsolePage
from tests.queue_personas import staff_session_cookie
from tests.test_redis_outage import PrivateRedis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = 50
WORKERS = 10  # five consoles on each server, five conversations each
HEARTBEAT = 3  # seconds, for the servers and the pages alike
SAY_EVERY = (2.0, 4.0)  # each side writes once in this many seconds (uniform)
CALM = 6.0  # seconds of steady traffic before, between and after the two blows
DOWN = 2.0  # how long the killed server and Redis stay away
SETUP_TIMEOUT = 30.0  # starting the servers, the chats and the accepts
DRAIN_TIMEOUT = 60.0  # after the last message, until everything has arrived everywhere
SERVER_START_TIMEOUT = 30.0
# Every test socket comes from 127.0.0.1: the per-address limits would count all of them
# as one client. The per-socket frame bucket stays as in production.
ADDRESS_LIMITS = {
    "RATE_SOCKETS_PER_MINUTE": "100000",
    "RATE_MESSAGES_PER_MINUTE": "100000",
    "RATE_QUEUE_ENTRIES_PER_HOUR": "100000",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One daphne on a fixed port: killed with SIGKILL and started again on that port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.env = env
        self.log = log_dir / f"daphne-{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "chatcounsel.asgi:application",
                ],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daphne {self.name} exited:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)  # nothing tells us when the port opens
        raise AssertionError(f"daphne {self.name} did not listen:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL to our own child: no disconnect handler runs, no close frame is sent."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def servers(django_db_setup, private_redis, tmp_path):
    """Two daphne processes on the test database and the private Redis; stopped (by their
    own handles) before the test database is flushed."""
    from django.db import connection

    env = {
        **os.environ,
        **ADDRESS_LIMITS,
        "CHATCOUNSEL_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "REDIS_URL": private_redis.url,
        "REDIS_PREFIX": f"chaos{uuid.uuid4().hex[:8]}",
        "DEBUG": "true",
        "STAFF_TWO_FACTOR": "false",
        "CHAT_HEARTBEAT_SECONDS": str(HEARTBEAT),
        # No sweep: a worker whose server was killed stays the conversation's worker, so
        # what is measured is delivery alone.
        "TIMED_RULES": "off",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    pair = [Server(name, env, tmp_path) for name in ("a", "b")]
    try:
        for server in pair:
            server.start()
        yield pair
    finally:
        for server in pair:
            server.stop()


async def until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    explain: Callable[[], object] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {explain()}")
        await asyncio.sleep(0.05)


class Chaos:
    """The pages, the traffic and the two blows."""

    def __init__(self, servers: list[Server], redis: PrivateRedis, unit: int, cookies: list[str]):
        self.servers = servers
        self.redis = redis
        self.unit = unit
        self.cookies = cookies
        self.rng = random.Random(int(os.environ.get("CHAOS_SEED", "0")) or None)
        self.consoles: list[ConsolePage] = []
        self.clients: list[ClientPage] = []
        self.worker_of: dict[int, ConsolePage] = {}  # conversation -> console
        self.talking = True
        self.tasks: list[asyncio.Task] = []
        self.written_while_redis_down = 0
        self.phases: list[tuple[str, float]] = []

    def phase(self, name: str) -> None:
        self.phases.append((name, time.monotonic()))

    def port(self, index: int) -> int:
        return self.servers[index % 2].port

    async def open_pages(self) -> None:
        for index, cookie in enumerate(self.cookies):
            console = ConsolePage(self.port(index), cookie, heartbeat=HEARTBEAT, rng=self.rng)
            self.consoles.append(console)
            self.tasks.append(asyncio.create_task(console.link.run()))
        await until(lambda: all(c.snapshots for c in self.consoles), SETUP_TIMEOUT, "snapshots")
        for index in range(CONVERSATIONS):
            client = ClientPage(
                self.port(index),
                unit=self.unit,
                first=f"Hej, jag är klient {index} och behöver prata.",
                heartbeat=HEARTBEAT,
                rng=self.rng,
            )
            self.clients.append(client)
            self.tasks.append(asyncio.create_task(client.link.run()))
        await until(
            lambda: all(c.thread.conversation for c in self.clients), SETUP_TIMEOUT, "starts"
        )

    async def accept_all(self) -> None:
        """Each conversation goes to a worker on the other server than its client's."""
        plan: dict[int, list[int]] = {index: [] for index in range(WORKERS)}
        for index, client in enumerate(self.clients):
            other = (index + 1) % 2
            candidates = [w for w in range(WORKERS) if w % 2 == other]
            worker = min(candidates, key=lambda w: len(plan[w]))
            plan[worker].append(client.thread.conversation)  # type: ignore[arg-type]

        async def accept(worker: int, conversations: list[int]) -> None:
            console = self.consoles[worker]
            for conversation in conversations:
                console.link.send({"type": "accept", "conversation": conversation})
                got = await asyncio.wait_for(console.assigned.get(), SETUP_TIMEOUT)
                assert got == conversation, console.errors
                self.worker_of[conversation] = console

        await asyncio.gather(*(accept(w, c) for w, c in plan.items()))

    async def talk(self, index: int, side: str) -> None:
        client = self.clients[index]
        conversation = client.thread.conversation
        assert conversation is not None
        thread = (
            client.thread
            if side == "client"
            else self.worker_of[conversation].threads[conversation]
        )
        for n in range(1000):  # bounded; stopped by `talking`
            await asyncio.sleep(self.rng.uniform(*SAY_EVERY))
            if not self.talking:
                return
            if self.redis.process is None:
                self.written_while_redis_down += 1
            thread.post(f"{side} {index}.{n}: åäö ✓ {self.rng.random():.6f}")

    async def blows(self) -> None:
        await asyncio.sleep(CALM)
        self.servers[0].kill()
        await asyncio.sleep(DOWN)
        await asyncio.to_thread(self.servers[0].start)
        await asyncio.sleep(CALM)
        await asyncio.to_thread(self.redis.stop)
        await asyncio.sleep(DOWN)
        await asyncio.to_thread(self.redis.start)
        await asyncio.sleep(CALM)

    def unsettled(self) -> list[str]:
        """What is still on its way: outboxes not empty, pages behind the newest ack."""
        behind = []
        for client in self.clients:
            conversation = client.thread.conversation
            assert conversation is not None
            console = self.worker_of[conversation]
            worker = console.threads[conversation]
            # The newest message either page knows of; an ack lost with the killed server
            # is made up for by the message arriving in the sender's own thread.
            last = max(
                client.thread.last_seq,
                worker.last_seq,
                *client.thread.acked.values(),
                *worker.acked.values(),
            )
            if (
                client.thread.outbox
                or worker.outbox
                or {
                    client.thread.last_seq,
                    worker.last_seq,
                }
                != {last}
            ):
                behind.append(
                    f"conversation {conversation}: newest ack {last};"
                    f" client at {client.thread.last_seq} (outbox {len(client.thread.outbox)},"
                    f" open {client.link.ws is not None});"
                    f" worker at {worker.last_seq} (outbox {len(worker.outbox)},"
                    f" open {console.link.ws is not None}, on {console.link.port},"
                    f" {console.link.opens} opens, frames {console.link.frames},"
                    f" errors {console.errors[-3:]}, gaps {worker.gaps},"
                    f" last pong {console.last_pong}, pings {console.link.pings},"
                    f" {time.monotonic() - console.link.last_frame_at:.1f} s since a frame,"
                    f" heartbeat {console.link.heartbeat_task})"
                )
        return behind

    async def run(self) -> None:
        try:
            self.phase("start")
            await self.open_pages()
            self.phase("pages open")
            await self.accept_all()
            self.phase("accepted")
            talkers = [
                asyncio.create_task(self.talk(index, side))
                for index in range(CONVERSATIONS)
                for side in ("client", "worker")
            ]
            await self.blows()
            self.phase("blows over")
            self.talking = False
            await asyncio.wait_for(asyncio.gather(*talkers), max(SAY_EVERY) + 1)
            await until(
                lambda: not self.unsettled(),
                DRAIN_TIMEOUT,
                "every message everywhere",
                lambda: "\n".join(self.unsettled()[:10]),
            )
            self.phase("drained")
        finally:
            for link in [c.link for c in self.clients] + [c.link for c in self.consoles]:
                link.stop()
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)


def test_nothing_is_lost_or_doubled_when_a_server_is_killed_and_redis_restarts(
    servers, private_redis, published
):
    unit = make_unit("Ekonomiskt bistånd", "ekonomiskt-bistand", default_capacity=10)
    workers = [make_user(f"worker{n:02}", units=[unit]) for n in range(WORKERS)]
    for worker in workers:
        Presence.objects.create(user=worker, capacity=10)
    cookies = [staff_session_cookie(worker) for worker in workers]
    chaos = Chaos(servers, private_redis, unit.pk, cookies)
    started = time.monotonic()

    asyncio.run(chaos.run())

    pages: list[ClientPage | ConsolePage] = [*chaos.consoles, *chaos.clients]
    threads = [c.thread for c in chaos.clients] + [
        t for console in chaos.consoles for t in console.threads.values()
    ]
    print(
        f"chaos: {time.monotonic() - started:.1f} s;"
        f" {sum(len(t.acked) for t in threads)} messages acknowledged,"
        f" {chaos.written_while_redis_down} written while Redis was down;"
        f" {sum(t.gaps for t in threads)} resyncs, {sum(t.resends for t in threads)} resends;"
        f" {sum(page.link.opens for page in pages)} socket opens,"
        f" {sum(page.link.silent_drops for page in pages)} dropped as silent,"
        f" {sum(page.link.frames.get('error:rate_limited', 0) for page in pages)}"
        " frames refused by the flood limit; "
        + ", ".join(f"{name} {at - chaos.phases[0][1]:.1f} s" for name, at in chaos.phases[1:])
    )
    # The blows happened and every page on the killed server came back.
    assert servers[0].starts == 2
    assert chaos.written_while_redis_down > 0
    assert sum(t.gaps for t in threads) > 0  # live deliveries were really lost on the way
    for index, page in enumerate(pages):
        assert page.link.refused is None
        if page.link.port == servers[0].port:
            assert page.link.opens >= 2, f"page {index} never reconnected"
    assert [c.errors for c in chaos.consoles] == [[]] * WORKERS
    assert [c.errors for c in chaos.clients] == [[]] * CONVERSATIONS

    for client in chaos.clients:
        conversation = client.thread.conversation
        assert conversation is not None
        worker_thread = chaos.worker_of[conversation].threads[conversation]
        stored = list(
            Message.objects.filter(conversation_id=conversation)
            .order_by("seq")
            .values("seq", "sender", "body", "client_id")
        )
        where = f"conversation {conversation}"
        assert Conversation.objects.get(pk=conversation).last_seq == len(stored), where
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1)), where
        by_client_id = {str(m["client_id"]): m for m in stored if m["client_id"]}
        assert len(by_client_id) == len([m for m in stored if m["client_id"]]), where

        for thread, sender in ((client.thread, "client"), (worker_thread, "worker")):
            # Nothing was refused, and everything written is stored: acknowledged, or (its
            # ack lost with the killed server) arrived in the writer's own thread.
            assert thread.refused == [], where
            assert set(thread.posted) <= set(by_client_id), where
            # Every acknowledged message is stored once, with the seq its ack gave.
            for client_id, seq in thread.acked.items():
                row = by_client_id.get(client_id)
                assert row is not None, f"{where}: acknowledged {client_id} is not stored"
                assert (row["seq"], row["sender"]) == (seq, sender), where
                assert row["body"] == thread.posted[client_id], where
            # What this side shows: every message once, in seq order, nothing missing.
            shown = [(m["seq"], m["body"]) for m in thread.log]
            assert shown == [(m["seq"], m["body"]) for m in stored], f"{where}, {sender}'s page"
        # Nothing is stored that neither side wrote (the system's `accepted` aside).
        written = set(client.thread.posted) | set(worker_thread.posted)
        assert set(by_client_id) == written, where
