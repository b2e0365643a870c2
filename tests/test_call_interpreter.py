"""An interpreter in a call (chat/services/calls.py `call_join`): an interpreter present in
the conversation joins its answered call as a third party; signalling goes only to the
party it names, and only between parties of that call; the history and the access log
note the joining; the quick exit ends the call for everyone. Real ASGI application,
in-memory layer."""

import pytest
from channels.db import database_sync_to_async

from chat.models import AccessLog, CallSeat, Conversation, Message
from chat.services.participants import participant_invite
from tests import factories
from tests.factories import frames_until, settle
from tests.handover_personas import (
    interpreter_socket,
    tove_fixture,  # noqa: F401 - fixture
)
from tests.security_personas import private_rates  # noqa: F401 - fixture
from tests.test_call_consumers import CANDIDATE, SDP, answered, call_ended
from tests.test_interpreter_consumer import interpreter_joins, invitation_for

pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_rates", "memory_layer"),
]

SIGNALS = ("call.offer", "call.answer", "call.candidate")


async def until(comm, type_, **match):
    """The first frame of `type_` matching, whatever came before (the history's events)."""
    return (await frames_until(comm, type_, **match))[-1]


def signals(frames):
    return [f for f in frames if f["type"] in SIGNALS]


async def in_a_call_with_an_interpreter(ws, anna, ekonomi):
    """Anna and a client in an answered video call, and an external interpreter who joined
    the chat by link and then the call. Returns (client, console, interpreter, ids)."""
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    interpreter, _token, _sync = await interpreter_joins(
        ws, await invitation_for(console, conversation_id)
    )
    # The page learns of the call in progress as it joins the chat, with the ICE servers.
    opened = await until(interpreter, "call.open", call=call_id)
    assert opened["parties"] == ["worker", "client"]
    assert opened["ice_servers"] == [] and "worker" not in opened
    await interpreter.send_json_to({"type": "call_join", "call": call_id})
    joined = await until(interpreter, "call.joined", call=call_id)
    me = joined["who"]
    assert me.startswith("interpreter-")
    assert joined["parties"] == ["worker", "client", me]
    for other in (console, client):
        assert (await until(other, "call.joined", call=call_id))["who"] == me
    return (
        client,
        console,
        interpreter,
        {"conversation": conversation_id, "call": call_id, "me": me},
    )


async def test_an_interpreter_joins_the_call_and_signals_each_party_alone(ws, anna, ekonomi):
    client, console, interpreter, ids = await in_a_call_with_an_interpreter(ws, anna, ekonomi)
    call_id, me = ids["call"], ids["me"]

    # The newcomer offers to each party; only the one named hears it.
    await interpreter.send_json_to(
        {"type": "call_offer", "call": call_id, "to": "worker", "sdp": SDP}
    )
    offer = await until(console, "call.offer", call=call_id)
    assert (offer["from"], offer["to"]) == (me, "worker")
    assert not signals(await settle(client))

    await interpreter.send_json_to(
        {"type": "call_candidate", "call": call_id, "to": "client", "candidate": CANDIDATE}
    )
    candidate = await until(client, "call.candidate", call=call_id)
    assert candidate["from"] == me and "worker" not in candidate
    assert not signals(await settle(console))

    # Each answers the interpreter by name; the worker and the client still reach each
    # other without naming anyone.
    await console.send_json_to(
        {
            "type": "call_answer",
            "conversation": ids["conversation"],
            "call": call_id,
            "to": me,
            "sdp": SDP,
        }
    )
    await client.send_json_to({"type": "call_answer", "call": call_id, "to": me, "sdp": SDP})
    answers = await frames_until(interpreter, "call.answer", where=lambda f: f["from"] == "client")
    answers = [f for f in answers if f["type"] == "call.answer"]
    if len(answers) < 2:
        answers.append(await until(interpreter, "call.answer"))
    assert sorted(f["from"] for f in answers) == ["client", "worker"]
    await client.send_json_to({"type": "call_candidate", "call": call_id, "candidate": CANDIDATE})
    assert (await until(console, "call.candidate", call=call_id))["from"] == "client"
    assert not signals(await settle(interpreter))

    # The history notes the joining (who, never what was said).
    events = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(
                conversation_id=ids["conversation"], event="call_joined"
            ).values_list("body", flat=True)
        )
    )()
    assert events == ["interpreter"]


async def test_signalling_outside_the_call_is_refused_and_reaches_nobody(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    interpreter, _token, _sync = await interpreter_joins(
        ws, await invitation_for(console, conversation_id)
    )
    await settle(interpreter)

    # In the chat but not (yet) in the call: its signalling is refused.
    await interpreter.send_json_to(
        {"type": "call_offer", "call": call_id, "to": "worker", "sdp": SDP}
    )
    assert (await until(interpreter, "error", in_reply_to="call_offer"))["code"] == "no_call"
    # Nobody may signal to an interpreter who is not in the call, nor to themselves.
    await client.send_json_to(
        {"type": "call_answer", "call": call_id, "to": "interpreter-999", "sdp": SDP}
    )
    assert (await until(client, "error", in_reply_to="call_answer"))["code"] == "no_call"
    await client.send_json_to({"type": "call_answer", "call": call_id, "to": "client", "sdp": SDP})
    assert (await until(client, "error", in_reply_to="call_answer"))["code"] == "no_call"
    # A call that is not this conversation's is not found either.
    await interpreter.send_json_to({"type": "call_join", "call": call_id + 1000})
    assert (await until(interpreter, "error", in_reply_to="call_join"))["code"] == "no_call"
    for comm in (console, client, interpreter):
        assert not signals(await settle(comm))


async def test_a_ringing_call_cannot_be_joined(ws, anna, ekonomi):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    interpreter, _token, _sync = await interpreter_joins(
        ws, await invitation_for(console, conversation_id)
    )
    await console.send_json_to(
        {"type": "call_start", "conversation": conversation_id, "media": "voice"}
    )
    ringing = await until(interpreter, "call.ringing")
    await interpreter.send_json_to({"type": "call_join", "call": ringing["call"]})
    code = (await until(interpreter, "error", in_reply_to="call_join"))["code"]
    assert code == "call_not_answered"


async def test_the_quick_exit_ends_the_call_for_the_interpreter_too(ws, anna, ekonomi):
    client, _console, interpreter, ids = await in_a_call_with_an_interpreter(ws, anna, ekonomi)
    await client.send_json_to({"type": "call_end", "call": ids["call"]})
    ended = await call_ended(interpreter, ids["call"])
    assert ended["ended_by"] == "client" and "worker" not in ended
    assert not await database_sync_to_async(
        CallSeat.objects.filter(call_id=ids["call"], left_at__isnull=True).exists
    )()


async def test_an_interpreter_leaving_the_call_or_the_chat_tells_the_others(ws, anna, ekonomi):
    client, console, interpreter, ids = await in_a_call_with_an_interpreter(ws, anna, ekonomi)
    await interpreter.send_json_to({"type": "call_leave", "call": ids["call"]})
    for comm in (console, client, interpreter):
        left = await until(comm, "call.left", call=ids["call"])
        assert left["who"] == ids["me"] and left["parties"] == ["worker", "client"]

    # Back in, then out of the chat altogether: out of the call with it.
    await interpreter.send_json_to({"type": "call_join", "call": ids["call"]})
    await until(console, "call.joined", call=ids["call"])
    await interpreter.send_json_to({"type": "leave"})
    left = await until(console, "call.left", call=ids["call"])
    assert left["who"] == ids["me"]


async def test_the_access_log_notes_staff_who_joined_a_call(ws, anna, ekonomi, tove):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    await database_sync_to_async(participant_invite)(
        conversation=conversation, actor=anna, user_id=tove.pk
    )
    interpreter = await interpreter_socket(ws, user=tove)
    await interpreter.send_json_to({"type": "resume"})
    await until(interpreter, "call.open", call=call_id)
    await interpreter.send_json_to({"type": "call_join", "call": call_id})
    await until(console, "call.joined", call=call_id)
    # Joining again (a reload) is the same seat: no second row, no second event.
    await interpreter.send_json_to({"type": "call_join", "call": call_id})
    await until(console, "call.joined", call=call_id)

    rows = await database_sync_to_async(
        lambda: list(
            AccessLog.objects.filter(action=AccessLog.Action.JOINED_CALL)
            .order_by("pk")
            .values_list("actor__username", "conversation_id", "took_part")
        )
    )()
    assert rows == [("anna", conversation_id, True), ("tove", conversation_id, True)]
    joined = await database_sync_to_async(
        Message.objects.filter(conversation_id=conversation_id, event="call_joined").count
    )()
    assert joined == 1
