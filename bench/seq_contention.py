"""Many writers in ONE conversation: messages per second under the row lock, and a gapless
`seq` (PostgreSQL only).

One active conversation (a client and its worker). T threads, each with its own database
connection, post P messages each through `chat.services.messages.message_post`; even
threads write as the client, odd ones as the worker, so both kinds of writer take the same
row lock. Afterwards the script checks, and prints, that the conversation's messages are
numbered 1..N without a gap or a repeat, that `last_seq` is N and that every post is stored
exactly once.

The threads keep their connection (one per thread, closed at the end): this measures the
lock and the statements, not connection set-up. Publishing is off by default
(`--layer none`: the `conversation.message` event is built but not sent); `--layer redis`
sends it through the Redis pub/sub layer from each thread.

    .venv/bin/python bench/seq_contention.py              # 1 and 8 threads x 100 messages
    .venv/bin/python bench/seq_contention.py --quick      # 1 and 4 threads x 25 messages
    .venv/bin/python bench/seq_contention.py --threads 1,2,4,16 --messages 50

No timing is asserted; the script prints a table and the checks and exits 0 (1 only when
a check fails or a run crashed).
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import sys
import threading
import time
import uuid
from typing import Any

import _common as bench

DB_NAME = "bench_chatcounsel_seq"


def prepare(run: int) -> tuple[Any, Any]:
    """A unit, a worker and one active conversation with the client's first message."""
    from accounts.models import Presence, Unit, User
    from chat.services.conversations import conversation_accept, conversation_start

    unit = Unit.objects.create(name=f"Seq {run}", slug=f"seq-{run}")
    worker = User.objects.create_user(
        username=f"seq-{run}", first_name="Worker", role=User.Role.WORKER
    )
    worker.units.add(unit)
    Presence.objects.create(user=worker, status=Presence.Status.AVAILABLE, capacity=3)
    conversation, _ = conversation_start(
        unit_id=unit.pk,
        token=secrets.token_urlsafe(32),
        body="Hej",
        client_id=uuid.uuid4(),
    )
    conversation_accept(worker=worker, conversation_id=conversation.pk)
    conversation.refresh_from_db()
    return conversation, worker


def post_all(
    conversation: Any, worker: Any, threads: int, messages: int, max_seconds: float
) -> tuple[list[tuple[str, float]], dict[str, int], float, int, bool]:
    """Run the threads; returns (client_id, seconds) per stored post, errors by kind, the
    wall time, the number of SQL statements and whether the time limit stopped a thread."""
    from django.db import connection

    from chat.services.messages import message_post

    posts: list[tuple[str, float]] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]
    stopped = [False]
    statements = [0]

    def work(index: int) -> None:
        author = None if index % 2 == 0 else worker
        local: list[tuple[str, float]] = []
        local_errors: dict[str, int] = {}
        count = [0]

        def counter(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            count[0] += 1
            return execute(sql, params, many, context)

        try:
            barrier.wait()
            with connection.execute_wrapper(counter):
                post_some(index, author, local, local_errors)
        finally:
            connection.close()
            with lock:
                posts.extend(local)
                statements[0] += count[0]
                for kind, n in local_errors.items():
                    errors[kind] = errors.get(kind, 0) + n

    def post_some(
        index: int,
        author: Any,
        local: list[tuple[str, float]],
        local_errors: dict[str, int],
    ) -> None:
        for i in range(messages):
            if time.monotonic() >= deadline[0]:
                stopped[0] = True
                return
            client_id = str(uuid.uuid4())
            started = time.perf_counter()
            try:
                _message, created = message_post(
                    conversation_id=conversation.pk,
                    author=author,
                    body=f"tråd {index} meddelande {i}",
                    client_id=client_id,
                )
            except Exception as error:  # counted and shown, never hidden
                kind = type(error).__name__
                local_errors[kind] = local_errors.get(kind, 0) + 1
                continue
            if created:
                local.append((client_id, time.perf_counter() - started))

    pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    deadline[0] = time.monotonic() + max_seconds
    began = time.perf_counter()
    barrier.wait()
    for thread in pool:
        thread.join(timeout=max_seconds + 30)
    return posts, errors, time.perf_counter() - began, statements[0], stopped[0]


def check(conversation: Any, posts: list[tuple[str, float]]) -> list[tuple[str, bool, str]]:
    from chat.models import Conversation, Message

    seqs = list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    last_seq = Conversation.objects.get(pk=conversation.pk).last_seq
    expected = list(range(1, len(seqs) + 1))
    stored_ids = set(
        str(c)
        for c in Message.objects.filter(
            conversation=conversation, client_id__in=[c for c, _ in posts]
        ).values_list("client_id", flat=True)
    )
    gaps = sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1)
    return [
        ("seq is 1..N without gaps or repeats", seqs == expected, f"N={len(seqs)}, gaps={gaps}"),
        ("last_seq = N", last_seq == len(seqs), f"last_seq={last_seq}"),
        (
            "every post stored once",
            len(stored_ids) == len(posts) == len({c for c, _ in posts}),
            f"{len(posts)} posts, {len(stored_ids)} stored",
        ),
        (
            "N = posts + the 2 set-up messages",
            len(seqs) == len(posts) + 2,
            "first message and the `accepted` event",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,8", help="comma-separated thread counts")
    parser.add_argument("--messages", type=int, default=100, help="per thread")
    parser.add_argument("--layer", choices=["none", "redis"], default="none")
    parser.add_argument("--redis-url", default=bench.DEFAULT_REDIS_URL)
    parser.add_argument("--max-seconds", type=float, default=45.0, help="per thread count")
    parser.add_argument("--quick", action="store_true", help="1 and 4 threads x 25 messages")
    args = parser.parse_args()
    if args.quick:
        args.threads, args.messages, args.max_seconds = "1,4", 25, 5.0
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
            conversation, worker = prepare(run)
            bench.close_db_connections()
            cpu_before = time.process_time()
            posts, errors, seconds, statements, stopped = post_all(
                conversation, worker, threads, args.messages, args.max_seconds
            )
            cpu_share = (time.process_time() - cpu_before) / seconds if seconds else 0.0
            checks = check(conversation, posts)
            bench.close_db_connections()
            latencies = [d for _, d in posts]
            rows.append(
                [
                    threads,
                    threads * args.messages,
                    len(posts),
                    f"{seconds:.2f}",
                    f"{len(posts) / seconds:.0f}" if seconds else "—",
                    bench.ms(bench.percentile(latencies, 50)),
                    bench.ms(bench.percentile(latencies, 95)),
                    bench.ms(bench.percentile(latencies, 99)),
                    f"{statements / max(1, len(posts)):.0f}",
                    f"{cpu_share:.0%}",
                    sum(errors.values()),
                ]
            )
            note = " (stopped by --max-seconds)" if stopped else ""
            print(f"\nthreads={threads}{note}: {bench.machine_line()}")
            for what, ok, detail in checks:
                all_ok = all_ok and ok
                print(f"  check {'ok    ' if ok else 'FAILED'} {what}: {detail}")
            if errors:
                print(f"  errors: {errors}")
    finally:
        bench.close_db_connections()
        if redis_url:
            bench.flush_redis_prefix(redis_url)
        db.drop()

    print(f"\nlayer: {args.layer}; one conversation; even threads write as the client")
    print(
        bench.table(
            [
                "threads",
                "asked",
                "stored",
                "seconds",
                "messages/s",
                "p50 ms",
                "p95",
                "p99",
                "SQL/message",
                "bench CPU",
                "errors",
            ],
            rows,
        )
    )
    print(
        "'bench CPU' is this process's CPU time over the wall time (all threads share one "
        "interpreter lock)."
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
