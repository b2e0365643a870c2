"""Websocket interfaces. Each consumer authenticates, dispatches a frame's `type` to one
service or selector call, and relays group events. No rule and no query lives here: the
`database_sync_to_async` functions below are the single crossing into sync code per action.

Frames and close codes are listed in docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts import services as account_services
from accounts.models import User
from chat import ratelimit, realtime, selectors
from chat.errors import ChatError, InvalidInput
from chat.permissions import can
from chat.services.access import conversation_read_messages
from chat.services.conversations import (
    conversation_abandon_if_silent,
    conversation_accept,
    conversation_end,
    conversation_move,
    conversation_rejoin,
    conversation_set_priority,
    conversation_start,
    conversation_touch_client,
)
from chat.services.messages import message_post
from chat.services.presence import (
    presence_check_offline,
    presence_set_capacity,
    presence_set_status,
    presence_touch,
)

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429

Frame = dict[str, Any]


def _seq(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput("`after` must be a whole number >= 0")
    return value


def _ack(message: Any, conversation_id: int) -> Frame:
    return {
        "type": "ack",
        "conversation": conversation_id,
        "client_id": str(message.client_id),
        "seq": message.seq,
    }


# --- one crossing into sync code per client action -------------------------------------
@database_sync_to_async
def client_start(frame: Frame) -> int:
    conversation, _created = conversation_start(
        unit_id=frame.get("unit"),
        token=frame.get("token"),
        body=frame.get("body"),
        client_id=frame.get("client_id"),
    )
    return conversation.pk


@database_sync_to_async
def client_identify(token: object) -> int:
    return selectors.conversation_get_for_client(token=token).pk  # type: ignore[arg-type]


@database_sync_to_async
def client_sync(token: str, after: object) -> list[Frame]:
    """The missed messages, then the waiting client's place in the queue."""
    conversation = selectors.conversation_get_for_client(token=token)
    if conversation_rejoin(conversation=conversation):
        conversation.refresh_from_db()
    conversation_touch_client(conversation=conversation)
    messages = selectors.message_list_after(conversation=conversation, after=_seq(after))
    frames = [realtime.for_client(realtime.sync_event(conversation, messages))]
    position = selectors.queue_position_for(conversation=conversation)
    if position is not None:
        frames.append(realtime.position_event(position))
    return frames


@database_sync_to_async
def client_ping(token: str) -> Frame:
    """The heartbeat keeps a waiting client's place; `last_seq` lets the browser notice a
    dropped last broadcast."""
    conversation = selectors.conversation_get_for_client(token=token)
    conversation_touch_client(conversation=conversation)
    return {"type": "pong", "last_seq": conversation.last_seq}


@database_sync_to_async
def client_left(token: str) -> int:
    conversation = selectors.conversation_get_for_client(token=token)
    conversation_touch_client(conversation=conversation)
    return conversation.pk


@database_sync_to_async
def client_check_abandoned(conversation_id: int) -> None:
    conversation_abandon_if_silent(conversation_id=conversation_id)


@database_sync_to_async
def client_post(token: str, frame: Frame) -> Frame:
    conversation = selectors.conversation_get_for_client(token=token)
    message, _created = message_post(
        conversation=conversation,
        author=None,
        body=frame.get("body"),
        client_id=frame.get("client_id"),
    )
    return _ack(message, conversation.pk)


@database_sync_to_async
def client_end(token: str) -> None:
    conversation_end(conversation=selectors.conversation_get_for_client(token=token), actor=None)


# --- staff sockets ------------------------------------------------------------------------
@database_sync_to_async
def staff_session_ok(user: User, session: Any) -> bool:
    return account_services.staff_session_ok(user=user, session=session)


# --- one crossing into sync code per console action ------------------------------------
@database_sync_to_async
def console_unit_ids(user: User) -> list[int]:
    return list(selectors.unit_list_for_staff(user=user).values_list("pk", flat=True))


@database_sync_to_async
def console_snapshot(user: User) -> Frame:
    presence = presence_touch(worker=user)
    units = selectors.unit_list_for_staff(user=user)
    waiting = selectors.conversation_list_waiting(unit_ids=units.values("pk"))
    mine = selectors.conversation_list_active_for(worker=user)
    return {
        "type": "console.snapshot",
        "units": [{"id": u.pk, "name": u.name} for u in units],
        "waiting": [realtime.conversation_payload(c) for c in waiting],
        "conversations": [realtime.conversation_payload(c) for c in mine],
        "presence": realtime.presence_event(presence),
    }


@database_sync_to_async
def console_ping(user: User) -> Frame:
    presence_touch(worker=user)
    mine = selectors.conversation_list_active_for(worker=user)
    return {"type": "pong", "last_seqs": {str(c.pk): c.last_seq for c in mine}}


@database_sync_to_async
def console_presence(user: User, frame: Frame) -> None:
    presence_set_status(worker=user, status=frame.get("status"), actor=user)


@database_sync_to_async
def console_left(user: User) -> None:
    presence_touch(worker=user)


@database_sync_to_async
def console_check_offline(user: User) -> None:
    presence_check_offline(worker=user)


# --- one crossing into sync code per dashboard action ----------------------------------
@database_sync_to_async
def dashboard_unit_ids(user: User) -> list[int]:
    return list(selectors.unit_list_supervised(user=user).values_list("pk", flat=True))


@database_sync_to_async
def dashboard_snapshot(user: User) -> Frame:
    units = selectors.unit_list_supervised(user=user)
    return {
        "type": "dashboard.snapshot",
        "units": [selectors.unit_stats(unit=unit) for unit in units],
    }


@database_sync_to_async
def dashboard_set_priority(user: User, frame: Frame) -> None:
    conversation_set_priority(
        conversation_id=frame.get("conversation"), priority=frame.get("priority"), actor=user
    )


@database_sync_to_async
def dashboard_move(user: User, frame: Frame) -> None:
    conversation_move(
        conversation_id=frame.get("conversation"), unit_id=frame.get("unit"), actor=user
    )


@database_sync_to_async
def dashboard_set_capacity(user: User, frame: Frame) -> None:
    worker = selectors.worker_get_for_supervisor(actor=user, worker_id=frame.get("worker"))
    presence_set_capacity(worker=worker, capacity=frame.get("capacity"), actor=user)


@database_sync_to_async
def dashboard_set_presence(user: User, frame: Frame) -> None:
    worker = selectors.worker_get_for_supervisor(actor=user, worker_id=frame.get("worker"))
    presence_set_status(worker=worker, status=frame.get("presence"), actor=user)


@database_sync_to_async
def console_accept(user: User, frame: Frame) -> None:
    conversation_id = frame.get("conversation")
    if conversation_id is not None and (
        isinstance(conversation_id, bool) or not isinstance(conversation_id, int)
    ):
        raise InvalidInput("`conversation` must be a conversation id")
    conversation_accept(worker=user, conversation_id=conversation_id)


@database_sync_to_async
def console_sync(user: User, frame: Frame) -> Frame:
    conversation, messages = conversation_read_messages(
        actor=user,
        conversation_id=frame.get("conversation"),
        after=_seq(frame.get("after", 0)),
        request_id=uuid.uuid4(),
    )
    return realtime.sync_event(conversation, messages)


@database_sync_to_async
def console_post(user: User, frame: Frame) -> Frame:
    conversation = selectors.conversation_get_for_staff(
        user=user, conversation_id=frame.get("conversation")
    )
    message, _created = message_post(
        conversation=conversation,
        author=user,
        body=frame.get("body"),
        client_id=frame.get("client_id"),
    )
    return _ack(message, conversation.pk)


@database_sync_to_async
def console_end(user: User, frame: Frame) -> None:
    conversation = selectors.conversation_get_for_staff(
        user=user, conversation_id=frame.get("conversation")
    )
    conversation_end(conversation=conversation, actor=user)


# --- consumers ---------------------------------------------------------------------------
class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """Parses frames, answers every bad one with an `error` frame, and relays group events.

    A frame of type `t` goes to the method `on_t` if `t` is in `frame_types`; group events
    whose type is in `relayed` go to the browser unchanged. A bad frame never closes the
    socket.
    """

    frame_types: frozenset[str] = frozenset()
    relayed: frozenset[str] = frozenset()

    async def websocket_connect(self, message: Frame) -> None:
        self.bucket = ratelimit.frame_bucket()
        self.limited_until = 0.0
        await super().websocket_connect(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        wait = self.bucket.take()
        if wait:
            # Drop the frame; say so at most once a second, so the flood costs only its sender.
            now = time.monotonic()
            if now >= self.limited_until:
                self.limited_until = now + 1
                await self.send_error(
                    ChatError("too many frames", code="rate_limited", retry_after=math.ceil(wait))
                )
            return
        if text_data is None:
            await self.send_error(InvalidInput("frames are JSON text"), code="bad_frame")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.send_error(InvalidInput("a frame is one JSON object"), code="bad_frame")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error(InvalidInput("a frame needs a string `type`"), code="bad_frame")
            return
        if frame["type"] not in self.frame_types:
            await self.send_error(
                InvalidInput(f"unknown type {frame['type'][:40]!r}"), code="unknown_type"
            )
            return
        try:
            await getattr(self, "on_" + frame["type"])(frame)
        except ChatError as error:
            await self.send_error(error, frame=frame)

    async def send_error(
        self, error: ChatError, *, code: str | None = None, frame: Frame | None = None
    ) -> None:
        payload: Frame = {"type": "error", "code": code or error.code, "message": error.message}
        if frame is not None:
            payload["in_reply_to"] = frame["type"]
            if isinstance(frame.get("client_id"), str):
                payload["client_id"] = frame["client_id"][:64]
            if isinstance(frame.get("conversation"), int):
                payload["conversation"] = frame["conversation"]
        payload.update({k: v for k, v in error.details.items() if k in {"limit", "retry_after"}})
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

    async def on_ping(self, frame: Frame) -> None:
        await self.send_json({"type": "pong"})

    def later(self, seconds: float, check: Callable[[], Awaitable[None]]) -> None:
        """Run `check` once after `seconds`, even though this socket is gone by then."""
        loop = asyncio.get_running_loop()
        loop.call_later(seconds, lambda: loop.create_task(check()))

    async def join(self, group: str) -> None:
        if group not in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)


class ClientConsumer(JsonFrameConsumer):
    """The anonymous client's socket: it reaches exactly one conversation, by its token."""

    frame_types = frozenset({"start", "resume", "message", "end", "ping"})
    relayed = frozenset({"conversation.message", "queue.position"})

    def visible(self, event: Frame) -> Frame:
        return realtime.for_client(event)

    async def connect(self) -> None:
        self.conversation_id: int | None = None
        self.token: str = ""
        self.address = ratelimit.address_key(self.scope)
        await self.accept()
        if await ratelimit.over_limit(
            "sockets", self.address, limit=settings.RATE_SOCKETS_PER_MINUTE, window=60
        ):
            await self.close(code=CLOSE_TOO_MANY)

    async def limit(self, kind: str, *, limit: int, window: int) -> None:
        retry_after = await ratelimit.over_limit(kind, self.address, limit=limit, window=window)
        if retry_after:
            raise ChatError(f"too many {kind}", code="rate_limited", retry_after=retry_after)

    async def disconnect(self, code: int) -> None:
        if self.conversation_id is None:
            return
        conversation_id = await client_left(self.token)
        # Closing the page is leaving the queue, unless the client is back within the grace.
        self.later(
            settings.QUEUE_GRACE_SECONDS + 1, lambda: client_check_abandoned(conversation_id)
        )

    async def on_ping(self, frame: Frame) -> None:
        if self.conversation_id is None:
            await self.send_json({"type": "pong"})
            return
        await self.send_json(await client_ping(self.token))

    async def on_start(self, frame: Frame) -> None:
        if self.conversation_id is not None:
            raise InvalidInput("this socket already has a conversation")
        await self.limit("queue_entries", limit=settings.RATE_QUEUE_ENTRIES_PER_HOUR, window=3600)
        conversation_id = await client_start(frame)
        await self.follow(conversation_id, frame["token"], after=0)

    async def on_resume(self, frame: Frame) -> None:
        conversation_id = await client_identify(frame.get("token"))
        if self.conversation_id not in (None, conversation_id):
            raise InvalidInput("this socket belongs to another conversation")
        await self.follow(conversation_id, frame["token"], after=frame.get("after", 0))

    async def follow(self, conversation_id: int, token: str, *, after: object) -> None:
        # Join first, then read: an event published in between arrives twice and the
        # browser drops the seq it already has. Nothing falls into a gap.
        await self.join(realtime.conversation_group(conversation_id))
        self.conversation_id, self.token = conversation_id, token
        for event in await client_sync(token, after):
            await self.send_json(event)

    async def on_message(self, frame: Frame) -> None:
        self.require_conversation()
        await self.limit("messages", limit=settings.RATE_MESSAGES_PER_MINUTE, window=60)
        await self.send_json(await client_post(self.token, frame))

    async def on_end(self, frame: Frame) -> None:
        self.require_conversation()
        await client_end(self.token)

    def require_conversation(self) -> None:
        if self.conversation_id is None:
            raise InvalidInput("send `start` or `resume` first", code="no_conversation")


class ConsoleConsumer(JsonFrameConsumer):
    """A worker's or supervisor's console: their units' queues and their conversations."""

    frame_types = frozenset({"accept", "message", "sync", "end", "presence", "ping"})
    relayed = frozenset({"conversation.message", "queue.updated", "presence.updated"})

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if not can(user, "chat.use_console"):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not await staff_session_ok(user, self.scope.get("session")):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user
        # Join before reading, as in ClientConsumer.follow: a later queue event only repeats.
        await self.join(realtime.worker_group(user.pk))
        for unit_id in await console_unit_ids(user):
            await self.join(realtime.unit_staff_group(unit_id))
        snapshot = await console_snapshot(user)
        for conversation in snapshot["conversations"]:
            await self.join(realtime.conversation_group(conversation["id"]))
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        user = getattr(self, "user", None)
        if user is None:
            return
        await console_left(user)
        # Offline only once no console of the worker's has spoken for the grace period.
        self.later(settings.PRESENCE_GRACE_SECONDS + 1, lambda: console_check_offline(user))

    async def on_ping(self, frame: Frame) -> None:
        if not await staff_session_ok(self.user, self.scope.get("session")):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        await self.send_json(await console_ping(self.user))

    async def session_revoked(self, event: Frame) -> None:
        await self.close(code=CLOSE_NOT_AUTHENTICATED)

    async def on_presence(self, frame: Frame) -> None:
        await console_presence(self.user, frame)

    async def on_accept(self, frame: Frame) -> None:
        await console_accept(self.user, frame)

    async def on_message(self, frame: Frame) -> None:
        await self.send_json(await console_post(self.user, frame))

    async def on_sync(self, frame: Frame) -> None:
        await self.send_json(await console_sync(self.user, frame))

    async def on_end(self, frame: Frame) -> None:
        await console_end(self.user, frame)

    async def conversation_assigned(self, event: Frame) -> None:
        """Every tab of the worker follows a conversation they were just given."""
        await self.join(realtime.conversation_group(event["conversation"]))
        await self.send_json(event)


class DashboardConsumer(JsonFrameConsumer):
    """A supervisor's live view of their units: queues, numbers and staffing."""

    frame_types = frozenset({"set_priority", "move", "set_capacity", "set_presence", "ping"})
    relayed = frozenset({"dashboard.unit"})

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if not can(user, "chat.view_dashboard"):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not await staff_session_ok(user, self.scope.get("session")):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user
        await self.join(realtime.worker_group(user.pk))
        for unit_id in await dashboard_unit_ids(user):
            await self.join(realtime.unit_supervisors_group(unit_id))
        await self.send_json(await dashboard_snapshot(user))

    async def on_ping(self, frame: Frame) -> None:
        if not await staff_session_ok(self.user, self.scope.get("session")):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        await self.send_json({"type": "pong"})

    async def session_revoked(self, event: Frame) -> None:
        await self.close(code=CLOSE_NOT_AUTHENTICATED)

    async def on_set_priority(self, frame: Frame) -> None:
        await dashboard_set_priority(self.user, frame)

    async def on_move(self, frame: Frame) -> None:
        await dashboard_move(self.user, frame)

    async def on_set_capacity(self, frame: Frame) -> None:
        await dashboard_set_capacity(self.user, frame)

    async def on_set_presence(self, frame: Frame) -> None:
        await dashboard_set_presence(self.user, frame)
