"""The queue over websockets (chat/consumers.py): a waiting client's live position, the
heartbeats of client and console, and the console's presence frame. Against the real ASGI
application, so the origin check and the session auth run. The in-memory layer, except
for the tests marked `redis`, which run on Redis pub/sub as production does."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from accounts.models import Presence
from chat import announce
from chat.models import Conversation
from chat.services.conversations import conversation_accept
from tests.factories import client_start, receive_type, settle
from tests.queue_personas import (
    assert_silent,
    next_frame,
    set_presence,
)

# The personas and socket fixtures of tests/queue_personas.py (vera, gunnar, staff_ws, ...).
pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_cache", "memory_layer"),
]

accept_next = database_sync_to_async(conversation_accept)
presence_row = database_sync_to_async(set_presence)


@database_sync_to_async
def presence_of(worker) -> Presence:
    return Presence.objects.get(user=worker)


@database_sync_to_async
def last_seq(conversation_id: int) -> int:
    return Conversation.objects.get(pk=conversation_id).last_seq


# --- the waiting client -----------------------------------------------------------------------
async def test_it_tells_a_new_client_they_are_first_in_the_queue(ws, ekonomi):
    client = await ws.client()

    sync, _token = await client_start(client, ekonomi)
    position = await receive_type(client, "queue.position")

    assert position["conversation"] == sync["conversation"]
    assert (position["position"], position["waiting"]) == (1, 1)
    assert position["unit_open"] is True
    assert position["estimate"] is None  # no finished conversations to learn from yet


async def test_it_tells_a_second_client_they_are_second_and_the_first_nothing_new(ws, ekonomi):
    first = await ws.client()
    second = await ws.client()
    first_sync, first_token = await client_start(first, ekonomi)
    await receive_type(first, "queue.position")

    second_sync, _ = await client_start(second, ekonomi)

    mine = await receive_type(second, "queue.position")
    assert (mine["conversation"], mine["position"], mine["waiting"]) == (
        second_sync["conversation"],
        2,
        2,
    )
    # Someone queueing behind changes nothing the first client's page shows: the unit's
    # announcement reaches their socket, which sends nothing.
    await announce.announcer().flush_now()
    assert [f for f in await settle(first) if f["type"] == "queue.position"] == []
    # Asked again (a reconnect), their place says that two wait.
    await first.send_json_to({"type": "resume", "token": first_token, "after": 1})
    await receive_type(first, "conversation.sync")
    theirs = await receive_type(first, "queue.position")
    assert (theirs["conversation"], theirs["position"], theirs["waiting"]) == (
        first_sync["conversation"],
        1,
        2,
    )


async def test_it_moves_the_next_client_up_when_the_first_is_accepted(ws, ekonomi, anna):
    first = await ws.client()
    second = await ws.client()
    first_sync, _ = await client_start(first, ekonomi)
    second_sync, _ = await client_start(second, ekonomi)
    await receive_type(second, "queue.position")  # position 2

    taken = await accept_next(worker=anna)

    assert taken.pk == first_sync["conversation"]
    moved_up = await next_frame(second, "queue.position", waiting=1)
    assert (moved_up["conversation"], moved_up["position"]) == (second_sync["conversation"], 1)
    joined = await next_frame(first, "conversation.message", state="active")
    assert joined["message"]["event"] == "accepted"


@pytest.mark.redis
async def test_it_moves_the_next_client_up_when_a_console_accepts(
    redis_layer, ws, staff_ws, ekonomi, anna
):
    console, _snapshot = await staff_ws.console(anna)
    first = await ws.client()
    second = await ws.client()
    first_sync, _ = await client_start(first, ekonomi)
    second_sync, _ = await client_start(second, ekonomi)

    await console.send_json_to({"type": "accept"})

    assigned = await next_frame(console, "conversation.assigned")
    assert assigned["conversation"] == first_sync["conversation"]
    moved_up = await next_frame(second, "queue.position", waiting=1)
    assert (moved_up["conversation"], moved_up["position"]) == (second_sync["conversation"], 1)


async def test_it_sends_an_accepted_client_no_more_positions(ws, ekonomi, anna):
    first = await ws.client()
    await client_start(first, ekonomi)
    await receive_type(first, "queue.position")

    await accept_next(worker=anna)

    joined = await receive_type(first, "conversation.message")
    assert joined["message"]["event"] == "accepted"
    await first.send_json_to({"type": "ping"})
    assert await receive_type(first, "pong") == {"type": "pong", "last_seq": 2}


# --- heartbeats -------------------------------------------------------------------------------
async def test_it_answers_a_clients_ping_with_the_last_seq(ws, ekonomi):
    client = await ws.client()
    sync, _ = await client_start(client, ekonomi)
    await receive_type(client, "queue.position")

    await client.send_json_to({"type": "ping"})

    assert await receive_type(client, "pong") == {"type": "pong", "last_seq": 1}
    assert await last_seq(sync["conversation"]) == 1


async def test_it_answers_a_ping_before_start_with_a_plain_pong(ws):
    client = await ws.client()

    await client.send_json_to({"type": "ping"})

    assert await receive_type(client, "pong") == {"type": "pong"}


async def test_it_answers_a_consoles_ping_with_the_last_seq_of_each_conversation(
    ws, staff_ws, ekonomi, anna
):
    client = await ws.client()
    sync, _ = await client_start(client, ekonomi)
    await accept_next(worker=anna)
    console, _snapshot = await staff_ws.console(anna)

    await console.send_json_to({"type": "ping"})

    pong = await next_frame(console, "pong")
    assert pong == {"type": "pong", "last_seqs": {str(sync["conversation"]): 2}}


async def test_it_answers_an_idle_consoles_ping_with_no_conversations(ws, staff_ws, anna):
    console, _snapshot = await staff_ws.console(anna)

    await console.send_json_to({"type": "ping"})

    assert await next_frame(console, "pong") == {"type": "pong", "last_seqs": {}}


async def test_it_keeps_a_console_online_with_its_ping(ws, staff_ws, anna):
    console, snapshot = await staff_ws.console(anna)
    first_seen = (await presence_of(anna)).last_seen

    await console.send_json_to({"type": "ping"})
    await next_frame(console, "pong")

    assert (await presence_of(anna)).last_seen >= first_seen
    assert snapshot["presence"] == {
        "type": "presence.updated",
        "status": "available",
        "capacity": 3,
        "chosen_at": None,
    }


# --- presence from the console ----------------------------------------------------------------
async def test_it_confirms_a_presence_change_to_the_console(ws, staff_ws, anna):
    console, _snapshot = await staff_ws.console(anna)

    await console.send_json_to({"type": "presence", "status": "available"})

    # (The console first hears its own coming online: status "available".)
    updated = await next_frame(console, "presence.updated", status="available")
    assert (updated["status"], updated["capacity"]) == ("available", 3)
    assert (await presence_of(anna)).status == Presence.Status.AVAILABLE


async def test_it_tells_every_tab_of_the_worker_about_a_presence_change(ws, staff_ws, anna):
    tab, _ = await staff_ws.console(anna)
    other_tab, _ = await staff_ws.console(anna)

    await tab.send_json_to({"type": "presence", "status": "available"})

    for console in (tab, other_tab):
        updated = await next_frame(console, "presence.updated", status="available")
        assert updated["capacity"] == 3


async def test_it_refuses_a_presence_a_worker_cannot_choose(ws, staff_ws, anna):
    console, _snapshot = await staff_ws.console(anna)

    await console.send_json_to({"type": "presence", "status": "busy"})

    error = await next_frame(console, "error")
    assert (error["code"], error["in_reply_to"]) == ("invalid", "presence")
    await console.send_json_to({"type": "ping"})
    await next_frame(console, "pong")  # still open


def set_away(worker) -> None:
    """A worker who chose "away" before the client came (a console starts available)."""
    from accounts.models import Presence

    Presence.objects.update_or_create(user=worker, defaults={"status": Presence.Status.AWAY})


@pytest.mark.redis
async def test_it_hands_a_waiting_client_to_a_worker_who_becomes_available(
    redis_layer, ws, staff_ws, ekonomi, anna
):
    await database_sync_to_async(ekonomi.__class__.objects.filter(pk=ekonomi.pk).update)(
        auto_assign=True
    )
    await database_sync_to_async(set_away)(anna)
    client = await ws.client()
    sync, _ = await client_start(client, ekonomi)
    console, snapshot = await staff_ws.console(anna)
    assert [c["id"] for c in snapshot["waiting"]] == [sync["conversation"]]

    await console.send_json_to({"type": "presence", "status": "available"})

    assigned = await next_frame(console, "conversation.assigned")
    assert assigned["conversation"] == sync["conversation"]
    joined = await next_frame(client, "conversation.message", state="active")
    assert joined["message"]["event"] == "accepted"
    assert "author" not in joined["message"]  # a client never learns a staff member's name


async def test_it_sends_a_console_nothing_about_another_units_queue(ws, staff_ws, ekonomi, cecilia):
    await presence_row(cecilia)
    console, _snapshot = await staff_ws.console(cecilia)
    client = await ws.client()
    await client_start(client, ekonomi)
    await receive_type(client, "queue.position")

    await console.send_json_to({"type": "ping"})
    assert await next_frame(console, "pong") == {"type": "pong", "last_seqs": {}}
    await assert_silent(console)


async def test_a_status_chosen_earlier_that_arrives_later_changes_nothing(ws, staff_ws, anna):
    """A tab that was offline when the worker chose "away" there sends it on reconnecting;
    meanwhile they chose "available" in another tab: the later choice stands."""
    tab, _ = await staff_ws.console(anna)
    now_ms = int(time.time() * 1000)
    await tab.send_json_to({"type": "presence", "status": "available", "chosen_at": now_ms})
    await next_frame(tab, "presence.updated", chosen_at=now_ms)

    await tab.send_json_to({"type": "presence", "status": "away", "chosen_at": now_ms - 60_000})

    told = await next_frame(tab, "presence.updated", chosen_at=now_ms)
    assert told["status"] == "available"
    assert (await presence_of(anna)).status == Presence.Status.AVAILABLE


@pytest.mark.parametrize("chosen_at", ["1700000000000", -1, 2**60, True, 1.5])
async def test_a_bad_choice_time_gets_an_error_and_changes_nothing(ws, staff_ws, anna, chosen_at):
    tab, _ = await staff_ws.console(anna)

    await tab.send_json_to({"type": "presence", "status": "away", "chosen_at": chosen_at})

    error = await next_frame(tab, "error")
    assert (error["code"], error["in_reply_to"]) == ("invalid", "presence")
    assert (await presence_of(anna)).status == Presence.Status.AVAILABLE
