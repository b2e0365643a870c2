"""What a queue change costs when many clients wait: one daphne process, N client sockets
waiting in one unit (default 50, 200 and 500), and a worker's console.

For each N the script makes N waiting conversations in the database and has N client
sockets `resume` them (so each socket follows its conversation and its queue, as after a
`start`), then measures, one at a time and each until the server is quiet again:

- `start`: a new client socket sends `start` (the socket is opened first and not counted).
  CPU time daphne spent from the frame until quiet, and how many `queue.position` frames
  the waiting sockets got for it.
- accept: the console sends `accept` (the next waiting client). CPU time as above, and for
  every client still waiting the time from sending `accept` until its socket had a
  `queue.position` with its new place (one ahead): p50, p99, max, and how many got it
  within the wait.

CPU time is read from Linux's per-thread scheduler statistics of the daphne process
(`/proc/<pid>/task/*/schedstat`, nanoseconds), minus what the same process used idle over
as long a time (measured before each N). "Quiet" means no frame reached any socket for
`--quiet` seconds (longer than the server's announcement interval).

Setups: `postgres` (PostgreSQL + Redis pub/sub, the default) or `sqlite` (SQLite file +
in-memory layer). The timed rules are off (`TIMED_RULES=off`) so that no sweep runs
during a measurement, and the flood limits are lifted (every socket is 127.0.0.1). Daphne
runs with a 1 MiB websocket message limit (`--max-message-size`): with the production
limit of 65536 bytes the console's snapshot and `queue.updated` no longer fit from about
450 waiting, and the console's socket closes.

    .venv/bin/python bench/queue_fanout.py                     # 50, 200, 500 waiting
    .venv/bin/python bench/queue_fanout.py --sizes 20 --repeat 2   # a quick look
    .venv/bin/python bench/queue_fanout.py --setup sqlite --sizes 100

Every wait is bounded (`--max-seconds` per size); a size cut short says so. No timing is
asserted; the script prints a table and exits 0 (1 when a setup crashed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import _common as bench

DB_NAME = "bench_chatcounsel_fanout"
CONNECT_BATCH = 25  # sockets opened (and resumed) at once
WAIT = 60.0  # seconds for one expected frame during set-up


# --- CPU of the daphne process, in nanoseconds ------------------------------------------------
def cpu_ns(pid: int) -> int:
    """Time on a CPU of every thread the process has now (threads that ended are not
    counted; daphne's threads live as long as it does)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


# --- data ---------------------------------------------------------------------------------------
def prepare(size: int, label: str) -> tuple[int, list[str], str]:
    """A unit open around the clock with `size` waiting conversations (one message each)
    and one available worker; returns the unit id, the resume tokens in queue order and
    the worker's session cookie."""
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Presence, Unit, User
    from chat.models import Case, ClientRecord, Conversation, Message

    unit = Unit.objects.create(name=f"Fanout {label}", slug=f"fanout-{label}", default_capacity=10)
    worker = User.objects.create_user(
        username=f"fanout-{label}", first_name="Worker", role=User.Role.WORKER
    )
    worker.units.add(unit)
    Presence.objects.create(user=worker, status=Presence.Status.AVAILABLE, capacity=10)
    start = timezone.now() - timedelta(minutes=30)
    tokens = [secrets.token_urlsafe(32) for _ in range(size)]
    cases = Case.objects.bulk_create(
        Case(client=ClientRecord.objects.create(), unit=unit) for _ in range(size)
    )
    made = Conversation.objects.bulk_create(
        Conversation(
            unit=unit,
            case=cases[i],
            token_hash=hashlib.sha256(tokens[i].encode()).hexdigest(),
            queued_at=start + timedelta(milliseconds=i),
            client_seen_at=timezone.now(),
            last_seq=1,
            last_client_message_at=start,
        )
        for i in range(size)
    )
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            seq=1,
            sender=Message.Sender.CLIENT,
            body="Hej, jag väntar.",
            client_id=uuid.uuid4(),
        )
        for conversation in made
    )
    client = Client()
    client.force_login(worker)
    name = settings.SESSION_COOKIE_NAME
    return unit.pk, tokens, f"{name}={client.cookies[name].value}"


# --- sockets ------------------------------------------------------------------------------------
class Listener:
    """One socket read all the time: every frame is kept with the time it arrived."""

    def __init__(self, ws: bench.WebSocket, counter: list[float]) -> None:
        self.ws = ws
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.counter = counter  # [time of the last frame on any socket]
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.ws.recv_json()
                now = time.perf_counter()
                self.frames.append((now, frame))
                self.counter[0] = now
        except (bench.WebSocketClosed, asyncio.CancelledError):
            return

    async def first(self, kind: str, since: int = 0, timeout: float = WAIT) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for _at, frame in self.frames[since:]:
                if frame.get("type") == kind:
                    return frame
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no {kind} within {timeout} s")

    def positions_since(self, index: int) -> list[tuple[float, dict[str, Any]]]:
        return [(at, f) for at, f in self.frames[index:] if f.get("type") == "queue.position"]

    async def close(self) -> None:
        self.task.cancel()
        await self.ws.close()


async def quiet(last_frame: list[float], *, quiet_for: float, limit: float) -> bool:
    """Wait until no socket got a frame for `quiet_for` seconds; False if `limit` ran out."""
    deadline = time.perf_counter() + limit
    await asyncio.sleep(quiet_for)
    while time.perf_counter() < deadline:
        if time.perf_counter() - last_frame[0] >= quiet_for:
            return True
        await asyncio.sleep(0.02)
    return False


async def measure(
    *,
    port: int,
    pid: int,
    unit_id: int,
    tokens: list[str],
    cookie: str,
    repeat: int,
    quiet_for: float,
    max_seconds: float,
) -> dict[str, Any]:
    began = time.perf_counter()
    out: dict[str, Any] = {"cut_short": False}
    last_frame = [time.perf_counter()]

    console = Listener(
        await bench.WebSocket.connect(port, "/ws/console/", cookie=cookie), last_frame
    )
    await console.first("console.snapshot")

    clients: list[Listener] = []
    for offset in range(0, len(tokens), CONNECT_BATCH):
        batch = tokens[offset : offset + CONNECT_BATCH]
        sockets = await asyncio.gather(
            *(bench.WebSocket.connect(port, "/ws/client/") for _ in batch)
        )
        listeners = [Listener(ws, last_frame) for ws in sockets]
        for listener, token in zip(listeners, batch, strict=True):
            await listener.ws.send_json({"type": "resume", "token": token, "after": 1})
        await asyncio.gather(*(listener.first("queue.position") for listener in listeners))
        clients.extend(listeners)
    out["connect_seconds"] = time.perf_counter() - began
    out["waiting"] = len(clients)
    await quiet(last_frame, quiet_for=quiet_for, limit=30)

    # What the process uses doing nothing (its websocket pings, the layer's reader).
    idle_from, idle_cpu = time.perf_counter(), cpu_ns(pid)
    await asyncio.sleep(2.0)
    idle_rate = (cpu_ns(pid) - idle_cpu) / (time.perf_counter() - idle_from)
    out["idle_cpu_ms_per_s"] = idle_rate / 1e6

    def cpu_since(t0: float, c0: int) -> float:
        return (cpu_ns(pid) - c0 - idle_rate * (time.perf_counter() - t0)) / 1e6  # ms

    # --- start ----------------------------------------------------------------------------
    start_cpu: list[float] = []
    start_frames: list[int] = []
    for _ in range(repeat):
        if time.perf_counter() - began > max_seconds:
            out["cut_short"] = True
            break
        newcomer = Listener(await bench.WebSocket.connect(port, "/ws/client/"), last_frame)
        await quiet(last_frame, quiet_for=quiet_for, limit=30)
        marks = [len(c.frames) for c in clients]
        t0, c0 = time.perf_counter(), cpu_ns(pid)
        await newcomer.ws.send_json(
            {
                "type": "start",
                "unit": unit_id,
                "token": secrets.token_urlsafe(32),
                "body": "Hej, jag behöver hjälp.",
                "client_id": str(uuid.uuid4()),
            }
        )
        await newcomer.first("queue.position")
        if not await quiet(last_frame, quiet_for=quiet_for, limit=max_seconds):
            out["cut_short"] = True
        start_cpu.append(cpu_since(t0, c0))
        start_frames.append(
            sum(len(c.positions_since(m)) for c, m in zip(clients, marks, strict=True))
        )
        clients.append(newcomer)
    out["start_cpu_ms"] = start_cpu
    out["start_frames_to_others"] = start_frames

    # --- accept ---------------------------------------------------------------------------
    accept_cpu: list[float] = []
    latencies: list[float] = []
    missing = 0
    for _ in range(repeat):
        if time.perf_counter() - began > max_seconds:
            out["cut_short"] = True
            break
        await quiet(last_frame, quiet_for=quiet_for, limit=30)
        marks = [len(c.frames) for c in clients]
        console_mark = len(console.frames)
        t0, c0 = time.perf_counter(), cpu_ns(pid)
        await console.ws.send_json({"type": "accept"})
        assigned = await console.first("conversation.assigned", since=console_mark)
        taken = assigned["conversation"]
        if not await quiet(last_frame, quiet_for=quiet_for, limit=max_seconds):
            out["cut_short"] = True
        accept_cpu.append(cpu_since(t0, c0))
        still: list[Listener] = []
        for client, mark in zip(clients, marks, strict=True):
            before = [f for _at, f in client.frames[:mark] if f.get("type") == "queue.position"]
            if before and before[-1]["conversation"] == taken:
                continue  # the one accepted
            still.append(client)
            old = before[-1]["position"] if before else None
            moved = [
                at for at, f in client.positions_since(mark) if old and f["position"] == old - 1
            ]
            if moved:
                latencies.append(moved[0] - t0)
            else:
                missing += 1
        clients = still
    out["accept_cpu_ms"] = accept_cpu
    out["accept_latency"] = {
        "samples": len(latencies),
        "missing": missing,
        "p50": bench.percentile(latencies, 50),
        "p99": bench.percentile(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
    }
    out["seconds"] = time.perf_counter() - began
    await asyncio.gather(*(c.close() for c in clients), console.close(), return_exceptions=True)
    return out


# --- one run ------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    database = "postgres" if args.setup == "postgres" else "sqlite"
    redis_url = args.redis_url if args.setup == "postgres" else None
    db = bench.ScratchDatabase(database, DB_NAME)
    logdir = tempfile.mkdtemp(prefix="ccbench-logs-")
    results: list[dict[str, Any]] = []
    server: bench.Daphne | None = None
    try:
        env = bench.bench_env(db.create(), redis_url)
        env["TIMED_RULES"] = "off"
        bench.django_setup(env, unset_redis=redis_url is None)
        bench.migrate()
        for size in args.sizes:
            unit_id, tokens, cookie = prepare(size, f"n{size}")
            bench.close_db_connections()
            # A fresh process per size: no memory of the last one's sockets.
            server = bench.Daphne(env, logdir, f"n{size}", max_message_bytes=args.max_message_size)
            server.wait_ready()
            load_before = bench.machine_line()
            result = asyncio.run(
                asyncio.wait_for(
                    measure(
                        port=server.port,
                        pid=server.proc.pid,
                        unit_id=unit_id,
                        tokens=tokens,
                        cookie=cookie,
                        repeat=args.repeat,
                        quiet_for=args.quiet,
                        max_seconds=args.max_seconds,
                    ),
                    args.max_seconds * 3 + 120,
                )
            )
            result.update(size=size, load_before=load_before, load_after=bench.machine_line())
            results.append(result)
            print_one(result, flush=True)
            server.stop()
            server = None
        return results
    except BaseException:
        if server is not None:
            print(f"--- daphne log tail (port {server.port}) ---", file=sys.stderr)
            print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        if server is not None:
            server.stop()
        bench.close_db_connections()
        if redis_url:
            bench.flush_redis_prefix(redis_url)
        db.drop()
        shutil.rmtree(logdir, ignore_errors=True)


def span(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def print_one(r: dict[str, Any], *, flush: bool = False) -> None:
    lat = r["accept_latency"]
    print(
        f"N={r['size']}: start CPU ms {span(r['start_cpu_ms'])}, "
        f"frames to the others per start {r['start_frames_to_others']}; "
        f"accept CPU ms {span(r['accept_cpu_ms'])}; "
        f"new place after accept: {lat['samples']} samples, {lat['missing']} missing, "
        f"p50 {bench.ms(lat['p50'])} ms, p99 {bench.ms(lat['p99'])} ms, "
        f"max {bench.ms(lat['max'])} ms; idle {r['idle_cpu_ms_per_s']:.1f} ms/s; "
        f"connect {r['connect_seconds']:.1f} s; {r['load_before']}"
        + ("; CUT SHORT by --max-seconds" if r["cut_short"] else ""),
        flush=flush,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[50, 200, 500]
    )
    parser.add_argument("--repeat", type=int, default=5, help="starts and accepts per size")
    parser.add_argument(
        "--quiet", type=float, default=0.6, help="seconds without a frame that count as quiet"
    )
    parser.add_argument("--max-seconds", type=float, default=180.0, help="per size")
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=1 << 20,
        help="daphne's --websocket-max-message-size: the console's snapshot and queue.updated "
        "outgrow the production 65536 at about 450 waiting",
    )
    parser.add_argument("--redis-url", default=bench.DEFAULT_REDIS_URL)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    if not 1 <= args.repeat <= 9:
        parser.error("--repeat must be 1-9 (the worker's capacity is 10)")
    if any(not 1 <= size <= 2000 for size in args.sizes):
        parser.error("sizes must be 1-2000")
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    print(f"machine: {bench.machine_line()}; setup {args.setup}; commit {commit()}")
    results = run(args)
    print()
    print(
        bench.table(
            [
                "waiting",
                "start CPU ms",
                "frames/start",
                "accept CPU ms",
                "place p50 ms",
                "p99",
                "max",
                "missing",
            ],
            [
                [
                    r["size"],
                    span(r["start_cpu_ms"]),
                    max(r["start_frames_to_others"], default=0),
                    span(r["accept_cpu_ms"]),
                    bench.ms(r["accept_latency"]["p50"]),
                    bench.ms(r["accept_latency"]["p99"]),
                    bench.ms(r["accept_latency"]["max"]),
                    r["accept_latency"]["missing"],
                ]
                for r in results
            ],
        )
    )
    if args.json:
        print("RESULT " + json.dumps(results))
    return 0


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=bench.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
