"""The sync (database-thread) work of a console connect and of a `start`, profiled in one
process on PostgreSQL: CPU milliseconds per operation (this process only, not PostgreSQL),
statements per operation, and a cProfile by CPU time. Steadier than `make bench` on a
shared machine: it measures one thread's own CPU time, not rates.

- connect: what a console's connect runs in sync code: the auth middleware's read of the
  session and account, the session check with the units, and the snapshot (the worker
  already has a console open, as in the storm scenario). The async side (the handshake,
  group joins, the frame) is not in it.
- start: a client's `start` with `--waiting` clients waiting (500 by default), the sync
  after it, and the unit's announcement read once (as a server's coalescing announcer
  does, with the join it was marked with), each timed apart.

    .venv/bin/python bench/profile_paths.py connect
    .venv/bin/python bench/profile_paths.py start --server-root ../chatcounsel-before

The data is bench/standard.py's, made in a scratch database (`--db-name`, dropped first and
at the end). Exits 0; 1 when a set-up step failed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import _common as bench


def profiled(what: Callable[[int], Any], n: int, rows: int) -> None:
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for i in range(n):
        what(10_000 + i)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(rows)
    print(out.getvalue())


def statements(what: Callable[[int], Any], i: int) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        what(i)
    return [query["sql"] for query in captured.captured_queries]


def connect_path(fx: Any) -> Callable[[int], Any]:
    from channels.auth import get_user
    from django.conf import settings

    from chat.consumers import base, console

    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = [cookie.split("=", 1)[1] for cookie in fx.staff_cookies]

    def one(i: int) -> Any:
        key = keys[i % len(keys)]
        scope = {"session": store(key)}
        user = get_user.func(scope)
        if hasattr(base, "staff_opening"):
            ok, units = base.staff_opening(user, scope["session"], console.console_units)
            assert ok
            return console.console_snapshot.func(user, f"profile.{i}", key, units)
        # Before the connect took one crossing (for --server-root at an older commit).
        assert base.staff_session_ok.func(user, scope["session"])
        console.console_unit_ids.func(user)
        return console.console_snapshot.func(user, f"profile.{i}", key)

    for i in range(len(keys) * 2):  # every worker has a console open already
        one(i)
    return one


def start_path(fx: Any, parts: dict[str, float]) -> Callable[[int], Any]:
    import inspect

    from chat import announce
    from chat.consumers import client

    unit = fx.queue_unit_id
    # As in a server: the announcement is read once per change by the loop's announcer
    # (timed below), not at once in the committing thread. A checkout whose announcer
    # reads a join at the back without the whole queue is given the join, as its
    # announcer would be (its places were sent moments before).
    marked: list[tuple[int, int | None]] = []
    announce.unit_changed = lambda unit_id, joined=None: marked.append((unit_id, joined))
    knows_joins = "joined" in inspect.signature(announce.announcements).parameters

    def one(i: int) -> Any:
        token = secrets.token_urlsafe(32)
        frame = {
            "type": "start",
            "unit": unit,
            "token": token,
            "body": f"Hej ({i})",
            "client_id": str(uuid.uuid4()),
        }
        marked.clear()
        a = time.process_time()
        client.client_start.func(client.first_message(frame), None)
        b = time.process_time()
        client.client_sync.func(token, 0)
        c = time.process_time()
        if knows_joins:
            joined = {u: {j} for u, j in marked if j is not None and (u, None) not in marked}
            events = announce.announcements([unit], joined=joined)
        else:
            events = announce.announcements([unit])
        d = time.process_time()
        parts["start"] += b - a
        parts["sync"] += c - b
        parts["announcement"] += d - c
        return events

    for i in range(5):
        one(i)
    return one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["connect", "start"])
    parser.add_argument("-n", type=int, default=200, help="operations measured (start: 40)")
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--rows", type=int, default=40, help="profile rows printed")
    parser.add_argument(
        "--server-root",
        default=os.environ.get("BENCH_SERVER_ROOT") or str(bench.PROJECT_ROOT),
        help="the checkout whose code is profiled (default: this one)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"))
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", bench.PG_ADMIN_URL))
    parser.add_argument("--db-name", default=os.environ.get("BENCH_DB_NAME", "cc_profile"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.server_root).resolve()))
    import standard  # the bench's data, written with the profiled checkout's models

    db = bench.ScratchDatabase("postgres", args.db_name, args.pg_url)
    try:
        env = bench.bench_env(db.create(), args.redis_url, debug=False)
        bench.django_setup(env, unset_redis=args.redis_url is None)
        bench.migrate()
        sizes = standard.Sizes.quick()
        sizes.paced_conversations = sizes.idle_with_conversation = 1000
        sizes.queue_waiting = args.waiting
        fx = standard.make_fixtures(sizes)
        import chat

        print(f"code from {Path(chat.__file__).parent.parent}")
        parts = {"start": 0.0, "sync": 0.0, "announcement": 0.0}
        n = args.n if args.what == "connect" or args.n != 200 else 40
        one = connect_path(fx) if args.what == "connect" else start_path(fx, parts)
        sql = statements(one, 5_000)
        print(f"{args.what}: {len(sql)} statements")
        for text in sql:
            print(f"  {text[:110]}")
        for key in parts:
            parts[key] = 0.0
        started = time.process_time()
        for i in range(n):
            one(20_000 + i)
        used = time.process_time() - started
        split = "".join(f"; {k} {v * 1000 / n:.2f}" for k, v in parts.items() if v)
        print(f"{args.what}: {used * 1000 / n:.2f} CPU ms each (this process){split}")
        print(f"load average {os.getloadavg()[0]:.1f}\n")
        profiled(one, n, args.rows)
    except Exception:
        import traceback

        traceback.print_exc()
        return 1
    finally:
        bench.close_db_connections()
        db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
