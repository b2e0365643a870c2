"""`make bench`: the standard scenarios against PostgreSQL + Redis on 127.0.0.1 with two
daphne processes, and the same load against a minimal Channels relay without persistence
(bench/relay/) as the baseline, in the same run.

Scenarios (full size; `BENCH_QUICK=1` shrinks them to a smoke run of about a minute):

- idle: 5,000 idle client sockets on ONE process (1,000 of them resumed a conversation,
  the rest only connected), each answering one `ping`; the process's memory per socket
  (RSS growth / sockets), then after a hold whether every socket still answers a `ping`.
- saturation: K = 20 conversations, closed loop (each client sends its next message when
  the last one was acknowledged and delivered to the worker); acked messages per second
  and CPU per message. Clients and workers are split across the two processes, each
  client on the other process than its worker. Then heartbeats: every console and client
  sends `ping`s one after another; CPU per ping.
- connect storm: authenticated console connects (a worker's session cookie, two-factor
  off) until `console.snapshot`, 50 at a time, 500 per process, one process at a time.
- queue: 500 clients wait in one unit; a worker accepts the next one 10 times: the time
  from each `accept` until each waiting client has a `queue.position` with its new place
  (p50/p99), and CPU per accept; then 10 new clients `start` one after another: CPU per
  `start` with 500 waiting. The relay's counterpart is one group message to 500 sockets.
- paced: 1,000 conversations, one message per 10 s from each side for 60 s (the relay:
  30 s): delivery latency p50/p99 (from sending to the other side receiving it), and
  every message checked against what was sent: delivered once, to its conversation.

CPU is read from /proc/<pid>/stat (utime + stime) before and after each measured part:
daphne (the server's two processes, or the relay's), PostgreSQL (the backends serving the
scratch database, listed by pg_stat_activity), Redis (INFO cpu; the whole server) and this
load generator. Each figure comes with the 1-minute load average.

Environment (all optional): BENCH_QUICK=1; BENCH_SERVER_ROOT=/path/to/another/checkout
(its server and models; the relay and this script stay this checkout's); BENCH_ONLY=
idle,saturation,storm,queue,paced; BENCH_REDIS_URL (redis://127.0.0.1:6379/0);
BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres, the admin connection);
BENCH_DB_NAME (cc_bench); BENCH_RESULTS (bench/results/latest.json); and each size below
as BENCH_<NAME>, e.g. BENCH_PACED_CONVERSATIONS=200 BENCH_PACED_SECONDS=30.

    make bench                                     # about 8-10 minutes
    BENCH_QUICK=1 make bench                       # about a minute
    .venv/bin/python bench/standard.py --compare bench/results/a.json bench/results/b.json

Nothing is asserted about time. The script prints one table, writes it with the details
as JSON, and exits 0; 1 when a scenario crashed or a correctness check failed (a message
delivered twice or to another conversation, a socket answered with an error).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as bench

BENCH_DIR = Path(__file__).resolve().parent
SCENARIOS = ("idle", "saturation", "storm", "queue", "paced")
SETUP_WAIT = 60.0  # seconds one set-up step (a resume, a snapshot) may take
WAIT = 10.0  # seconds a message may take in the closed loop before it counts as lost


@dataclass
class Sizes:
    saturation_conversations: int = 20
    saturation_seconds: float = 20.0
    relay_saturation_seconds: float = 10.0
    pings: int = 20
    paced_conversations: int = 1000
    paced_period: float = 10.0
    paced_seconds: float = 60.0
    relay_paced_seconds: float = 30.0
    paced_drain: float = 15.0
    idle_sockets: int = 5000
    idle_with_conversation: int = 1000
    idle_hold: float = 10.0
    idle_open_seconds: float = 90.0
    connects: int = 500
    connect_concurrency: int = 50
    storm_seconds: float = 20.0
    queue_waiting: int = 500
    queue_accepts: int = 10
    queue_starts: int = 10
    settle_seconds: float = 20.0

    @classmethod
    def from_env(cls, quick: bool) -> Sizes:
        sizes = cls.quick() if quick else cls()
        for item in dataclasses.fields(cls):
            raw = os.environ.get(f"BENCH_{item.name.upper()}")
            if raw:
                kind = int if item.type in ("int", int) else float
                setattr(sizes, item.name, kind(raw))
        sizes.queue_accepts = min(sizes.queue_accepts, 10)  # one worker, capacity 10
        sizes.idle_with_conversation = min(sizes.idle_with_conversation, sizes.idle_sockets)
        return sizes

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            saturation_conversations=6,
            saturation_seconds=4.0,
            relay_saturation_seconds=3.0,
            pings=5,
            paced_conversations=100,
            paced_seconds=10.0,
            relay_paced_seconds=5.0,
            paced_drain=5.0,
            idle_sockets=300,
            idle_with_conversation=60,
            idle_hold=1.0,
            idle_open_seconds=20.0,
            connects=60,
            connect_concurrency=20,
            storm_seconds=5.0,
            queue_waiting=60,
            queue_accepts=3,
            queue_starts=3,
            settle_seconds=10.0,
        )


# --- data made in the scratch database --------------------------------------------------------
@dataclass
class Conv:
    id: int
    token: str
    worker: int  # index into the list of workers it was made with


@dataclass
class Worker:
    id: int
    cookie: str
    conversations: list[int]


@dataclass
class Fixtures:
    unit_id: int
    queue_unit_id: int
    saturation: tuple[list[Conv], list[Worker]]
    paced: tuple[list[Conv], list[Worker]]
    idle: list[Conv]
    staff_cookies: list[str]
    waiting: list[Conv]
    acceptor: Worker


def make_fixtures(sizes: Sizes) -> Fixtures:
    """Units, workers with session cookies and conversations, written in bulk (creating
    1,000 conversations through sockets would take minutes and measure something else)."""
    from accounts.models import Unit

    unit = Unit.objects.create(name="Bench", slug="bench", default_capacity=10)
    queue_unit = Unit.objects.create(name="Bench queue", slug="bench-queue", default_capacity=10)
    k = sizes.saturation_conversations
    saturation_workers = make_workers(unit, "sat", math.ceil(k / 2), capacity=2)
    paced_workers = make_workers(unit, "paced", math.ceil(sizes.paced_conversations / 10), 10)
    idle_worker = make_workers(unit, "idle", 1, capacity=10)
    staff = make_workers(unit, "staff", 20, capacity=3)
    acceptor = make_workers(queue_unit, "accept", 1, capacity=10)[0]
    return Fixtures(
        unit_id=unit.pk,
        queue_unit_id=queue_unit.pk,
        saturation=(make_active(unit, saturation_workers, 2, k), saturation_workers),
        paced=(
            make_active(unit, paced_workers, 10, sizes.paced_conversations),
            paced_workers,
        ),
        idle=make_active(unit, idle_worker, sizes.idle_with_conversation, None),
        staff_cookies=[w.cookie for w in staff],
        waiting=make_waiting(queue_unit, sizes.queue_waiting),
        acceptor=acceptor,
    )


def make_workers(unit: Any, prefix: str, count: int, capacity: int) -> list[Worker]:
    from django.conf import settings
    from django.test import Client

    from accounts.models import Presence, User

    workers = []
    for i in range(count):
        user = User.objects.create_user(
            username=f"bench-{prefix}-{i}", first_name=f"W{i}", role=User.Role.WORKER
        )
        user.units.add(unit)
        Presence.objects.create(user=user, status=Presence.Status.AVAILABLE, capacity=capacity)
        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        workers.append(Worker(user.pk, f"{name}={client.cookies[name].value}", []))
    return workers


def _conversations(unit: Any, count: int, **fields: Any) -> list[tuple[Any, str]]:
    from django.utils import timezone

    from chat.models import Case, ClientRecord, Conversation, Message

    now = timezone.now()
    records = ClientRecord.objects.bulk_create(ClientRecord() for _ in range(count))
    cases = Case.objects.bulk_create(Case(client=r, unit=unit) for r in records)
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    made = Conversation.objects.bulk_create(
        Conversation(
            unit=unit,
            case=cases[i],
            token_hash=hashlib.sha256(tokens[i].encode()).hexdigest(),
            queued_at=now - timedelta(minutes=30) + timedelta(milliseconds=i),
            client_seen_at=now,
            last_seq=1,
            last_client_message_at=now,
            **fields,
        )
        for i in range(count)
    )
    Message.objects.bulk_create(
        Message(
            conversation=c,
            seq=1,
            sender=Message.Sender.CLIENT,
            body="Hej, jag behöver prata med någon",
            client_id=uuid.uuid4(),
        )
        for c in made
    )
    return list(zip(made, tokens, strict=True))


def make_active(unit: Any, workers: list[Worker], per_worker: int, count: int | None) -> list[Conv]:
    """`count` active conversations (None: per_worker for each worker), per_worker each."""
    from django.utils import timezone

    from chat.models import Conversation

    count = per_worker * len(workers) if count is None else count
    convs: list[Conv] = []
    for w, worker in enumerate(workers):
        n = min(per_worker, count - len(convs))
        if n <= 0:
            break
        made = _conversations(
            unit,
            n,
            state=Conversation.State.ACTIVE,
            worker_id=worker.id,
            accepted_at=timezone.now(),
        )
        for conversation, token in made:
            convs.append(Conv(conversation.pk, token, w))
            worker.conversations.append(conversation.pk)
    return convs


def make_waiting(unit: Any, count: int) -> list[Conv]:
    return [Conv(c.pk, token, 0) for c, token in _conversations(unit, count)]


# --- sockets --------------------------------------------------------------------------------
PRODUCTION_FRAME_LIMIT = 65536  # the Procfile's --websocket-max-message-size


class FrameSizes:
    """The largest frame each kind of socket received, by type, in the current scenario."""

    def __init__(self) -> None:
        self.largest: dict[str, int] = {}

    def saw(self, kind: str, size: int) -> None:
        if size > self.largest.get(kind, 0):
            self.largest[kind] = size

    def take(self) -> dict[str, int]:
        found, self.largest = self.largest, {}
        return dict(sorted(found.items(), key=lambda item: -item[1]))


FRAMES = FrameSizes()
Handler = Callable[["Peer", dict[str, Any], float], None]


class Peer:
    """One websocket and the task that reads it. `next(type)` is a future for the next
    frame of that type; every frame also goes to `handler`, with the time it was read."""

    def __init__(self, ws: bench.WebSocket, handler: Handler | None = None) -> None:
        self.ws = ws
        self.handler = handler
        self.waiters: dict[str, list[asyncio.Future[tuple[dict[str, Any], float]]]] = {}
        self.errors: Counter[str] = Counter()
        self.position: int | None = None
        self.task = asyncio.get_running_loop().create_task(self._read())

    def next(self, kind: str) -> asyncio.Future[tuple[dict[str, Any], float]]:
        future: asyncio.Future[tuple[dict[str, Any], float]] = (
            asyncio.get_running_loop().create_future()
        )
        self.waiters.setdefault(kind, []).append(future)
        return future

    async def _read(self) -> None:
        try:
            while True:
                text = await self.ws.recv_text()
                now = time.perf_counter()
                frame = json.loads(text)
                kind = str(frame.get("type"))
                FRAMES.saw(kind, len(text.encode()))
                if kind == "error":
                    self.errors[str(frame.get("code"))] += 1
                for future in self.waiters.pop(kind, []):
                    if not future.done():
                        future.set_result((frame, now))
                if self.handler is not None:
                    self.handler(self, frame, now)
        except (bench.WebSocketClosed, ConnectionError, json.JSONDecodeError):
            pass
        finally:
            for futures in self.waiters.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(
                            bench.WebSocketClosed(f"closed, code {self.ws.close_code}")
                        )

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json(frame)

    async def ask(self, frame: dict[str, Any], answer: str, timeout: float = SETUP_WAIT) -> float:
        """Send `frame`, wait for the next `answer` frame; returns when it came."""
        future = self.next(answer)
        await self.send(frame)
        _frame, at = await asyncio.wait_for(future, timeout)
        return at

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class Target:
    """The server (`/ws/client/`, `/ws/console/`) or the relay (`/ws/relay/`), with the
    same operations, so that one load drives both."""

    def __init__(self, name: str, procs: list[bench.Daphne]) -> None:
        self.name = name
        self.procs = procs

    @property
    def is_server(self) -> bool:
        return self.name == "server"

    async def _connect(self, proc: int, path: str, cookie: str | None = None) -> bench.WebSocket:
        return await bench.WebSocket.connect(self.procs[proc].port, path, cookie=cookie)

    async def bare(self, proc: int, handler: Handler | None = None) -> Peer:
        """A client socket that only connected."""
        path = "/ws/client/" if self.is_server else "/ws/relay/"
        return Peer(await self._connect(proc, path), handler)

    async def client(self, proc: int, conv: Conv, handler: Handler | None = None) -> Peer:
        """A client socket in its conversation (the server: `resume` by its token)."""
        peer = await self.bare(proc, handler)
        if self.is_server:
            frame = {"type": "resume", "token": conv.token, "after": 0}
        else:
            frame = {"type": "join", "conversations": [conv.id]}
        await peer.ask(frame, "conversation.sync")
        return peer

    async def worker(self, proc: int, worker: Worker, handler: Handler | None = None) -> Peer:
        """A worker's console in its conversations (the server: by its session cookie)."""
        if self.is_server:
            peer = Peer(await self._connect(proc, "/ws/console/", worker.cookie), handler)
            frame, _ = await asyncio.wait_for(peer.next("console.snapshot"), SETUP_WAIT)
            shown = {c["id"] for c in frame.get("conversations", [])}
            if not set(worker.conversations) <= shown:
                raise RuntimeError(f"console snapshot lacks conversations of worker {worker.id}")
            return peer
        peer = Peer(await self._connect(proc, "/ws/relay/"), handler)
        await peer.ask({"type": "join", "conversations": worker.conversations}, "conversation.sync")
        return peer

    async def staff(self, proc: int, cookie: str) -> Peer:
        """A staff socket, until its first frame (`console.snapshot`)."""
        if self.is_server:
            peer = Peer(await self._connect(proc, "/ws/console/", cookie))
        else:
            peer = Peer(await self._connect(proc, "/ws/relay/staff/"))
        await asyncio.wait_for(peer.next("console.snapshot"), SETUP_WAIT)
        return peer

    def message(self, conv: Conv, side: str, client_id: str, body: str) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "message", "body": body, "client_id": client_id}
        if side == "worker":
            frame["conversation"] = conv.id
        return frame


class NotStarted(Exception):
    """A job `bounded` did not start because its time was up."""


async def bounded(
    jobs: Iterable[Callable[[], Awaitable[Any]]], limit: int, seconds: float | None = None
) -> list[Any]:
    """Run the jobs, at most `limit` at once, none started after `seconds`; results (or
    exceptions, NotStarted for those left) in order."""
    gate = asyncio.Semaphore(limit)
    deadline = None if seconds is None else time.monotonic() + seconds

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            if deadline is not None and time.monotonic() >= deadline:
                raise NotStarted()
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True)


async def retried(job: Callable[[], Awaitable[Peer]], tries: int = 3) -> Peer:
    """For set-up only: open a socket again when the handshake was dropped (daphne drops
    one the application has not accepted within 5 s, as on a busy machine)."""
    for attempt in range(tries):
        try:
            return await job()
        except (ConnectionError, bench.WebSocketClosed, TimeoutError):
            if attempt == tries - 1:
                raise
            await asyncio.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


async def close_all(peers: Iterable[Peer | BaseException | None]) -> None:
    live = [p for p in peers if isinstance(p, Peer)]
    await bounded([p.close for p in live], 200)


def ok_peers(results: list[Any]) -> tuple[list[Peer], Counter[str]]:
    peers = [r for r in results if isinstance(r, Peer)]
    failures = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
    return peers, failures


# --- messages: what was sent, what arrived -----------------------------------------------------
@dataclass(slots=True)
class Sent:
    sender: Peer
    conversation: int
    at: float
    done: asyncio.Future[None]
    acked_at: float | None = None
    delivered_at: float | None = None
    error: str | None = None

    def check_done(self) -> None:
        finished = self.acked_at is not None and self.delivered_at is not None
        if (self.error or finished) and not self.done.done():
            self.done.set_result(None)


@dataclass
class Traffic:
    """Every message sent by client_id; frames arriving are matched against it."""

    sent: dict[str, Sent] = field(default_factory=dict)
    doubled: int = 0
    wrong_conversation: int = 0
    unknown: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def send(self, peer: Peer, conversation: int) -> tuple[str, Sent]:
        client_id = str(uuid.uuid4())
        entry = Sent(
            peer, conversation, time.perf_counter(), asyncio.get_running_loop().create_future()
        )
        self.sent[client_id] = entry
        return client_id, entry

    def on_frame(self, peer: Peer, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "ack":
            entry = self.sent.get(str(frame.get("client_id")))
            if entry is not None and entry.acked_at is None:
                entry.acked_at = now
                entry.check_done()
        elif kind == "conversation.message":
            message = frame.get("message") or {}
            client_id = message.get("client_id") or ""
            entry = self.sent.get(client_id)
            if entry is None:
                if client_id:
                    self.unknown += 1
                return  # a system message
            if peer is entry.sender:
                return  # the sender's own copy
            if frame.get("conversation") != entry.conversation:
                self.wrong_conversation += 1
            if entry.delivered_at is not None:
                self.doubled += 1
                return
            entry.delivered_at = now
            entry.check_done()
        elif kind == "error":
            code = str(frame.get("code"))
            self.errors[code] += 1
            entry = self.sent.get(str(frame.get("client_id")))
            if entry is not None:
                entry.error = code
                entry.check_done()

    def summary(self, since: float = 0.0) -> dict[str, Any]:
        entries = [e for e in self.sent.values() if e.at >= since]
        delivered = [e.delivered_at - e.at for e in entries if e.delivered_at is not None]
        acked = [e.acked_at - e.at for e in entries if e.acked_at is not None]
        return {
            "sent": len(entries),
            "acked": len(acked),
            "delivered": len(delivered),
            "undelivered": len(entries) - len(delivered),
            "doubled": self.doubled,
            "wrong_conversation": self.wrong_conversation,
            "errors": dict(self.errors),
            "delivery_ms": pct_ms(delivered),
            "ack_ms": pct_ms(acked),
        }


def pct_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": bench.percentile(values, 50) * 1000,
        "p99": bench.percentile(values, 99) * 1000,
        "max": max(values, default=float("nan")) * 1000,
        "n": len(values),
    }


# --- CPU, memory, load ------------------------------------------------------------------------
@dataclass
class Reading:
    wall: float
    daphne: list[float]
    postgres: dict[int, float]
    redis: float
    own: float


class Meter:
    """CPU readings of one target's daphne processes, PostgreSQL's backends of the scratch
    database (server only), Redis and this process."""

    def __init__(
        self, procs: list[bench.Daphne], pg: bench.PostgresBackends | None, redis: Any
    ) -> None:
        self.procs = procs
        self.pg = pg
        self.redis = redis

    def read(self) -> Reading:
        return Reading(
            wall=time.perf_counter(),
            daphne=[p.cpu_seconds() for p in self.procs],
            postgres=self.pg.cpu() if self.pg else {},
            redis=bench.redis_cpu_seconds(self.redis),
            own=time.process_time(),
        )

    def used(self, a: Reading, b: Reading) -> dict[str, Any]:
        return {
            "seconds": b.wall - a.wall,
            "daphne": sum(b.daphne) - sum(a.daphne),
            "daphne_each": [y - x for x, y in zip(a.daphne, b.daphne, strict=True)],
            "postgres": bench.PostgresBackends.used(a.postgres, b.postgres) if self.pg else 0.0,
            "redis": b.redis - a.redis,
            "load_generator": b.own - a.own,
            "load": os.getloadavg()[0],
        }

    async def settle(self, max_seconds: float, share: float = 0.05) -> float:
        """Wait (at most `max_seconds`) until the daphne processes together use less than
        `share` of a core over half a second: the last scenario's work is done."""
        started = time.monotonic()
        before = sum(p.cpu_seconds() for p in self.procs)
        while time.monotonic() - started < max_seconds:
            await asyncio.sleep(0.5)
            now = sum(p.cpu_seconds() for p in self.procs)
            if (now - before) / 0.5 < share:
                break
            before = now
        return time.monotonic() - started


def per(used: dict[str, Any], count: int) -> dict[str, float]:
    """CPU milliseconds per operation, by process kind."""
    if not count:
        return {k: float("nan") for k in ("daphne", "postgres", "redis", "load_generator")}
    return {k: used[k] * 1000 / count for k in ("daphne", "postgres", "redis", "load_generator")}


# --- scenarios --------------------------------------------------------------------------------
@dataclass
class Ctx:
    sizes: Sizes
    fixtures: Fixtures
    meters: dict[str, Meter]
    targets: dict[str, Target]


async def scenario_idle(ctx: Ctx, target: Target) -> dict[str, Any]:
    """Idle sockets on process 0: RSS growth per socket, then whether all still answer."""
    sizes, meter = ctx.sizes, ctx.meters[target.name]
    convs = ctx.fixtures.idle
    # Warm-up (imports, first subscriptions), not counted.
    warm = await bounded(
        [lambda c=c: target.client(0, c) for c in convs[:10]]
        + [lambda: target.bare(0) for _ in range(10)],
        20,
    )
    await bounded([lambda p=p: p.ask({"type": "ping"}, "pong") for p in ok_peers(warm)[0]], 20)
    await close_all(warm)
    await meter.settle(sizes.settle_seconds)
    proc = target.procs[0]
    rss_before = proc.rss_bytes()
    a = meter.read()
    t0 = time.perf_counter()
    n_conv = sizes.idle_with_conversation

    async def open_one(i: int) -> Peer:
        peer = await (target.client(0, convs[i]) if i < n_conv else target.bare(0))
        await peer.ask({"type": "ping"}, "pong")
        return peer

    peers, failures = ok_peers(
        await bounded(
            [lambda i=i: open_one(i) for i in range(sizes.idle_sockets)],
            100,
            sizes.idle_open_seconds,
        )
    )
    opened = time.perf_counter() - t0
    b = meter.read()
    await asyncio.sleep(2.0)
    rss_after = proc.rss_bytes()
    await asyncio.sleep(sizes.idle_hold)

    async def still(peer: Peer) -> bool:
        await peer.ask({"type": "ping"}, "pong", timeout=30.0)
        return True

    answers = await bounded([lambda p=p: still(p) for p in peers], 200)
    held = sum(1 for r in answers if r is True)
    alive = proc.proc.poll() is None
    await close_all(peers)
    used = meter.used(a, b)
    return {
        "sockets": sizes.idle_sockets,
        "with_conversation": n_conv,
        "opened": len(peers),
        "failures": dict(failures),
        "open_seconds": opened,
        "opened_per_second": len(peers) / opened if opened else float("nan"),
        "rss_before_mb": rss_before / 2**20,
        "rss_after_mb": rss_after / 2**20,
        "kb_per_socket": (rss_after - rss_before) / 1024 / len(peers) if peers else float("nan"),
        "held": held,
        "process_alive": alive,
        "cpu_ms_per_socket": per(used, len(peers)),
        "load": used["load"],
        "errors": dict(sum((p.errors for p in peers), Counter())),
    }


def placement(worker_index: int) -> tuple[int, int]:
    """(process of the worker's console, process of its clients): always different."""
    return worker_index % 2, (worker_index + 1) % 2


async def open_conversations(
    target: Target, convs: list[Conv], workers: list[Worker], handler: Handler, limit: int = 50
) -> tuple[list[Peer], list[Peer]]:
    worker_peers = await bounded(
        [
            lambda w=w, i=i: retried(lambda: target.worker(placement(i)[0], w, handler))
            for i, w in enumerate(workers)
        ],
        min(limit, 10),
    )
    client_peers = await bounded(
        [
            lambda c=c: retried(lambda: target.client(placement(c.worker)[1], c, handler))
            for c in convs
        ],
        limit,
    )
    for result in [*worker_peers, *client_peers]:
        if isinstance(result, BaseException):
            await close_all([*worker_peers, *client_peers])
            raise RuntimeError(f"opening the conversations failed: {result!r}") from result
    return list(worker_peers), list(client_peers)


async def scenario_saturation(ctx: Ctx, target: Target) -> dict[str, Any]:
    sizes, meter = ctx.sizes, ctx.meters[target.name]
    convs, workers = ctx.fixtures.saturation
    seconds = sizes.saturation_seconds if target.is_server else sizes.relay_saturation_seconds
    traffic = Traffic()
    worker_peers, client_peers = await open_conversations(target, convs, workers, traffic.on_frame)
    try:

        async def one(peer: Peer, conv: Conv, body: str) -> bool:
            client_id, entry = traffic.send(peer, conv.id)
            await peer.send(target.message(conv, "client", client_id, body))
            try:
                await asyncio.wait_for(asyncio.shield(entry.done), WAIT)
            except TimeoutError:
                return False
            return entry.error is None

        # Warm-up: two messages per conversation, not counted.
        for _ in range(2):
            await asyncio.gather(
                *(one(p, c, "warm-up") for p, c in zip(client_peers, convs, strict=True))
            )
        await meter.settle(sizes.settle_seconds)
        deadline = time.monotonic() + seconds
        body = "meddelande " + "x" * 40

        async def loop(peer: Peer, conv: Conv) -> None:
            for _ in range(100_000):
                if time.monotonic() >= deadline or not await one(peer, conv, body):
                    return

        since = time.perf_counter()
        a = meter.read()
        await asyncio.gather(*(loop(p, c) for p, c in zip(client_peers, convs, strict=True)))
        b = meter.read()
        used = meter.used(a, b)
        result = traffic.summary(since)
        result.update(
            conversations=len(convs),
            workers=len(workers),
            seconds=used["seconds"],
            acked_per_second=result["acked"] / used["seconds"],
            cpu_ms_per_message=per(used, result["acked"]),
            cpu_share={k: used[k] / used["seconds"] for k in ("daphne", "postgres", "redis")},
            load=used["load"],
        )
        result["heartbeat"] = await heartbeats(ctx, target, worker_peers, client_peers)
        return result
    finally:
        await close_all([*worker_peers, *client_peers])
        await meter.settle(sizes.settle_seconds)


async def heartbeats(
    ctx: Ctx, target: Target, worker_peers: list[Peer], client_peers: list[Peer]
) -> dict[str, Any]:
    """Every socket of one kind sends `ping`s one after another, all sockets at once."""
    meter = ctx.meters[target.name]
    out: dict[str, Any] = {}
    for kind, peers in (("console", worker_peers), ("client", client_peers)):
        await meter.settle(ctx.sizes.settle_seconds)
        latencies: list[float] = []

        async def pings(peer: Peer, into: list[float] = latencies) -> None:
            for _ in range(ctx.sizes.pings):
                sent = time.perf_counter()
                into.append(await peer.ask({"type": "ping"}, "pong", timeout=WAIT) - sent)

        a = meter.read()
        results = await asyncio.gather(*(pings(p) for p in peers), return_exceptions=True)
        b = meter.read()
        used = meter.used(a, b)
        out[kind] = {
            "pongs": len(latencies),
            "failed_sockets": sum(1 for r in results if isinstance(r, BaseException)),
            "pong_ms": pct_ms(latencies),
            "cpu_ms_per_ping": per(used, len(latencies)),
            "load": used["load"],
        }
    return out


async def scenario_storm(ctx: Ctx, target: Target) -> dict[str, Any]:
    """Staff connects until their first frame, `connect_concurrency` at once, one process
    at a time; the sockets stay open until the count is done."""
    sizes, meter = ctx.sizes, ctx.meters[target.name]
    cookies = ctx.fixtures.staff_cookies
    out: dict[str, Any] = {"per_process": []}
    for proc in range(len(target.procs)):
        await meter.settle(sizes.settle_seconds)
        latencies: list[float] = []

        async def connect(i: int, proc: int = proc, into: list[float] = latencies) -> Peer:
            started = time.perf_counter()
            peer = await target.staff(proc, cookies[i % len(cookies)])
            into.append(time.perf_counter() - started)
            return peer

        a = meter.read()
        results = await bounded(
            [lambda i=i: connect(i) for i in range(sizes.connects)],
            sizes.connect_concurrency,
            sizes.storm_seconds,
        )
        b = meter.read()
        peers, failures = ok_peers(results)
        used = meter.used(a, b)
        out["per_process"].append(
            {
                "connected": len(peers),
                "failures": dict(failures),
                "connects_per_second": len(peers) / used["seconds"],
                "connect_ms": pct_ms(latencies),
                "cpu_ms_per_connect": per(used, len(peers)),
                "daphne_cpu_share": used["daphne_each"][proc] / used["seconds"],
                "load": used["load"],
            }
        )
        await close_all(peers)
    each = out["per_process"]
    out["connects_per_second"] = sum(p["connects_per_second"] for p in each) / len(each)
    out["load"] = max(p["load"] for p in each)
    out["failed"] = sum(n for p in each for k, n in p["failures"].items() if k != "NotStarted")
    out["not_started"] = sum(p["failures"].get("NotStarted", 0) for p in each)
    out["connected"] = sum(p["connected"] for p in each)
    return out


async def quiet(last: list[float], gap: float, max_seconds: float) -> None:
    """Wait until no frame of interest came for `gap` seconds (at most `max_seconds`)."""
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        since = time.perf_counter() - last[0]
        if since >= gap:
            return
        await asyncio.sleep(gap - since)


async def scenario_queue(ctx: Ctx, target: Target) -> dict[str, Any]:
    if not target.is_server:
        return await relay_fanout(ctx, target)
    sizes, meter = ctx.sizes, ctx.meters[target.name]
    fx = ctx.fixtures
    last = [0.0]
    seen: dict[Peer, list[tuple[float, int]]] = {}

    def on_frame(peer: Peer, frame: dict[str, Any], now: float) -> None:
        if frame.get("type") == "queue.position":
            last[0] = now
            seen.setdefault(peer, []).append((now, int(frame.get("position") or 0)))
            peer.position = int(frame.get("position") or 0)

    # The console first: its handshake waits for the session and user to load, behind
    # whatever the process's database thread is doing.
    await meter.settle(sizes.settle_seconds)
    console = await retried(lambda: target.worker(0, fx.acceptor))
    results = await bounded(
        [
            lambda i=i, c=c: retried(lambda: target.client(i % 2, c, on_frame))
            for i, c in enumerate(fx.waiting)
        ],
        20,
    )
    clients, failures = ok_peers(results)
    try:
        if failures:
            raise RuntimeError(f"waiting clients failed to resume: {dict(failures)}")
        await meter.settle(sizes.settle_seconds)
        await quiet(last, 0.5, 10.0)
        accept_latencies: list[float] = []
        missed = 0
        accept_cpu: list[dict[str, Any]] = []
        for _ in range(sizes.queue_accepts):
            before = {p: p.position for p in clients if p.position and p.position > 1}
            a = meter.read()
            assigned = console.next("conversation.assigned")
            t0 = time.perf_counter()
            await console.send({"type": "accept"})
            await asyncio.wait_for(assigned, SETUP_WAIT)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                if all(p.position is not None and p.position < pos for p, pos in before.items()):
                    break
                await asyncio.sleep(0.01)
            await quiet(last, 0.3, 10.0)
            b = meter.read()
            accept_cpu.append(meter.used(a, b))
            for peer, pos in before.items():
                moved = [at for at, p in seen.get(peer, []) if at >= t0 and p < pos]
                if moved:
                    accept_latencies.append(moved[0] - t0)
                else:
                    missed += 1
        start_cpu = []
        newcomers: list[Peer] = []
        for i in range(sizes.queue_starts):
            peer = await target.bare(1, on_frame)
            newcomers.append(peer)
            await peer.ask({"type": "ping"}, "pong")  # the socket's own set-up is done
            await quiet(last, 0.3, 5.0)
            a = meter.read()
            await peer.ask(
                {
                    "type": "start",
                    "unit": fx.queue_unit_id,
                    "token": secrets.token_urlsafe(32),
                    "body": f"Hej, jag väntar ({i})",
                    "client_id": str(uuid.uuid4()),
                },
                "conversation.sync",
            )
            await quiet(last, 0.5, 10.0)
            b = meter.read()
            start_cpu.append(meter.used(a, b))
        await close_all(newcomers)
        accept_used = sum_used(accept_cpu)
        start_used = sum_used(start_cpu)
        return {
            "waiting": len(fx.waiting),
            "accepts": sizes.queue_accepts,
            "new_position_ms": pct_ms(accept_latencies),
            "missed": missed,
            "cpu_ms_per_accept": per(accept_used, sizes.queue_accepts),
            "starts": sizes.queue_starts,
            "cpu_ms_per_start": per(start_used, sizes.queue_starts),
            "load": max(u["load"] for u in accept_cpu + start_cpu),
            "errors": dict(sum((p.errors for p in clients), Counter())),
            "console_errors": dict(console.errors),
        }
    finally:
        await close_all([*clients, console])
        await meter.settle(sizes.settle_seconds)


def sum_used(items: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("seconds", "daphne", "postgres", "redis", "load_generator")
    total: dict[str, Any] = {k: sum(u[k] for u in items) for k in keys}
    total["load"] = max((u["load"] for u in items), default=float("nan"))
    return total


async def relay_fanout(ctx: Ctx, target: Target) -> dict[str, Any]:
    """The relay's counterpart of the queue: one group message to as many sockets."""
    sizes, meter = ctx.sizes, ctx.meters[target.name]
    last = [0.0]
    seen: dict[Peer, list[float]] = {}

    def on_frame(peer: Peer, frame: dict[str, Any], now: float) -> None:
        if frame.get("type") == "queue.position":
            last[0] = now
            seen.setdefault(peer, []).append(now)

    async def follower(i: int) -> Peer:
        peer = await target.bare(i % 2, on_frame)
        await peer.ask({"type": "follow_queue"}, "queue.position")
        return peer

    clients, failures = ok_peers(
        await bounded([lambda i=i: follower(i) for i in range(sizes.queue_waiting)], 50)
    )
    announcer = await target.bare(0)
    try:
        await meter.settle(sizes.settle_seconds)
        latencies: list[float] = []
        missed = 0
        used = []
        for j in range(sizes.queue_accepts):
            a = meter.read()
            t0 = time.perf_counter()
            await announcer.send({"type": "announce", "position": j})
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                if all(seen.get(p) and seen[p][-1] >= t0 for p in clients):
                    break
                await asyncio.sleep(0.01)
            await quiet(last, 0.3, 5.0)
            used.append(meter.used(a, meter.read()))
            for peer in clients:
                after = [at for at in seen.get(peer, []) if at >= t0]
                if after:
                    latencies.append(after[0] - t0)
                else:
                    missed += 1
        total = sum_used(used)
        return {
            "waiting": len(clients),
            "failures": dict(failures),
            "accepts": sizes.queue_accepts,
            "new_position_ms": pct_ms(latencies),
            "missed": missed,
            "cpu_ms_per_accept": per(total, sizes.queue_accepts),
            "load": total["load"],
        }
    finally:
        await close_all([*clients, announcer])
        await meter.settle(sizes.settle_seconds)


async def scenario_paced(ctx: Ctx, target: Target) -> dict[str, Any]:
    sizes, meter = ctx.sizes, ctx.meters[target.name]
    convs, workers = ctx.fixtures.paced
    seconds = sizes.paced_seconds if target.is_server else sizes.relay_paced_seconds
    traffic = Traffic()
    t = time.perf_counter()
    worker_peers, client_peers = await open_conversations(
        target, convs, workers, traffic.on_frame, limit=20
    )
    setup_seconds = time.perf_counter() - t
    try:
        await meter.settle(sizes.settle_seconds)
        rng = random.Random(7)
        lags: list[float] = []
        period = sizes.paced_period
        t0 = time.perf_counter() + 0.5
        end = t0 + seconds

        async def side(peer: Peer, conv: Conv, who: str, phase: float) -> None:
            for k in range(int(seconds / period) + 2):
                at = t0 + phase + k * period
                if at >= end:
                    return
                delay = at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lags.append(time.perf_counter() - at)
                client_id, _entry = traffic.send(peer, conv.id)
                await peer.send(target.message(conv, who, client_id, f"{who} {k} " + "y" * 40))

        by_worker = {w.id: p for w, p in zip(workers, worker_peers, strict=True)}
        tasks = []
        for conv, client in zip(convs, client_peers, strict=True):
            console = by_worker[workers[conv.worker].id]
            tasks.append(side(client, conv, "client", rng.uniform(0, period)))
            tasks.append(side(console, conv, "worker", rng.uniform(0, period)))
        a = meter.read()
        await asyncio.gather(*tasks, return_exceptions=True)
        sent_until = time.perf_counter()
        pending = [e.done for e in traffic.sent.values() if not e.done.done()]
        if pending:
            await asyncio.wait(pending, timeout=sizes.paced_drain)
        b = meter.read()
        used = meter.used(a, b)
        result = traffic.summary()
        result.update(
            conversations=len(convs),
            workers=len(workers),
            setup_seconds=setup_seconds,
            seconds=seconds,
            drain_seconds=b.wall - sent_until,
            offered_per_second=2 * len(convs) / period,
            send_lag_ms=pct_ms(lags),
            cpu_ms_per_message=per(used, result["acked"]),
            cpu_share={k: used[k] / used["seconds"] for k in ("daphne", "postgres", "redis")},
            load=used["load"],
        )
        return result
    finally:
        await close_all([*worker_peers, *client_peers])
        await meter.settle(sizes.settle_seconds)


RUNNERS: dict[str, Callable[[Ctx, Target], Awaitable[dict[str, Any]]]] = {
    "idle": scenario_idle,
    "saturation": scenario_saturation,
    "storm": scenario_storm,
    "queue": scenario_queue,
    "paced": scenario_paced,
}


# --- the table --------------------------------------------------------------------------------
@dataclass
class Row:
    scenario: str
    figure: str
    value: float | None
    relay: float | None = None
    target: str = ""
    met: bool | None = None
    load: float | None = None
    relay_load: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.relay or not finite(self.value, self.relay):
            return None
        return self.value / self.relay


def finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def at_most(value: float | None, limit: float) -> bool | None:
    return None if not finite(value) else bool(value is not None and value <= limit)


def at_least(value: float | None, limit: float) -> bool | None:
    return None if not finite(value) else bool(value is not None and value >= limit)


def rows_for(results: dict[str, dict[str, Any]], sizes: Sizes) -> list[Row]:
    rows: list[Row] = []

    def get(scenario: str, who: str) -> dict[str, Any] | None:
        found = results.get(scenario, {}).get(who)
        return found if isinstance(found, dict) and "error" not in found else None

    s, r = get("saturation", "server"), get("saturation", "relay")
    if s:
        k = s["conversations"]
        sc, rc = s["cpu_ms_per_message"], (r or {}).get("cpu_ms_per_message", {})
        rate = Row(
            "saturation",
            f"acked messages/s ({k} conversations)",
            s["acked_per_second"],
            r and r["acked_per_second"],
            "≥ 0.5x relay",
            load=s["load"],
            relay_load=r and r["load"],
        )
        rate.met = at_least(rate.ratio, 0.5)
        total = Row(
            "saturation",
            "CPU ms/message, daphne + PostgreSQL",
            sc["daphne"] + sc["postgres"],
            rc.get("daphne"),
            "≤ 2x relay",
            load=s["load"],
            relay_load=r and r["load"],
        )
        total.met = at_most(total.ratio, 2.0)
        rows += [
            rate,
            total,
            Row("saturation", "  of which daphne", sc["daphne"], rc.get("daphne")),
            Row("saturation", "  of which PostgreSQL", sc["postgres"]),
            Row("saturation", "CPU ms/message, Redis (whole server)", sc["redis"], rc.get("redis")),
            Row(
                "saturation",
                "delivery p50 ms",
                s["delivery_ms"]["p50"],
                r and r["delivery_ms"]["p50"],
            ),
            Row(
                "saturation",
                "lost / doubled / errors",
                s["undelivered"] + s["doubled"] + sum(s["errors"].values()),
                r and r["undelivered"] + r["doubled"] + sum(r["errors"].values()),
                "0",
                met=s["undelivered"] + s["doubled"] + sum(s["errors"].values()) == 0,
            ),
        ]
        for kind in ("console", "client"):
            hs = s["heartbeat"][kind]
            hr = (r or {}).get("heartbeat", {}).get(kind, {})
            rows.append(
                Row(
                    "heartbeat",
                    f"{kind} ping CPU ms, daphne + PostgreSQL",
                    hs["cpu_ms_per_ping"]["daphne"] + hs["cpu_ms_per_ping"]["postgres"],
                    hr.get("cpu_ms_per_ping", {}).get("daphne"),
                    load=hs["load"],
                    relay_load=hr.get("load"),
                )
            )
            rows.append(
                Row(
                    "heartbeat",
                    f"  {kind} ping, PostgreSQL CPU ms",
                    hs["cpu_ms_per_ping"]["postgres"],
                    target="≈ 0 (0 statements)" if kind == "console" else "",
                    met=at_most(hs["cpu_ms_per_ping"]["postgres"], 0.1)
                    if kind == "console"
                    else None,
                )
            )

    s, r = get("paced", "server"), get("paced", "relay")
    if s:
        n = s["conversations"]
        p50 = Row(
            "paced",
            f"delivery p50 ms ({n} conversations, {s['offered_per_second']:.0f} msg/s)",
            s["delivery_ms"]["p50"],
            r and r["delivery_ms"]["p50"],
            "≤ 5",
            load=s["load"],
            relay_load=r and r["load"],
        )
        p50.met = at_most(p50.value, 5.0)
        p99 = Row(
            "paced", "delivery p99 ms", s["delivery_ms"]["p99"], r and r["delivery_ms"]["p99"]
        )
        p99.target, p99.met = "≤ 25", at_most(p99.value, 25.0)
        lost = Row(
            "paced",
            f"undelivered after {sizes.paced_drain:.0f} s drain / sent {s['sent']}",
            s["undelivered"],
            r and r["undelivered"],
            "0",
        )
        lost.met = s["undelivered"] == 0
        doubled = Row(
            "paced",
            "doubled / other conversation",
            s["doubled"] + s["wrong_conversation"],
            r and r["doubled"] + r["wrong_conversation"],
            "0",
        )
        doubled.met = doubled.value == 0
        cpu = s["cpu_ms_per_message"]
        rows += [
            p50,
            p99,
            lost,
            doubled,
            Row(
                "paced",
                "CPU ms/message, daphne + PostgreSQL",
                cpu["daphne"] + cpu["postgres"],
                r and r["cpu_ms_per_message"]["daphne"],
            ),
            Row(
                "paced",
                "load generator's send lag p99 ms (its own delay)",
                s["send_lag_ms"]["p99"],
                r and r["send_lag_ms"]["p99"],
            ),
        ]

    s, r = get("idle", "server"), get("idle", "relay")
    if s:
        mem = Row(
            "idle",
            f"kB per socket ({s['opened']}/{s['sockets']} sockets on one process)",
            s["kb_per_socket"],
            r and r["kb_per_socket"],
            "≤ 60",
            load=s["load"],
            relay_load=r and r["load"],
        )
        mem.met = at_most(mem.value, 60.0)
        held = Row(
            "idle",
            "sockets held (answer a ping after the hold)",
            s["held"] if s["process_alive"] else 0,
            r and (r["held"] if r["process_alive"] else 0),
            f"all {s['sockets']} (10,000 per process)",
        )
        held.met = held.value == s["sockets"]
        rows += [
            mem,
            held,
            Row(
                "idle",
                "client sockets opened/s",
                s["opened_per_second"],
                r and r["opened_per_second"],
            ),
        ]

    s, r = get("storm", "server"), get("storm", "relay")
    if s:
        storm = Row(
            "storm",
            "authenticated connects/s per process",
            s["connects_per_second"],
            r and r["connects_per_second"],
            "≥ 400",
            load=s["load"],
            relay_load=r and r["load"],
        )
        storm.met = at_least(storm.value, 400.0)
        cpu = s["per_process"][0]["cpu_ms_per_connect"]
        rows += [
            storm,
            Row(
                "storm",
                "CPU ms/connect, daphne + PostgreSQL",
                cpu["daphne"] + cpu["postgres"],
                r and r["per_process"][0]["cpu_ms_per_connect"]["daphne"],
            ),
            Row(
                "storm",
                f"connects failed (reset, timed out) of {s['connected'] + s['failed']}",
                s["failed"],
                r and r["failed"],
                "0",
                met=s["failed"] == 0,
            ),
        ]

    s, r = get("queue", "server"), get("queue", "relay")
    if s:
        w = s["waiting"]
        p99 = Row(
            "queue",
            f"new position after accept p99 ms ({w} waiting)",
            s["new_position_ms"]["p99"],
            r and r["new_position_ms"]["p99"],
            "≤ 1000",
            load=s["load"],
            relay_load=r and r["load"],
        )
        p99.met = at_most(p99.value, 1000.0) if not s["missed"] else False
        start = s["cpu_ms_per_start"]
        start_row = Row(
            "queue",
            f"CPU ms per start with {w} waiting, daphne + PostgreSQL",
            start["daphne"] + start["postgres"],
            target="≤ 5",
        )
        start_row.met = at_most(start_row.value, 5.0)
        accept = s["cpu_ms_per_accept"]
        rows += [
            Row(
                "queue",
                "new position after accept p50 ms",
                s["new_position_ms"]["p50"],
                r and r["new_position_ms"]["p50"],
            ),
            p99,
            Row(
                "queue",
                "clients that never saw their new position",
                s["missed"],
                r and r["missed"],
                "0",
                met=s["missed"] == 0,
            ),
            start_row,
            Row(
                "queue",
                "CPU ms per accept, daphne + PostgreSQL",
                accept["daphne"] + accept["postgres"],
                r and r["cpu_ms_per_accept"]["daphne"],
            ),
        ]
    biggest = [
        (size, kind, scenario)
        for scenario, by_target in results.items()
        for kind, size in (by_target.get("server") or {}).get("largest_frames", {}).items()
    ]
    if biggest:
        size, kind, scenario = max(biggest)
        relay_sizes = [
            size
            for by_target in results.values()
            for size in (by_target.get("relay") or {}).get("largest_frames", {}).values()
        ]
        rows.append(
            Row(
                "frames",
                f"largest frame to a socket, bytes ({kind}, {scenario})",
                size,
                max(relay_sizes, default=None),
                f"≤ {PRODUCTION_FRAME_LIMIT} (daphne's limit)",
                met=size <= PRODUCTION_FRAME_LIMIT,
            )
        )
    for scenario, by_target in results.items():
        for who, found in by_target.items():
            if isinstance(found, dict) and "error" in found:
                rows.append(Row(scenario, f"{who}: FAILED ({found['error']})", None))
    return rows


def render(rows: list[Row]) -> str:
    def yes(met: bool | None) -> str:
        return "—" if met is None else ("yes" if met else "NO")

    return bench.table(
        ["scenario", "figure", "value", "relay", "ratio", "target", "met", "load", "relay load"],
        [
            [
                r.scenario,
                r.figure,
                fmt(r.value),
                fmt(r.relay),
                "—" if r.ratio is None else f"{r.ratio:.2f}x",
                r.target,
                yes(r.met) if r.target else "",
                fmt(r.load),
                fmt(r.relay_load),
            ]
            for r in rows
        ],
    )


def compare(old_path: str, new_path: str) -> int:
    old, new = (json.loads(Path(p).read_text()) for p in (old_path, new_path))
    before = {(r["scenario"], r["figure"]): r for r in old["rows"]}
    lines = []
    for row in new["rows"]:
        was = before.get((row["scenario"], row["figure"]))
        a = was["value"] if was else None
        b = row["value"]
        ratio = f"{b / a:.2f}x" if finite(a, b) and a else "—"
        lines.append([row["scenario"], row["figure"], fmt(a), fmt(b), ratio, row["target"]])
    print(f"before: {old['meta']['server_commit']} ({old['meta']['date']})")
    print(f"after:  {new['meta']['server_commit']} ({new['meta']['date']})")
    print(bench.table(["scenario", "figure", "before", "after", "after/before", "target"], lines))
    return 0


# --- the run ----------------------------------------------------------------------------------
def git_commit(root: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def run(args: argparse.Namespace) -> int:
    sizes = Sizes.from_env(args.quick)
    only = [s for s in args.only.split(",") if s] if args.only else list(SCENARIOS)
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    server_root = Path(args.server_root).resolve()
    if not (server_root / "chatcounsel" / "asgi.py").exists():
        print(f"{server_root} is not a chatcounsel checkout", file=sys.stderr)
        return 2
    # The server's code (models included) comes from server_root, in this process too.
    sys.path.insert(0, str(server_root))
    limit = bench.raise_open_files(sizes.idle_sockets * 2 + 2048)
    if limit < sizes.idle_sockets + 1024:
        sizes.idle_sockets = max(100, limit - 1024)
        print(f"open-file limit {limit}: idle scenario scaled down to {sizes.idle_sockets}")

    import redis

    redis_client = redis.Redis.from_url(args.redis_url)
    redis_client.ping()
    started = time.monotonic()
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "server_root": str(server_root),
        "server_commit": git_commit(server_root),
        "bench_commit": git_commit(bench.PROJECT_ROOT),
        "quick": args.quick,
        "sizes": dataclasses.asdict(sizes),
        "machine": bench.machine_line(),
        "python": sys.version.split()[0],
        "open_files_limit": limit,
        "server_frame_limit": args.frame_limit,
    }
    print(f"make bench: server {meta['server_commit']} from {server_root}")
    print(f"machine: {meta['machine']}; scenarios: {', '.join(only)}")
    db = bench.ScratchDatabase("postgres", args.db_name, args.pg_url)
    procs: list[bench.Daphne] = []
    logdir = tempfile.mkdtemp(prefix="ccbench-std-")
    results: dict[str, dict[str, Any]] = {}
    pg: bench.PostgresBackends | None = None
    try:
        env = bench.bench_env(db.create(), args.redis_url, debug=False)
        bench.django_setup(env, unset_redis=False)
        meta["migrate_seconds"] = bench.migrate()
        t = time.perf_counter()
        fixtures = make_fixtures(sizes)
        meta["fixtures_seconds"] = time.perf_counter() - t
        bench.close_db_connections()
        relay_env = {
            "REDIS_URL": args.redis_url,
            "REDIS_PREFIX": "ccbench-relay",
            "DJANGO_SETTINGS_MODULE": "relay.settings",
            "PYTHONUNBUFFERED": "1",
        }
        server = [
            bench.Daphne(
                env, logdir, f"server-{x}", root=server_root, max_message_bytes=args.frame_limit
            )
            for x in "ab"
        ]
        relay = [
            bench.Daphne(
                relay_env, logdir, f"relay-{x}", root=BENCH_DIR, app="relay.asgi:application"
            )
            for x in "ab"
        ]
        procs = [*server, *relay]
        for proc in procs:
            proc.wait_ready()
        pg = bench.PostgresBackends(args.pg_url, args.db_name)
        ctx = Ctx(
            sizes=sizes,
            fixtures=fixtures,
            meters={
                "server": Meter(server, pg, redis_client),
                "relay": Meter(relay, None, redis_client),
            },
            targets={"server": Target("server", server), "relay": Target("relay", relay)},
        )
        for scenario in only:
            results[scenario] = {}
            for who in ("server", "relay"):
                t = time.perf_counter()
                print(f"  {scenario} / {who} ...", end="", flush=True)
                FRAMES.take()
                try:
                    found = asyncio.run(
                        asyncio.wait_for(RUNNERS[scenario](ctx, ctx.targets[who]), 600)
                    )
                except Exception as error:
                    traceback.print_exc()
                    found = {"error": f"{type(error).__name__}: {error}"[:200]}
                    for proc in procs:
                        if proc.proc.poll() is not None:
                            print(f"--- {proc.label} exited:\n{proc.log_tail()}", file=sys.stderr)
                found["largest_frames"] = FRAMES.take()
                found["wall_seconds"] = time.perf_counter() - t
                results[scenario][who] = found
                print(f" {found['wall_seconds']:.0f} s, load {os.getloadavg()[0]:.1f}")
    finally:
        if pg is not None:
            pg.close()
        for proc in procs:
            proc.stop()
        bench.close_db_connections()
        bench.flush_redis_prefix(args.redis_url)
        bench.flush_redis_prefix(args.redis_url, "ccbench-relay")
        db.drop()
        if all("error" not in found for by in results.values() for found in by.values()):
            shutil.rmtree(logdir, ignore_errors=True)
        else:
            print(f"daphne logs kept in {logdir}", file=sys.stderr)
    meta["total_seconds"] = time.monotonic() - started
    meta["machine_after"] = bench.machine_line()

    rows = rows_for(results, sizes)
    print()
    print(render(rows))
    print(
        f"\nserver {meta['server_commit']}; two daphne processes (idle: one; storm: one at a "
        f"time), frames up to {args.frame_limit} bytes; PostgreSQL + Redis on 127.0.0.1; "
        f"CPU from /proc; load = 1-minute load "
        f"average at the end of the part; {meta['machine_after']}; "
        f"{meta['total_seconds']:.0f} s in all."
    )
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "meta": meta,
                "rows": [{**dataclasses.asdict(r), "ratio": r.ratio} for r in rows],
                "details": results,
            },
            indent=1,
            default=str,
            allow_nan=True,
        )
    )
    print(f"written: {out}")
    return 0 if correct(results) else 1


def correct(results: dict[str, dict[str, Any]]) -> bool:
    """No scenario crashed; nothing was delivered twice or to another conversation; no
    socket got an error frame."""
    ok = True
    for scenario, by_target in results.items():
        for who, found in by_target.items():
            problems = []
            if "error" in found:
                problems.append(found["error"])
            if found.get("doubled") or found.get("wrong_conversation"):
                problems.append(
                    f"{found.get('doubled')} doubled, {found.get('wrong_conversation')} "
                    "to another conversation"
                )
            if found.get("errors"):
                problems.append(f"error frames {found['errors']}")
            for problem in problems:
                print(f"check FAILED: {scenario} / {who}: {problem}")
                ok = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument(
        "--quick",
        action="store_true",
        default=env("BENCH_QUICK", "") not in ("", "0", "false", "no"),
        help="a smoke run of about a minute (BENCH_QUICK=1)",
    )
    parser.add_argument("--only", default=env("BENCH_ONLY", ""), help=",".join(SCENARIOS))
    parser.add_argument(
        "--server-root",
        default=env("BENCH_SERVER_ROOT") or str(bench.PROJECT_ROOT),
        help="the checkout whose server is measured (default: this one)",
    )
    parser.add_argument("--redis-url", default=env("BENCH_REDIS_URL", bench.DEFAULT_REDIS_URL))
    parser.add_argument("--pg-url", default=env("BENCH_PG_URL", bench.PG_ADMIN_URL))
    parser.add_argument("--db-name", default=env("BENCH_DB_NAME", "cc_bench"))
    parser.add_argument(
        "--results", default=env("BENCH_RESULTS", str(BENCH_DIR / "results" / "latest.json"))
    )
    parser.add_argument(
        "--frame-limit",
        type=int,
        default=int(env("BENCH_WEBSOCKET_MAX_MESSAGE_BYTES", str(2**20))),
        help="the server's --websocket-max-message-size (production: 65536); larger, so "
        "that a frame above production's limit is measured and flagged, not fatal",
    )
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
