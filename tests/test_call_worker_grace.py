"""A social worker's console that drops or reloads in a call (chat/services/calls.py
`call_worker_away`, `call_end_if_worker_gone`): the call goes on while the worker is away
for less than CALL_RECONNECT_GRACE_SECONDS, the client and the interpreter are told the
worker is reconnecting, a console of the worker's that comes back is told of the call
(`call.open`) so the page connects again, and a worker not back in time has left: the call
ends (`worker_left`) and the history keeps it. Real ASGI application, in-memory layer."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import Presence
from chat.models import Call, Message
from chat.services.timed import call_end_workers_gone, timed_sweep
from tests import factories
from tests.factories import frames_until, next_frame, receive_type, settle
from tests.security_personas import private_rates  # noqa: F401 - fixture
from tests.test_call_consumers import SDP, answered, call_ended, calls_of, ringing
from tests.test_call_interpreter import in_a_call_with_an_interpreter

pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_rates", "memory_layer"),
]


@database_sync_to_async
def worker_last_seen(worker, seconds_ago):
    """The worker's last sign of life, `seconds_ago` (what the liveness flush would write)."""
    Presence.objects.filter(user=worker).update(
        last_seen=timezone.now() - timedelta(seconds=seconds_ago)
    )


async def console_back(ws, worker):
    """A new console socket of `worker` (the page reloaded): its snapshot, then what
    followed it at once."""
    comm = await ws.open("/ws/console/", user=worker)
    connected, _code = await comm.connect()
    assert connected
    snapshot = await receive_type(comm, "console.snapshot")
    return comm, snapshot, await settle(comm)


async def test_a_dropped_console_keeps_the_call_and_the_client_hears_the_worker_is_away(
    ws, anna, ekonomi
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await ws.disconnect(console)
    away = await next_frame(client, "call.worker", call=call_id)
    assert away["online"] is False and "worker" not in away  # no staff id to the client
    assert await calls_of(conversation_id) == [("video", "active", "", "")]
    assert await database_sync_to_async(call_end_workers_gone)() == 0
    assert await calls_of(conversation_id) == [("video", "active", "", "")]
    assert not [f for f in await settle(client) if f["type"] == "call.ended"]


async def test_the_call_ends_when_the_worker_is_not_back_within_the_grace(
    ws, anna, ekonomi, settings
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await ws.disconnect(console)
    await worker_last_seen(anna, settings.CALL_RECONNECT_GRACE_SECONDS + 1)
    # The sweep ends it as the worker's leaving, before the presence rule (later, at
    # PRESENCE_GRACE_SECONDS) would send the client back to the queue.
    await database_sync_to_async(timed_sweep)()
    ended = await call_ended(client, call_id)
    assert (ended["ended_by"], ended["reason"]) == ("worker", "worker_left")
    assert await calls_of(conversation_id) == [("video", "ended", "worker", "worker_left")]
    # In the history like every call's end: by its worker, with its medium and length.
    event = await database_sync_to_async(
        lambda: Message.objects.get(conversation_id=conversation_id, event=Message.Event.CALL)
    )()
    assert event.author_id == anna.pk and event.body.startswith("video ")


async def test_a_worker_back_within_the_grace_keeps_the_call_and_is_told_of_it(
    ws, anna, ekonomi, settings
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await ws.disconnect(console)
    await next_frame(client, "call.worker", call=call_id, online=False)
    await worker_last_seen(anna, settings.CALL_RECONNECT_GRACE_SECONDS - 5)

    back, snapshot, after = await console_back(ws, anna)
    assert [c["id"] for c in snapshot["conversations"]] == [conversation_id]
    opened = [f for f in after if f["type"] == "call.open"]
    assert len(opened) == 1
    assert opened[0]["call"] == call_id and opened[0]["conversation"] == conversation_id
    assert opened[0]["me"] == "worker" and opened[0]["parties"] == ["worker", "client"]
    assert opened[0]["state"] == "active" and opened[0]["ice_servers"] == []
    assert (await next_frame(client, "call.worker", call=call_id))["online"] is True
    assert await database_sync_to_async(call_end_workers_gone)() == 0

    # The page offers again; the client's page answers the new connection.
    await back.send_json_to(
        {"type": "call_offer", "conversation": conversation_id, "call": call_id, "sdp": SDP}
    )
    assert (await next_frame(client, "call.offer", call=call_id))["from"] == "worker"
    await client.send_json_to({"type": "call_answer", "call": call_id, "sdp": SDP})
    assert (await next_frame(back, "call.answer", call=call_id))["from"] == "client"
    assert await calls_of(conversation_id) == [("video", "active", "", "")]


async def test_a_ringing_call_is_told_to_the_returning_console_too(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    frame = await ringing(console, client, conversation_id)
    await ws.disconnect(console)
    _back, _snapshot, after = await console_back(ws, anna)
    opened = [f for f in after if f["type"] == "call.open"]
    assert [(f["call"], f["state"]) for f in opened] == [(frame["call"], "ringing")]


async def test_a_console_with_no_call_is_told_of_none(ws, anna, ekonomi):
    _client, console, _conversation_id = await factories.accepted(ws, anna, ekonomi)
    await ws.disconnect(console)
    _back, _snapshot, after = await console_back(ws, anna)
    assert not [f for f in after if f["type"] == "call.open"]


async def test_another_console_of_the_worker_open_keeps_the_others_from_hearing_of_it(
    ws, anna, ekonomi
):
    """Only the last console closing is the worker going away."""
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    _other, _snapshot, _after = await console_back(ws, anna)
    await settle(client)
    await ws.disconnect(console)
    assert not [f for f in await settle(client) if f["type"] == "call.worker"]
    assert await calls_of(conversation_id) == [("video", "active", "", "")]
    assert call_id


async def test_the_interpreter_hears_the_worker_is_away_and_the_call_end(
    ws, anna, ekonomi, settings
):
    client, console, interpreter, ids = await in_a_call_with_an_interpreter(ws, anna, ekonomi)
    await ws.disconnect(console)
    away = (await frames_until(interpreter, "call.worker", call=ids["call"]))[-1]
    assert away["online"] is False and "worker" not in away
    await worker_last_seen(anna, settings.CALL_RECONNECT_GRACE_SECONDS + 1)
    assert await database_sync_to_async(call_end_workers_gone)() == 1
    for comm in (interpreter, client):
        ended = (await frames_until(comm, "call.ended", call=ids["call"]))[-1]
        assert ended["reason"] == "worker_left"
    assert await calls_of(ids["conversation"]) == [("video", "ended", "worker", "worker_left")]
    assert await database_sync_to_async(Call.objects.count)() == 1


async def test_a_console_back_in_a_call_with_an_interpreter_offers_to_them_too(ws, anna, ekonomi):
    client, console, interpreter, ids = await in_a_call_with_an_interpreter(ws, anna, ekonomi)
    await ws.disconnect(console)
    back, _snapshot, after = await console_back(ws, anna)
    opened = [f for f in after if f["type"] == "call.open"]
    assert opened[0]["parties"] == ["worker", "client", ids["me"]]
    # The page offers to each party anew; the interpreter's page gets its own offer.
    await back.send_json_to(
        {
            "type": "call_offer",
            "conversation": ids["conversation"],
            "call": ids["call"],
            "to": ids["me"],
            "sdp": SDP,
        }
    )
    offer = (await frames_until(interpreter, "call.offer", call=ids["call"]))[-1]
    assert (offer["from"], offer["to"]) == ("worker", ids["me"])
    assert not [f for f in await settle(client) if f["type"] == "call.offer"]
