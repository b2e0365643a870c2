"""Claims per second when many workers press "Accept next" at once (PostgreSQL only).

M conversations wait in one unit's queue. K threads, each with its own database
connection, call `chat.services.conversations.conversation_accept` (without a conversation
id: "the next one") for their share of the workers until nobody waits. Every worker has a
capacity of 10, and there are enough workers to take every conversation. The script then
checks, and prints, that every conversation was claimed exactly once: no claim returned
twice, none left waiting, one `accepted` message each, no worker above capacity.

The threads keep their connection open (one per thread, closed at the end), so this
measures the locking and the queries, not connection set-up. Publishing is off by default
(`--layer none`): queue announcements are still computed, but nothing is sent, because
publishing from a plain thread starts an event loop for every event, which a daphne
process does not. `--layer redis` sends them through the Redis pub/sub layer.

    .venv/bin/python bench/claim_next.py                  # 200 waiting, 1 and 8 threads
    .venv/bin/python bench/claim_next.py --quick          # 40 waiting, 1 and 4 threads
    .venv/bin/python bench/claim_next.py --layer redis --conversations 100

No timing is asserted; the script prints a table and the checks and exits 0 (1 only when
a check fails or a run crashed).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import _common as bench

DB_NAME = "bench_chatcounsel_claim"
CAPACITY = 10


def prepare(run: int, conversations: int, threads: int) -> tuple[Any, list[Any]]:
    """A fresh unit with `conversations` waiting and enough workers for all of them."""
    from django.utils import timezone

    from accounts.models import Presence, Unit, User
    from chat.models import Case, ClientRecord, Conversation, Message

    unit = Unit.objects.create(name=f"Claim {run}", slug=f"claim-{run}", default_capacity=3)
    count = math.ceil(conversations / CAPACITY)
    count = math.ceil(count / threads) * threads  # the same number for every thread
    workers = []
    for i in range(count):
        user = User.objects.create_user(
            username=f"claim-{run}-{i}", first_name=f"W{i}", role=User.Role.WORKER
        )
        user.units.add(unit)
        Presence.objects.create(
            user=user,
            status=Presence.Status.AVAILABLE,
            capacity=CAPACITY,
            last_seen=timezone.now(),
        )
        workers.append(user)
    start = timezone.now() - timedelta(minutes=30)
    cases = Case.objects.bulk_create(
        Case(client=ClientRecord.objects.create(), unit=unit) for _ in range(conversations)
    )
    made = Conversation.objects.bulk_create(
        Conversation(
            unit=unit,
            case=cases[i],
            token_hash=hashlib.sha256(os.urandom(32)).hexdigest(),
            queued_at=start + timedelta(milliseconds=i),
            client_seen_at=timezone.now(),
            last_seq=1,
            last_client_message_at=start,
        )
        for i in range(conversations)
    )
    Message.objects.bulk_create(
        Message(
            conversation=c,
            seq=1,
            sender=Message.Sender.CLIENT,
            body="Hej, jag behöver hjälp",
            client_id=uuid.uuid4(),
        )
        for c in made
    )
    return unit, workers


def claim_all(
    workers: list[Any], threads: int, max_seconds: float
) -> tuple[list[tuple[int, int, float, float]], dict[str, int], float, int, bool]:
    """Run the threads; returns (conversation, worker, started, seconds) per claim, the
    refusals by code, the wall time, the number of SQL statements and whether the time
    limit stopped a thread."""
    from django.db import connection

    from chat.errors import ChatError, NothingWaiting
    from chat.services.conversations import conversation_accept

    claims: list[tuple[int, int, float, float]] = []
    refusals: dict[str, int] = {}
    lock = threading.Lock()
    statements = [0]
    stopped = [False]
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]

    def work(mine: list[Any]) -> None:
        local: list[tuple[int, int, float, float]] = []
        local_refusals: dict[str, int] = {}
        count = [0]

        def counter(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            count[0] += 1
            return execute(sql, params, many, context)

        try:
            barrier.wait()
            with connection.execute_wrapper(counter):
                claim_for(mine, local, local_refusals)
        finally:
            connection.close()
            with lock:
                claims.extend(local)
                statements[0] += count[0]
                for code, n in local_refusals.items():
                    refusals[code] = refusals.get(code, 0) + n

    def claim_for(
        mine: list[Any],
        local: list[tuple[int, int, float, float]],
        local_refusals: dict[str, int],
    ) -> None:
        for worker in mine:
            while True:
                if time.monotonic() >= deadline[0]:
                    stopped[0] = True
                    return
                started = time.perf_counter()
                try:
                    conversation = conversation_accept(worker=worker)
                except NothingWaiting:
                    return
                except ChatError as error:  # at_capacity: this worker is full
                    local_refusals[error.code] = local_refusals.get(error.code, 0) + 1
                    break
                local.append((conversation.pk, worker.pk, started, time.perf_counter() - started))

    pool = [
        threading.Thread(target=work, args=(workers[i::threads],), daemon=True)
        for i in range(threads)
    ]
    for thread in pool:
        thread.start()
    deadline[0] = time.monotonic() + max_seconds
    began = time.perf_counter()
    barrier.wait()
    for thread in pool:
        thread.join(timeout=max_seconds + 30)
    return claims, refusals, time.perf_counter() - began, statements[0], stopped[0]


def check(unit: Any, claims: list[tuple[int, int, float, float]], stopped: bool) -> list:
    """(what, ok, detail) for every property the run must have. A run the time limit
    stopped leaves conversations waiting; then only the claimed ones are checked."""
    from django.db.models import Count

    from chat.models import Conversation, Message

    total = Conversation.objects.filter(unit=unit).count()
    ids = [c for c, _, _, _ in claims]
    waiting = Conversation.objects.filter(unit=unit, state=Conversation.State.QUEUED).count()
    accepted = (
        Message.objects.filter(conversation__unit=unit, event=Message.Event.ACCEPTED)
        .values("conversation")
        .annotate(n=Count("pk"))
    )
    accepted_counts = [row["n"] for row in accepted]
    per_worker = (
        Conversation.objects.filter(unit=unit, state=Conversation.State.ACTIVE)
        .values("worker")
        .annotate(n=Count("pk"))
    )
    busiest = max((row["n"] for row in per_worker), default=0)
    mismatched = sum(
        1
        for conversation_id, worker_id in Conversation.objects.filter(pk__in=ids).values_list(
            "pk", "worker_id"
        )
        if dict((c, w) for c, w, _, _ in claims)[conversation_id] != worker_id
    )
    active = Conversation.objects.filter(unit=unit, state=Conversation.State.ACTIVE).count()
    stop_note = " (stopped by --max-seconds)" if stopped else ""
    return [
        (
            "every conversation claimed" if not stopped else "claims = active conversations",
            (len(ids) == total) if not stopped else (len(ids) == active),
            f"{len(ids)} claims, {active} active, of {total}{stop_note}",
        ),
        ("no conversation returned twice", len(set(ids)) == len(ids), f"{len(set(ids))} distinct"),
        (
            "none left waiting" if not stopped else "waiting = total - claimed",
            waiting == total - len(set(ids)),
            f"{waiting} waiting",
        ),
        (
            "one `accepted` message per claim",
            len(accepted_counts) == len(set(ids)) and set(accepted_counts) <= {1},
            f"{len(accepted_counts)} conversations, most {max(accepted_counts, default=0)}",
        ),
        ("stored worker = claiming worker", mismatched == 0, f"{mismatched} differ"),
        ("no worker above capacity", busiest <= CAPACITY, f"busiest has {busiest}/{CAPACITY}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200, help="waiting at the start")
    parser.add_argument("--threads", default="1,8", help="comma-separated thread counts")
    parser.add_argument("--layer", choices=["none", "redis"], default="none")
    parser.add_argument("--redis-url", default=bench.DEFAULT_REDIS_URL)
    parser.add_argument("--max-seconds", type=float, default=45.0, help="per thread count")
    parser.add_argument("--quick", action="store_true", help="40 waiting, 1 and 4 threads")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.threads, args.max_seconds = 40, "1,4", 5.0
    thread_counts = [int(n) for n in args.threads.split(",") if n.strip()]

    print(f"machine: {bench.machine_line()}")
    redis_url = args.redis_url if args.layer == "redis" else None
    db = bench.ScratchDatabase("postgres", DB_NAME)
    rows = []
    all_ok = True
    try:
        env = bench.bench_env(db.create(), redis_url)
        bench.django_setup(env, unset_redis=redis_url is None)
        if args.layer == "none":
            from django.conf import settings

            settings.CHANNEL_LAYERS = {}
        bench.migrate()
        for run, threads in enumerate(thread_counts):
            unit, workers = prepare(run, args.conversations, threads)
            bench.close_db_connections()
            cpu_before = time.process_time()
            claims, refusals, seconds, statements, stopped = claim_all(
                workers, threads, args.max_seconds
            )
            cpu_share = (time.process_time() - cpu_before) / seconds if seconds else 0.0
            checks = check(unit, claims, stopped)
            bench.close_db_connections()
            latencies = [d for _, _, _, d in sorted(claims, key=lambda c: c[2])]
            quarter = max(1, len(latencies) // 4)
            rows.append(
                [
                    threads,
                    args.conversations,
                    len(claims),
                    f"{seconds:.2f}",
                    f"{len(claims) / seconds:.0f}" if seconds else "—",
                    bench.ms(bench.percentile(latencies, 50)),
                    bench.ms(bench.percentile(latencies, 95)),
                    bench.ms(bench.percentile(latencies, 99)),
                    bench.ms(bench.percentile(latencies[:quarter], 50)),
                    bench.ms(bench.percentile(latencies[-quarter:], 50)),
                    f"{statements / max(1, len(claims) + sum(refusals.values())):.0f}",
                    f"{cpu_share:.0%}",
                    sum(refusals.values()),
                ]
            )
            print(f"\nthreads={threads}: {bench.machine_line()}")
            for what, ok, detail in checks:
                all_ok = all_ok and ok
                print(f"  check {'ok    ' if ok else 'FAILED'} {what}: {detail}")
    finally:
        bench.close_db_connections()
        if redis_url:
            bench.flush_redis_prefix(redis_url)
        db.drop()

    print(f"\nlayer: {args.layer}; one unit; capacity {CAPACITY} per worker")
    print(
        bench.table(
            [
                "threads",
                "waiting",
                "claimed",
                "seconds",
                "claims/s",
                "p50 ms",
                "p95",
                "p99",
                "p50 first 25%",
                "p50 last 25%",
                "SQL/attempt",
                "bench CPU",
                "at capacity",
            ],
            rows,
        )
    )
    print(
        "'first 25%' are the claims made while the queue was longest; 'SQL/attempt' counts "
        "statements per accept call, refused ones included; 'bench CPU' is this "
        "process's CPU time over the wall time (all threads share one interpreter lock); "
        "'at capacity' counts refusals that moved a thread on to its next worker."
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
