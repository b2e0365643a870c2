"""The anonymous client's socket. It reaches exactly one conversation, by the resume
token its tab holds, and never sees a staff member's name or a private note."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings

from chat import announce, eid, liveness, ratelimit, realtime, selectors
from chat.consumers.base import (
    CLOSE_TOO_MANY,
    SLOW_CHECK_SECONDS,
    Every,
    Frame,
    JsonFrameConsumer,
    ack_frame,
    seq_value,
)
from chat.consumers.calls import (
    call_id,
    call_media,
    ice_servers,
    is_for,
    signal_for,
    without_staff_id,
)
from chat.errors import ChatError, InvalidInput, NotFound
from chat.models import Call, Conversation, Message, SurveyAnswer
from chat.parsing import (
    frame_choice,
    frame_id,
    frame_int,
    frame_text,
    frame_uuid,
    session_id,
)
from chat.services.calls import CLIENT, call_accept, call_end
from chat.services.cases import (
    RATING_MAX,
    RATING_MIN,
    SurveyReply,
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

# What a waiting client's page shows of its place: a `queue.position` goes out when one of
# these changed, not when someone queues behind them.
PLACE_SHOWN = ("position", "estimate", "unit_open", "staff_available", "staff_serving")


# --- frames parsed once, here (chat/parsing.py) ------------------------------------------
@dataclass(frozen=True)
class FirstMessage:
    """A `start` or `leave_question` frame: the unit, the tab's resume token, the first
    message and its client_id."""

    unit_id: int
    token: str
    body: str
    client_id: uuid.UUID
    language: str = ""


def first_message(frame: Frame) -> FirstMessage:
    """Refused field by field, in this order."""
    return FirstMessage(
        unit_id=frame_id(frame.get("unit"), name="unit"),
        token=frame_text(frame.get("token"), name="token"),
        body=frame_text(frame.get("body"), name="body"),
        client_id=frame_uuid(frame.get("client_id"), name="client_id"),
        language=frame_text(frame.get("language"), name="language", optional=True),
    )


def survey_reply(frame: Frame) -> SurveyReply:
    """The survey's answers, each optional: absent, null or "" is no answer."""
    helped, rating = frame.get("helped"), frame.get("rating")
    return SurveyReply(
        helped=None
        if helped in (None, "")
        else frame_choice(helped, SurveyAnswer.Helped, name="helped"),
        rating=None
        if rating is None
        else frame_int(rating, minimum=RATING_MIN, maximum=RATING_MAX, name="rating"),
        comment=frame_text(frame.get("comment"), name="comment", optional=True),
    )


# --- one crossing into sync code per client action -------------------------------------
@database_sync_to_async
def client_start(first: FirstMessage, case_id: int | None, identified_id: int | None = None) -> int:
    conversation, _created = conversation_start(
        unit_id=first.unit_id,
        token=first.token,
        body=first.body,
        client_id=first.client_id,
        case=selectors.case_get_returning(case_id=case_id),
        client=selectors.client_record_get_identified(record_id=identified_id),
        language=first.language,
    )
    return conversation.pk


@database_sync_to_async
def client_leave_question(first: FirstMessage, case_id: int | None) -> tuple[int, str]:
    """A question left outside opening hours, and the case code to come back with."""
    conversation, _created = conversation_leave_question(
        unit_id=first.unit_id,
        token=first.token,
        body=first.body,
        client_id=first.client_id,
        case=selectors.case_get_returning(case_id=case_id),
    )
    return conversation.pk, case_issue_code_for_client(token=first.token)


@database_sync_to_async
def client_case_code(token: str) -> str:
    return case_issue_code_for_client(token=token)


@database_sync_to_async
def client_survey(token: str, answers: SurveyReply) -> None:
    survey_submit(token=token, answers=answers)


@database_sync_to_async
def client_identify(token: str) -> tuple[int, int | None]:
    """The conversation of this token, and its unit while it waits there."""
    conversation = selectors.conversation_get_for_client(token=token)
    return conversation.pk, waiting_unit_of(conversation)


def waiting_unit_of(conversation: Conversation) -> int | None:
    return conversation.unit_id if conversation.state == Conversation.State.QUEUED else None


@database_sync_to_async
def client_sync(token: str, after: object) -> tuple[list[Frame], int | None]:
    """The missed messages, then the waiting client's place in the queue, and the unit it
    waits in (None unless it waits). A bad `after` is refused before anything is written
    (a rejoin, a sign of life)."""
    after_seq = seq_value(after, "after")
    conversation = selectors.conversation_get_for_client(token=token)
    # Only a conversation that left its queue can rejoin it: as read just now, most (and
    # every start's own sync) never left, and need no locked look.
    if conversation.state == Conversation.State.ABANDONED and conversation_rejoin(
        conversation=conversation
    ):
        conversation.refresh_from_db()
    conversation_touch_client(conversation=conversation)
    messages = selectors.message_list_after(conversation=conversation, after=after_seq)
    sync = realtime.for_client(realtime.sync_event(conversation, messages))
    if conversation.state == Conversation.State.ENDED:
        # The end screen: how many questions the worker left (the count, nothing else).
        sync["followups"] = selectors.followup_count_left_in(conversation_id=conversation.pk)
    frames = [sync]
    position = selectors.queue_position_for(conversation=conversation)
    if position is not None:
        frames.append(realtime.position_event(position))
    return frames, waiting_unit_of(conversation)


@database_sync_to_async
def client_queue_place(token: str) -> tuple[int | None, Frame | None]:
    """The unit the conversation waits in now and its place there; (None, None) unless it
    waits. Read again when a system message says the conversation may have changed
    queues (moved, handed over to a unit, back in the queue)."""
    conversation = selectors.conversation_get_for_client(token=token)
    position = selectors.queue_position_for(conversation=conversation)
    if position is None:
        return None, None
    return conversation.unit_id, realtime.position_event(position)


@database_sync_to_async
def client_followups_left(conversation_id: int) -> int:
    return selectors.followup_count_left_in(conversation_id=conversation_id)


@database_sync_to_async
def client_ping(token: str) -> Frame:
    """The heartbeat's answer at its slow check: `last_seq` as the database has it, so the
    browser notices a dropped last broadcast."""
    conversation = selectors.conversation_get_for_client(token=token)
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


# --- calls (chat/services/calls.py) ------------------------------------------------------
@database_sync_to_async
def client_call_accept(token: str, frame: Frame) -> None:
    call_accept(
        conversation=selectors.conversation_get_for_client(token=token),
        call_id=call_id(frame),
        media=call_media(frame),
    )


@database_sync_to_async
def client_call_end(token: str, frame: Frame | None, reason: Call.Reason) -> None:
    """Hang up or decline the named call; with no frame (the page closed), any open call."""
    call_end(
        conversation=selectors.conversation_get_for_client(token=token),
        call_id=None if frame is None else call_id(frame),
        side=CLIENT,
        reason=reason,
    )


@database_sync_to_async
def client_call_signal(token: str, frame: Frame) -> Frame:
    return signal_for(selectors.conversation_get_for_client(token=token), frame, side=CLIENT)


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
            "call_accept",
            "call_decline",
            "call_answer",
            "call_candidate",
            "call_end",
        }
    )
    relayed = frozenset({"conversation.message", "conversation.typing", "conversation.seen"})

    def visible(self, event: Frame) -> Frame:
        return realtime.for_client(event)

    async def connect(self) -> None:
        self.conversation_id: int | None = None
        self.token: str = ""
        self.waiting_in: int | None = None  # the unit whose `unit.{id}.waiting` it is in
        self.place: Frame | None = None  # the last `queue.position` sent
        self.address = ratelimit.address_key(self.scope)
        self.seq_check = Every(SLOW_CHECK_SECONDS)
        await self.accept()
        try:
            await self.limit(
                "sockets",
                limit=settings.RATE_SOCKETS_PER_MINUTE,
                strict=settings.RATE_STRICT_SOCKETS_PER_MINUTE,
                window=60,
            )
        except ChatError as refused:
            # Say why and for how long before closing; a frame already on its way is not
            # acted on.
            self.frame_types = frozenset()
            await self.send_error(refused)
            await self.close(code=CLOSE_TOO_MANY)

    async def limit(
        self,
        what: str,
        *,
        limit: int,
        window: int,
        key: str | None = None,
        strict: int | None = None,
    ) -> None:
        """Refuse with `rate_limited` (`what`, `retry_after`) past `limit` events in
        `window` seconds for `key` (this socket's address unless given), or past `strict`
        while the address has shown abuse. Passing a limit is a strike against the
        address (chat/ratelimit.py)."""
        retry_after = await ratelimit.over_limit(
            what,
            key or self.address,
            limit=limit,
            window=window,
            strict=strict,
            address=self.address,
        )
        if retry_after:
            raise ChatError(
                f"too many {what}", code="rate_limited", what=what, retry_after=retry_after
            )

    async def frames_limited(self) -> None:
        await ratelimit.note_strike(self.address)

    async def disconnect(self, code: int) -> None:
        if self.conversation_id is None:
            return
        await self.tell_staff(online=False)
        # A call goes on while the client's socket reconnects (the browsers' own connection
        # does not need it): the call ends when the client is not back within
        # CALL_RECONNECT_GRACE_SECONDS (chat/services/timed.py), or at once by the quick
        # exit or the page's own `call_end` as it closes.
        # Closing the page is leaving the queue, unless the client is back within the grace
        # (chat/services/timed.py decides); the last sign of life is when it closed.
        with contextlib.suppress(ChatError):  # purged or otherwise gone
            await client_left(self.token)

    async def on_ping(self, frame: Frame) -> None:
        """No database statement: the sign of life that keeps a waiting client's place is
        noted in memory and written in a batch (chat/liveness.py), and `last_seq` is what
        this socket has sent, except at the slow check (every SLOW_CHECK_SECONDS, and at
        each heartbeat while Redis is down or the first after it), which reads it from the
        database: a broadcast lost then shows as a gap in the browser."""
        if self.conversation_id is None:
            await self.send_json({"type": "pong"})
            return
        liveness.client_seen(self.conversation_id)
        if self.seq_check.due() or realtime.outage.down:
            self.seq_check.restart()
            await self.send_json(await client_ping(self.token))
            return
        await self.send_json({"type": "pong", "last_seq": self.seqs.get(self.conversation_id, 0)})

    async def after_outage(self) -> None:
        # A broadcast may have been lost meanwhile: this heartbeat reads the real last_seq.
        self.seq_check.now()

    async def may_start(self) -> None:
        """A socket starts one conversation (a chat or a question left), within the limit
        of starts for its address."""
        if self.conversation_id is not None:
            raise InvalidInput("this socket already has a conversation")
        await self.limit(
            "starts",
            limit=settings.RATE_QUEUE_ENTRIES_PER_HOUR,
            strict=settings.RATE_STRICT_QUEUE_ENTRIES_PER_HOUR,
            window=3600,
        )

    async def on_start(self, frame: Frame) -> None:
        await self.may_start()
        first = first_message(frame)
        conversation_id = await client_start(first, self.returning_case(), self.identified_client())
        await self.follow(conversation_id, first.token, after=0, unit_id=first.unit_id)

    def identified_client(self) -> int | None:
        """A client signed in with e-ID has their client record's id in their session."""
        session = self.scope.get("session")
        data = session.get(eid.SESSION_CLIENT) if session is not None else None
        return session_id(data.get("client")) if isinstance(data, dict) else None

    def returning_case(self) -> int | None:
        """A client who came back with their case code has it in their session."""
        session = self.scope.get("session")
        return session_id(session.get("case_id")) if session is not None else None

    async def on_leave_question(self, frame: Frame) -> None:
        await self.may_start()
        first = first_message(frame)
        conversation_id, code = await client_leave_question(first, self.returning_case())
        await self.follow(conversation_id, first.token, after=0)
        await self.send_json({"type": "case.code", "code": code})

    async def on_case_code(self, frame: Frame) -> None:
        self.require_conversation()
        await self.send_json({"type": "case.code", "code": await client_case_code(self.token)})

    async def on_survey(self, frame: Frame) -> None:
        self.require_conversation()
        await client_survey(self.token, survey_reply(frame))
        await self.send_json({"type": "survey.saved"})

    async def on_resume(self, frame: Frame) -> None:
        # Not text is no token of a conversation: not found, as for an unknown one.
        token = frame_text(frame.get("token"), name="token", error=NotFound)
        conversation_id, unit_id = await client_identify(token)
        if self.conversation_id not in (None, conversation_id):
            raise InvalidInput("this socket belongs to another conversation")
        await self.follow(conversation_id, token, after=frame.get("after", 0), unit_id=unit_id)

    async def follow(
        self, conversation_id: int, token: str, *, after: object, unit_id: int | None = None
    ) -> None:
        """`unit_id`: the unit the conversation is thought to wait in."""
        # Join first, then read: an event published in between arrives twice and the
        # browser drops the seq it already has (and a place it already has). Nothing falls
        # into a gap.
        await self.join(realtime.conversation_group(conversation_id))
        if unit_id is not None:
            await self.wait_in(unit_id)
        self.conversation_id, self.token = conversation_id, token
        frames, waiting_in = await client_sync(token, after)
        await self.wait_in(waiting_in)
        for event in frames:
            if event["type"] == "queue.position":
                self.place = event
            await self.send_json(event)
        await self.tell_staff(online=True)

    async def tell_staff(self, *, online: bool) -> None:
        """The staff in the conversation see whether the client's page is connected."""
        if self.conversation_id is not None:
            await realtime.relay(
                realtime.conversation_staff_group(self.conversation_id),
                realtime.client_presence_event(self.conversation_id, online=online),
            )

    # --- the waiting client's place ---------------------------------------------------
    async def wait_in(self, unit_id: int | None) -> None:
        """Hear the places of `unit_id`'s queue (None: of no queue). A group joined after
        the place was read is announced again, so no change falls between the two."""
        if unit_id == self.waiting_in:
            return
        self.place = None  # a new queue (or back in one): the next place is news
        if self.waiting_in is not None:
            group = realtime.unit_waiting_group(self.waiting_in)
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups.remove(group)
            self.unjoined = self.unjoined - {group}
        self.waiting_in = unit_id
        if unit_id is not None:
            await self.join(realtime.unit_waiting_group(unit_id))
            if self.conversation_id is not None:
                announce.announcer().mark(unit_id, places=True)

    async def queue_places(self, event: Frame) -> None:
        """Every waiting client's place in one event (`realtime.queue_places_event`):
        this socket sends its browser its own place only, and only when it changed."""
        if self.conversation_id is None:
            return
        place = selectors.queue_place_in(event, conversation_id=self.conversation_id)
        if place is not None:
            await self.send_place(realtime.position_event(place))

    async def send_place(self, frame: Frame) -> None:
        if self.place is not None and all(
            self.place.get(key) == frame.get(key) for key in PLACE_SHOWN
        ):
            return
        self.place = frame
        await self.send_json(realtime.for_client(frame))

    async def dispatch(self, message: Frame) -> None:
        if self.is_end(message) and self.conversation_id is not None:
            # The end screen needs to know whether the worker left questions; they are
            # stored in the same transaction as the end, so they are there by now.
            count = await client_followups_left(self.conversation_id)
            message = {**message, "followups": count}
        await super().dispatch(message)
        if message.get("type") == "conversation.message":
            await self.follow_queue(message)

    @staticmethod
    def is_end(event: Frame) -> bool:
        message = event.get("message")
        return (
            event.get("type") == "conversation.message"
            and isinstance(message, dict)
            and message.get("event") == Message.Event.ENDED
        )

    async def follow_queue(self, event: Frame) -> None:
        """A system message may mean the conversation left its queue (accepted, ended) or
        entered one (moved, handed over to a unit, back in the queue): stop hearing the
        old queue's places, and read the new place."""
        message = event.get("message") or {}
        if message.get("sender") != Message.Sender.SYSTEM or not self.token:
            return
        state, kind = event.get("state"), message.get("event")
        # A handover to a unit's queue says so while the conversation is still active.
        if state == Conversation.State.QUEUED or kind == Message.Event.HANDOVER_STARTED:
            with contextlib.suppress(ChatError):  # purged or otherwise gone
                unit_id, frame = await client_queue_place(self.token)
                await self.wait_in(unit_id)
                if frame is not None:
                    await self.send_place(frame)
        else:
            await self.wait_in(None)

    async def on_message(self, frame: Frame) -> None:
        conversation_id = self.require_conversation()
        await self.limit(
            "messages",
            key=f"conversation.{conversation_id}",
            limit=settings.RATE_MESSAGES_PER_MINUTE,
            window=60,
        )
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

    async def on_call_accept(self, frame: Frame) -> None:
        self.require_conversation()
        await client_call_accept(self.token, frame)

    async def on_call_decline(self, frame: Frame) -> None:
        self.require_conversation()
        await client_call_end(self.token, frame, Call.Reason.DECLINED)

    async def on_call_end(self, frame: Frame) -> None:
        """Hang up; `left: true` is the page closing in the call (its last frame)."""
        self.require_conversation()
        reason = Call.Reason.CLIENT_LEFT if frame.get("left") is True else Call.Reason.HUNG_UP
        await client_call_end(self.token, frame, reason)

    async def on_call_answer(self, frame: Frame) -> None:
        conversation_id = self.require_conversation()
        event = await client_call_signal(self.token, frame)
        await realtime.relay(realtime.conversation_group(conversation_id), event)

    on_call_candidate = on_call_answer

    async def call_news(self, event: Frame) -> None:
        """A call event of the conversation: never the client's own signalling back, and
        no staff id. The ringing call brings the ICE servers."""
        if not is_for(event, side=CLIENT):
            return
        event = without_staff_id(event)
        if event["type"] == "call.ringing":
            event["ice_servers"] = ice_servers()
        await self.send_json(event)

    call_ringing = call_accepted = call_ended = call_joined = call_left = call_news
    call_offer = call_answer = call_candidate = call_worker = call_news

    def require_conversation(self) -> int:
        if self.conversation_id is None:
            raise InvalidInput("send `start` or `resume` first", code="no_conversation")
        return self.conversation_id
