"""The interpreter's socket, /ws/interpreter/: an external interpreter joins once by link
and comes back with the tab's token, an interpreter with an account resumes by session;
either reads from joining on, writes as "interpreter", leaves, or is removed by the worker
(conversation.left, then the socket closes). Real ASGI application, in-memory layer."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message, Participant
from chat.services.participants import participant_invite, participant_leave
from tests import factories
from tests.factories import frames_until, is_event, next_frame, send_message, settle
from tests.handover_personas import (
    interpreter_socket,
    of_type,
    tove_fixture,  # noqa: F401 - fixture
)
from tests.security_personas import (
    keys_anywhere,
    private_rates,  # noqa: F401 - fixture
    text_of,
)

# vera, memory_layer and the other queue fixtures, by name.
pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_rates", "memory_layer"),
]

HISTORY = "Min man får inte veta var jag bor."


@database_sync_to_async
def seat_of(conversation_id, **filters):
    return Participant.objects.get(conversation_id=conversation_id, **filters)


@database_sync_to_async
def stored(conversation_id):
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", "sender", "event", "body")
    )


async def invitation_for(console, conversation_id):
    """The worker asks for a link; only their socket gets the secret."""
    await console.send_json_to({"type": "invite_link", "conversation": conversation_id})
    frame = await next_frame(console, "invitation", conversation=conversation_id)
    return frame["invitation"]


async def interpreter_joins(ws, invitation, token=None):
    """A new interpreter tab that opened the link; (socket, token, conversation.sync)."""
    token = token or factories.new_token()
    interpreter = await interpreter_socket(ws)
    await interpreter.send_json_to({"type": "join", "invitation": invitation, "token": token})
    return interpreter, token, await next_frame(interpreter, "conversation.sync")


async def with_history(ws, anna, ekonomi):
    """(client, console, conversation id) after the client and Anna spoke: seqs 1-4."""
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await frames_until(client, "ack", client_id=await send_message(client, HISTORY))
    reply = await send_message(console, "Det stannar här.", conversation=conversation_id)
    await frames_until(console, "ack", client_id=reply)
    await settle(client)
    await settle(console)
    return client, console, conversation_id


# --- join ---------------------------------------------------------------------------------
async def test_it_lets_an_external_interpreter_join_by_link_and_read_from_there_on(
    ws, ekonomi, anna
):
    client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)

    _interpreter, _token, sync = await interpreter_joins(ws, invitation)

    assert sync["conversation"] == conversation_id
    assert sync["from_seq"] == 4
    assert [(m["seq"], m["event"]) for m in sync["messages"]] == [(5, "participant_joined")]
    assert HISTORY not in text_of(sync)
    assert "author" not in keys_anywhere(sync)
    joined = await next_frame(client, "conversation.message", where=is_event("participant_joined"))
    assert joined["message"]["body"] == "interpreter"


async def test_it_answers_the_same_tab_joining_again_with_the_same_seat(ws, ekonomi, anna):
    _client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    first, token, _sync = await interpreter_joins(ws, invitation)
    await ws.disconnect(first)

    _again, _token, sync = await interpreter_joins(ws, invitation, token)

    assert [m["seq"] for m in sync["messages"]] == [5]
    assert len(await stored(conversation_id)) == 5


async def test_it_refuses_the_link_to_a_second_tab(ws, ekonomi, anna):
    _client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    await interpreter_joins(ws, invitation)

    other = await interpreter_socket(ws)
    await other.send_json_to(
        {"type": "join", "invitation": invitation, "token": factories.new_token()}
    )

    error = await next_frame(other, "error")
    assert (error["code"], error["in_reply_to"]) == ("not_found", "join")
    assert of_type(await settle(other), "conversation.sync") == []


async def test_it_refuses_a_made_up_invitation(ws, ekonomi, anna):
    await with_history(ws, anna, ekonomi)
    interpreter = await interpreter_socket(ws)

    await interpreter.send_json_to(
        {"type": "join", "invitation": factories.new_token(), "token": factories.new_token()}
    )

    assert (await next_frame(interpreter, "error"))["code"] == "not_found"


# --- resume -------------------------------------------------------------------------------
async def test_it_resumes_an_external_interpreter_by_the_tabs_token(ws, ekonomi, anna):
    client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    first, token, _sync = await interpreter_joins(ws, invitation)
    await ws.disconnect(first)
    await frames_until(client, "ack", client_id=await send_message(client, "Är tolken kvar?"))

    again = await interpreter_socket(ws)
    await again.send_json_to({"type": "resume", "token": token, "after": 5})

    sync = await next_frame(again, "conversation.sync")
    assert [(m["seq"], m["body"]) for m in sync["messages"]] == [(6, "Är tolken kvar?")]
    await again.send_json_to({"type": "resume", "token": token, "after": 0})
    assert [m["seq"] for m in (await next_frame(again, "conversation.sync"))["messages"]] == [5, 6]


async def test_it_refuses_a_resume_with_an_unknown_token(ws, db):
    interpreter = await interpreter_socket(ws)

    await interpreter.send_json_to({"type": "resume", "token": factories.new_token()})

    assert (await next_frame(interpreter, "error"))["code"] == "not_found"


async def test_it_refuses_an_anonymous_resume_without_a_token(ws, db):
    interpreter = await interpreter_socket(ws)

    await interpreter.send_json_to({"type": "resume"})

    assert (await next_frame(interpreter, "error"))["code"] == "not_found"


async def test_it_resumes_an_interpreter_with_an_account_by_their_session(ws, ekonomi, anna, tove):
    _client, _console, conversation_id = await with_history(ws, anna, ekonomi)
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    await database_sync_to_async(participant_invite)(
        conversation=conversation, actor=anna, user_id=tove.pk
    )

    interpreter = await interpreter_socket(ws, user=tove)
    await interpreter.send_json_to({"type": "resume"})

    sync = await next_frame(interpreter, "conversation.sync")
    assert (sync["conversation"], sync["from_seq"]) == (conversation_id, 4)
    assert [m["seq"] for m in sync["messages"]] == [5]
    assert HISTORY not in text_of(sync)


async def test_it_wants_a_join_or_resume_before_a_message(ws, db):
    interpreter = await interpreter_socket(ws)

    await send_message(interpreter, "Hej")

    assert (await next_frame(interpreter, "error"))["code"] == "no_conversation"


@pytest.mark.parametrize("frame_type", ["note", "sync", "hand_over", "invite", "typing"])
async def test_it_offers_an_interpreter_none_of_the_staff_frames(ws, db, frame_type):
    interpreter = await interpreter_socket(ws)

    await interpreter.send_json_to({"type": frame_type, "conversation": 1})

    assert (await next_frame(interpreter, "error"))["code"] == "unknown_type"


# --- talk ----------------------------------------------------------------------------------
async def test_it_stores_what_the_interpreter_writes_as_the_interpreter(ws, ekonomi, anna):
    client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    interpreter, _token, _sync = await interpreter_joins(ws, invitation)
    await settle(client)
    await settle(console)

    client_id = await send_message(interpreter, "Hon säger att hon bor hos sin syster.")

    ack = (await frames_until(interpreter, "ack", client_id=client_id))[-1]
    assert (ack["conversation"], ack["seq"]) == (conversation_id, 6)
    assert (await stored(conversation_id))[-1] == (
        6,
        "interpreter",
        "",
        "Hon säger att hon bor hos sin syster.",
    )
    for side in (client, console):
        heard = await next_frame(side, "conversation.message", conversation=conversation_id)
        assert (heard["message"]["seq"], heard["message"]["sender"]) == (6, "interpreter")
        if side is client:
            assert "author" not in heard["message"]


async def test_it_relays_both_sides_to_the_interpreter_without_staff_names(ws, ekonomi, anna):
    client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    interpreter, _token, _sync = await interpreter_joins(ws, invitation)

    await frames_until(client, "ack", client_id=await send_message(client, "Jag förstår inte."))
    reply = await send_message(console, "Vi tar det långsamt.", conversation=conversation_id)
    await frames_until(console, "ack", client_id=reply)

    heard = of_type(await settle(interpreter), "conversation.message")
    assert [(f["message"]["sender"], f["message"]["body"]) for f in heard] == [
        ("client", "Jag förstår inte."),
        ("worker", "Vi tar det långsamt."),
    ]
    assert "author" not in keys_anywhere(heard)
    assert "Anna" not in text_of(heard)


# --- leave and removal -----------------------------------------------------------------------
async def test_it_lets_the_interpreter_leave_and_closes_their_socket(ws, ekonomi, anna):
    client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    interpreter, token, _sync = await interpreter_joins(ws, invitation)

    await interpreter.send_json_to({"type": "leave"})

    left = (await frames_until(interpreter, "conversation.left"))[-1]
    assert left == {"type": "conversation.left", "conversation": conversation_id, "reason": "left"}
    assert (await interpreter.receive_output(timeout=factories.RECEIVE_TIMEOUT))[
        "type"
    ] == "websocket.close"
    gone = await frames_until(console, "conversation.message", where=is_event("participant_left"))
    assert gone[-1]["message"]["body"] == "interpreter"
    await frames_until(client, "conversation.message", where=is_event("participant_left"))

    again = await interpreter_socket(ws)
    await again.send_json_to({"type": "resume", "token": token})
    assert (await next_frame(again, "error"))["code"] == "not_found"


async def test_it_lets_the_worker_remove_the_interpreter(ws, ekonomi, anna):
    client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    interpreter, token, _sync = await interpreter_joins(ws, invitation)
    seat = await seat_of(conversation_id)

    await console.send_json_to(
        {"type": "remove_participant", "conversation": conversation_id, "participant": seat.pk}
    )

    left = (await frames_until(interpreter, "conversation.left"))[-1]
    assert left["reason"] == "removed"
    assert (await interpreter.receive_output(timeout=factories.RECEIVE_TIMEOUT))[
        "type"
    ] == "websocket.close"
    await frames_until(client, "conversation.message", where=is_event("participant_left"))

    # The removed tab can neither come back nor write.
    again = await interpreter_socket(ws)
    await again.send_json_to({"type": "resume", "token": token})
    assert (await next_frame(again, "error"))["code"] == "not_found"
    await send_message(again, "Hallå?")
    assert (await next_frame(again, "error"))["code"] == "no_conversation"
    assert [row[1] for row in await stored(conversation_id)].count("interpreter") == 0


async def test_it_closes_the_socket_of_an_interpreter_with_an_account_on_removal(
    ws, ekonomi, anna, tove
):
    _client, console, conversation_id = await with_history(ws, anna, ekonomi)
    await console.send_json_to({"type": "invite", "conversation": conversation_id, "user": tove.pk})
    await next_frame(console, "conversation.message", where=is_event("participant_joined"))
    interpreter = await interpreter_socket(ws, user=tove)
    await interpreter.send_json_to({"type": "resume"})
    await next_frame(interpreter, "conversation.sync")
    seat = await seat_of(conversation_id, user=tove)

    await database_sync_to_async(participant_leave)(participant=seat, actor=anna)

    left = (await frames_until(interpreter, "conversation.left"))[-1]
    assert left["reason"] == "removed"
    assert (await interpreter.receive_output(timeout=factories.RECEIVE_TIMEOUT))[
        "type"
    ] == "websocket.close"
    again = await interpreter_socket(ws, user=tove)
    await again.send_json_to({"type": "resume"})
    assert (await next_frame(again, "error"))["code"] == "not_found"


async def test_it_refuses_a_removal_by_someone_other_than_the_worker(ws, ekonomi, anna, bengt):
    _client, console, conversation_id = await with_history(ws, anna, ekonomi)
    invitation = await invitation_for(console, conversation_id)
    interpreter, _token, _sync = await interpreter_joins(ws, invitation)
    seat = await seat_of(conversation_id)
    colleague, _ = await ws.console(bengt)

    await colleague.send_json_to(
        {"type": "remove_participant", "conversation": conversation_id, "participant": seat.pk}
    )

    assert (await next_frame(colleague, "error"))["code"] == "forbidden"
    assert of_type(await settle(interpreter), "conversation.left") == []
    assert (await seat_of(conversation_id)).is_present
