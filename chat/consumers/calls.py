"""Call frames, parsed once here and shared by the console's and the client's socket:
the rules are in chat/services/calls.py, the frames in docs/realtime.md ("Calls")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

from accounts.models import User
from chat import realtime
from chat.errors import TooLong
from chat.models import Call, Conversation
from chat.parsing import frame_choice, frame_id, frame_int, frame_object, frame_text
from chat.services import calls

Frame = dict[str, Any]

SDP_MAX_CHARS = 20_000  # a browser's offer for one audio and one video track is ~5,000
CANDIDATE_MAX_CHARS = 1_000
SIGNAL_FRAMES = {"call_offer": "call.offer", "call_answer": "call.answer"}


def call_id(frame: Frame) -> int:
    return frame_id(frame.get("call"), name="call")


def call_media(frame: Frame) -> Call.Media:
    return frame_choice(frame.get("media"), Call.Media, name="media")


def signal(frame: Frame) -> tuple[str, dict[str, Any]]:
    """The event type and the browser's own signalling, rebuilt field by field: an SDP
    description for `call_offer` and `call_answer`, an ICE candidate for `call_candidate`.
    Nothing else in the frame is passed on."""
    kind = frame["type"]
    if kind in SIGNAL_FRAMES:
        sdp = frame_text(frame.get("sdp"), name="sdp")
        if not sdp or len(sdp) > SDP_MAX_CHARS:
            raise TooLong(f"`sdp` must be 1 to {SDP_MAX_CHARS} characters")
        return SIGNAL_FRAMES[kind], {"sdp": sdp}
    candidate = frame_object(frame.get("candidate"), name="candidate")
    text = frame_text(candidate.get("candidate"), name="candidate")
    if len(text) > CANDIDATE_MAX_CHARS:
        raise TooLong(f"`candidate` must be at most {CANDIDATE_MAX_CHARS} characters")
    mid = frame_text(candidate.get("sdpMid"), name="sdpMid", optional=True)[:64]
    index = candidate.get("sdpMLineIndex")
    return "call.candidate", {
        "candidate": {
            "candidate": text,
            "sdpMid": mid or None,
            "sdpMLineIndex": None
            if index is None
            else frame_int(index, minimum=0, maximum=64, name="sdpMLineIndex"),
        }
    }


def ice_servers(now: float | None = None) -> list[dict[str, Any]]:
    """The STUN/TURN servers for an `RTCPeerConnection` (none by default: browsers on one
    network need none). TURN gets a user name and password valid for
    CALL_TURN_TTL_SECONDS, made from coturn's static-auth-secret (its use-auth-secret
    scheme: the password is base64(HMAC-SHA1(secret, "expiry:name")))."""
    servers: list[dict[str, Any]] = []
    if settings.CALL_STUN_URLS:
        servers.append({"urls": list(settings.CALL_STUN_URLS)})
    if settings.CALL_TURN_URLS:
        expiry = int((time.time() if now is None else now) + settings.CALL_TURN_TTL_SECONDS)
        username = f"{expiry}:call"
        digest = hmac.new(settings.CALL_TURN_SECRET.encode(), username.encode(), hashlib.sha1)
        servers.append(
            {
                "urls": list(settings.CALL_TURN_URLS),
                "username": username,
                "credential": base64.b64encode(digest.digest()).decode(),
            }
        )
    return servers


def call_to(frame: Frame) -> str | None:
    """Whom a signalling frame is for: "worker", "client" or "interpreter-<id>"; None (the
    worker and the client to each other) means the other of those two."""
    to = frame.get("to")
    if to is None:
        return None
    return frame_text(to, name="to")[:40]


def signal_for(
    conversation: Conversation, frame: Frame, *, side: str, actor: User | None = None
) -> realtime.Event:
    """A signalling frame as the event for the party it names, if the call allows it."""
    kind, payload = signal(frame)
    call, to = calls.call_for_signal(
        conversation=conversation,
        call_id=call_id(frame),
        side=side,
        actor=actor,
        to=call_to(frame),
    )
    return realtime.call_signal_event(kind, call=call, side=side, to=to, signal=payload)


def open_event(call: Call, *, me: str) -> Frame:
    """`call.open`: the call going on in the conversation, for a page that has just
    (re)connected: who is in it (`parties`), the page's own name in it (`me`), its state and
    the ICE servers. An interpreter's page may join it; the worker's page, reloaded while in
    it, connects again."""
    event = realtime.call_parties_event("call.open", call, who=me, parties=calls.call_parties(call))
    return {**event, "state": call.state, "me": me, "ice_servers": ice_servers()}


def is_for(event: Frame, *, side: str, worker_id: int | None = None) -> bool:
    """Whether a call event is for this socket: signalling only for the party it names
    (never anyone's own back), and on the console only the call's own worker (a colleague
    in the conversation hears nothing)."""
    if "to" in event and event["to"] != side:
        return False
    return side != calls.WORKER or event.get("worker") == worker_id


def without_staff_id(event: Frame) -> Frame:
    """A call event as a client or an interpreter sees it: no staff member's id."""
    return {k: v for k, v in event.items() if k != "worker"}
