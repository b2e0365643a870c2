"""The supervisor's dashboard socket, /ws/dashboard/ (chat/consumers.py DashboardConsumer):
who may open it, the snapshot of their own units, the live `dashboard.unit` frames and the
four actions. Signed in with real two-factor sessions, through the real ASGI application;
the in-memory layer, except for the tests marked `redis`."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts.models import Presence
from chat.models import Conversation
from tests.factories import client_start, receive, receive_type, start_conversation
from tests.queue_personas import (
    next_frame,
    next_unit_frame,
    set_presence,
    unit_frame_where,
    waited,
)

# The personas and socket fixtures of tests/queue_personas.py (vera, gunnar, staff_ws, ...).
pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_cache", "memory_layer"),
]


@database_sync_to_async
def waiting_in(unit, seconds_ago: int = 0) -> int:
    conversation, _token = start_conversation(unit)
    if seconds_ago:
        waited(conversation, seconds_ago)
    return conversation.pk


@database_sync_to_async
def presence_of(worker) -> Presence | None:
    return Presence.objects.filter(user=worker).first()


@database_sync_to_async
def conversation(pk: int) -> Conversation:
    return Conversation.objects.select_related("unit").get(pk=pk)


online = database_sync_to_async(set_presence)


def worker_in(stats, user) -> dict:
    [row] = [w for w in stats["workers"] if w["id"] == user.pk]
    return row


async def still_open(dashboard) -> None:
    await dashboard.send_json_to({"type": "ping"})
    assert await next_frame(dashboard, "pong") == {"type": "pong"}


# --- who may open it ------------------------------------------------------------------------
async def test_it_closes_an_anonymous_dashboard_with_4401(staff_ws, db):
    dashboard = await staff_ws.open("/ws/dashboard/", None)

    assert (await dashboard.connect(timeout=3))[0] is True
    assert await dashboard.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_it_closes_a_social_workers_dashboard_with_4403(staff_ws, anna):
    dashboard = await staff_ws.open("/ws/dashboard/", anna)

    assert (await dashboard.connect(timeout=3))[0] is True
    assert await dashboard.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_it_closes_the_dashboard_of_partner_staff_with_4403(staff_ws, pelle):
    dashboard = await staff_ws.open("/ws/dashboard/", pelle)

    assert (await dashboard.connect(timeout=3))[0] is True
    assert await dashboard.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_it_closes_a_dashboard_whose_session_skipped_the_second_factor(
    staff_ws, sara, settings
):
    settings.STAFF_TWO_FACTOR = True
    dashboard = await staff_ws.open("/ws/dashboard/", sara, second_factor=False)

    assert (await dashboard.connect(timeout=3))[0] is True
    assert await dashboard.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_it_shows_a_supervisor_only_their_own_units(staff_ws, ekonomi, vald, sara):
    await waiting_in(ekonomi)
    await waiting_in(vald)

    _dashboard, snapshot = await staff_ws.dashboard(sara)

    [stats] = snapshot["units"]
    assert (stats["id"], stats["name"], stats["waiting_count"]) == (
        ekonomi.pk,
        "Ekonomiskt bistånd",
        1,
    )


async def test_it_shows_an_area_manager_all_of_their_units_by_name(staff_ws, ekonomi, vald, gunnar):
    _dashboard, snapshot = await staff_ws.dashboard(gunnar)

    assert [u["id"] for u in snapshot["units"]] == [ekonomi.pk, vald.pk]


# --- live numbers ---------------------------------------------------------------------------
@pytest.mark.redis
async def test_it_counts_a_client_who_starts_in_the_queue(redis_layer, ws, staff_ws, ekonomi, sara):
    dashboard, snapshot = await staff_ws.dashboard(sara)
    assert snapshot["units"][0]["waiting_count"] == 0
    client = await ws.client()

    sync, _token = await client_start(client, ekonomi)

    stats = await next_unit_frame(dashboard, ekonomi)
    assert stats["waiting_count"] == 1
    assert [w["id"] for w in stats["waiting"]] == [sync["conversation"]]
    assert stats["longest_wait_seconds"] is not None


async def test_it_sends_a_supervisor_nothing_about_other_units(ws, staff_ws, ekonomi, vald, sara):
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await waiting_in(vald)  # announced first: were it sent to sara, it would come first
    await waiting_in(ekonomi)

    first = await receive(dashboard)
    assert first["type"] == "dashboard.unit"
    assert first["unit"]["id"] == ekonomi.pk


# --- actions --------------------------------------------------------------------------------
async def test_it_puts_a_conversation_marked_urgent_first(staff_ws, ekonomi, sara):
    first = await waiting_in(ekonomi, seconds_ago=60)
    second = await waiting_in(ekonomi, seconds_ago=30)
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await dashboard.send_json_to({"type": "set_priority", "conversation": second, "priority": 1})

    stats = await next_unit_frame(dashboard, ekonomi)
    assert [(w["id"], w["priority"], w["position"]) for w in stats["waiting"]] == [
        (second, 1, 1),
        (first, 0, 2),
    ]


@pytest.mark.redis
async def test_it_shows_a_moved_conversation_leave_one_unit_and_join_the_other(
    redis_layer, staff_ws, ekonomi, vald, gunnar
):
    moving = await waiting_in(ekonomi, seconds_ago=120)
    dashboard, _snapshot = await staff_ws.dashboard(gunnar)

    await dashboard.send_json_to({"type": "move", "conversation": moving, "unit": vald.pk})

    left = await next_unit_frame(dashboard, ekonomi)
    joined = await next_unit_frame(dashboard, vald)
    assert left["waiting_count"] == 0
    assert joined["waiting_count"] == 1
    assert [w["id"] for w in joined["waiting"]] == [moving]
    assert joined["longest_wait_seconds"] >= 120  # the waiting time came along
    assert (await conversation(moving)).unit_id == vald.pk


async def test_it_shows_a_new_capacity(staff_ws, ekonomi, anna, sara):
    await online(anna, capacity=3)
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await dashboard.send_json_to({"type": "set_capacity", "worker": anna.pk, "capacity": 5})

    stats = await unit_frame_where(
        dashboard, ekonomi, lambda s: worker_in(s, anna)["capacity"] == 5
    )
    row = worker_in(stats, anna)
    assert {key: row[key] for key in ("name", "presence", "active", "capacity")} == {
        "name": "Anna",
        "presence": "available",
        "active": 0,
        "capacity": 5,
    }
    assert (await presence_of(anna)).capacity == 5


async def test_it_shows_a_worker_the_supervisor_sets_away(staff_ws, ekonomi, anna, sara):
    await online(anna, status=Presence.Status.AVAILABLE)
    dashboard, snapshot = await staff_ws.dashboard(sara)
    assert worker_in(snapshot["units"][0], anna)["presence"] == "available"

    await dashboard.send_json_to({"type": "set_presence", "worker": anna.pk, "presence": "away"})

    stats = await next_unit_frame(dashboard, ekonomi)
    assert worker_in(stats, anna)["presence"] == "away"
    assert (await presence_of(anna)).status == Presence.Status.AWAY


# --- refused actions ------------------------------------------------------------------------
async def test_it_hides_another_units_conversation_and_stays_open(staff_ws, vald, sara):
    elsewhere = await waiting_in(vald)
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await dashboard.send_json_to({"type": "set_priority", "conversation": elsewhere, "priority": 1})

    error = await receive_type(dashboard, "error")
    assert (error["code"], error["in_reply_to"], error["conversation"]) == (
        "not_found",
        "set_priority",
        elsewhere,
    )
    await still_open(dashboard)
    assert (await conversation(elsewhere)).priority == Conversation.Priority.NORMAL


async def test_it_refuses_to_move_into_a_unit_the_supervisor_does_not_lead(
    staff_ws, ekonomi, vald, sara
):
    moving = await waiting_in(ekonomi)
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await dashboard.send_json_to({"type": "move", "conversation": moving, "unit": vald.pk})

    error = await receive_type(dashboard, "error")
    assert (error["code"], error["in_reply_to"]) == ("not_found", "move")
    await still_open(dashboard)
    assert (await conversation(moving)).unit_id == ekonomi.pk


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "set_capacity", "capacity": 5},
        {"type": "set_presence", "presence": "away"},
    ],
)
async def test_it_hides_a_worker_of_another_unit_and_stays_open(staff_ws, sara, cecilia, frame):
    await online(cecilia, capacity=3)
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await dashboard.send_json_to({**frame, "worker": cecilia.pk})

    error = await receive_type(dashboard, "error")
    assert (error["code"], error["in_reply_to"]) == ("not_found", frame["type"])
    await still_open(dashboard)
    presence = await presence_of(cecilia)
    assert (presence.status, presence.capacity) == (Presence.Status.AVAILABLE, 3)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "set_capacity", "capacity": 11}, "invalid"),
        ({"type": "set_capacity", "capacity": "5"}, "invalid"),
        ({"type": "set_presence", "presence": "busy"}, "invalid"),
        ({"type": "set_capacity", "worker": "anna", "capacity": 5}, "invalid"),
    ],
)
async def test_it_answers_a_bad_action_with_an_error_and_stays_open(
    staff_ws, anna, sara, frame, code
):
    dashboard, _snapshot = await staff_ws.dashboard(sara)

    await dashboard.send_json_to({"worker": anna.pk, **frame})

    error = await receive_type(dashboard, "error")
    assert error["code"] == code
    await still_open(dashboard)


async def test_it_hands_a_waiting_client_to_a_worker_given_more_room(staff_ws, ekonomi, anna, sara):
    await database_sync_to_async(type(ekonomi).objects.filter(pk=ekonomi.pk).update)(
        auto_assign=True
    )
    await online(anna, capacity=1)
    first = await waiting_in(ekonomi, seconds_ago=60)
    await database_sync_to_async(
        lambda: Conversation.objects.filter(pk=first).update(
            state=Conversation.State.ACTIVE, worker=anna
        )
    )()
    second = await waiting_in(ekonomi)
    dashboard, snapshot = await staff_ws.dashboard(sara)
    assert snapshot["units"][0]["waiting_count"] == 1

    await dashboard.send_json_to({"type": "set_capacity", "worker": anna.pk, "capacity": 2})

    stats = await unit_frame_where(dashboard, ekonomi, lambda s: s["waiting_count"] == 0)
    assert worker_in(stats, anna)["active"] == 2
    assert (await conversation(second)).worker_id == anna.pk
