"""Handover, invitations, typing and seen over the real sockets: the console's hand_over,
handover_accept, handover_decline, invite, leave, typing, seen and sync frames, and the
client's typing and seen. Real ASGI application, signed-in sessions, in-memory layer."""

import pytest
from channels.db import database_sync_to_async

from accounts.models import Presence
from chat.consumers import base as consumers_base
from chat.models import Handover, Message
from tests import factories
from tests.factories import frames_until, is_event, next_frame, send_message, settle
from tests.handover_personas import (
    active_conversation,
    console_sync,
    hand_over,
    of_type,
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

NOTE = "Klienten söker nödbistånd för hyran, ansökan inskickad i måndags."


@database_sync_to_async
def open_offer(conversation_id):
    return Handover.objects.filter(conversation_id=conversation_id, state="offered").first()


@database_sync_to_async
def message_count(conversation_id):
    return Message.objects.filter(conversation_id=conversation_id).count()


@database_sync_to_async
def stored_seqs(conversation_id):
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


async def offered(ws, anna, bengt, ekonomi):
    """Anna's client, Anna's and Bengt's consoles, the conversation, and Anna's open offer
    to Bengt as Bengt's console received it."""
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    receiver, _ = await ws.console(bengt)
    await console.send_json_to(
        {"type": "hand_over", "conversation": conversation_id, "to_worker": bengt.pk, "note": NOTE}
    )
    offer = await next_frame(receiver, "handover.updated")
    return client, console, receiver, conversation_id, offer["handover"]


# --- offer, accept, decline ---------------------------------------------------------------
async def test_it_offers_the_conversation_to_the_named_colleague(ws, ekonomi, anna, bengt):
    client, console, _receiver, conversation_id, offer = await offered(ws, anna, bengt, ekonomi)

    assert (offer["conversation"], offer["state"], offer["note"]) == (
        conversation_id,
        "offered",
        NOTE,
    )
    assert offer["from"] == "Anna"
    assert offer["expires_at"] is not None
    started = await next_frame(client, "conversation.message", where=is_event("handover_started"))
    assert "author" not in started["message"]
    own = await frames_until(console, "handover.updated")
    assert own[-1]["handover"]["id"] == offer["id"]


async def test_it_lists_an_open_offer_in_the_receivers_snapshot(ws, ekonomi, anna, bengt):
    _client, _console, receiver, _conversation_id, offer = await offered(ws, anna, bengt, ekonomi)
    await ws.disconnect(receiver)

    _again, snapshot = await ws.console(bengt)

    assert [o["id"] for o in snapshot["offers"]] == [offer["id"]]


async def test_it_hands_the_conversation_over_when_the_colleague_accepts(ws, ekonomi, anna, bengt):
    client, console, receiver, conversation_id, offer = await offered(ws, anna, bengt, ekonomi)
    await settle(client)
    await settle(console)

    await receiver.send_json_to(
        {"type": "handover_accept", "handover": offer["id"], "show_name": True}
    )

    assigned = await frames_until(receiver, "conversation.assigned", conversation=conversation_id)
    assert assigned[-1]["detail"]["state"] == "active"
    joined = await next_frame(client, "conversation.message", where=is_event("handover_joined"))
    assert joined["message"]["body"] == "Bengt"
    assert "author" not in joined["message"]
    left = await frames_until(console, "conversation.left", conversation=conversation_id)
    assert left[-1]["reason"] == "handed_over"
    answer = await frames_until(console, "handover.updated")
    assert answer[-1]["handover"]["state"] == "accepted"

    # From now on the client talks with Bengt; Anna's console no longer hears it.
    await settle(console)
    await send_message(client, "Hej Bengt!")
    heard = await frames_until(
        receiver, "conversation.message", where=lambda f: f["message"]["body"] == "Hej Bengt!"
    )
    assert heard[-1]["message"]["sender"] == "client"
    assert of_type(await settle(console), "conversation.message") == []


async def test_it_does_not_name_the_receiver_to_the_client_unless_asked(ws, ekonomi, anna, bengt):
    client, _console, receiver, _conversation_id, offer = await offered(ws, anna, bengt, ekonomi)

    await receiver.send_json_to({"type": "handover_accept", "handover": offer["id"]})

    joined = await frames_until(client, "conversation.message", where=is_event("handover_joined"))
    assert joined[-1]["message"]["body"] == ""
    frames = await settle(client)
    assert "author" not in keys_anywhere(frames)
    assert "Bengt" not in text_of(frames)


async def test_it_resumes_the_client_with_the_chosen_name_and_no_author(ws, ekonomi, anna, bengt):
    conversation, token = await database_sync_to_async(active_conversation)(ekonomi, anna)
    _console, _ = await ws.console(anna)
    receiver, _ = await ws.console(bengt)
    await database_sync_to_async(hand_over)(conversation, anna, to_worker=bengt)
    offer = (await next_frame(receiver, "handover.updated"))["handover"]
    await receiver.send_json_to(
        {"type": "handover_accept", "handover": offer["id"], "show_name": True}
    )
    await frames_until(receiver, "conversation.assigned", conversation=conversation.pk)
    client = await ws.client()

    await client.send_json_to({"type": "resume", "token": token, "after": 0})

    sync = await next_frame(client, "conversation.sync")
    assert [(m["event"], m["body"]) for m in sync["messages"][2:]] == [
        ("handover_started", ""),
        ("handover_joined", "Bengt"),
    ]
    assert "author" not in keys_anywhere(sync)
    assert "Anna" not in text_of(sync)


async def test_it_hides_the_offer_from_anyone_but_the_receiver(ws, ekonomi, anna, bengt, sara):
    _client, _console, _receiver, conversation_id, offer = await offered(ws, anna, bengt, ekonomi)
    supervisor, _ = await ws.console(sara)

    await supervisor.send_json_to({"type": "handover_accept", "handover": offer["id"]})
    refused = await next_frame(supervisor, "error")
    await supervisor.send_json_to(
        {"type": "handover_decline", "handover": offer["id"], "reason": "Nej"}
    )
    declined = await next_frame(supervisor, "error")

    assert (refused["code"], declined["code"]) == ("not_found", "not_found")
    assert (await open_offer(conversation_id)).pk == offer["id"]


async def test_it_keeps_the_offer_open_when_the_receiver_is_full(ws, ekonomi, anna, bengt):
    await database_sync_to_async(active_conversation)(ekonomi, bengt)
    await database_sync_to_async(Presence.objects.filter(user=bengt).update)(capacity=1)
    _client, _console, receiver, conversation_id, offer = await offered(ws, anna, bengt, ekonomi)

    await receiver.send_json_to({"type": "handover_accept", "handover": offer["id"]})

    error = await next_frame(receiver, "error")
    assert (error["code"], error["handover"]) == ("at_capacity", offer["id"])
    assert (await open_offer(conversation_id)).pk == offer["id"]


async def test_it_needs_a_reason_to_decline_and_returns_the_offer_to_the_sender(
    ws, ekonomi, anna, bengt
):
    client, console, receiver, conversation_id, offer = await offered(ws, anna, bengt, ekonomi)

    await receiver.send_json_to({"type": "handover_decline", "handover": offer["id"]})
    assert (await next_frame(receiver, "error"))["code"] == "invalid"
    await receiver.send_json_to(
        {"type": "handover_decline", "handover": offer["id"], "reason": "Jag går hem nu."}
    )

    answer = await frames_until(
        console, "handover.updated", where=lambda f: f["handover"]["state"] == "declined"
    )
    assert answer[-1]["handover"]["decline_reason"] == "Jag går hem nu."
    await frames_until(client, "conversation.message", where=is_event("handover_cancelled"))
    reply = await send_message(console, "Jag är kvar hos dig.", conversation=conversation_id)
    ack = (await frames_until(console, "ack", client_id=reply))[-1]
    assert ack["seq"] == 5  # opening, accepted, started, cancelled, this


async def test_it_refuses_a_second_handover_while_one_is_open(ws, ekonomi, anna, bengt, sara):
    _client, console, _receiver, conversation_id, _offer = await offered(ws, anna, bengt, ekonomi)
    await settle(console)

    await console.send_json_to(
        {"type": "hand_over", "conversation": conversation_id, "to_worker": sara.pk, "note": NOTE}
    )

    error = await next_frame(console, "error")
    assert (error["code"], error["conversation"]) == ("handover_open", conversation_id)


async def test_it_lets_only_the_assigned_worker_hand_over(ws, ekonomi, anna, bengt, cecilia):
    _client, _console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    colleague, _ = await ws.console(bengt)
    stranger, _ = await ws.console(cecilia)
    frame = {
        "type": "hand_over",
        "conversation": conversation_id,
        "to_worker": anna.pk,
        "note": NOTE,
    }

    await colleague.send_json_to(frame)
    await stranger.send_json_to(frame)

    assert (await next_frame(colleague, "error"))["code"] == "forbidden"
    assert (await next_frame(stranger, "error"))["code"] == "not_found"
    assert await open_offer(conversation_id) is None


async def test_it_keeps_what_the_client_writes_during_the_offer_for_the_receiver(
    ws, ekonomi, anna, bengt
):
    client, _console, receiver, conversation_id, offer = await offered(ws, anna, bengt, ekonomi)
    for n in range(3):
        sent = await send_message(client, f"Är någon där? {n}")
        await frames_until(client, "ack", client_id=sent)

    await receiver.send_json_to({"type": "handover_accept", "handover": offer["id"]})
    await frames_until(receiver, "conversation.assigned", conversation=conversation_id)
    sync, context = await console_sync(receiver, conversation_id)

    assert await stored_seqs(conversation_id) == list(range(1, 8))
    assert [m["seq"] for m in sync["messages"]] == list(range(1, 8))
    assert [m["body"] for m in sync["messages"] if m["sender"] == "client"][1:] == [
        f"Är någon där? {n}" for n in range(3)
    ]
    assert [h["note"] for h in context["handovers"]] == [NOTE]


# --- to another unit's queue ------------------------------------------------------------------
async def test_it_sends_the_conversation_to_another_units_queue_without_its_history(
    ws, ekonomi, vald, anna, cecilia
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    secret = await send_message(client, "Han vet inte att jag skriver.")
    await frames_until(client, "ack", client_id=secret)
    other, _ = await ws.console(cecilia)

    await console.send_json_to(
        {
            "type": "hand_over",
            "conversation": conversation_id,
            "to_unit": vald.pk,
            "share_history": False,
            "note": NOTE,
        }
    )

    left = await frames_until(console, "conversation.left", conversation=conversation_id)
    assert left[-1]["reason"] == "handed_over"
    queued = await frames_until(other, "queue.updated", unit=vald.pk, where=lambda f: f["waiting"])
    assert [c["id"] for c in queued[-1]["waiting"]] == [conversation_id]
    await other.send_json_to({"type": "accept", "conversation": conversation_id})
    await frames_until(other, "conversation.assigned", conversation=conversation_id)
    sync, context = await console_sync(other, conversation_id)
    assert sync["from_seq"] == 3
    assert [m["event"] for m in sync["messages"]] == ["handover_started", "accepted"]
    assert "Han vet inte" not in text_of(sync)
    assert [(h["note"], h["share_history"]) for h in context["handovers"]] == [(NOTE, False)]

    await console.send_json_to({"type": "sync", "conversation": conversation_id, "after": 0})
    refused = (await frames_until(console, "error"))[-1]
    assert (refused["code"], refused["in_reply_to"]) == ("not_found", "sync")


# --- sync ------------------------------------------------------------------------------------
async def test_it_answers_sync_with_the_messages_then_the_staff_context(ws, ekonomi, anna):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)

    await console.send_json_to({"type": "sync", "conversation": conversation_id, "after": 1})

    background = factories.BACKGROUND - {"conversation.context"}  # the answer here
    answer = [f for f in await settle(console) if f["type"] not in background]
    assert [f["type"] for f in answer] == ["conversation.sync", "conversation.context"]
    assert [m["seq"] for m in answer[0]["messages"]] == [2]
    assert answer[0]["from_seq"] == 0
    assert set(answer[1]) == {"type", "conversation", "handovers", "notes", "participants"}


@database_sync_to_async
def read_seq(conversation_id: int) -> int:
    from chat.models import Conversation

    return Conversation.objects.get(pk=conversation_id).worker_read_seq


# --- invitations over the console -------------------------------------------------------------
async def test_it_lets_an_invited_colleague_follow_read_from_joining_and_leave(
    ws, ekonomi, anna, cecilia
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    secret = await send_message(client, "Det här är före Cecilia.")
    await frames_until(client, "ack", client_id=secret)
    colleague, _ = await ws.console(cecilia)

    await console.send_json_to(
        {"type": "invite", "conversation": conversation_id, "user": cecilia.pk}
    )

    await next_frame(colleague, "conversation.assigned", conversation=conversation_id)
    sync, context = await console_sync(colleague, conversation_id)
    assert sync["from_seq"] == 3
    assert [m["event"] for m in sync["messages"]] == ["participant_joined"]
    assert "före Cecilia" not in text_of(sync)
    assert [p["name"] for p in context["participants"]] == ["Cecilia"]
    await send_message(client, "Hej Cecilia.")
    heard = await frames_until(
        colleague, "conversation.message", where=lambda f: f["message"]["body"] == "Hej Cecilia."
    )
    assert heard[-1]["message"]["sender"] == "client"

    await colleague.send_json_to({"type": "leave", "conversation": conversation_id})

    left = await frames_until(colleague, "conversation.left", conversation=conversation_id)
    assert left[-1]["reason"] == "left"
    await frames_until(client, "conversation.message", where=is_event("participant_left"))
    await colleague.send_json_to({"type": "sync", "conversation": conversation_id})
    assert (await next_frame(colleague, "error"))["code"] == "not_found"


async def test_an_invited_colleagues_seen_is_theirs_not_the_workers(ws, ekonomi, anna, cecilia):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    colleague, _ = await ws.console(cecilia)
    await console.send_json_to(
        {"type": "invite", "conversation": conversation_id, "user": cecilia.pk}
    )
    await next_frame(colleague, "conversation.assigned", conversation=conversation_id)
    await send_message(client, "Läser någon?")
    await frames_until(console, "conversation.message", conversation=conversation_id)
    await settle(client)

    await colleague.send_json_to({"type": "seen", "conversation": conversation_id, "seq": 9})

    heard = await frames_until(console, "conversation.seen", conversation=conversation_id)
    assert heard[-1]["who"] == "colleague"
    # The client's page shows "seen" only for its social worker (who: worker), and the
    # worker's unread count (how far they have read) has not moved.
    assert [f["who"] for f in of_type(await settle(client), "conversation.seen")] == ["colleague"]
    assert await read_seq(conversation_id) == 0


async def test_it_lets_the_worker_remove_an_invited_colleague(ws, ekonomi, anna, cecilia):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    colleague, _ = await ws.console(cecilia)
    await console.send_json_to(
        {"type": "invite", "conversation": conversation_id, "user": cecilia.pk}
    )
    await next_frame(colleague, "conversation.assigned", conversation=conversation_id)
    await settle(console)
    _sync, context = await console_sync(console, conversation_id)
    (seat,) = context["participants"]

    await console.send_json_to(
        {"type": "remove_participant", "conversation": conversation_id, "participant": seat["id"]}
    )

    left = await frames_until(colleague, "conversation.left", conversation=conversation_id)
    assert left[-1]["reason"] == "removed"
    await send_message(colleague, "Får jag skriva?", conversation=conversation_id)
    assert (await next_frame(colleague, "error"))["code"] == "not_found"


async def test_it_gives_the_invitation_link_only_to_the_workers_socket(ws, ekonomi, anna, bengt):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    colleague, _ = await ws.console(bengt)

    await console.send_json_to({"type": "invite_link", "conversation": conversation_id})

    link = await next_frame(console, "invitation", conversation=conversation_id)
    assert len(link["invitation"]) >= 32
    for other in (client, colleague):
        assert link["invitation"] not in text_of(await settle(other))


# --- typing and seen -------------------------------------------------------------------------
@pytest.fixture
def long_typing_window(monkeypatch):
    """A machine that booted five seconds ago and a clock that stands still: "two frames in
    a row" never depends on the test's speed, and the first frame must pass however short
    the uptime (a throttle that started at zero swallowed it on a fresh machine)."""
    monkeypatch.setattr(consumers_base, "monotonic", lambda: 5.0)


@pytest.mark.usefixtures("long_typing_window")
async def test_it_relays_the_workers_typing_to_the_client_once_and_stores_nothing(
    ws, ekonomi, anna
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(client)
    before = await message_count(conversation_id)

    for _ in range(2):
        await console.send_json_to({"type": "typing", "conversation": conversation_id})
    await settle(console)

    typing = of_type(await settle(client), "conversation.typing")
    assert typing == [
        {"type": "conversation.typing", "conversation": conversation_id, "who": "worker", "seq": 0}
    ]
    assert await message_count(conversation_id) == before


@pytest.mark.usefixtures("long_typing_window")
async def test_it_relays_the_clients_typing_to_the_worker_once_and_stores_nothing(
    ws, ekonomi, anna
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    before = await message_count(conversation_id)

    for _ in range(2):
        await client.send_json_to({"type": "typing"})
    await settle(client)

    typing = of_type(await settle(console), "conversation.typing")
    assert [(f["conversation"], f["who"]) for f in typing] == [(conversation_id, "client")]
    assert await message_count(conversation_id) == before


async def test_it_relays_seen_both_ways_and_stores_nothing(ws, ekonomi, anna):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(client)
    await settle(console)
    before = await message_count(conversation_id)

    await client.send_json_to({"type": "seen", "seq": 2})
    seen_by_client = await frames_until(
        console, "conversation.seen", where=lambda f: f["who"] == "client"
    )
    await console.send_json_to({"type": "seen", "conversation": conversation_id, "seq": 1})
    seen_by_worker = await frames_until(
        client, "conversation.seen", where=lambda f: f["who"] == "worker"
    )

    assert (seen_by_client[-1]["conversation"], seen_by_client[-1]["seq"]) == (conversation_id, 2)
    assert (seen_by_worker[-1]["conversation"], seen_by_worker[-1]["seq"]) == (conversation_id, 1)
    assert await message_count(conversation_id) == before


async def test_it_refuses_a_bad_seen_seq(ws, ekonomi, anna):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)

    await client.send_json_to({"type": "seen", "seq": -1})
    await console.send_json_to({"type": "seen", "conversation": conversation_id, "seq": "2"})

    assert (await frames_until(client, "error"))[-1]["code"] == "invalid"
    assert (await frames_until(console, "error"))[-1]["code"] == "invalid"


async def test_it_relays_typing_to_an_interpreter(ws, ekonomi, anna):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await console.send_json_to({"type": "invite_link", "conversation": conversation_id})
    link = await next_frame(console, "invitation", conversation=conversation_id)
    interpreter = await ws.open("/ws/interpreter/")
    assert (await interpreter.connect(timeout=factories.RECEIVE_TIMEOUT))[0]
    await interpreter.send_json_to(
        {"type": "join", "invitation": link["invitation"], "token": factories.new_token()}
    )
    await next_frame(interpreter, "conversation.sync")

    await client.send_json_to({"type": "typing"})

    typing = await frames_until(interpreter, "conversation.typing")
    assert typing[-1]["who"] == "client"


async def test_it_refuses_typing_into_a_conversation_the_worker_may_not_read(
    ws, ekonomi, anna, cecilia
):
    client, _console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    stranger, _ = await ws.console(cecilia)
    await settle(client)

    await stranger.send_json_to({"type": "typing", "conversation": conversation_id})
    await stranger.send_json_to({"type": "seen", "conversation": conversation_id, "seq": 2})

    errors = of_type(await settle(stranger), "error")
    assert [e["code"] for e in errors] == ["not_found", "not_found"]
    heard = await settle(client)
    assert of_type(heard, "conversation.typing") == of_type(heard, "conversation.seen") == []


async def test_it_wants_a_conversation_before_the_clients_typing(ws, db):
    client = await ws.client()

    await client.send_json_to({"type": "typing"})

    assert (await next_frame(client, "error"))["code"] == "no_conversation"
