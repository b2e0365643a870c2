"""Statement budgets on the hot paths (conventions habit 26): a client message, a worker
message, `start`, `accept` and a console connecting, each as its consumer runs it in its one
crossing into sync code (for staff: the account check of StaffConsumer.act included).

What is counted:

- statements: every statement Django sends, from its query capture. Django logs its own
  transaction statements there too (BEGIN, COMMIT, SAVEPOINT; on SQLite BEGIN IMMEDIATE),
  so a transaction counts as its statements plus two.
- round trips (PostgreSQL only): every time the process sends PostgreSQL something and
  waits for the answer, read from libpq's trace of the connection (each `Query` message,
  each `Sync`). This is the number that costs latency; it equals the statements today, and
  the test says so if a driver or a pool ever adds a hidden one.

The tests commit for real (`transaction=True`): a statement runs in autocommit, as in the
server, not inside a test's wrapping transaction. SQLite has no DML in a CTE, so a message
there is the ORM's five statements plus BEGIN and COMMIT; the budgets differ per vendor.

The message budgets are the design (chat/services/messages.py). The start, accept and
connect budgets are the counts measured when they were written: ceilings to lower, never
to raise without a reason in the commit message.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat import announce
from chat.consumers.base import as_current_user, staff_opening
from chat.consumers.client import client_post, client_start, client_sync, first_message
from chat.consumers.console import (
    PreviewShown,
    console_accept,
    console_note,
    console_post,
    console_previews_read,
    console_snapshot,
    console_units,
)
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"


@dataclass
class Counted:
    statements: int = 0
    round_trips: int = 0
    sql: list[str] = field(default_factory=list)  # shown when a budget fails


@contextlib.contextmanager
def counted() -> Iterator[Counted]:
    """Statements (Django's capture) and, on PostgreSQL, round trips (libpq's trace)."""
    result = Counted()
    connection.ensure_connection()
    trace = None
    if POSTGRES:
        from psycopg import pq

        descriptor, trace = tempfile.mkstemp(prefix="libpq-trace-")
        pgconn = connection.connection.pgconn
        pgconn.trace(descriptor)
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
    try:
        with CaptureQueriesContext(connection) as captured:
            yield result
    finally:
        if trace is not None:
            connection.connection.pgconn.untrace()  # flushes the trace file, leaves it open
            os.close(descriptor)
            with open(trace, encoding="utf-8", errors="replace") as lines:
                sent = [line.split("\t") for line in lines if line.startswith("F\t")]
            os.unlink(trace)
            result.round_trips = sum(1 for f in sent if len(f) > 2 and f[2] in ("Query", "Sync"))
    result.statements = len(captured.captured_queries)
    result.sql = [query["sql"] for query in captured.captured_queries]


POSTGRES_BUDGETS = {
    # One statement: bump last_seq and insert, in autocommit.
    "client message": 1,
    # The account check, then BEGIN, the statement, COMMIT: the right to write is decided
    # after the statement, under the row lock it took, so that a refusal can roll it back.
    "worker message": 4,
    # The rare paths: the statement stores nothing, then one look-up finds the stored copy.
    "client repeat": 2,
    "private note": 7,
    # Ceilings to lower (measured, not designed).
    "start": 21,
    "start's sync": 7,
    # A server reads a unit's announcement after commit, coalesced (chat/announce.py): the
    # whole queue, or after joins at its back only its head and counts.
    "announcement": 10,
    "start's announcement": 9,
    "accept": 33,
    # A console's connect after the auth middleware's read of the session and account: the
    # session's keep-alive and the units, then the snapshot. The first console of a worker
    # who was offline also writes the presence and announces their units (here at once;
    # in a server, coalesced); another console (a second tab, a reconnect) does neither.
    # Either reads the worker's open calls (one statement): a page reloaded in a call is
    # told of it (`call.open`) and connects again.
    "console connect": 27,
    "another console": 15,
    # A console shown previews of waiting clients: the account check and the unit's (a
    # deactivated worker, or one taken out of the unit, gets no client text), then one
    # INSERT for all the new ones (who took part is worked out inside it), in the
    # transaction Django wraps a bulk insert in.
    "preview delivery": 5,
}
SQLITE_BUDGETS = {
    "client message": 6,
    "worker message": 7,
    "client repeat": 7,
    "private note": 7,
    "start": 22,
    "start's sync": 7,
    "announcement": 10,
    "start's announcement": 9,
    "accept": 34,
    "console connect": 27,
    "another console": 15,
    "preview delivery": 5,
}


def within_budget(count: Counted, action: str) -> bool:
    budget = (POSTGRES_BUDGETS if POSTGRES else SQLITE_BUDGETS)[action]
    if POSTGRES and count.round_trips > budget:
        return False
    return count.statements <= budget


def message_frame(conversation_id: int | None = None, body: str = "Hej") -> dict:
    frame = {"type": "message", "body": body, "client_id": str(uuid.uuid4())}
    if conversation_id is not None:
        frame["conversation"] = conversation_id
    return frame


def staff(user, action, *args):
    """A console frame as StaffConsumer.act runs it: the account check, then the action."""
    return as_current_user(user.pk, "chat.use_console", None, action, *args)


@pytest.fixture
def active(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi)
    return factories.accept(anna, conversation)


def test_a_client_message(active):
    with counted() as count:
        ack = client_post.func(active.pk, message_frame())

    assert ack["seq"] == 3
    assert within_budget(count, "client message"), count


def test_a_repeated_client_message(active):
    frame = message_frame()
    first = client_post.func(active.pk, frame)

    with counted() as count:
        again = client_post.func(active.pk, frame)

    assert again == first
    assert within_budget(count, "client repeat"), count


def test_a_worker_message(active, anna):
    with counted() as count:
        _fresh, ack = staff(anna, console_post, message_frame(active.pk))

    assert ack["seq"] == 3
    assert within_budget(count, "worker message"), count


def test_a_private_note(active, anna):
    with counted() as count:
        _fresh, ack = staff(anna, console_note, message_frame(active.pk))

    assert ack["note"] is not None
    assert within_budget(count, "private note"), count


def test_start(ekonomi, anna):
    frame = {
        "type": "start",
        "unit": ekonomi.pk,
        "token": factories.new_token(),
        "body": "Hej",
        "client_id": str(uuid.uuid4()),
    }
    with counted() as count:
        client_start.func(first_message(frame), None)

    assert within_budget(count, "start"), count


def test_the_sync_after_a_start(ekonomi, anna):
    """ClientConsumer.follow's crossing after a `start`: the first message and the place
    in the queue. The conversation has just been made, so there is nothing to rejoin and
    the sign of life it was made with is not written again."""
    factories.start_conversation(ekonomi)
    token = factories.new_token()
    frame = {
        "type": "start",
        "unit": ekonomi.pk,
        "token": token,
        "body": "Hej",
        "client_id": str(uuid.uuid4()),
    }
    client_start.func(first_message(frame), None)

    with counted() as count:
        frames, waiting_in = client_sync.func(token, 0)

    assert [f["type"] for f in frames] == ["conversation.sync", "queue.position"]
    assert frames[1]["position"] == 2 and waiting_in == ekonomi.pk
    assert within_budget(count, "start's sync"), count


def test_an_announcement(ekonomi, anna, settings):
    settings.CONSOLE_QUEUE_ROWS = 2
    for _ in range(4):
        factories.start_conversation(ekonomi)

    with counted() as count:
        events = announce.announcements([ekonomi.pk])

    assert [e["type"] for _g, e in events] == ["queue.updated", "queue.places", "dashboard.unit"]
    assert within_budget(count, "announcement"), count


def test_the_announcement_of_a_start_at_the_back(ekonomi, anna, settings):
    """What the announcer reads after a `start` that joined the back of the queue, behind
    the rows staff see: the head and the counts; no waiting client's place changed."""
    settings.CONSOLE_QUEUE_ROWS = 2
    for _ in range(3):
        factories.start_conversation(ekonomi)
    joined, _token = factories.start_conversation(ekonomi)

    with counted() as count:
        events = announce.announcements([ekonomi.pk], joined={ekonomi.pk: {joined.pk}})

    assert [e["type"] for _g, e in events] == ["queue.updated", "dashboard.unit"]
    assert events[0][1]["waiting_total"] == 4
    assert within_budget(count, "start's announcement"), count


def test_accept(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi)

    with counted() as count:
        staff(anna, console_accept, {"type": "accept", "conversation": conversation.pk})

    assert within_budget(count, "accept"), count


def signed_in(user):
    """A browser's session of `user`, loaded as Channels' auth middleware leaves it."""
    browser = Client()
    browser.force_login(user)
    session = browser.session
    assert session.get(SESSION_KEY) == str(user.pk)
    return session


def connect_console(user, session, channel_name: str) -> dict:
    """StaffConsumer.connect's crossing (the session check on what the auth middleware
    read, and the console's units), then staff_connected's snapshot."""
    ok, units = staff_opening(user, session, console_units)
    assert ok
    snapshot, _open_calls = console_snapshot.func(user, channel_name, session.session_key, units)
    return snapshot


def test_a_console_connecting(ekonomi, anna):
    """Anna's first console (she was offline: her units' queues are announced, at once
    here, where no event loop coalesces them), with one conversation of hers and one
    client waiting."""
    factories.accept(anna, factories.start_conversation(ekonomi)[0])
    factories.start_conversation(ekonomi)
    session = signed_in(anna)

    with counted() as count:
        snapshot = connect_console(anna, session, "channel.test")

    assert len(snapshot["conversations"]) == 1 and len(snapshot["waiting"]) == 1
    assert within_budget(count, "console connect"), count


def test_another_console_connecting(ekonomi, anna):
    """A console of a worker already online (another tab, a reconnect): nothing is
    announced and her presence row is not written."""
    factories.accept(anna, factories.start_conversation(ekonomi)[0])
    factories.start_conversation(ekonomi)
    session = signed_in(anna)
    connect_console(anna, session, "channel.first")

    with counted() as count:
        snapshot = connect_console(anna, session, "channel.second")

    assert len(snapshot["conversations"]) == 1 and len(snapshot["waiting"]) == 1
    assert not [sql for sql in count.sql if sql.startswith('UPDATE "accounts_presence"')]
    assert within_budget(count, "another console"), count


def test_the_heartbeats_slow_check_reads_the_account_once(anna):
    """The account, the session and its keep-alive in one crossing: the account that
    as_current_user has just read is the one the session check compares with."""
    browser = Client()
    browser.force_login(anna)
    session = browser.session

    with counted() as count:
        fresh, answer = as_current_user(
            anna.pk, "chat.use_console", session, lambda user: {"type": "pong"}
        )

    assert fresh.pk == anna.pk and answer == {"type": "pong"}
    account_reads = [sql for sql in count.sql if 'FROM "accounts_user"' in sql]
    assert len(account_reads) == 1, account_reads


def test_a_delivery_of_previews(ekonomi, anna):
    """However many previews a `queue.updated` brings, logging them costs the same."""
    waiting = [factories.start_conversation(ekonomi)[0] for _ in range(8)]
    shown = [PreviewShown(c.pk, ekonomi.pk, ekonomi.name) for c in waiting]

    with counted() as count:
        staff(anna, console_previews_read, ekonomi.pk, shown)

    assert within_budget(count, "preview delivery"), count
