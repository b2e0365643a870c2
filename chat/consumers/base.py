"""What every websocket endpoint shares: frame parsing, error frames, relaying group
events, flood limits, and the staff session checks. See docs/realtime.md."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts import services as account_services
from accounts.models import User
from chat import ratelimit, realtime, selectors
from chat.errors import ChatError, InvalidInput
from chat.parsing import frame_seq
from chat.permissions import can
from chat.services.presence import session_hash

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429

Frame = dict[str, Any]


def seq_value(value: object, name: str = "seq") -> int:
    """A seq from a frame (`seq`, `after`): chat/parsing.py's rule for numbers."""
    return frame_seq(value, name=name)


def ack_frame(message: Any, conversation_id: int) -> Frame:
    return {
        "type": "ack",
        "conversation": conversation_id,
        "client_id": str(message.client_id),
        "seq": message.seq,
    }


@database_sync_to_async
def staff_session_ok(user: User, session: Any) -> bool:
    return account_services.staff_session_ok(user=user, session=session)


def staff_opening(user: User, session: Any, opening: Callable[[User], Any]) -> tuple[bool, Any]:
    """A staff socket's connect, in one crossing into sync code: the session check on the
    session and account the auth middleware has just read (neither is read again), the
    session's keep-alive, then `opening(user)`, what the socket reads before it joins its
    groups (a console's units). (False, None) when the session does not hold."""
    if not account_services.staff_session_ok(
        user=user, session=session, user_is_current=True, session_is_current=True
    ):
        return False, None
    return True, opening(user)


class AccountGone(Exception):
    """The staff member may no longer use this socket: it closes with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def as_current_user(
    user_id: int, permission: str, session: Any, action: Callable[..., Any], *args: Any
) -> tuple[User, Any]:
    """In the sync thread, in the same crossing as the action: the account as it is now
    (active, still allowed, and with `session` given, a session that still holds), then
    the action as that account."""
    fresh = selectors.user_get_active(user_id=user_id)
    if fresh is None or not can(fresh, permission):
        raise AccountGone(CLOSE_FORBIDDEN)
    if session is not None and not account_services.staff_session_ok(
        user=fresh, session=session, user_is_current=True
    ):
        raise AccountGone(CLOSE_NOT_AUTHENTICATED)
    return fresh, action(fresh, *args)


# Typing notices are relayed at most this often per socket.
TYPING_EVERY_SECONDS = 2.0


def monotonic() -> float:
    """The clock the throttles read; tests replace it (a machine's uptime is no input)."""
    return time.monotonic()


# A socket's slow checks: the staff account and session (and the session's keep-alive),
# and the conversations' `last_seq` read from the database for the `pong`. A heartbeat in
# between is answered from memory. See docs/realtime.md, "Heartbeat".
SLOW_CHECK_SECONDS = 60.0


def staff_check_seconds() -> float:
    """How often a staff socket's heartbeat checks the account and keeps the session alive:
    every SLOW_CHECK_SECONDS, and often enough that an idle session (SESSION_COOKIE_AGE) is
    saved well before it would expire between two checks."""
    return min(SLOW_CHECK_SECONDS, settings.SESSION_COOKIE_AGE / 3)


class Every:
    """Says when `every` seconds have passed since it (re)started. It starts when made:
    what it stands for (a check, a read) was just done."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.last = monotonic()

    def due(self) -> bool:
        return monotonic() - self.last >= self.every

    def restart(self) -> None:
        self.last = monotonic()

    def now(self) -> None:
        """Due at the next look (after a Redis outage)."""
        self.last = -math.inf


def seqs_in(frame: Frame) -> list[tuple[int, int]]:
    """(conversation, seq) pairs a frame to the browser tells it: the highest `seq` of each
    conversation the frame says exists. Anything else in a frame counts for nothing."""
    kind = frame.get("type")
    if kind == "console.snapshot":
        pairs = [(c.get("id"), c.get("last_seq")) for c in frame.get("conversations", [])]
    elif kind == "conversation.message":
        pairs = [(frame.get("conversation"), (frame.get("message") or {}).get("seq"))]
    elif kind == "conversation.sync":
        pairs = [(frame.get("conversation"), frame.get("last_seq"))]
    elif kind == "conversation.assigned":
        pairs = [(frame.get("conversation"), (frame.get("detail") or {}).get("last_seq"))]
    elif kind == "ack":
        pairs = [(frame.get("conversation"), frame.get("seq"))]  # a note's ack has no seq
    else:
        return []
    return [(c, seq) for c, seq in pairs if isinstance(c, int) and isinstance(seq, int)]


class Throttle(Every):
    """Lets one event through per `every` seconds. It starts due, so the first event
    always passes, however recently the machine booted."""

    def __init__(self, every: float) -> None:
        super().__init__(every)
        self.now()

    def ready(self) -> bool:
        if not self.due():
            return False
        self.restart()
        return True


class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """Parses frames, answers every bad one with an `error` frame, and relays group events.

    A frame of type `t` goes to the method `on_t` if `t` is in `frame_types`; group events
    whose type is in `relayed` go to the browser unchanged. A bad frame never closes the
    socket.
    """

    frame_types: frozenset[str] = frozenset()
    relayed: frozenset[str] = frozenset()
    unjoined: frozenset[str] = frozenset()  # groups `join` could not reach yet

    async def websocket_connect(self, message: Frame) -> None:
        # The highest `seq` this socket has sent its browser, per conversation: what a
        # `pong` answered from memory says (the browser already has it: no false gap).
        self.seqs: dict[int, int] = {}
        self.bucket = ratelimit.frame_bucket()
        self.typing = Throttle(TYPING_EVERY_SECONDS)
        self.outages_seen = realtime.outage.ended
        self.limited_until = 0.0
        await super().websocket_connect(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        wait = self.bucket.take()
        if wait:
            # Drop the frame; say so at most once a second, so the flood costs only its sender.
            now = time.monotonic()
            if now >= self.limited_until:
                self.limited_until = now + 1
                await self.frames_limited()
                await self.send_error(
                    ChatError(
                        "too many frames",
                        code="rate_limited",
                        what="frames",
                        retry_after=math.ceil(wait),
                    )
                )
            return
        if text_data is None:
            await self.send_error(InvalidInput("frames are JSON text"), code="bad_frame")
            return
        try:
            frame = json.loads(text_data)
            # A lone surrogate ("\ud83d" from a broken emoji) cannot be stored or hashed.
            json.dumps(frame, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError, UnicodeEncodeError):
            await self.send_error(InvalidInput("a frame is one JSON object"), code="bad_frame")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error(InvalidInput("a frame needs a string `type`"), code="bad_frame")
            return
        if not await self.may_act():
            return
        if frame["type"] == "ping" and self.unjoined:
            await self.rejoin()  # groups a Redis outage kept this socket out of
        if frame["type"] == "ping" and self.outages_seen != realtime.outage.ended:
            self.outages_seen = realtime.outage.ended
            await self.after_outage()
        if frame["type"] not in self.frame_types:
            await self.send_error(
                InvalidInput(f"unknown type {frame['type'][:40]!r}"), code="unknown_type"
            )
            return
        try:
            await getattr(self, "on_" + frame["type"])(frame)
        except ChatError as error:
            await self.send_error(error, frame=frame)
        except AccountGone as gone:
            await self.close(code=gone.code)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        # Group events may still arrive until the server confirms the close; they are
        # dropped, not sent into a closed socket.
        self.closing = True
        await super().close(code=code, reason=reason)

    async def send_json(self, content: Frame, close: bool = False) -> None:
        for conversation_id, seq in seqs_in(content):
            if seq > self.seqs.get(conversation_id, 0):
                self.seqs[conversation_id] = seq
        await super().send_json(content, close=close)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:  # type: ignore[no-untyped-def]
        if getattr(self, "closing", False):
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def send_error(
        self, error: ChatError, *, code: str | None = None, frame: Frame | None = None
    ) -> None:
        payload: Frame = {"type": "error", "code": code or error.code, "message": error.message}
        if frame is not None:
            payload["in_reply_to"] = frame["type"]
            if isinstance(frame.get("client_id"), str):
                payload["client_id"] = frame["client_id"][:64]
            for key in ("conversation", "worker", "handover", "participant"):
                if isinstance(frame.get(key), int) and not isinstance(frame.get(key), bool):
                    payload[key] = frame[key]
        payload.update(
            {k: v for k, v in error.details.items() if k in {"limit", "retry_after", "what"}}
        )
        await self.send_json(payload)

    async def dispatch(self, message: Frame) -> None:
        event_type = message.get("type", "")
        if event_type in self.relayed:
            await self.send_json(self.visible(message))
            return
        if event_type.startswith("websocket.") or hasattr(self, event_type.replace(".", "_")):
            await super().dispatch(message)
        # Any other group event is not for this kind of socket (a shared group carries it).

    def visible(self, event: Frame) -> Frame:
        """What of a relayed event this socket may see; everything, unless overridden."""
        return event

    async def frames_limited(self) -> None:
        """The frame bucket refused a frame (at most once a second): a client socket counts
        it against its address (chat/ratelimit.py); staff are not limited by address."""

    async def on_ping(self, frame: Frame) -> None:
        await self.send_json({"type": "pong"})

    async def may_act(self) -> bool:
        """Whether this socket may still act; staff sockets check the account each frame."""
        return True

    async def join(self, group: str) -> None:
        """Join `group`. A channel layer that is down (Redis) fails neither the handshake
        nor the frame: the socket counts as a member and joins for real at a later
        heartbeat (`rejoin`); until then the browser's resync by seq fetches what it
        missed."""
        if group not in self.groups:
            joined = await realtime.group_add(self.channel_layer, group, self.channel_name)
            self.groups.append(group)
            if not joined:
                self.unjoined = self.unjoined | {group}

    async def after_outage(self) -> None:
        """The first heartbeat after a Redis outage: events that no resync by seq brings back
        may have been lost meanwhile. Sockets with rights check them again here."""

    async def rejoin(self) -> None:
        """Try again the groups `join` could not reach (on every `ping`). A group the socket
        has left meanwhile (`keep_only`) stays left."""
        for group in sorted(self.unjoined):
            if group not in self.groups or await realtime.group_add(
                self.channel_layer, group, self.channel_name
            ):
                self.unjoined = self.unjoined - {group}


class StaffConsumer(JsonFrameConsumer):
    """A signed-in staff socket: allowed by `permission`, with a live (and, when it is on,
    two-factor) session that the heartbeat checks and keeps alive every
    `staff_check_seconds()`; every other heartbeat is answered from memory. A right taken
    away reaches the socket at once through `access.changed`; the slow check is the
    backstop for an event that was lost."""

    permission = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if not can(user, self.permission):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # The user's own group before the check: a sign-out or an access change from now on
        # reaches this socket (its group events wait until the connect is done).
        await self.join(realtime.worker_group(user.pk))
        ok, opened = await database_sync_to_async(staff_opening)(
            user, self.scope.get("session"), self.opening
        )
        if not ok:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user
        self.staff_check = Every(staff_check_seconds())
        await self.staff_connected(opened)

    @staticmethod
    def opening(user: User) -> Any:
        """What `staff_connected` needs read before it joins its groups, read in the
        connect's crossing (`staff_opening`); None: nothing."""
        return None

    async def staff_connected(self, opened: Any = None) -> None:
        """Join the groups the user may hear now, leave any other, and send the state.
        Runs at connect (with what `opening` read) and again whenever the user's access
        changes (`opened` None: read it again)."""

    async def keep_only(self, groups: set[str]) -> None:
        """Be in exactly `groups` (and the user's own group): what a fresh connect would
        join. A group the user may no longer hear is left at once."""
        own = realtime.worker_group(self.user.pk)
        for group in [g for g in self.groups if g != own and g not in groups]:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups.remove(group)
        for group in sorted(groups):
            await self.join(group)

    async def access_changed(self, event: Frame) -> None:
        """The user's units, role or account changed (chat/signals.py): check again, as at
        connect, and close if this socket is no longer theirs to use."""
        try:
            await self.act(lambda user: None, session=True)  # a new password ends sessions
        except AccountGone as gone:
            await self.close(code=gone.code)
            return
        await self.staff_connected()

    async def after_outage(self) -> None:
        # An access.changed or conversation.left sent during the outage was lost.
        await self.access_changed({"type": "access.changed"})

    async def session_ended(self, event: Frame) -> None:
        """One browser signed out: its sockets end, the user's other browsers stay."""
        session = self.scope.get("session")
        key = session.session_key if session is not None else None
        if event.get("session") == session_hash(key):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)

    async def may_act(self) -> bool:
        # The account is checked inside each action's own crossing (`act`).
        return getattr(self, "user", None) is not None

    async def act(self, action: Callable[..., Any], *args: Any, session: bool = False) -> Any:
        """Run the sync `action(user, *args)` in one crossing into sync code, as the account
        is now: a worker deactivated or given another role while their console is open can
        do nothing more with it (AccountGone closes the socket). `session=True` checks the
        session too, and keeps an idle one alive (the heartbeat's slow check)."""
        fresh, result = await database_sync_to_async(as_current_user)(
            self.user.pk,
            self.permission,
            self.scope.get("session") if session else None,
            action,
            *args,
        )
        self.user = fresh
        if session:
            self.staff_check.restart()
        return result

    async def on_ping(self, frame: Frame) -> None:
        """No database statement, except once per `staff_check_seconds()` (and at each
        heartbeat while Redis is down, when broadcasts are lost): then the account and
        session checks, the session's keep-alive and `checked_pong` in one crossing."""
        if self.staff_check.due() or realtime.outage.down:
            await self.send_json(await self.act(self.checked_pong, session=True))
        else:
            await self.send_json(self.pong())
        self.alive()

    def pong(self) -> Frame:
        """The heartbeat's answer from memory."""
        return {"type": "pong"}

    @staticmethod
    def checked_pong(user: User) -> Frame:
        """The heartbeat's answer at a slow check, made in the sync thread."""
        return {"type": "pong"}

    def alive(self) -> None:
        """A heartbeat was answered: note the sign of life (in memory: chat/liveness.py)."""
