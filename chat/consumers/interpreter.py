"""An interpreter's socket: one conversation, by invitation. An external interpreter comes
by a single-use link (the secret travels in the URL fragment, which no server sees) and
then by the tab's own token; an interpreter with an account by their session. Either sees
only what is written from their joining on, and nothing else in the system."""

from __future__ import annotations

from channels.db import database_sync_to_async

from accounts.models import User
from chat import realtime, selectors
from chat.consumers.base import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_AUTHENTICATED,
    Frame,
    JsonFrameConsumer,
    ack_frame,
    seq_value,
    staff_session_ok,
)
from chat.consumers.calls import (
    call_id,
    ice_servers,
    is_for,
    open_event,
    signal_for,
    without_staff_id,
)
from chat.errors import InvalidInput, NotFound
from chat.models import Participant
from chat.parsing import frame_text, frame_uuid
from chat.permissions import can
from chat.services import calls
from chat.services.messages import message_post
from chat.services.participants import participant_join_by_link, participant_leave


# --- frames parsed once, here (chat/parsing.py) ------------------------------------------
def join_frame(frame: Frame) -> tuple[str, str]:
    """A `join` frame's invitation and the tab's own token. The token is refused first; an
    invitation that is not text is not found, as an unknown one is."""
    token = frame_text(frame.get("token"), name="token")
    invitation = frame_text(frame.get("invitation"), name="invitation", error=NotFound)
    return invitation, token


# --- one crossing into sync code per action ----------------------------------------------
@database_sync_to_async
def interpreter_join(invitation: str, token: str) -> tuple[int, int]:
    seat = participant_join_by_link(invitation=invitation, token=token)
    return seat.pk, seat.conversation_id


@database_sync_to_async
def interpreter_seat(token: str | None, user: User | None) -> tuple[int, int]:
    if token is not None:
        seat = selectors.participant_get_by_token(token=token)
    else:
        seat = selectors.participant_present_for(user=user)  # type: ignore[arg-type]
    return seat.pk, seat.conversation_id


def _present(participant_id: int) -> Participant:
    seat = selectors.participant_get_present(participant_id=participant_id)
    if seat is None:
        raise InvalidInput("you are no longer in this conversation", code="not_present")
    return seat


@database_sync_to_async
def interpreter_sync(participant_id: int, after: object) -> Frame:
    after_seq = seq_value(after, "after")
    seat = _present(participant_id)
    conversation = seat.conversation
    messages = selectors.message_list_after(
        conversation=conversation, after=max(after_seq, seat.visible_from_seq)
    )
    event = realtime.sync_event(conversation, messages, from_seq=seat.visible_from_seq)
    return realtime.for_client(event)


@database_sync_to_async
def interpreter_post(participant_id: int, frame: Frame) -> Frame:
    body = frame_text(frame.get("body"), name="body")
    client_id = frame_uuid(frame.get("client_id"))
    seat = _present(participant_id)
    message, _created = message_post(
        conversation_id=seat.conversation_id,
        author=seat.user,
        participant=None if seat.user else seat,
        body=body,
        client_id=client_id,
    )
    return ack_frame(message, seat.conversation_id)


@database_sync_to_async
def interpreter_may_stay(participant_id: int) -> bool:
    seat = selectors.participant_get_present(participant_id=participant_id)
    return (
        seat is not None
        and seat.user is not None
        and can(seat.user, "chat.read_conversation", seat.conversation)
    )


@database_sync_to_async
def interpreter_leave(participant_id: int) -> None:
    seat = _present(participant_id)
    participant_leave(participant=seat, actor=seat.user)


# --- calls (chat/services/calls.py) ------------------------------------------------------
@database_sync_to_async
def interpreter_call_open(participant_id: int) -> Frame | None:
    """The conversation's answered call, as `call.open` for a page that has just (re)joined
    the chat: who is in it, and whether this interpreter already is (a reload)."""
    seat = _present(participant_id)
    call = calls.call_open_for(seat.conversation)
    if call is None:
        return None
    return without_staff_id(open_event(call, me=calls.interpreter_side(participant_id)))


@database_sync_to_async
def interpreter_call_join(participant_id: int, frame: Frame) -> None:
    calls.call_join(participant=_present(participant_id), call_id=call_id(frame))


@database_sync_to_async
def interpreter_call_leave(participant_id: int, frame: Frame) -> None:
    calls.call_leave(participant=_present(participant_id), call_id=call_id(frame))


@database_sync_to_async
def interpreter_call_signal(participant_id: int, frame: Frame) -> Frame:
    seat = _present(participant_id)
    return signal_for(seat.conversation, frame, side=calls.interpreter_side(participant_id))


# --- the consumer ------------------------------------------------------------------------
class InterpreterConsumer(JsonFrameConsumer):
    frame_types = frozenset(
        {
            "join",
            "resume",
            "message",
            "leave",
            "ping",
            "call_join",
            "call_leave",
            "call_offer",
            "call_answer",
            "call_candidate",
        }
    )
    relayed = frozenset({"conversation.message", "conversation.typing"})

    async def connect(self) -> None:
        self.participant_id: int | None = None
        await self.accept()

    def visible(self, event: Frame) -> Frame:
        return realtime.for_client(event)

    async def on_join(self, frame: Frame) -> None:
        await self.follow(*await interpreter_join(*join_frame(frame)), after=0)

    async def on_resume(self, frame: Frame) -> None:
        user = self.scope.get("user")
        signed_in = user if user is not None and user.is_authenticated else None
        if frame.get("token") is None and signed_in is not None:
            # An interpreter with an account signs in like staff: a live session that
            # passed the second factor, ended by "log out everywhere".
            if not await staff_session_ok(signed_in, self.scope.get("session")):
                await self.close(code=CLOSE_NOT_AUTHENTICATED)
                return
            await self.join(realtime.worker_group(signed_in.pk))
        token = frame.get("token")
        seat, conversation_id = await interpreter_seat(
            None if token is None else frame_text(token, name="token", error=NotFound), signed_in
        )
        await self.follow(seat, conversation_id, after=frame.get("after", 0))

    async def follow(self, participant_id: int, conversation_id: int, *, after: object) -> None:
        if self.participant_id not in (None, participant_id):
            raise InvalidInput("this socket belongs to another conversation")
        self.participant_id = participant_id
        # Join first, then read: as for clients, nothing falls into a gap.
        await self.join(realtime.participant_group(participant_id))
        await self.join(realtime.conversation_group(conversation_id))
        await self.send_json(await interpreter_sync(participant_id, after))
        call = await interpreter_call_open(participant_id)
        if call is not None:
            await self.send_json(call)

    def require_seat(self) -> int:
        if self.participant_id is None:
            raise InvalidInput("send `join` or `resume` first", code="no_conversation")
        return self.participant_id

    async def on_message(self, frame: Frame) -> None:
        await self.send_json(await interpreter_post(self.require_seat(), frame))

    async def on_leave(self, frame: Frame) -> None:
        await interpreter_leave(self.require_seat())

    async def on_call_join(self, frame: Frame) -> None:
        await interpreter_call_join(self.require_seat(), frame)

    async def on_call_leave(self, frame: Frame) -> None:
        await interpreter_call_leave(self.require_seat(), frame)

    async def on_call_offer(self, frame: Frame) -> None:
        event = await interpreter_call_signal(self.require_seat(), frame)
        await realtime.relay(realtime.conversation_group(event["conversation"]), event)

    on_call_answer = on_call_candidate = on_call_offer

    async def call_news(self, event: Frame) -> None:
        """A call event of the conversation: signalling only when it is for this seat, no
        staff id. The answered call brings the ICE servers (the interpreter may join)."""
        if self.participant_id is None or not is_for(
            event, side=calls.interpreter_side(self.participant_id)
        ):
            return
        event = without_staff_id(event)
        if event["type"] == "call.accepted":
            me = calls.interpreter_side(self.participant_id)
            event = {**event, "me": me, "ice_servers": ice_servers()}
        await self.send_json(event)

    call_ringing = call_accepted = call_ended = call_joined = call_left = call_news
    call_offer = call_answer = call_candidate = call_worker = call_news

    async def session_ended(self, event: Frame) -> None:
        await self.close(code=CLOSE_NOT_AUTHENTICATED)  # only a signed-in tab hears it

    async def access_changed(self, event: Frame) -> None:
        """The interpreter's account changed: the seat stays only while they still may
        interpret in it (an active interpreter account, still present)."""
        if self.participant_id is None or not await interpreter_may_stay(self.participant_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        user = self.scope.get("user")
        signed_in = user is not None and user.is_authenticated
        if signed_in and not await staff_session_ok(user, self.scope.get("session")):
            await self.close(code=CLOSE_NOT_AUTHENTICATED)  # logged out everywhere

    async def after_outage(self) -> None:
        await self.access_changed({"type": "access.changed"})  # a lost conversation.left

    async def conversation_left(self, event: Frame) -> None:
        await self.send_json(event)
        await self.close()
