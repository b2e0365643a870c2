"""Voice and video calls in a conversation: who may offer, answer, signal and end one.

The browsers connect to each other (WebRTC); this server only relays their signalling
(docs/realtime.md, "Calls") between the two parties of one call: the conversation's
social worker who offered it and the conversation's client. It stores who, when, how long
and which medium, never the media, which never pass through it. No recording.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chat import realtime
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Call, Conversation, Message
from chat.services.messages import message_append

WORKER = "worker"
CLIENT = "client"
SIDES = (WORKER, CLIENT)


def _open_call(conversation: Conversation, *, call_id: int | None = None) -> Call:
    """The conversation's open call (`call_id`: that one only), else NotFound."""
    calls = Call.objects.filter(conversation=conversation).exclude(state=Call.State.ENDED)
    if call_id is not None:
        calls = calls.filter(pk=call_id)
    call = calls.first()
    if call is None:
        raise NotFound("no such call", code="no_call")
    return call


def call_offer(*, conversation: Conversation, actor: User, media: Call.Media) -> Call:
    """The conversation's social worker offers the client a call. Locks the conversation
    row (two tabs offering at once make one call); publishes `call.ringing` after commit."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.state != Conversation.State.ACTIVE:
            raise Conflict("a call needs an active conversation", code="call_not_possible")
        if locked.worker_id != actor.pk:
            raise NotAllowed("only the conversation's social worker may start a call")
        if Call.objects.filter(conversation=locked).exclude(state=Call.State.ENDED).exists():
            raise Conflict("this conversation already has a call", code="call_busy")
        call = Call.objects.create(conversation=locked, worker=actor, media=media)
        realtime.publish_on_commit(
            realtime.conversation_group(locked.pk), realtime.call_event("call.ringing", call)
        )
    return call


def call_accept(*, conversation: Conversation, call_id: int, media: Call.Media) -> Call:
    """The client takes the ringing call, with voice only or (if offered) video. Publishes
    `call.accepted`; the worker's browser then sends its `call_offer`."""
    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=conversation.pk)
        call = _open_call(conversation, call_id=call_id)
        if call.state != Call.State.RINGING:
            raise Conflict("this call was already answered", code="call_answered")
        if media == Call.Media.VIDEO and call.media != Call.Media.VIDEO:
            raise InvalidInput("this call was offered with voice only")
        call.media, call.state, call.answered_at = media, Call.State.ACTIVE, timezone.now()
        call.save(update_fields=["media", "state", "answered_at"])
        realtime.publish_on_commit(
            realtime.conversation_group(conversation.pk),
            realtime.call_event("call.accepted", call),
        )
    return call


def call_end(
    *,
    conversation: Conversation,
    call_id: int | None,
    side: str,
    reason: Call.Reason = Call.Reason.HUNG_UP,
    actor: User | None = None,
) -> Call | None:
    """Either party ends (or the client declines) the open call. `call_id` None: whatever
    call is open (a client leaving). A worker may end only a call they are in. Publishes
    `call.ended`; None when there was no call to end and none was named."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        try:
            call = _open_call(locked, call_id=call_id)
        except NotFound:
            if call_id is None:
                return None
            raise
        if side == WORKER and (actor is None or call.worker_id != actor.pk):
            raise NotFound("no such call", code="no_call")
        if reason == Call.Reason.DECLINED and call.state != Call.State.RINGING:
            reason = Call.Reason.HUNG_UP
        _finish(locked, call, ended_by=side, reason=reason)
    return call


def call_end_with_conversation(
    *, conversation: Conversation, quick_exit: bool = False, handed_on: bool = False
) -> None:
    """The conversation is closing, or leaving its worker (`handed_on`: a handover, back
    to a queue); the caller holds its row lock. Its call ends too: a call is between the
    client and the worker who offered it."""
    call = Call.objects.filter(conversation=conversation).exclude(state=Call.State.ENDED).first()
    if call is None:
        return
    if quick_exit:
        reason = Call.Reason.QUICK_EXIT
    elif handed_on:
        reason = Call.Reason.HANDED_ON
    else:
        reason = Call.Reason.CONVERSATION_ENDED
    _finish(conversation, call, ended_by=CLIENT if quick_exit else "system", reason=reason)


def call_event_body(call: Call) -> str:
    """What the conversation's history keeps of an ended call: its medium and how long it
    lasted in whole seconds ("video 192"), or that it was declined or never answered
    ("voice declined", "video unanswered"). Never its content."""
    if call.answered_at is None or call.ended_at is None:
        outcome = "declined" if call.reason == Call.Reason.DECLINED else "unanswered"
    else:
        outcome = str(max(0, int((call.ended_at - call.answered_at).total_seconds())))
    return f"{call.media} {outcome}"


def call_event_parts(body: str) -> tuple[str, str, int]:
    """`call_event_body` read back: (media, outcome, seconds); outcome is "answered",
    "declined" or "unanswered"."""
    media, _space, outcome = body.partition(" ")
    if outcome.isascii() and outcome.isdigit():
        return media, "answered", int(outcome)
    return media, outcome if outcome == "declined" else "unanswered", 0


def _finish(conversation: Conversation, call: Call, *, ended_by: str, reason: str) -> None:
    """End the call (the caller holds the conversation's row lock): the history gets a
    `call` event by the call's worker, then both parties `call.ended`."""
    call.state, call.ended_at, call.ended_by, call.reason = (
        Call.State.ENDED,
        timezone.now(),
        ended_by,
        reason,
    )
    call.save(update_fields=["state", "ended_at", "ended_by", "reason"])
    message_append(
        conversation,
        sender=Message.Sender.SYSTEM,
        author=call.worker,
        event=Message.Event.CALL,
        body=call_event_body(call),
    )
    realtime.publish_on_commit(
        realtime.conversation_group(call.conversation_id), realtime.call_event("call.ended", call)
    )


def call_for_signal(
    *, conversation: Conversation, call_id: int, side: str, actor: User | None = None
) -> Call:
    """The call a `call_offer`, `call_answer` or `call_candidate` frame may go to: open,
    answered, in this conversation, and (from a worker) the worker's own. Anything else is
    NotFound, as for a call that does not exist."""
    call = _open_call(conversation, call_id=call_id)
    if side == WORKER and (actor is None or call.worker_id != actor.pk):
        raise NotFound("no such call", code="no_call")
    if call.state != Call.State.ACTIVE:
        raise Conflict("the call has not been answered", code="call_not_answered")
    return call
