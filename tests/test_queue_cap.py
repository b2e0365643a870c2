"""Consoles and dashboards see the front of a queue, never all of it: `queue.updated`,
`console.snapshot` and `dashboard.unit` carry at most `CONSOLE_QUEUE_ROWS` conversations
of a unit and the exact numbers of the whole queue, so their frames stay under the
server's websocket message limit (64 KiB) however many wait."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Unit
from chat import announce, selectors
from chat.consumers.console import console_snapshot
from chat.models import Conversation
from tests import factories
from tests.factories import new_case, next_frame
from tests.test_settings import load_settings

MESSAGE_LIMIT = 64 * 1024  # daphne's --websocket-max-message-size in production
URGENT, NORMAL = Conversation.Priority.URGENT, Conversation.Priority.NORMAL


def frame_bytes(frame: dict) -> int:
    """The size of the frame as Channels sends it (`json.dumps`, then UTF-8)."""
    return len(json.dumps(frame).encode())


def fill(unit: Unit, count: int, *, urgent: frozenset[int] = frozenset(), **fields) -> list[int]:
    """`count` clients queue in `unit`, one second apart (the first has waited longest);
    those numbered in `urgent` are urgent. Their ids, in the order they queued."""
    case = new_case(unit)
    start = timezone.now() - timedelta(hours=2)
    made = Conversation.objects.bulk_create(
        Conversation(
            unit=unit,
            case=case,
            token_hash=secrets.token_hex(32),
            queued_at=start + timedelta(seconds=index),
            priority=URGENT if index in urgent else NORMAL,
            last_seq=1,
            **fields,
        )
        for index in range(count)
    )
    return [c.pk for c in made]


def queue_order(unit: Unit) -> list[int]:
    return list(
        selectors.conversation_list_waiting(unit_ids=[unit.pk]).values_list("pk", flat=True)
    )


def staff_events(unit: Unit) -> dict[str, dict]:
    """The announcement's events for the unit's staff and supervisors, by type."""
    return {e["type"]: e for _g, e in announce.announcements([unit.pk])}


# --- the frames stay small ------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_console_opened_on_600_waiting_gets_a_snapshot_under_the_message_limit(
    ws, ekonomi, anna, settings
):
    settings.CONSOLE_QUEUE_ROWS = 50
    await database_sync_to_async(fill)(ekonomi, 600)
    order = await database_sync_to_async(queue_order)(ekonomi)

    console, snapshot = await ws.console(anna)

    assert frame_bytes(snapshot) < MESSAGE_LIMIT
    assert snapshot["units"] == [
        {"id": ekonomi.pk, "name": ekonomi.name, "waiting_total": 600, "urgent_beyond": 0}
    ]
    assert [c["id"] for c in snapshot["waiting"]] == order[:50]

    # One more client: every console of the unit hears the queue, still capped.
    await database_sync_to_async(factories.start_conversation)(ekonomi)
    updated = await next_frame(
        console, "queue.updated", unit=ekonomi.pk, where=lambda f: f["waiting_total"] == 601
    )
    assert frame_bytes(updated) < MESSAGE_LIMIT
    assert [c["id"] for c in updated["waiting"]] == order[:50]
    assert updated["urgent_beyond"] == 0


@pytest.mark.django_db
def test_the_announcement_of_600_waiting_stays_under_the_limit_with_exact_numbers(
    ekonomi, settings
):
    settings.CONSOLE_QUEUE_ROWS = 50
    ids = fill(ekonomi, 600, urgent=frozenset(range(540, 600)))  # the last 60 came urgent

    events = staff_events(ekonomi)

    updated, numbers = events["queue.updated"], events["dashboard.unit"]["unit"]
    assert frame_bytes(updated) < MESSAGE_LIMIT
    assert frame_bytes(events["dashboard.unit"]) < MESSAGE_LIMIT
    # The urgent ones go first; ten of them do not fit and are counted.
    assert [c["id"] for c in updated["waiting"]] == ids[540:590]
    assert (updated["waiting_total"], updated["urgent_beyond"]) == (600, 10)
    assert [c["id"] for c in numbers["waiting"]] == ids[540:590]
    assert [c["position"] for c in numbers["waiting"]] == list(range(1, 51))
    assert (numbers["waiting_count"], numbers["urgent_beyond"]) == (600, 10)
    # The longest waiter is far behind the rows shown, and still the one measured.
    assert numbers["longest_wait_seconds"] >= 2 * 3600  # not the urgent ones' 1 h 51 min
    # The waiting clients' own event still holds every place.
    assert events["queue.places"]["order"].count(",") == 601


# --- the cap keeps the queue's order and counts ------------------------------------------------
@pytest.mark.django_db
def test_the_rows_shown_are_the_front_of_the_queue_in_queue_order(ekonomi, vald, settings):
    settings.CONSOLE_QUEUE_ROWS = 5
    normal = fill(ekonomi, 4)
    urgent = fill(ekonomi, 3, urgent=frozenset({0, 1, 2}), transferred=False)
    handed_over = fill(ekonomi, 2, transferred=True)
    fill(vald, 8)

    heads = selectors.queue_heads(unit_ids=[ekonomi.pk, vald.pk])

    # urgent first, then those handed over, then who has waited longest
    shown = [row.pk for row in heads[ekonomi.pk].rows]
    assert shown == urgent + handed_over == queue_order(ekonomi)[:5]
    assert heads[ekonomi.pk].total == 9
    assert heads[ekonomi.pk].oldest_queued_at == Conversation.objects.get(pk=normal[0]).queued_at
    assert [row.pk for row in heads[vald.pk].rows] == queue_order(vald)[:5]
    assert heads[vald.pk].total == 8
    # The full read and the capped one agree.
    snapshot = selectors.queue_snapshot(unit=ekonomi)
    assert snapshot.head == heads[ekonomi.pk]


@pytest.mark.django_db
def test_urgent_clients_behind_the_rows_shown_are_counted(ekonomi, settings):
    settings.CONSOLE_QUEUE_ROWS = 5
    fill(ekonomi, 10)
    fill(ekonomi, 7, urgent=frozenset(range(7)), transferred=True)

    head = selectors.queue_heads(unit_ids=[ekonomi.pk])[ekonomi.pk]

    assert [row.priority for row in head.rows] == [URGENT] * 5
    assert (head.total, head.urgent_beyond) == (17, 2)
    assert staff_events(ekonomi)["queue.updated"]["urgent_beyond"] == 2


@pytest.mark.django_db
def test_a_unit_nobody_waits_in_has_an_empty_head(ekonomi):
    head = selectors.queue_heads(unit_ids=[ekonomi.pk])[ekonomi.pk]

    assert head == selectors.QueueHead(rows=[], total=0, urgent_beyond=0, oldest_queued_at=None)
    numbers = selectors.unit_stats(unit=ekonomi)
    assert (numbers["waiting_count"], numbers["longest_wait_seconds"]) == (0, None)
    assert numbers["waiting"] == []


@pytest.mark.django_db
def test_a_dashboard_read_alone_shows_what_the_announcement_shows(ekonomi, settings):
    settings.CONSOLE_QUEUE_ROWS = 5
    fill(ekonomi, 12, urgent=frozenset({3, 8}))
    at = timezone.now()

    alone = selectors.unit_stats(unit=ekonomi, at=at)
    announced = selectors.unit_stats(
        unit=ekonomi, snapshot=selectors.queue_snapshot(unit=ekonomi, at=at)
    )

    assert alone == announced
    assert (alone["waiting_count"], len(alone["waiting"]), alone["urgent_beyond"]) == (12, 5, 0)


@pytest.mark.django_db
def test_a_console_snapshot_merges_its_units_fronts_in_queue_order(ekonomi, vald, sara, settings):
    settings.CONSOLE_QUEUE_ROWS = 3
    sara.units.add(vald)
    fill(ekonomi, 5)
    fill(vald, 4, urgent=frozenset({3}))

    snapshot, _open_calls = console_snapshot.func(sara, "test-channel", None)

    by_unit = {u["id"]: u for u in snapshot["units"]}
    assert (by_unit[ekonomi.pk]["waiting_total"], by_unit[vald.pk]["waiting_total"]) == (5, 4)
    waiting = snapshot["waiting"]
    assert len(waiting) == 6
    assert waiting[0]["unit"] == vald.pk and waiting[0]["priority"] == URGENT
    rest = [(c["queued_at"], c["id"]) for c in waiting[1:]]
    assert rest == sorted(rest)


# --- the cost does not grow with the queue ---------------------------------------------------
@pytest.mark.django_db
def test_the_front_of_several_queues_is_one_statement_that_returns_the_rows_shown(
    ekonomi, vald, settings
):
    settings.CONSOLE_QUEUE_ROWS = 20
    fill(ekonomi, 300)
    fill(vald, 3)

    with CaptureQueriesContext(connection) as queries:
        heads = selectors.queue_heads(unit_ids=[ekonomi.pk, vald.pk])

    assert len(queries) == 1
    assert (len(heads[ekonomi.pk].rows), len(heads[vald.pk].rows)) == (20, 3)
    assert (heads[ekonomi.pk].total, heads[vald.pk].total) == (300, 3)


@pytest.mark.django_db
def test_a_console_snapshot_reads_the_same_statements_for_few_or_many_waiting(
    ekonomi, anna, settings
):
    settings.CONSOLE_QUEUE_ROWS = 10

    def statements() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            snapshot, _open_calls = console_snapshot.func(anna, "test-channel", None)
        return len(queries), len(snapshot["waiting"])

    fill(ekonomi, 3)
    statements()  # the first opening also creates the worker's presence
    few, shown = statements()
    assert shown == 3
    fill(ekonomi, 400)

    assert statements() == (few, 10)


# --- the setting --------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "complaint"), [("0", "at least 1"), ("201", "at most 200")])
def test_the_rows_shown_are_a_bounded_setting(value, complaint):
    loaded = load_settings(CONSOLE_QUEUE_ROWS=value)

    assert loaded["error"] == "ImproperlyConfigured"
    assert "CONSOLE_QUEUE_ROWS" in loaded["message"] and complaint in loaded["message"]
