"""Rights taken away take effect on open sockets at once: a console stops hearing a unit
its worker was taken out of, a dashboard closes when its supervisor is no longer one, a
deactivated account's sockets close, an interpreter's socket closes with their seat or
account. Each change is made the way an administrator makes it (model saves, the units
relation from either side), through the real ASGI application."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from chat.models import Conversation
from chat.services.participants import participant_invite
from tests import factories
from tests.factories import client_start, frames_until, next_frame, settle, waiting_client
from tests.handover_personas import interpreter_socket, tove_fixture  # noqa: F401 - fixture

pytest_plugins = ["tests.queue_personas"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer")]


async def close_code(comm) -> int:
    """Read past the frames still on their way until the server closes the socket."""
    for _ in range(50):
        output = await comm.receive_output(timeout=factories.RECEIVE_TIMEOUT)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)  # no code: a normal close
    raise AssertionError("the socket was never closed")


def heard_about(frames, unit) -> list[dict]:
    return [
        f
        for f in frames
        if f.get("unit") == unit.pk
        or any(c.get("unit") == unit.pk for c in f.get("waiting", []))
        or f["type"] == "followup.updated"
    ]


@database_sync_to_async
def save_user(user: User, **fields) -> None:
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()


# --- a unit taken away --------------------------------------------------------------------
@pytest.mark.parametrize("side", ["user", "unit"])
async def test_a_console_stops_hearing_a_unit_its_worker_was_taken_out_of(
    ws, ekonomi, vald, anna, side
):
    await database_sync_to_async(anna.units.add)(vald)
    console, snapshot = await ws.console(anna)
    assert {u["id"] for u in snapshot["units"]} == {ekonomi.pk, vald.pk}

    if side == "user":
        await database_sync_to_async(anna.units.remove)(ekonomi)
    else:
        await database_sync_to_async(ekonomi.staff.remove)(anna)

    fresh = await next_frame(console, "console.snapshot")
    assert [u["id"] for u in fresh["units"]] == [vald.pk]
    await settle(console)
    await waiting_client(ws, ekonomi, "Jag behöver prata om pengar.")
    await waiting_client(ws, vald, "Jag är rädd.")
    frames = await settle(console)
    assert heard_about(frames, ekonomi) == []
    assert heard_about(frames, vald)  # the unit still theirs is still heard


async def test_a_console_starts_hearing_a_unit_its_worker_was_added_to(ws, ekonomi, vald, anna):
    console, _snapshot = await ws.console(anna)

    await database_sync_to_async(vald.staff.add)(anna)

    fresh = await next_frame(console, "console.snapshot")
    assert {u["id"] for u in fresh["units"]} == {ekonomi.pk, vald.pk}
    await settle(console)
    await waiting_client(ws, vald)
    assert heard_about(await settle(console), vald)


async def test_clearing_a_units_staff_reaches_every_console_of_it(ws, ekonomi, anna, bengt):
    consoles = [(await ws.console(worker))[0] for worker in (anna, bengt)]

    await database_sync_to_async(ekonomi.staff.clear)()

    for console in consoles:
        fresh = await next_frame(console, "console.snapshot")
        assert fresh["units"] == []


# --- a role lowered, an account deactivated ----------------------------------------------
async def test_a_dashboard_closes_when_its_supervisor_is_made_a_worker(ws, ekonomi, sara):
    dashboard = await ws.open("/ws/dashboard/", user=sara)
    connected, _code = await dashboard.connect(timeout=factories.RECEIVE_TIMEOUT)
    assert connected
    await next_frame(dashboard, "dashboard.snapshot")

    await save_user(sara, role=User.Role.WORKER)

    assert await close_code(dashboard) == 4403


async def test_a_console_closes_when_its_worker_is_made_an_interpreter(ws, ekonomi, anna):
    console, _snapshot = await ws.console(anna)

    await save_user(anna, role=User.Role.INTERPRETER)

    assert await close_code(console) == 4403


async def test_every_socket_of_a_deactivated_account_closes_at_once(ws, ekonomi, sara):
    console, _snapshot = await ws.console(sara)
    dashboard = await ws.open("/ws/dashboard/", user=sara)
    await dashboard.connect(timeout=factories.RECEIVE_TIMEOUT)
    await next_frame(dashboard, "dashboard.snapshot")

    await save_user(sara, is_active=False)

    assert await close_code(console) == 4403
    assert await close_code(dashboard) == 4403


async def test_a_new_password_closes_the_consoles_of_the_old_sessions(ws, ekonomi, anna):
    console, _snapshot = await ws.console(anna)

    await database_sync_to_async(lambda: (anna.set_password("ett nytt lösenord"), anna.save()))()

    assert await close_code(console) == 4401


async def test_a_save_that_changes_no_right_leaves_the_console_alone(ws, ekonomi, anna):
    console, _snapshot = await ws.console(anna)

    await save_user(anna, first_name="Annika")
    client = await ws.client()
    await client_start(client, ekonomi)

    assert (await next_frame(console, "queue.updated"))["unit"] == ekonomi.pk


# --- an interpreter's seat and account ----------------------------------------------------
async def interpreter_in(ws, conversation_id, anna, tove):
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    await database_sync_to_async(participant_invite)(
        conversation=conversation, actor=anna, user_id=tove.pk
    )
    interpreter = await interpreter_socket(ws, user=tove)
    await interpreter.send_json_to({"type": "resume"})
    await next_frame(interpreter, "conversation.sync")
    return interpreter


async def test_an_interpreters_socket_closes_when_their_account_is_deactivated(
    ws, ekonomi, anna, tove
):
    _client, _console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    interpreter = await interpreter_in(ws, conversation_id, anna, tove)

    await save_user(tove, is_active=False)

    assert await close_code(interpreter) == 4403


async def test_an_interpreters_socket_closes_when_the_conversation_ends(ws, ekonomi, anna, tove):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    interpreter = await interpreter_in(ws, conversation_id, anna, tove)

    await console.send_json_to({"type": "end", "conversation": conversation_id})

    *before, left = await frames_until(interpreter, "conversation.left")
    assert [f["message"]["event"] for f in before if f["type"] == "conversation.message"] == [
        "ended"
    ]  # they see the end, then leave
    assert (left["conversation"], left["reason"]) == (conversation_id, "ended")
    assert await close_code(interpreter) == 1000


# --- an event lost in a Redis outage -------------------------------------------------------
async def test_a_right_taken_away_during_a_redis_outage_holds_from_the_next_heartbeat(
    ws, ekonomi, vald, anna, monkeypatch
):
    """The channel layer is at most once: an access.changed sent while Redis was down is
    lost. The first heartbeat after the outage checks again, as access.changed would."""
    from chat import announce, realtime

    await database_sync_to_async(anna.units.add)(vald)
    console, _snapshot = await ws.console(anna)
    # The news of Anna's arrival went out before the outage: let it arrive first.
    await announce.announcer().flush_now()
    await settle(console)

    async def lost(group, event):
        return None

    # Redis is down: neither what services publish nor what the loop relays gets through.
    monkeypatch.setattr(realtime, "publish", lambda group, event: None)
    monkeypatch.setattr(realtime, "relay", lost)
    await database_sync_to_async(anna.units.remove)(ekonomi)
    assert await settle(console) == []  # nothing reached the console
    monkeypatch.undo()
    realtime.outage.ended += 1  # ... and Redis answers again

    await console.send_json_to({"type": "ping"})

    fresh = await next_frame(console, "console.snapshot")
    assert [u["id"] for u in fresh["units"]] == [vald.pk]
    await settle(console)
    await waiting_client(ws, ekonomi, "Jag behöver prata om pengar.")
    assert heard_about(await settle(console), ekonomi) == []
