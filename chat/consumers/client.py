"""The anonymous client's socket. It reaches exactly one conversation, by the resume
token its tab holds, and never sees a staff member's name or a private note."""

from __future__ import annotations

import contextlib

from channels.db import database_sync_to_async
from django.conf import settings

from chat import ratelimit, realtime, selectors
from chat.consumers.base import (
    CLOSE_TOO_MANY,
    Frame,
    JsonFrameConsumer,
    ack_frame,
    seq_value,
)
from chat.errors import ChatError, InvalidInput
from chat.parsing import frame_id, frame_text, frame_uuid
from chat.services.cases import (
    case_issue_code_for_client,
    conversation_leave_question,
    survey_submit,
)
from chat.services.conversations import (
    conversation_end,
    conversation_rejoin,
    conversation_start,
    conversation_touch_client,
)
from chat.services.messages import message_post


# --- one crossing into sync code per client action -------------------------------------
@database_sync_to_async
def client_start(frame: Frame, case_id: object) -> int:
    conversation, _created = conversation_start(
        unit_id=frame_id(frame.get("unit"), name="unit"),
        token=frame.get("token"),
        body=frame.get("body"),
        client_id=frame.get("client_id"),
        case=selectors.case_get_returning(case_id=case_id),
    )
    return conversation.pk


@database_sync_to_async
def client_leave_question(frame: Frame, case_id: object) -> tuple[int, str]:
    """A question left outside opening hours, and the case code to come back with."""
    conversation, _created = conversation_leave_question(
        unit_id=frame_id(frame.get("unit"), name="unit"),
        token=frame.get("token"),
        body=frame.get("body"),
        client_id=frame.get("client_id"),
        case=selectors.case_get_returning(case_id=case_id),
    )
    return conversation.pk, case_issue_code_for_client(token=frame.get("token"))


@database_sync_to_async
def client_case_code(token: str) -> str:
    return case_issue_code_for_client(token=token)


@database_sync_to_async
def client_survey(token: str, frame: Frame) -> None:
    survey_submit(token=token, answers=frame)


@database_sync_to_async
def client_identify(token: object) -> int:
    return selectors.conversation_get_for_client(token=token).pk  # type: ignore[arg-type]


@database_sync_to_async
def client_sync(token: str, after: object) -> list[Frame]:
    """The missed messages, then the waiting client's place in the queue. A bad `after`
    is refused before anything is written (a rejoin, a sign of life)."""
    after_seq = seq_value(after, "after")
    conversation = selectors.conversation_get_for_client(token=token)
    if conversation_rejoin(conversation=conversation):
        conversation.refresh_from_db()
    conversation_touch_client(conversation=conversation)
    messages = selectors.message_list_after(conversation=conversation, after=after_seq)
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
def client_post(conversation_id: int, frame: Frame) -> Frame:
    """The socket found its conversation by the token when it joined; the statement that
    stores the message refuses one that has ended (or was purged) since."""
    message, _created = message_post(
        conversation_id=conversation_id,
        author=None,
        body=frame_text(frame.get("body"), name="body"),
        client_id=frame_uuid(frame.get("client_id")),
    )
    return ack_frame(message, conversation_id)


@database_sync_to_async
def client_end(token: str) -> None:
    conversation_end(conversation=selectors.conversation_get_for_client(token=token), actor=None)


class ClientConsumer(JsonFrameConsumer):
    """The anonymous client's socket: it reaches exactly one conversation, by its token."""

    frame_types = frozenset(
        {
            "start",
            "resume",
            "message",
            "end",
            "typing",
            "seen",
            "ping",
            "leave_question",
            "case_code",
            "survey",
        }
    )
    relayed = frozenset(
        {"conversation.message", "queue.position", "conversation.typing", "conversation.seen"}
    )

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
        # Closing the page is leaving the queue, unless the client is back within the grace
        # (chat/services/timed.py decides); the last sign of life is when it closed.
        with contextlib.suppress(ChatError):  # purged or otherwise gone
            await client_left(self.token)

    async def on_ping(self, frame: Frame) -> None:
        if self.conversation_id is None:
            await self.send_json({"type": "pong"})
            return
        await self.send_json(await client_ping(self.token))

    async def on_start(self, frame: Frame) -> None:
        if self.conversation_id is not None:
            raise InvalidInput("this socket already has a conversation")
        await self.limit("queue_entries", limit=settings.RATE_QUEUE_ENTRIES_PER_HOUR, window=3600)
        conversation_id = await client_start(frame, self.returning_case())
        await self.follow(conversation_id, frame["token"], after=0)

    def returning_case(self) -> object:
        """A client who came back with their case code has it in their session."""
        session = self.scope.get("session")
        return session.get("case_id") if session is not None else None

    async def on_leave_question(self, frame: Frame) -> None:
        if self.conversation_id is not None:
            raise InvalidInput("this socket already has a conversation")
        await self.limit("queue_entries", limit=settings.RATE_QUEUE_ENTRIES_PER_HOUR, window=3600)
        conversation_id, code = await client_leave_question(frame, self.returning_case())
        await self.follow(conversation_id, frame["token"], after=0)
        await self.send_json({"type": "case.code", "code": code})

    async def on_case_code(self, frame: Frame) -> None:
        self.require_conversation()
        await self.send_json({"type": "case.code", "code": await client_case_code(self.token)})

    async def on_survey(self, frame: Frame) -> None:
        self.require_conversation()
        await client_survey(self.token, frame)
        await self.send_json({"type": "survey.saved"})

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
        conversation_id = self.require_conversation()
        await self.limit("messages", limit=settings.RATE_MESSAGES_PER_MINUTE, window=60)
        await self.send_json(await client_post(conversation_id, frame))

    async def on_end(self, frame: Frame) -> None:
        self.require_conversation()
        await client_end(self.token)

    async def on_typing(self, frame: Frame) -> None:
        # Throttled and never stored.
        conversation_id = self.require_conversation()
        if not self.typing.ready():
            return
        await realtime.relay(
            realtime.conversation_group(conversation_id),
            realtime.presence_in_conversation_event(conversation_id, kind="typing", who="client"),
        )

    async def on_seen(self, frame: Frame) -> None:
        conversation_id = self.require_conversation()
        await realtime.relay(
            realtime.conversation_group(conversation_id),
            realtime.presence_in_conversation_event(
                conversation_id, kind="seen", who="client", seq=seq_value(frame.get("seq", 0))
            ),
        )

    def require_conversation(self) -> int:
        if self.conversation_id is None:
            raise InvalidInput("send `start` or `resume` first", code="no_conversation")
        return self.conversation_id
