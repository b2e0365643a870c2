"""Voice and video calls in a conversation: who may offer, answer, join, signal and end one.

The browsers connect to each other (WebRTC, a small mesh: one connection per pair); this
server only relays their signalling (docs/realtime.md, "Calls") between the parties of one
call: the conversation's social worker who offered it, the conversation's client, and an
interpreter invited into the conversation who joined the call (`CallSeat`). It stores who,
when, how long and which medium, never the media, which never pass through it. No
recording.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Presence, User
from chat import realtime
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import AccessLog, Call, CallSeat, Conversation, Message, Participant
from chat.services.access import access_log_record
from chat.services.messages import message_append

WORKER = "worker"
CLIENT = "client"
SIDES = (WORKER, CLIENT)
INTERPRETER_PREFIX = "interpreter-"


def interpreter_side(participant_id: int) -> str:
    """An interpreter's name in a call's signalling: one per seat in the conversation."""
    return f"{INTERPRETER_PREFIX}{participant_id}"


def call_parties(call: Call) -> list[str]:
    """Who is in the call now: its two parties and every interpreter with an open seat."""
    seats = CallSeat.objects.filter(call=call, left_at__isnull=True).order_by("pk")
    interpreters = seats.values_list("participant_id", flat=True)
    return [WORKER, CLIENT, *(interpreter_side(pid) for pid in interpreters)]


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
        # The worker now sees and hears the client: noted like a read of the conversation.
        _note_joined(call.worker, conversation)
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


def _finish(conversation: Conversation, call: Call, *, ended_by: str, reason: str) -> None:
    """End the call (the caller holds the conversation's row lock): every interpreter's
    seat closes, the history gets a `call` event by the call's worker, then everyone in
    the call `call.ended`."""
    call.state, call.ended_at, call.ended_by, call.reason = (
        Call.State.ENDED,
        timezone.now(),
        ended_by,
        reason,
    )
    call.save(update_fields=["state", "ended_at", "ended_by", "reason"])
    CallSeat.objects.filter(call=call, left_at__isnull=True).update(left_at=call.ended_at)
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
    *,
    conversation: Conversation,
    call_id: int,
    side: str,
    actor: User | None = None,
    to: str | None = None,
) -> tuple[Call, str]:
    """The call a `call_offer`, `call_answer` or `call_candidate` frame may go to, and to
    whom: the call is open, answered, in this conversation, and the sender and the receiver
    (`to`; between the worker and the client, the other one by default) are both in it:
    from a worker only their own call, from an interpreter only while their seat is open.
    Anything else is NotFound, as for a call that does not exist."""
    call = _open_call(conversation, call_id=call_id)
    if side == WORKER and (actor is None or call.worker_id != actor.pk):
        raise NotFound("no such call", code="no_call")
    if call.state != Call.State.ACTIVE:
        raise Conflict("the call has not been answered", code="call_not_answered")
    if to is None:
        if side not in SIDES:
            raise InvalidInput("`to` is needed", code="invalid")
        to = CLIENT if side == WORKER else WORKER
    parties = call_parties(call)
    if side not in parties or to not in parties or to == side:
        raise NotFound("no such call", code="no_call")
    return call, to


def call_join(*, participant: Participant, call_id: int) -> Call:
    """An interpreter present in the conversation joins its answered call (again, after a
    reload: the seat stays open). The first time the history gets a `call_joined` event
    and, for an interpreter with an account, the access log a row. Publishes `call.joined`
    with everyone now in the call; the newcomer then offers to each of them."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=participant.conversation_id)
        seat = Participant.objects.get(pk=participant.pk)
        if seat.left_at is not None or seat.joined_at is None:
            raise InvalidInput("you are no longer in this conversation", code="not_present")
        if seat.role != Participant.Role.INTERPRETER:
            raise NotFound("no such call", code="no_call")
        call = _open_call(conversation, call_id=call_id)
        if call.state != Call.State.ACTIVE:
            raise Conflict("the call has not been answered", code="call_not_answered")
        if not CallSeat.objects.filter(call=call, participant=seat, left_at__isnull=True).exists():
            CallSeat.objects.create(call=call, participant=seat)
            message_append(
                conversation,
                sender=Message.Sender.SYSTEM,
                event=Message.Event.CALL_JOINED,
                body=seat.role,
            )
            if seat.user is not None:
                _note_joined(seat.user, conversation)
        _publish_parties("call.joined", call, who=interpreter_side(seat.pk))
    return call


def call_leave(*, participant: Participant, call_id: int | None = None) -> None:
    """An interpreter leaves the call (not the chat); `call_id` None: whatever call they
    are in (they left the conversation). Publishes `call.left`; nothing when not in one."""
    with transaction.atomic():
        Conversation.objects.select_for_update().get(pk=participant.conversation_id)
        seats = CallSeat.objects.filter(participant=participant, left_at__isnull=True)
        if call_id is not None:
            seats = seats.filter(call_id=call_id)
        for seat in list(seats.select_related("call")):
            seat.left_at = timezone.now()
            seat.save(update_fields=["left_at"])
            _publish_parties("call.left", seat.call, who=interpreter_side(participant.pk))


def _note_joined(actor: User, conversation: Conversation) -> None:
    """The access log's row for a staff member who joined a call (in the caller's
    transaction, as every access-log row)."""
    access_log_record(
        actor=actor,
        conversation=conversation,
        action=AccessLog.Action.JOINED_CALL,
        request_id=uuid.uuid4(),
    )


def _publish_parties(kind: str, call: Call, *, who: str) -> None:
    realtime.publish_on_commit(
        realtime.conversation_group(call.conversation_id),
        realtime.call_parties_event(kind, call, who=who, parties=call_parties(call)),
    )


def call_open_for(conversation: Conversation) -> Call | None:
    """The conversation's answered call, if any: what an interpreter's page can join."""
    return Call.objects.filter(conversation=conversation, state=Call.State.ACTIVE).first()


def call_list_open_of(*, worker: User) -> list[Call]:
    """The worker's calls that have not ended (ringing or answered), oldest first."""
    return list(Call.objects.filter(worker=worker).exclude(state=Call.State.ENDED).order_by("pk"))


def call_worker_away(*, worker: User) -> None:
    """The worker's last console closed (a reload, a lost network): each open call of theirs
    goes on for CALL_RECONNECT_GRACE_SECONDS (`call_end_if_worker_gone`), and the others in it
    are told the worker is reconnecting. Publishes `call.worker` (online false) after commit."""
    for call in call_list_open_of(worker=worker):
        _publish_worker(call, online=False)


def call_worker_back(*, worker: User) -> list[Call]:
    """A console of the worker opened: the others in each open call of theirs are told the
    worker is back (`call.worker`, online true, after commit). Returns those calls: the
    console is told of each (`call.open`), so a reloaded page can connect again."""
    open_calls = call_list_open_of(worker=worker)
    for call in open_calls:
        _publish_worker(call, online=True)
    return open_calls


def _publish_worker(call: Call, *, online: bool) -> None:
    realtime.publish_on_commit(
        realtime.conversation_group(call.conversation_id),
        realtime.call_worker_event(call, online=online),
    )


def call_end_if_worker_gone(*, call_id: int) -> bool:
    """No console of the call's worker has given a sign of life (`Presence.last_seen`, kept by
    the heartbeats in batches: chat/liveness.py) for CALL_RECONNECT_GRACE_SECONDS: the worker
    has left, and the call ends for everyone in it (`worker_left`). A worker back in time
    keeps the call. Locks the conversation row; True when it ended the call."""
    return _end_if_gone(
        call_id, last_seen=_worker_seen_at, ended_by=WORKER, reason=Call.Reason.WORKER_LEFT
    )


def call_end_if_client_gone(*, call_id: int) -> bool:
    """The client's socket has been gone for CALL_RECONNECT_GRACE_SECONDS (its last sign
    of life is older): the client has left, and the call ends for everyone in it. A client
    back in time keeps the call. Locks the conversation row; True when it ended the call."""
    return _end_if_gone(
        call_id,
        last_seen=lambda conversation, _call: conversation.client_seen_at,
        ended_by=CLIENT,
        reason=Call.Reason.CLIENT_LEFT,
    )


def _worker_seen_at(_conversation: Conversation, call: Call) -> datetime | None:
    return (
        Presence.objects.filter(user_id=call.worker_id).values_list("last_seen", flat=True).first()
    )


def _end_if_gone(
    call_id: int,
    *,
    last_seen: Callable[[Conversation, Call], datetime | None],
    ended_by: str,
    reason: Call.Reason,
) -> bool:
    """End the call `call_id`, if still open, when its party's last sign of life (`last_seen`,
    read under the conversation's row lock) is older than CALL_RECONNECT_GRACE_SECONDS."""
    cutoff = timezone.now() - timedelta(seconds=settings.CALL_RECONNECT_GRACE_SECONDS)
    with transaction.atomic():
        call = Call.objects.filter(pk=call_id).exclude(state=Call.State.ENDED).first()
        if call is None:
            return False
        locked = Conversation.objects.select_for_update().get(pk=call.conversation_id)
        call = Call.objects.get(pk=call_id)
        if call.state == Call.State.ENDED:
            return False
        seen = last_seen(locked, call)
        if seen is not None and seen >= cutoff:
            return False
        _finish(locked, call, ended_by=ended_by, reason=reason)
    return True
