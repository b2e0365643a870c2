"""Client -> worker message latency and throughput through real daphne processes.

For each setup it makes a scratch database, N waiting conversations (client sockets on
/ws/client/ send `start`), has workers accept them over /ws/console/ (session cookies from
Django's test client), sends one uncounted warm-up message per conversation, then every
client sends M messages, one at a time each (the next when the previous is delivered),
all conversations at once. It measures:

- delivery: from sending `message` on the client socket until the worker's console socket
  receives the `conversation.message` with that `client_id`;
- ack: from sending until the client socket receives its `ack`;
- throughput: acks per second over the measuring phase, and daphne's CPU time per message;
- messages lost (not delivered within 10 s), duplicated, or delivered with a `seq` other
  than the ack's or out of order;
- then heartbeats: every client and console socket sends `ping`s one after another, and
  the script measures the `pong`s.

Setups: `sqlite` (SQLite + in-memory layer, one daphne), `postgres` (PostgreSQL + Redis
pub/sub layer, one daphne), `postgres-2proc` (PostgreSQL + Redis, every client on one
daphne and every worker on another, so each message crosses Redis between processes),
`postgres-2proc-spread` (the same, but both processes take clients: each client is on the
other process than its worker). `all` runs the four one after another, each in a fresh
Python process.

All sockets come from 127.0.0.1, so the per-address flood limits are lifted for the run
(the checks still run). Sending stops after --max-seconds per setup even if not every
message was sent; the output says so.

    .venv/bin/python bench/message_roundtrip.py            # 4 setups, 20 x 50, at most 8 s
    .venv/bin/python bench/message_roundtrip.py --quick    # postgres-2proc, 10 x 20, ~20 s
    .venv/bin/python bench/message_roundtrip.py --setup postgres-2proc --conversations 50

No timing is asserted; the script prints two tables and exits 0 unless a setup crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import _common as bench

SETUPS = {
    # name: (database, channel layer, daphne processes, clients on both processes)
    "sqlite": ("sqlite", "in-memory", 1, False),
    "postgres": ("postgres", "redis-pubsub", 1, False),
    "postgres-2proc": ("postgres", "redis-pubsub", 2, False),
    "postgres-2proc-spread": ("postgres", "redis-pubsub", 2, True),
}
# BENCH_DB_NAME: another name, so runs on a shared PostgreSQL never drop each other's database.
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_chatcounsel_roundtrip")
WAIT = 10.0  # seconds one message may take before it counts as lost
SETUP_WAIT = 60.0  # seconds a snapshot, a `start` or an `accept` may take (set-up only)


# --- sockets ---------------------------------------------------------------------------
@dataclass
class Stats:
    delivery: list[float] = field(default_factory=list)
    ack: list[float] = field(default_factory=list)
    no_ack: int = 0
    lost: int = 0
    duplicates: int = 0
    seq_mismatch: int = 0
    seq_gaps: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0
    lost_pongs: int = 0


class Peer:
    """One socket and the task that reads it; resolves the futures waiting for frames."""

    def __init__(self, ws: bench.WebSocket, run: Run) -> None:
        self.ws = ws
        self.run = run
        self.first: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.early: dict[str, dict[str, Any]] = {}  # frames that came before anyone asked
        self.task = asyncio.get_running_loop().create_task(self._read())

    def expect(self, key: str) -> asyncio.Future[dict[str, Any]]:
        future = asyncio.get_running_loop().create_future()
        if key in self.early:
            future.set_result(self.early.pop(key))
        else:
            self.first[key] = future
        return future

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.ws.recv_json()
                self.handle(frame, time.perf_counter())
        except bench.WebSocketClosed:
            for future in self.first.values():
                if not future.done():
                    future.set_exception(bench.WebSocketClosed())

    def resolve(self, key: str, frame: dict[str, Any]) -> None:
        future = self.first.pop(key, None)
        if future is None:
            self.early[key] = frame
        elif not future.done():
            future.set_result(frame)

    def handle(self, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "error":
            code = str(frame.get("code"))
            self.run.stats.errors[code] = self.run.stats.errors.get(code, 0) + 1
            client_id = frame.get("client_id")
            if isinstance(client_id, str) and client_id in self.run.acks:
                future = self.run.acks.pop(client_id)
                if not future.done():
                    future.set_exception(RuntimeError(f"error {code}: {frame.get('message')}"))
            return
        self.on_frame(kind, frame, now)

    def on_frame(self, kind: object, frame: dict[str, Any], now: float) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()


class ClientPeer(Peer):
    def on_frame(self, kind: object, frame: dict[str, Any], now: float) -> None:
        if kind == "conversation.sync":
            self.resolve("sync", frame)
        elif kind == "pong":
            self.resolve("pong", {**frame, "_at": now})
        elif kind == "ack":
            future = self.run.acks.pop(str(frame.get("client_id")), None)
            if future is not None and not future.done():
                future.set_result((now, frame.get("seq")))


class ConsolePeer(Peer):
    def on_frame(self, kind: object, frame: dict[str, Any], now: float) -> None:
        if kind == "console.snapshot":
            self.resolve("snapshot", frame)
        elif kind == "pong":
            self.resolve("pong", {**frame, "_at": now})
        elif kind == "conversation.assigned":
            self.resolve(f"assigned.{frame.get('conversation')}", frame)
        elif kind == "conversation.message":
            message = frame.get("message") or {}
            client_id = message.get("client_id") or ""
            if not client_id:
                return  # a system message (accepted)
            if client_id in self.run.seen:
                self.run.stats.duplicates += 1
                return
            self.run.seen.add(client_id)
            future = self.run.deliveries.pop(client_id, None)
            if future is None:
                self.run.stats.late += 1
            elif not future.done():
                future.set_result((now, message.get("seq")))


@dataclass
class Run:
    stats: Stats = field(default_factory=Stats)
    acks: dict[str, asyncio.Future[tuple[float, Any]]] = field(default_factory=dict)
    deliveries: dict[str, asyncio.Future[tuple[float, Any]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


# --- preparing data in this process ----------------------------------------------------------
def prepare(conversations: int, per_worker: int) -> tuple[int, list[str]]:
    """One unit open around the clock, and enough available workers with `per_worker`
    capacity each; returns the unit id and one session cookie per worker."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import Presence, Unit, User

    unit = Unit.objects.create(name="Bench", slug="bench", default_capacity=per_worker)
    cookies = []
    for i in range(math.ceil(conversations / per_worker)):
        user = User.objects.create_user(
            username=f"bench-worker-{i}", first_name=f"Worker{i}", role=User.Role.WORKER
        )
        user.units.add(unit)
        Presence.objects.create(user=user, status=Presence.Status.AVAILABLE, capacity=per_worker)
        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        cookies.append(f"{name}={client.cookies[name].value}")
    return unit.pk, cookies


# --- the load ----------------------------------------------------------------------------
def placement(setup: str, servers: list[bench.Daphne], per_worker: int):
    """Which daphne a worker's console and a client's socket connect to."""
    _, _, processes, spread = SETUPS[setup]
    if processes == 1:
        return (lambda worker: servers[0].port), (lambda client: servers[0].port)
    if not spread:
        return (lambda worker: servers[1].port), (lambda client: servers[0].port)
    # Workers alternate between the processes; each client is on the other one than its
    # worker, so every message still crosses Redis, and both processes take clients.
    return (
        (lambda worker: servers[worker % 2].port),
        (lambda client: servers[1 - (client // per_worker) % 2].port),
    )


async def drive(
    *,
    setup: str,
    servers: list[bench.Daphne],
    unit_id: int,
    cookies: list[str],
    conversations: int,
    messages: int,
    per_worker: int,
    pause: float,
    pings: int,
    max_seconds: float,
) -> dict[str, Any]:
    run = Run()
    worker_port, client_port = placement(setup, servers, per_worker)
    phase: dict[str, float] = {}
    started = time.perf_counter()

    consoles = [
        ConsolePeer(await bench.WebSocket.connect(worker_port(i), "/ws/console/", cookie=c), run)
        for i, c in enumerate(cookies)
    ]
    await asyncio.wait_for(
        asyncio.gather(*(console.expect("snapshot") for console in consoles)), SETUP_WAIT
    )

    async def start_client(i: int) -> tuple[ClientPeer, int]:
        peer = ClientPeer(await bench.WebSocket.connect(client_port(i), "/ws/client/"), run)
        synced = peer.expect("sync")
        await peer.ws.send_json(
            {
                "type": "start",
                "unit": unit_id,
                "token": secrets.token_urlsafe(32),
                "body": f"Hej, jag behöver prata med någon ({i})",
                "client_id": str(uuid.uuid4()),
            }
        )
        frame = await asyncio.wait_for(synced, SETUP_WAIT)
        return peer, int(frame["conversation"])

    clients = await asyncio.gather(*(start_client(i) for i in range(conversations)))
    phase["connect_and_start"] = time.perf_counter() - started

    async def accept(console: ConsolePeer, conversation_ids: list[int]) -> None:
        for conversation_id in conversation_ids:
            assigned = console.expect(f"assigned.{conversation_id}")
            await console.ws.send_json({"type": "accept", "conversation": conversation_id})
            await asyncio.wait_for(assigned, SETUP_WAIT)

    t = time.perf_counter()
    await asyncio.gather(
        *(
            accept(console, [cid for _, cid in clients[i * per_worker : (i + 1) * per_worker]])
            for i, console in enumerate(consoles)
        )
    )
    phase["accept"] = time.perf_counter() - t

    async def one_message(peer: ClientPeer, body: str) -> tuple[float, float, Any, Any] | None:
        client_id = str(uuid.uuid4())
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[tuple[float, Any]] = loop.create_future()
        delivered: asyncio.Future[tuple[float, Any]] = loop.create_future()
        run.acks[client_id] = acked
        run.deliveries[client_id] = delivered
        sent = time.perf_counter()
        await peer.ws.send_json({"type": "message", "body": body, "client_id": client_id})
        ack_at = ack_seq = None
        try:
            ack_at, ack_seq = await asyncio.wait_for(acked, WAIT)
        except (TimeoutError, RuntimeError, bench.WebSocketClosed):
            run.acks.pop(client_id, None)
            run.stats.no_ack += 1
        remaining = max(0.1, WAIT - (time.perf_counter() - sent))
        try:
            delivered_at, delivered_seq = await asyncio.wait_for(delivered, remaining)
        except (TimeoutError, bench.WebSocketClosed):
            run.deliveries.pop(client_id, None)
            run.stats.lost += 1
            return None
        if ack_at is None:
            return None
        return ack_at - sent, delivered_at - sent, ack_seq, delivered_seq

    # Warm-up: one message per conversation, not counted (first subscriptions, code paths).
    t = time.perf_counter()
    await asyncio.gather(*(one_message(peer, "warm-up") for peer, _ in clients))
    phase["warm_up"] = time.perf_counter() - t
    run.stats = Stats()

    deadline = time.monotonic() + max_seconds

    async def converse(peer: ClientPeer) -> int:
        last_seq: int | None = None
        sent = 0
        for i in range(messages):
            if time.monotonic() >= deadline:
                break
            result = await one_message(peer, f"meddelande {i} " + "x" * 40)
            sent += 1
            if result is not None:
                ack_latency, delivery_latency, ack_seq, delivered_seq = result
                run.stats.ack.append(ack_latency)
                run.stats.delivery.append(delivery_latency)
                if ack_seq != delivered_seq:
                    run.stats.seq_mismatch += 1
                if last_seq is not None and ack_seq != last_seq + 1:
                    run.stats.seq_gaps += 1
                last_seq = ack_seq
            if pause:
                await asyncio.sleep(pause)
        return sent

    cpu_before = [server.cpu_seconds() for server in servers]
    own_cpu_before = time.process_time()
    t = time.perf_counter()
    sent_counts = await asyncio.gather(*(converse(peer) for peer, _ in clients))
    measured = time.perf_counter() - t
    server_cpu = sum(s.cpu_seconds() for s in servers) - sum(cpu_before)
    own_cpu = time.process_time() - own_cpu_before
    phase["measure"] = measured

    # Heartbeats: every socket sends `ping` one after another, all sockets at once.
    ping_deadline = time.monotonic() + max(2.0, max_seconds / 2)

    async def heartbeat(peer: Peer, into: list[float]) -> None:
        for _ in range(pings):
            if time.monotonic() >= ping_deadline:
                return
            ponged = peer.expect("pong")
            sent = time.perf_counter()
            await peer.ws.send_json({"type": "ping"})
            try:
                frame = await asyncio.wait_for(ponged, WAIT)
            except (TimeoutError, bench.WebSocketClosed):
                run.stats.lost_pongs += 1
                continue
            into.append(frame["_at"] - sent)

    client_pongs: list[float] = []
    console_pongs: list[float] = []
    t = time.perf_counter()
    await asyncio.gather(
        *(heartbeat(peer, client_pongs) for peer, _ in clients),
        *(heartbeat(console, console_pongs) for console in consoles),
    )
    ping_seconds = time.perf_counter() - t

    for peer, _ in clients:
        await peer.close()
    for console in consoles:
        await console.close()

    stats = run.stats
    sent_total = sum(sent_counts)
    acked = sent_total - stats.no_ack
    return {
        "conversations": conversations,
        "workers": len(consoles),
        "messages_per_conversation": messages,
        "sent": sent_total,
        "acked": acked,
        "delivered": len(stats.delivery),
        "lost": stats.lost,
        "no_ack": stats.no_ack,
        "duplicates": stats.duplicates,
        "late": stats.late,
        "seq_mismatch": stats.seq_mismatch,
        "seq_gaps": stats.seq_gaps,
        "errors": stats.errors,
        "seconds": measured,
        "acks_per_second": acked / measured if measured else float("nan"),
        "delivery": {f"p{p}": bench.percentile(stats.delivery, p) for p in (50, 95, 99)},
        "delivery_max": max(stats.delivery, default=float("nan")),
        "ack": {f"p{p}": bench.percentile(stats.ack, p) for p in (50, 95, 99)},
        "phases": phase,
        "daphne_cpu_ms_per_message": server_cpu / acked * 1000 if acked else float("nan"),
        "daphne_cpu_share": server_cpu / measured if measured else float("nan"),
        "bench_client_cpu_share": own_cpu / measured if measured else float("nan"),
        "pongs_per_second": (len(client_pongs) + len(console_pongs)) / ping_seconds
        if ping_seconds
        else float("nan"),
        "client_pong": {f"p{p}": bench.percentile(client_pongs, p) for p in (50, 95)},
        "console_pong": {f"p{p}": bench.percentile(console_pongs, p) for p in (50, 95)},
        "pongs": len(client_pongs) + len(console_pongs),
        "lost_pongs": stats.lost_pongs,
        "stopped_by_time": sent_total < conversations * messages,
    }


# --- one setup in this process -----------------------------------------------------------------
def run_setup(args: argparse.Namespace) -> dict[str, Any]:
    database, layer, processes, _spread = SETUPS[args.setup]
    redis_url = args.redis_url if layer == "redis-pubsub" else None
    db = bench.ScratchDatabase(database, DB_NAME)
    servers: list[bench.Daphne] = []
    logdir = tempfile.mkdtemp(prefix="ccbench-logs-")
    try:
        env = bench.bench_env(db.create(), redis_url)
        bench.django_setup(env, unset_redis=redis_url is None)
        migrate_seconds = bench.migrate()
        unit_id, cookies = prepare(args.conversations, args.per_worker)
        bench.close_db_connections()
        load_before = bench.machine_line()
        servers = [bench.Daphne(env, logdir, label) for label in "ab"[:processes]]
        for server in servers:
            server.wait_ready()
        result = asyncio.run(
            asyncio.wait_for(
                drive(
                    setup=args.setup,
                    servers=servers,
                    unit_id=unit_id,
                    cookies=cookies,
                    conversations=args.conversations,
                    messages=args.messages,
                    per_worker=args.per_worker,
                    pause=args.pause,
                    pings=args.pings,
                    max_seconds=args.max_seconds,
                ),
                args.max_seconds * 1.25 + 120,
            )
        )
        result.update(
            setup=args.setup,
            database=database,
            layer=layer,
            processes=processes,
            migrate_seconds=migrate_seconds,
            load_before=load_before,
            load_after=bench.machine_line(),
        )
        return result
    except BaseException:
        for server in servers:
            print(f"--- daphne log tail (port {server.port}) ---", file=sys.stderr)
            print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.stop()
        bench.close_db_connections()
        if redis_url:
            bench.flush_redis_prefix(redis_url)
        db.drop()
        shutil.rmtree(logdir, ignore_errors=True)


# --- output ---------------------------------------------------------------------------------
def print_results(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        rows.append(
            [
                r["setup"],
                f"{r['conversations']}x{r['messages_per_conversation']}",
                r["delivered"],
                bench.ms(r["delivery"]["p50"]),
                bench.ms(r["delivery"]["p95"]),
                bench.ms(r["delivery"]["p99"]),
                bench.ms(r["ack"]["p50"]),
                bench.ms(r["ack"]["p95"]),
                f"{r['acks_per_second']:.0f}",
                f"{r['daphne_cpu_ms_per_message']:.1f}",
                f"{r['lost']}/{r['duplicates']}/{r['seq_mismatch'] + r['seq_gaps']}",
                sum(r["errors"].values()),
            ]
        )
    print(
        bench.table(
            [
                "setup",
                "conv x msg",
                "delivered",
                "deliv p50 ms",
                "p95",
                "p99",
                "ack p50 ms",
                "p95",
                "acks/s",
                "daphne CPU ms/msg",
                "lost/dup/seq",
                "errors",
            ],
            rows,
        )
    )
    print()
    print(
        bench.table(
            [
                "setup",
                "pongs",
                "pongs/s",
                "client pong p50 ms",
                "p95",
                "console pong p50 ms",
                "p95",
            ],
            [
                [
                    r["setup"],
                    f"{r['pongs']} (+{r['lost_pongs']} lost)",
                    f"{r['pongs_per_second']:.0f}",
                    bench.ms(r["client_pong"]["p50"]),
                    bench.ms(r["client_pong"]["p95"]),
                    bench.ms(r["console_pong"]["p50"]),
                    bench.ms(r["console_pong"]["p95"]),
                ]
                for r in results
            ],
        )
    )
    print()
    for r in results:
        extra = ", stopped by --max-seconds" if r["stopped_by_time"] else ""
        print(
            f"{r['setup']}: {r['database']} + {r['layer']}, {r['processes']} daphne, "
            f"{r['workers']} workers; measured {r['seconds']:.1f} s{extra}; "
            f"max delivery {bench.ms(r['delivery_max'])} ms; "
            f"start {r['phases']['connect_and_start']:.1f} s, "
            f"accept {r['phases']['accept']:.1f} s; errors {r['errors'] or 'none'}; "
            f"daphne {r['daphne_cpu_share']:.0%} of a core, "
            f"this client {r['bench_client_cpu_share']:.0%}; "
            f"{r['load_before']} -> {r['load_after']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--setup",
        choices=["all", *SETUPS],
        default=None,
        help="default: all (with --quick: postgres-2proc)",
    )
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--messages", type=int, default=50, help="per conversation")
    parser.add_argument("--per-worker", type=int, default=3, help="conversations per worker")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between messages")
    parser.add_argument("--pings", type=int, default=10, help="heartbeats per socket")
    parser.add_argument(
        "--max-seconds", type=float, default=8.0, help="stop sending after this long, per setup"
    )
    parser.add_argument("--redis-url", default=bench.DEFAULT_REDIS_URL)
    parser.add_argument(
        "--quick", action="store_true", help="10 x 20, 3 s sending, one setup: about 20 s"
    )
    parser.add_argument("--json", action="store_true", help="also print the result as JSON")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.messages, args.pings, args.max_seconds = 10, 20, 3, 3.0
    if args.setup is None:
        args.setup = "postgres-2proc" if args.quick else "all"
    if not 1 <= args.per_worker <= 10:
        parser.error("--per-worker must be 1-10 (a worker's capacity)")

    print(f"machine: {bench.machine_line()}")
    if args.setup != "all":
        result = run_setup(args)
        print_results([result])
        if args.json:
            print("RESULT " + json.dumps(result))
        return 0

    results = []
    for setup in SETUPS:
        command = [
            sys.executable,
            __file__,
            "--setup",
            setup,
            "--json",
            "--conversations",
            str(args.conversations),
            "--messages",
            str(args.messages),
            "--per-worker",
            str(args.per_worker),
            "--pause",
            str(args.pause),
            "--pings",
            str(args.pings),
            "--max-seconds",
            str(args.max_seconds),
            "--redis-url",
            args.redis_url,
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=args.max_seconds * 1.25 + 180,
                check=False,
            )
        except subprocess.TimeoutExpired:
            print(f"{setup}: timed out", file=sys.stderr)
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            print(f"{setup}: failed (exit {done.returncode})\n{done.stderr[-3000:]}")
            continue
        results.append(json.loads(lines[-1][len("RESULT ") :]))
    print_results(results)
    return 0 if len(results) == len(SETUPS) else 1


if __name__ == "__main__":
    sys.exit(main())
