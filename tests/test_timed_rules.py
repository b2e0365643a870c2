"""The timed rules have one home (chat/services/timed.py) and one trigger per deployment:
the in-process timer of the embedded default (chat/timers.py) or the scheduler process.
Nothing runs them from a heartbeat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async

from chat import timers
from chat.models import Handover
from tests.factories import next_frame
from tests.handover_personas import active_conversation, expire, hand_over

pytestmark = pytest.mark.django_db(transaction=True)


async def app(scope, receive, send) -> None:
    return None


async def started_timer(settings, monkeypatch, mode: str):
    """The middleware after one connection, its sweep counted instead of run."""
    settings.TIMED_RULES = mode
    runs: list[str] = []
    monkeypatch.setattr(timers, "timed_sweep", lambda: runs.append("sweep"))
    monkeypatch.setattr(timers, "timed_nightly", lambda: runs.append("purge") or _Report())
    middleware = timers.TimedRulesInProcess(app, every=0.001)
    await middleware({"type": "websocket"}, None, None)
    return middleware, runs


class _Report:
    counts: dict = {}


async def until(check, rounds: int = 2000) -> None:
    for _ in range(rounds):  # bounded: at most a couple of seconds on a loaded machine
        if check():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("it never happened")


async def test_the_embedded_default_runs_the_sweep_in_its_own_process(settings, monkeypatch):
    middleware, runs = await started_timer(settings, monkeypatch, "process")
    try:
        await until(lambda: runs.count("sweep") >= 2)  # again and again, not once
    finally:
        middleware.task.cancel()


@pytest.mark.parametrize("mode", ["scheduler", "off"])
async def test_no_timer_runs_where_the_scheduler_does_it_or_the_rules_are_off(
    settings, monkeypatch, mode
):
    middleware, runs = await started_timer(settings, monkeypatch, mode)
    await asyncio.sleep(0.05)
    assert middleware.task is None
    assert runs == []


async def test_the_timer_starts_once_however_many_connections(settings, monkeypatch):
    middleware, _runs = await started_timer(settings, monkeypatch, "process")
    first = middleware.task
    await middleware({"type": "http"}, None, None)
    assert middleware.task is first
    first.cancel()


async def test_the_purge_runs_when_its_hour_has_come(settings, monkeypatch):
    monkeypatch.setattr(timers, "next_purge_after", lambda moment: moment - timedelta(seconds=1))
    middleware, runs = await started_timer(settings, monkeypatch, "process")
    try:
        await until(lambda: "purge" in runs)
    finally:
        middleware.task.cancel()


async def test_a_failing_run_does_not_stop_the_timer(settings, monkeypatch):
    settings.TIMED_RULES = "process"
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")

    monkeypatch.setattr(timers, "timed_sweep", flaky)
    middleware = timers.TimedRulesInProcess(app, every=0.001)
    await middleware({"type": "websocket"}, None, None)
    try:
        await until(lambda: len(calls) >= 2)
    finally:
        middleware.task.cancel()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 6, 1, 0, tzinfo=UTC), datetime(2026, 12, 6, 2, 15, tzinfo=UTC)),
        (datetime(2026, 12, 6, 3, 0, tzinfo=UTC), datetime(2026, 12, 7, 2, 15, tzinfo=UTC)),
    ],
)
def test_the_purge_is_at_a_quarter_past_three_stockholm_time(now, expected):
    assert timers.next_purge_after(now) == expected


async def test_a_console_heartbeat_runs_no_timed_rule(ws, ekonomi, anna, bengt):
    """An offer past its time stays offered through heartbeats; the sweep expires it."""

    @database_sync_to_async
    def overdue_offer() -> Handover:
        talk, _token = active_conversation(ekonomi, anna)
        offer = hand_over(talk, anna, to_worker=bengt)
        expire(offer)
        return offer

    offer = await overdue_offer()
    console, _snapshot = await ws.console(anna)

    await console.send_json_to({"type": "ping"})
    await next_frame(console, "pong")

    state = await database_sync_to_async(lambda: Handover.objects.get(pk=offer.pk).state)()
    assert state == Handover.State.OFFERED
    from chat.services.timed import timed_sweep

    await database_sync_to_async(timed_sweep)()
    state = await database_sync_to_async(lambda: Handover.objects.get(pk=offer.pk).state)()
    assert state == Handover.State.EXPIRED


def test_the_services_import_each_other_only_at_the_top():
    """The sweep used to import the conversation and handover services inside a function,
    to get round an import circle through the queue services. Now every service module
    imports what it needs at the top, so the dependencies between them are plain to see."""
    import ast
    from pathlib import Path

    services = Path(__file__).resolve().parent.parent / "chat" / "services"
    hidden = []
    for path in sorted(services.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{path.name}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                ]
    assert hidden == []


def test_the_served_application_carries_the_timer():
    """What daphne serves (Procfile, make demo) is wrapped in the timer, which runs only
    where TIMED_RULES says `process`."""
    from chatcounsel.asgi import application

    assert isinstance(application, timers.TimedRulesInProcess)
