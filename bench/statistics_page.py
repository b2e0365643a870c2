"""How fast the statistics page answers with a year of a municipality's data.

Generates a year of history in a scratch database: N conversations (200,000 by default)
over U units (6), with the times, states and counts the figures read (waits, lengths,
left-the-queue, questions outside hours), handovers (5 %), follow-up questions (20 %),
survey answers (10 %) and a staffing sample per unit every five minutes (the timed
sweep's). No message rows: the figures never read them. Then a supervisor of every unit
asks for the page and the CSV, each timed over several runs (Django's test client, the
whole view: parsing, queries, rendering), for:

- the default page: all units, the last four weeks;
- one unit, one month;
- all units, the whole year (a custom period of 365 days) and its CSV.

Before timing, the statistics' roll-up is filled for every closed day (the backfill the
nightly rule keeps up to date, chat/services/statistics.py), so the page reads stored days
for the past and the tables for today; `--live` times the page without it.

    .venv/bin/python bench/statistics_page.py                        # PostgreSQL, 200,000
    .venv/bin/python bench/statistics_page.py --quick                # 20,000, 3 runs
    .venv/bin/python bench/statistics_page.py --backend sqlite
    .venv/bin/python bench/statistics_page.py --db-name cc_mine      # another scratch name
    .venv/bin/python bench/statistics_page.py --reuse --live         # without the roll-up

The PostgreSQL database (`--db-name`, default `cc_stats_bench`) is dropped first and at
the end. No timing is asserted; it prints a table (docs/performance.md has the latest).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta
from typing import Any

import _common as bench

UNIT_NAMES = [
    "Ekonomiskt bistånd",
    "Våld i nära relationer",
    "Barn och familj",
    "Beroende",
    "Äldreomsorg",
    "Socialjour",
]
CHUNK = 5000
SAMPLE_MINUTES = 5


def hourly_weight(hour: int, weekday: int) -> float:
    """More clients on weekday office hours, fewer at night and at weekends."""
    day = 1.0 if weekday < 5 else 0.45
    if 8 <= hour < 17:
        return 3.0 * day
    if 17 <= hour < 22:
        return 1.2 * day
    return 0.25 * day


def generate(units_n: int, conversations_n: int, seed: int = 15) -> dict[str, int]:
    from django.utils import timezone

    from accounts.models import Unit, User
    from chat.models import (
        Case,
        ClientRecord,
        Conversation,
        FollowUp,
        Handover,
        StaffingSample,
        SurveyAnswer,
    )

    rng = random.Random(seed)  # benchmark data, not a secret
    # The history's own times, not the insert's: auto_now_add is lifted in this process only.
    for model in (Conversation, FollowUp, Handover, SurveyAnswer, Case):
        model._meta.get_field("created_at").auto_now_add = False  # type: ignore[union-attr]

    units = [
        Unit.objects.create(name=name, slug=f"bench-{i}")
        for i, name in enumerate((UNIT_NAMES * 4)[:units_n])
    ]
    workers = []
    for i, unit in enumerate(units):
        for k in range(6):
            worker = User.objects.create_user(
                username=f"w{i}-{k}", password=None, first_name=f"W{i}{k}", role="worker"
            )
            worker.units.set([unit])
            workers.append((unit, worker))
    supervisor = User.objects.create_user(username="boss", password=None, role="supervisor")
    supervisor.units.set(units)
    by_unit = {unit.pk: [w for u, w in workers if u.pk == unit.pk] for unit in units}

    # Stepped in UTC (local steps repeat an hour when the clocks go back), weighed locally.
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=365)
    hours = []
    t = start
    while t < end:
        local = timezone.localtime(t)
        hours.append((t, hourly_weight(local.hour, local.weekday())))
        t += timedelta(hours=1)
    total_weight = sum(w for _t, w in hours) * len(units)

    counts = {"conversations": 0, "handovers": 0, "followups": 0, "surveys": 0, "samples": 0}
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        clients = ClientRecord.objects.bulk_create(ClientRecord() for _ in pending)
        cases = Case.objects.bulk_create(
            Case(client=c, unit=p["unit"], status="closed", created_at=p["created"])
            for c, p in zip(clients, pending, strict=True)
        )
        conversations = Conversation.objects.bulk_create(
            Conversation(case=case, token_hash=f"bench-{counts['conversations'] + n}", **p["row"])
            for n, (case, p) in enumerate(zip(cases, pending, strict=True))
        )
        counts["conversations"] += len(conversations)
        handovers, followups, surveys = [], [], []
        for c in conversations:
            if c.state != "ended":
                continue
            roll = rng.random()
            if roll < 0.05:
                handovers.append(
                    Handover(
                        conversation=c,
                        from_worker=c.worker,
                        from_unit=c.unit,
                        to_unit=rng.choice(units),
                        note="",
                        share_history=False,
                        at_seq=1,
                        state="queued",
                        created_at=c.ended_at,
                    )
                )
            if roll < 0.20:
                answered = rng.random() < 0.6
                followups.append(
                    FollowUp(
                        case=c.case,
                        conversation=c,
                        kind="to_client",
                        body="",
                        created_at=c.ended_at,
                        answered_at=c.ended_at + timedelta(hours=rng.uniform(1, 72))
                        if answered
                        else None,
                    )
                )
            if rng.random() < 0.10:
                surveys.append(
                    SurveyAnswer(
                        conversation=c,
                        helped=rng.choice(["yes", "yes", "partly", "no"]),
                        rating=rng.randint(2, 5),
                        created_at=c.ended_at,
                    )
                )
        Handover.objects.bulk_create(handovers)
        FollowUp.objects.bulk_create(followups)
        SurveyAnswer.objects.bulk_create(surveys)
        counts["handovers"] += len(handovers)
        counts["followups"] += len(followups)
        counts["surveys"] += len(surveys)
        pending.clear()

    for unit in units:
        for hour_start, weight in hours:
            expected = conversations_n * weight / total_weight
            n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(n):
                created = hour_start + timedelta(seconds=rng.uniform(0, 3600))
                roll = rng.random()
                row: dict[str, Any] = {"unit": unit, "created_at": created, "queued_at": created}
                if roll < 0.03:
                    row.update(state="offline", ended_at=created, ended_by="client")
                elif roll < 0.11:
                    row.update(
                        state="abandoned",
                        ended_at=created + timedelta(minutes=rng.expovariate(1 / 4)),
                        ended_by="client",
                    )
                else:
                    first = created + timedelta(minutes=rng.expovariate(1 / 3))
                    row.update(
                        state="ended",
                        worker=rng.choice(by_unit[unit.pk]),
                        accepted_at=first,
                        first_accepted_at=first,
                        ended_at=first + timedelta(minutes=rng.uniform(5, 45)),
                        ended_by="worker",
                        last_seq=rng.randint(4, 40),
                    )
                pending.append({"unit": unit, "created": created, "row": row})
                if len(pending) >= CHUNK:
                    flush()
    flush()

    samples = []
    for unit in units:
        t = start
        while t < end:
            local = timezone.localtime(t)
            busy = hourly_weight(local.hour, local.weekday())
            online = max(0, round(busy * 1.5 + rng.uniform(-1, 1)))
            samples.append(
                StaffingSample(
                    unit=unit,
                    at=t,
                    staff_online=online,
                    staff_serving=max(0, online - rng.randint(0, 1)),
                    waiting=max(0, round(rng.uniform(-1, busy))),
                )
            )
            t += timedelta(minutes=SAMPLE_MINUTES)
            if len(samples) >= CHUNK * 4:
                StaffingSample.objects.bulk_create(samples)
                counts["samples"] += len(samples)
                samples = []
    StaffingSample.objects.bulk_create(samples)
    counts["samples"] += len(samples)
    counts["supervisor"] = supervisor.pk
    counts["first_unit"] = units[0].pk
    return counts


def time_requests(
    supervisor_id: int, unit_id: int, runs: int, pg: Any | None = None
) -> list[list[object]]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User

    client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(pk=supervisor_id))
    today = timezone.localdate()
    cases = [
        ("page: all units, last four weeks", "/dashboard/statistics/", {}),
        (
            "page: one unit, one month",
            "/dashboard/statistics/",
            {"period": "month", "date": (today - timedelta(days=40)).isoformat(), "unit": unit_id},
        ),
        (
            "page: all units, a year",
            "/dashboard/statistics/",
            {
                "period": "custom",
                "start": (today - timedelta(days=364)).isoformat(),
                "end": today.isoformat(),
            },
        ),
        (
            "CSV: all units, a year",
            "/dashboard/statistics.csv",
            {
                "period": "custom",
                "start": (today - timedelta(days=364)).isoformat(),
                "end": today.isoformat(),
            },
        ),
    ]
    rows: list[list[object]] = []
    for label, path, query in cases:
        timings, cpus = [], []
        queries = 0
        for _ in range(runs):
            reset_queries()
            pg_before = pg.cpu() if pg is not None else {}
            cpu_before = time.process_time()
            started = time.perf_counter()
            response = client.get(path, query)
            timings.append(time.perf_counter() - started)
            # CPU of this process and of its PostgreSQL backend: what the request costs,
            # whatever else the machine is doing.
            cpu = time.process_time() - cpu_before
            if pg is not None:
                cpu += pg.used(pg_before, pg.cpu())
            cpus.append(cpu)
            assert response.status_code == 200, (label, response.status_code)
            queries = len(connection.queries)
        rows.append(
            [
                label,
                bench.ms(bench.percentile(timings, 50)),
                bench.ms(max(timings)),
                bench.ms(bench.percentile(cpus, 50)),
                queries or "—",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--db-name", default="cc_stats_bench")
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20,000 conversations, 3 runs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (for --reuse) instead of dropping it"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="time against the data a --keep run left"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="no roll-up: every figure from the tables (discards stored days)",
    )
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.runs = 20_000, 3

    db = bench.ScratchDatabase(args.backend, args.db_name)
    if args.reuse:
        if args.backend != "postgres":
            parser.error("--reuse needs --backend postgres")
        url = f"{bench.PG_ADMIN_URL.rsplit('/', 1)[0]}/{args.db_name}"
    else:
        url = db.create()
    try:
        # DEBUG on only to count the queries (connection.queries).
        bench.django_setup(bench.bench_env(url, None, debug=True), unset_redis=True)
        from django.db import connection, transaction

        bench.migrate()
        generated = 0.0
        if args.reuse:
            from accounts.models import Unit, User
            from chat.models import Conversation, FollowUp, Handover, StaffingSample, SurveyAnswer

            counts = {
                "conversations": Conversation.objects.count(),
                "handovers": Handover.objects.count(),
                "followups": FollowUp.objects.count(),
                "surveys": SurveyAnswer.objects.count(),
                "samples": StaffingSample.objects.count(),
                "supervisor": User.objects.get(username="boss").pk,
                "first_unit": Unit.objects.order_by("pk").first().pk,  # type: ignore[union-attr]
            }
            args.units = Unit.objects.count()
        else:
            started = time.perf_counter()
            with transaction.atomic():
                if args.backend == "postgres":
                    with connection.cursor() as cursor:  # a scratch database: no fsync wait
                        cursor.execute("SET LOCAL synchronous_commit TO off")
                counts = generate(args.units, args.conversations)
            generated = time.perf_counter() - started
        from chat.services.statistics import statistics_roll_up, statistics_roll_up_discard

        rolled, rolling = 0, 0.0
        if args.live:
            statistics_roll_up_discard()
        else:
            # The backfill the nightly rule keeps up to date: every closed day of every unit.
            started = time.perf_counter()
            rolled = statistics_roll_up()
            rolling = time.perf_counter() - started
        if args.backend == "postgres":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        pg = (
            bench.PostgresBackends(bench.PG_ADMIN_URL, args.db_name)
            if args.backend == "postgres"
            else None
        )
        try:
            rows = time_requests(counts["supervisor"], counts["first_unit"], args.runs, pg)
        finally:
            if pg is not None:
                pg.close()
        print(
            f"statistics page, {args.backend}: {counts['conversations']:,} conversations in "
            f"{args.units} units over a year, {counts['handovers']:,} handovers, "
            f"{counts['followups']:,} follow-up questions, {counts['surveys']:,} survey "
            f"answers, {counts['samples']:,} staffing samples (generated in {generated:.0f} s)"
        )
        if args.live:
            print("no roll-up: every figure read from the tables")
        else:
            print(f"roll-up: {rolled:,} unit days written in {rolling:.1f} s (the backfill)")
        print(bench.machine_line())
        print(bench.table(["request", "p50 ms", "max ms", "CPU p50 ms", "queries"], rows))
    finally:
        bench.close_db_connections()
        if not (args.keep or args.reuse):
            db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
