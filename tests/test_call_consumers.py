"""Calls over the console's and the client's sockets (chat/services/calls.py): only the
conversation's social worker offers, only its client answers, signalling goes only
between the two of them, and a frame for a call that is not yours is refused like any
other bad frame. Real ASGI application, in-memory layer."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat.consumers.calls import ice_servers
from chat.models import Call, Conversation
from chat.services.conversations import conversation_quick_exit
from chat.services.timed import call_end_clients_gone
from tests import factories
from tests.factories import frames_until, next_frame, settle
from tests.security_personas import private_rates  # noqa: F401 - fixture

pytest_plugins = ["tests.queue_personas"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_rates", "memory_layer"),
]

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}


@database_sync_to_async
def client_last_seen(conversation_id, seconds_ago):
    """The client's last sign of life, `seconds_ago` (what the liveness flush would write)."""
    Conversation.objects.filter(pk=conversation_id).update(
        client_seen_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


@database_sync_to_async
def calls_of(conversation_id):
    return list(
        Call.objects.filter(conversation_id=conversation_id).values_list(
            "media", "state", "ended_by", "reason"
        )
    )


async def ringing(console, client, conversation_id, media="video"):
    """Anna offers a call; both sockets hear it ring. Returns the client's frame."""
    await console.send_json_to(
        {"type": "call_start", "conversation": conversation_id, "media": media}
    )
    await next_frame(console, "call.ringing", conversation=conversation_id)
    return await next_frame(client, "call.ringing", conversation=conversation_id)


async def answered(console, client, conversation_id, media="video"):
    """A call the client took with `media`; returns its id."""
    frame = await ringing(console, client, conversation_id)
    await client.send_json_to({"type": "call_accept", "call": frame["call"], "media": media})
    await next_frame(client, "call.accepted")
    await next_frame(console, "call.accepted")
    return frame["call"]


async def call_ended(comm, call_id):
    """The `call.ended` of `call_id`, after the history's `call` event that comes first."""
    frames = await frames_until(comm, "call.ended", call=call_id)
    assert [f["message"]["event"] for f in frames if f["type"] == "conversation.message"] == [
        "call"
    ]
    return frames[-1]


async def error_for(comm, in_reply_to):
    frame = await next_frame(comm, "error", in_reply_to=in_reply_to)
    return frame["code"]


# --- the call's way ----------------------------------------------------------------------------
async def test_the_worker_offers_video_and_the_client_takes_it_with_voice_only(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    frame = await ringing(console, client, conversation_id)
    assert frame["media"] == "video"
    assert frame["ice_servers"] == []  # none by default
    assert "worker" not in frame  # the client gets no staff id

    await client.send_json_to({"type": "call_accept", "call": frame["call"], "media": "voice"})
    to_worker = await next_frame(console, "call.accepted", call=frame["call"])
    assert to_worker["media"] == "voice"
    assert to_worker["ice_servers"] == []
    assert await calls_of(conversation_id) == [("voice", "active", "", "")]


async def test_signalling_goes_to_the_other_party_only_and_never_back(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)

    await console.send_json_to(
        {"type": "call_offer", "conversation": conversation_id, "call": call_id, "sdp": SDP}
    )
    offer = await next_frame(client, "call.offer", call=call_id)
    assert offer["sdp"] == SDP and offer["from"] == "worker"
    await client.send_json_to({"type": "call_answer", "call": call_id, "sdp": SDP})
    await client.send_json_to({"type": "call_candidate", "call": call_id, "candidate": CANDIDATE})
    answer = await next_frame(console, "call.answer", call=call_id)
    assert answer["from"] == "client"
    candidate = await next_frame(console, "call.candidate", call=call_id)
    assert candidate["candidate"] == CANDIDATE
    # Neither socket got its own signalling back.
    assert not [f for f in await settle(console) if f["type"] in ("call.offer", "call.candidate")]
    assert not [f for f in await settle(client) if f["type"] in ("call.answer", "call.candidate")]


async def test_either_side_ends_the_call(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await client.send_json_to({"type": "call_end", "call": call_id})
    ended = await call_ended(console, call_id)
    assert (ended["ended_by"], ended["reason"]) == ("client", "hung_up")
    await call_ended(client, call_id)

    call_id = await answered(console, client, conversation_id)
    await console.send_json_to(
        {"type": "call_end", "conversation": conversation_id, "call": call_id}
    )
    ended = await call_ended(client, call_id)
    assert (ended["ended_by"], ended["reason"]) == ("worker", "hung_up")


async def test_the_client_declines(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    frame = await ringing(console, client, conversation_id)
    await client.send_json_to({"type": "call_decline", "call": frame["call"]})
    ended = await call_ended(console, frame["call"])
    assert ended["reason"] == "declined"
    assert await calls_of(conversation_id) == [("video", "ended", "client", "declined")]


async def test_a_clients_socket_that_drops_keeps_the_call_until_the_grace_runs_out(
    ws, anna, ekonomi, settings
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await ws.disconnect(client)
    # The browsers' own connection does not need the socket: the call goes on for now.
    assert not [f for f in await settle(console) if f["type"] == "call.ended"]
    assert await database_sync_to_async(call_end_clients_gone)() == 0
    assert await calls_of(conversation_id) == [("video", "active", "", "")]

    # Not back within CALL_RECONNECT_GRACE_SECONDS: the client has left, the call ends.
    await client_last_seen(conversation_id, settings.CALL_RECONNECT_GRACE_SECONDS + 1)
    assert await database_sync_to_async(call_end_clients_gone)() == 1
    ended = await call_ended(console, call_id)
    assert (ended["ended_by"], ended["reason"]) == ("client", "client_left")


async def test_a_client_page_that_closes_in_a_call_ends_it_at_once(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await client.send_json_to({"type": "call_end", "call": call_id, "left": True})
    ended = await call_ended(console, call_id)
    assert (ended["ended_by"], ended["reason"]) == ("client", "client_left")


async def test_a_client_back_within_the_grace_keeps_the_call(ws, anna, ekonomi, settings):
    console, _snapshot = await ws.console(anna)
    client = await ws.client()
    sync, token = await factories.client_start(client, ekonomi)
    conversation_id = sync["conversation"]
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await next_frame(console, "conversation.assigned", conversation=conversation_id)
    await settle(client)
    call_id = await answered(console, client, conversation_id)
    await ws.disconnect(client)
    await client_last_seen(conversation_id, settings.CALL_RECONNECT_GRACE_SECONDS - 5)

    back = await ws.client()
    await back.send_json_to({"type": "resume", "token": token, "after": 0})
    await next_frame(back, "conversation.sync")
    assert await database_sync_to_async(call_end_clients_gone)() == 0
    # The call's signalling reaches the reconnected socket.
    await console.send_json_to(
        {"type": "call_offer", "conversation": conversation_id, "call": call_id, "sdp": SDP}
    )
    assert (await next_frame(back, "call.offer", call=call_id))["from"] == "worker"
    assert await calls_of(conversation_id) == [("video", "active", "", "")]


async def test_the_quick_exit_ends_the_call_at_once_and_says_so(ws, anna, ekonomi):
    console, _snapshot = await ws.console(anna)
    client = await ws.client()
    sync, token = await factories.client_start(client, ekonomi)
    conversation_id = sync["conversation"]
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await next_frame(console, "conversation.assigned", conversation=conversation_id)
    await settle(client)
    call_id = await answered(console, client, conversation_id)

    await database_sync_to_async(conversation_quick_exit)(token=token)
    ended = await call_ended(console, call_id)
    assert (ended["ended_by"], ended["reason"]) == ("client", "quick_exit")
    assert await calls_of(conversation_id) == [("video", "ended", "client", "quick_exit")]


# --- who may offer to whom -----------------------------------------------------------------------
async def test_only_the_conversations_own_worker_may_offer_a_call(
    ws, anna, bengt, cecilia, ekonomi
):
    _client, _console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    colleague, _ = await ws.console(bengt)  # may read the conversation, is not its worker
    await colleague.send_json_to(
        {"type": "call_start", "conversation": conversation_id, "media": "voice"}
    )
    assert await error_for(colleague, "call_start") == "forbidden"
    stranger, _ = await ws.console(cecilia)  # another unit: the conversation does not exist
    await stranger.send_json_to(
        {"type": "call_start", "conversation": conversation_id, "media": "voice"}
    )
    assert await error_for(stranger, "call_start") == "not_found"
    assert await calls_of(conversation_id) == []


async def test_a_second_offer_and_a_queued_conversation_are_refused(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await ringing(console, client, conversation_id)
    await console.send_json_to(
        {"type": "call_start", "conversation": conversation_id, "media": "voice"}
    )
    assert await error_for(console, "call_start") == "call_busy"

    _waiting, waiting_id = await factories.waiting_client(ws, ekonomi)
    await console.send_json_to({"type": "call_start", "conversation": waiting_id, "media": "voice"})
    assert await error_for(console, "call_start") in ("not_found", "call_not_possible")


async def test_the_client_cannot_start_a_call_or_send_an_offer(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    for kind in ("call_start", "call_offer"):
        await client.send_json_to({"type": kind, "call": 1, "media": "video", "sdp": SDP})
        assert (await next_frame(client, "error"))["code"] == "unknown_type"
    frame = await ringing(console, client, conversation_id, media="voice")
    await client.send_json_to({"type": "call_accept", "call": frame["call"], "media": "video"})
    assert await error_for(client, "call_accept") == "invalid"  # only voice was offered


# --- refused frames ------------------------------------------------------------------------------
async def test_signalling_before_the_client_answers_is_refused(ws, anna, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    frame = await ringing(console, client, conversation_id)
    await console.send_json_to(
        {"type": "call_offer", "conversation": conversation_id, "call": frame["call"], "sdp": SDP}
    )
    assert await error_for(console, "call_offer") == "call_not_answered"
    assert not [f for f in await settle(client) if f["type"] == "call.offer"]


async def test_a_strangers_frames_for_a_call_are_refused_and_reach_nobody(ws, anna, bengt, ekonomi):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    # Another client, with a conversation of its own, names Anna's call.
    other, _other_id = await factories.waiting_client(ws, ekonomi)
    for frame in (
        {"type": "call_answer", "call": call_id, "sdp": SDP},
        {"type": "call_candidate", "call": call_id, "candidate": CANDIDATE},
        {"type": "call_end", "call": call_id},
        {"type": "call_accept", "call": call_id, "media": "voice"},
    ):
        await other.send_json_to(frame)
        assert await error_for(other, frame["type"]) == "no_call"
    # Anna's colleague may read the conversation but is not in the call.
    colleague, _ = await ws.console(bengt)
    await colleague.send_json_to(
        {"type": "call_offer", "conversation": conversation_id, "call": call_id, "sdp": SDP}
    )
    assert await error_for(colleague, "call_offer") == "no_call"
    await colleague.send_json_to(
        {"type": "call_end", "conversation": conversation_id, "call": call_id}
    )
    assert await error_for(colleague, "call_end") == "no_call"
    assert not [f for f in await settle(client) if f["type"].startswith("call.")]
    assert await calls_of(conversation_id) == [("video", "active", "", "")]


@pytest.mark.parametrize(
    "frame, code",
    [
        ({"type": "call_answer", "sdp": 5}, "invalid"),
        ({"type": "call_answer", "sdp": ""}, "too_long"),
        ({"type": "call_answer", "sdp": "x" * 20_001}, "too_long"),
        ({"type": "call_candidate", "candidate": "candidate:1"}, "invalid"),
        ({"type": "call_candidate", "candidate": {**CANDIDATE, "sdpMLineIndex": True}}, "invalid"),
        (
            {"type": "call_candidate", "candidate": {**CANDIDATE, "candidate": "c" * 1001}},
            "too_long",
        ),
        ({"type": "call_answer", "call": "1", "sdp": SDP}, "invalid"),
        ({"type": "call_accept", "media": "hologram"}, "invalid"),
    ],
)
async def test_bad_call_frames_get_a_clear_error_and_the_call_goes_on(
    ws, anna, ekonomi, frame, code
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    call_id = await answered(console, client, conversation_id)
    await client.send_json_to({"call": call_id, **frame})
    assert await error_for(client, frame["type"]) == code
    await client.send_json_to({"type": "call_answer", "call": call_id, "sdp": SDP})
    await next_frame(console, "call.answer", call=call_id)


# --- STUN and TURN from settings ---------------------------------------------------------------
def test_turn_gets_a_password_for_a_while_never_the_secret(settings):
    settings.CALL_STUN_URLS = ["stun:turn.example.org:3478"]
    settings.CALL_TURN_URLS = ["turn:turn.example.org:3478?transport=udp"]
    settings.CALL_TURN_SECRET = "north-secret"
    settings.CALL_TURN_TTL_SECONDS = 3600
    stun, turn = ice_servers(now=1_000_000)
    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert turn["username"] == "1003600:call"
    # coturn's use-auth-secret: base64(HMAC-SHA1(secret, username))
    assert turn["credential"] == "KxFY/Oa68Vu8iDENBQiOQln37+8="
    assert "north-secret" not in str(turn)
