"""All realtime plumbing: group names, event builders and publishing.

No other module spells a group name or calls `group_send`. Services call `publish_on_commit`,
so nothing is broadcast that could still roll back. Events carry plain JSON, never models.
The layer is at-most-once: every event about messages carries `seq`, and clients resync gaps.
While Redis is down nothing here raises, and the log says so once per outage (`Outage`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis.exceptions
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction

from chat.text import message_parts

if TYPE_CHECKING:
    from accounts.models import Presence
    from chat.models import (
        Call,
        Conversation,
        FollowUp,
        Handover,
        Message,
        Participant,
        PrivateNote,
    )
    from chat.selectors import QueueHead, WaitingPreview, WaitingRow

log = logging.getLogger(__name__)

Event = dict[str, Any]


# --- groups ----------------------------------------------------------------------------
def conversation_group(conversation_id: int) -> str:
    """Everyone in a conversation: its client and the staff taking part."""
    return f"conversation.{conversation_id}"


def conversation_staff_group(conversation_id: int) -> str:
    """Staff in a conversation: private notes, handover notices. Never a client or an
    interpreter."""
    return f"conversation.{conversation_id}.staff"


def participant_group(participant_id: int) -> str:
    """The sockets of one invited participant's seat (an external interpreter's tab)."""
    return f"participant.{participant_id}"


def unit_staff_group(unit_id: int) -> str:
    """Consoles of the unit's workers and supervisors: its queue and staffing."""
    return f"unit.{unit_id}.staff"


def unit_supervisors_group(unit_id: int) -> str:
    """Dashboards of the unit's supervisors: its numbers and staffing."""
    return f"unit.{unit_id}.supervisors"


def unit_waiting_group(unit_id: int) -> str:
    """Sockets of the clients waiting in the unit's queue: one `queue.places` per change
    reaches them all, and each socket reads its own place from it."""
    return f"unit.{unit_id}.waiting"


def worker_group(user_id: int) -> str:
    """Every console tab of one staff member."""
    return f"worker.{user_id}"


# --- events ----------------------------------------------------------------------------
def message_payload(message: Message) -> dict[str, Any]:
    author = message.author
    return {
        "seq": message.seq,
        "sender": message.sender,
        "event": message.event,
        "body": message.body,
        "parts": message.parts,
        "author_id": author.pk if author is not None else None,
        "author": author.short_name if author is not None else "",
        "client_id": str(message.client_id) if message.client_id else "",
        "created_at": message.created_at.isoformat(),
    }


def message_event(message: Message) -> Event:
    return {
        "type": "conversation.message",
        "conversation": message.conversation_id,
        "state": message.conversation.state,
        "message": message_payload(message),
    }


def conversation_payload(conversation: Conversation | WaitingRow) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "unit": conversation.unit_id,
        "case": conversation.case_id,
        "state": conversation.state,
        "priority": conversation.priority,
        "queued_at": conversation.queued_at.isoformat(),
        "last_seq": conversation.last_seq,
        "language": conversation.language,
        "identified": conversation.identified,
        "risk": risk_visible(conversation.risk, conversation.unit_id),
    }


def risk_visible(risk: dict[str, Any] | None, unit_id: int) -> dict[str, Any] | None:
    """What the risk rules found, for staff of the unit whose rules found it only: a
    conversation moved on to another unit carries no words of the one before."""
    if not risk or risk.get("unit") != unit_id:
        return None
    return risk


def risk_event(conversation: Conversation, *, raised: bool, lowered: bool) -> Event:
    """The risk rules flagged a client's words (`risk.flagged`; `raised`: it moved to the
    front of the queue) or a worker lowered it again (`risk.lowered`), with what the
    console and dashboard show (chat/services/risk.py `risk_payload`)."""
    return {
        "type": "risk.lowered" if lowered else "risk.flagged",
        "conversation": conversation.pk,
        "unit": conversation.unit_id,
        "state": conversation.state,
        "priority": conversation.priority,
        "raised": raised,
        "risk": risk_visible(conversation.risk, conversation.unit_id),
    }


def waiting_payload(row: WaitingRow, preview: WaitingPreview | None) -> dict[str, Any]:
    """A waiting conversation as a console's queue shows it: a conversation object with
    `transferred`, the client's latest words the unit may read (`preview`, or null) and
    where a handover brought it from (`handed_over`, or null). The text goes only to the
    unit's staff, and every console that receives it logs the read (access.py)."""
    payload = {**conversation_payload(row), "transferred": row.transferred}
    payload["preview"] = (
        {
            "seq": preview.seq,
            "text": preview.text,
            "cut": preview.cut,
            "count": preview.client_messages,
        }
        if preview is not None and preview.seq
        else None
    )
    payload["handed_over"] = (
        {"from": preview.handed_from, "from_unit": preview.handed_from_unit}
        if preview is not None and preview.handed_from_unit
        else None
    )
    return payload


def my_conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """One of a console's own conversations: a conversation object with what the list of
    them shows before the messages are read: its worker's unread count (`unread`, client
    messages above `read_seq`) and the client's last signs (`client_seen_at`, when the
    client last wrote, when staff last did). Reads the annotation `unread` when present."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        **conversation_payload(conversation),
        "read_seq": conversation.worker_read_seq,
        "unread": getattr(conversation, "unread", None),
        "client_seen_at": iso(conversation.client_seen_at),
        "last_client_message_at": iso(conversation.last_client_message_at),
        "last_staff_message_at": iso(conversation.last_staff_message_at),
    }


STAFF_ONLY_MESSAGE_FIELDS = ("author", "author_id")


def for_client(event: Event) -> Event:
    """The event as a client may see it: no staff member's name (staff choose later
    whether the client sees their first name)."""
    if event.get("type") == "conversation.message":
        message = {k: v for k, v in event["message"].items() if k not in STAFF_ONLY_MESSAGE_FIELDS}
        return {**event, "message": message}
    if event.get("type") == "conversation.sync":
        messages = [
            {k: v for k, v in m.items() if k not in STAFF_ONLY_MESSAGE_FIELDS}
            for m in event["messages"]
        ]
        return {**event, "messages": messages}
    return event


def sync_event(
    conversation: Conversation, messages: Iterable[Message], *, from_seq: int = 0
) -> Event:
    """Messages after what the reader has; `from_seq` is where the reader's view starts
    (someone who joined later, or a conversation that came without its history)."""
    return {
        "type": "conversation.sync",
        "conversation": conversation.pk,
        "state": conversation.state,
        "unit": conversation.unit_id,
        "last_seq": conversation.last_seq,
        "identified": conversation.identified,
        "from_seq": from_seq,
        "messages": [message_payload(m) for m in messages],
    }


def note_payload(note: PrivateNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "after_seq": note.after_seq,
        "author_id": note.author_id,
        "author": note.author.short_name,
        "body": note.body,
        "parts": message_parts(note.body),
        "client_id": str(note.client_id),
        "created_at": note.created_at.isoformat(),
    }


def note_event(note: PrivateNote) -> Event:
    return {
        "type": "conversation.note",
        "conversation": note.conversation_id,
        "note": note_payload(note),
    }


def handover_payload(handover: Handover) -> dict[str, Any]:
    return {
        "id": handover.pk,
        "conversation": handover.conversation_id,
        "state": handover.state,
        "from_id": handover.from_worker_id,
        "from": handover.from_worker.display_name,
        "from_unit": handover.from_unit.name,
        "to_id": handover.to_worker_id,
        "to": handover.to_worker.display_name if handover.to_worker else "",
        "to_unit": handover.to_unit.name,
        "note": handover.note,
        "share_history": handover.share_history,
        "decline_reason": handover.decline_reason,
        "created_at": handover.created_at.isoformat(),
        "expires_at": handover.expires_at.isoformat() if handover.expires_at else None,
    }


def handover_event(handover: Handover) -> Event:
    """An offer to its receiver, or an answer to its sender."""
    return {"type": "handover.updated", "handover": handover_payload(handover)}


def participant_payload(participant: Participant) -> dict[str, Any]:
    user = participant.user
    return {
        "id": participant.pk,
        "role": participant.role,
        "user": participant.user_id,
        "name": user.display_name if user else "",
    }


def staff_context_event(
    conversation: Conversation,
    *,
    notes: Iterable[PrivateNote],
    trail: Iterable[Handover],
    participants: Iterable[Participant],
) -> Event:
    """What staff see beside the messages: the handover trail (notes first), private notes
    and who else is in the conversation."""
    return {
        "type": "conversation.context",
        "conversation": conversation.pk,
        "handovers": [handover_payload(h) for h in trail],
        "notes": [note_payload(n) for n in notes],
        "participants": [participant_payload(p) for p in participants],
    }


def left_event(conversation_id: int, *, reason: str) -> Event:
    """This reader is no longer in the conversation (handed over, removed)."""
    return {"type": "conversation.left", "conversation": conversation_id, "reason": reason}


def presence_in_conversation_event(
    conversation_id: int, *, kind: str, who: str, seq: int = 0
) -> Event:
    """Typing and seen, never stored: `kind` is typing or seen."""
    return {"type": f"conversation.{kind}", "conversation": conversation_id, "who": who, "seq": seq}


def followup_payload(followup: FollowUp) -> dict[str, Any]:
    return {
        "id": followup.pk,
        "case": followup.case_id,
        "kind": followup.kind,
        "body": followup.body,
        "choices": followup.choices,
        "answer": followup.answer,
        "answered": followup.answered_at is not None,
        "created_at": followup.created_at.isoformat(),
        "answered_at": followup.answered_at.isoformat() if followup.answered_at else None,
    }


FOLLOWUP_TEXT_FIELDS = ("body", "choices", "answer")


def followup_event(followup: FollowUp) -> Event:
    """A follow-up question asked or answered: to the consoles of the case's unit. It
    carries no text: whoever shows the text asks for it with `read_followup`, and that
    read is in the access log (docs/security.md)."""
    payload = followup_payload(followup)
    summary = {k: v for k, v in payload.items() if k not in FOLLOWUP_TEXT_FIELDS}
    return {"type": "followup.updated", "followup": summary}


def followup_read_event(followup: FollowUp) -> Event:
    """The whole question and answer, to the one socket that asked to show it."""
    return {"type": "followup.read", "followup": followup_payload(followup)}


def identified_event(conversation: Conversation) -> Event:
    """The client of a live conversation identified with e-ID (stepping up) and consented:
    the conversation is now on their case."""
    return {
        "type": "conversation.identified",
        "conversation": conversation.pk,
        "case": conversation.case_id,
        "identified": True,
    }


def language_event(conversation: Conversation) -> Event:
    """The client's page language became known after the start ("chat now" opened on the
    partner's device): the console's "Language: Arabic" for the staff already in it."""
    return {
        "type": "conversation.language",
        "conversation": conversation.pk,
        "language": conversation.language,
    }


def unanswered_event(conversation: Conversation) -> Event:
    return {"type": "conversation.unanswered", "conversation": conversation.pk}


def referral_received_event(*, conversation_id: int, unit_id: int, referral: Event) -> Event:
    """An urgent referral from partner staff waits in the unit: the console alerts (sound,
    title, notice) and the conversation is first in the queue. `referral` is
    `selectors.referral_alert_payload`."""
    return {
        "type": "referral.received",
        "conversation": conversation_id,
        "unit": unit_id,
        "referral": referral,
    }


def referral_escalated_event(
    *, conversation_id: int, unit_id: int, unit_name: str, step: int, referral: Event
) -> Event:
    """Nobody accepted the referral in time: the unit's supervisors see it on the dashboard."""
    return {
        "type": "referral.escalated",
        "conversation": conversation_id,
        "unit": unit_id,
        "unit_name": unit_name,
        "step": step,
        "referral": referral,
    }


def queue_event(
    unit_id: int, head: QueueHead, previews: dict[int, WaitingPreview] | None = None
) -> Event:
    """A unit's queue as staff see it (`selectors.QueueHead`): its first rows, each with
    its preview (`waiting_payload`), and how many wait, however long it is. A dropped event
    is healed by the next one."""
    previews = previews or {}
    return {
        "type": "queue.updated",
        "unit": unit_id,
        "waiting": [waiting_payload(row, previews.get(row.pk)) for row in head.rows],
        **queue_counts(head),
    }


def client_presence_event(conversation_id: int, *, online: bool) -> Event:
    """The client's socket of the conversation opened (or resumed) or closed: for the
    staff in it ("network lost" on the console). Never stored; a lost one is healed by
    the console's heartbeat (`client_seen_at` in its slow `pong`)."""
    return {"type": "conversation.client", "conversation": conversation_id, "online": online}


def queue_counts(head: QueueHead) -> dict[str, int]:
    """How many wait in the unit, and how many urgent ones are not among the rows sent."""
    return {"waiting_total": head.total, "urgent_beyond": head.urgent_beyond}


def queue_places_event(unit_id: int, places: dict[str, Any]) -> Event:
    """Every waiting client's place in one event (`selectors.queue_places`), to
    `unit.{id}.waiting`. Never sent to a browser: each client's socket reads its own place
    (`selectors.queue_place_in`) and sends that as `queue.position`."""
    return {"type": "queue.places", "unit": unit_id, **places}


def assigned_event(
    conversation: Conversation, *, sync: Event | None = None, context: Event | None = None
) -> Event:
    """The conversation is the worker's now (given, taken over, or invited into), with what
    the console needs to show it: a `conversation.sync` and a `conversation.context`."""
    event: Event = {
        "type": "conversation.assigned",
        "conversation": conversation.pk,
        "detail": conversation_payload(conversation),
    }
    if sync is not None:
        event["sync"] = sync
    if context is not None:
        event["context"] = context
    return event


def position_event(entry: dict[str, Any]) -> Event:
    """A waiting client's place in the queue and the honest estimate (None: can't say),
    from `selectors.queue_place_in` or `selectors.queue_position_for`."""
    return {"type": "queue.position", **entry}


def dashboard_unit_event(stats: dict[str, Any]) -> Event:
    return {"type": "dashboard.unit", "unit": stats}


def session_ended_event(*, session_hash: str) -> Event:
    """One browser's session was signed out: its sockets close; the worker's other
    browsers stay."""
    return {"type": "session.ended", "session": session_hash}


def access_changed_event() -> Event:
    """The staff member's units, role or account changed: every socket of theirs checks
    again what it may hear, leaves the groups it may no longer be in, or closes."""
    return {"type": "access.changed"}


def presence_event(presence: Presence) -> Event:
    chosen = presence.status_chosen_at
    return {
        "type": "presence.updated",
        "status": presence.status,
        "capacity": presence.capacity,
        # Milliseconds since the epoch, like the browser's clock: a tab whose own choice
        # is older than this knows a later choice (elsewhere) is in force.
        "chosen_at": int(chosen.timestamp() * 1000) if chosen else None,
    }


# --- publishing ------------------------------------------------------------------------
def publish(group: str, event: Event) -> None:
    """Send now. Never raises: the database is the truth and clients resync what they miss."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except REDIS_DOWN as error:
        outage.failed(LAYER, error)
    except Exception:
        log.exception("publishing %s to %s failed", event.get("type"), group)
    else:
        outage.answered(LAYER)


async def relay(group: str, event: Event) -> None:
    """Send from async code: events that are never stored (typing, seen) and the queue
    announcements (chat/announce.py), each of which the next one heals. Never raises: a
    notice lost while the layer is down is not worth a failed frame."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, event)
    except REDIS_DOWN as error:
        outage.failed(LAYER, error)
    except Exception:
        log.exception("relaying %s to %s failed", event.get("type"), group)
    else:
        outage.answered(LAYER)


def publish_on_commit(group: str, event: Event) -> None:
    """Send once the current transaction commits (at once when there is none)."""
    transaction.on_commit(lambda: publish(group, event))


async def group_add(layer: Any, group: str, channel: str) -> bool:
    """Put a socket's channel in `group`. False when the layer is down (Redis): the socket
    still counts as a member in this process and tries again later (consumers' `rejoin`)."""
    try:
        await layer.group_add(group, channel)
    except REDIS_DOWN as error:
        outage.failed(LAYER, error)
        return False
    outage.answered(LAYER)
    return True


# --- when Redis is down ----------------------------------------------------------------
# Errors that mean "Redis did not answer" (refused, reset, timed out, still loading), from
# the cache and from the channel layer alike. Anything else is a bug and is logged as one.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
LAYER = "channel layer"
CACHE = "cache"


class Outage:
    """Which users of Redis (the channel layer, the rate-limit cache) failed at their last
    try. The log gets one warning when the first fails and one info line when the last
    answers again: an outage is two lines, not one per frame."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.lock = threading.Lock()  # publish and the cache run in worker threads
        # How many outages this process has seen end: a socket that saw fewer missed events
        # (access.changed, conversation.left) that no resync by seq brings back.
        self.ended = 0

    def failed(self, part: str, error: BaseException) -> None:
        with self.lock:
            began = not self.failing
            self.failing.add(part)
        if began:
            # The error names host and port, never the password.
            log.warning(
                "Redis is down (%s: %s): messages are still stored and acknowledged, "
                "live delivery waits for the browsers' resync, flood limits count per "
                "process",
                part,
                error,
            )

    def answered(self, part: str) -> None:
        if part not in self.failing:  # the everyday path: no lock
            return
        with self.lock:
            if part not in self.failing:
                return
            self.failing.discard(part)
            over = not self.failing
        if over:
            self.ended += 1
            log.info("Redis answers again (%s): live delivery and shared flood limits resume", part)

    @property
    def down(self) -> bool:
        return bool(self.failing)


outage = Outage()


class RedisLayer(RedisPubSubChannelLayer):
    """channels_redis's pub/sub layer (settings.CHANNEL_LAYERS with REDIS_URL) for a Redis
    that may be down: opening and closing a socket never need it.

    - `new_channel` (every handshake) gives the socket its channel even when Redis does not
      answer. Group events reach it through the groups' subscriptions; nothing here is ever
      sent to one socket's own channel, so its subscription is not tried again.
    - `group_discard` (leaving a group, closing a socket) forgets the member in this process
      even when Redis does not answer; events still arriving for that group find no member.
    - `group_add` and `group_send` still raise: `group_add` and `publish` above decide.

    Subscriptions made before an outage come back by themselves: redis-py subscribes its
    connection to them again when it reconnects.
    """

    async def new_channel(self, prefix: str = "specific.") -> str:
        layer = self._get_layer()
        channel = f"{layer.prefix}{prefix}{uuid.uuid4().hex}"
        try:
            # channels_redis 4.3: makes the channel's queue first, then subscribes.
            await layer._subscribe_to_channel(channel)
        except REDIS_DOWN as error:
            outage.failed(LAYER, error)
        else:
            outage.answered(LAYER)
        return channel

    async def group_discard(self, group: str, channel: str) -> None:
        try:
            await self._get_layer().group_discard(group, channel)
        except REDIS_DOWN as error:
            outage.failed(LAYER, error)


# --- calls (chat/services/calls.py) ----------------------------------------------------
def _call_ids(call: Call) -> dict[str, Any]:
    """What every call event carries: its conversation, the call and its worker's id."""
    return {"conversation": call.conversation_id, "call": call.pk, "worker": call.worker_id}


def call_event(kind: str, call: Call) -> Event:
    """`call.ringing`, `call.accepted` or `call.ended`, to the conversation's group: the
    call's ids, medium and times, never a name. Only the call's worker's console and the
    client act on it (the consumers' `call_*` handlers)."""
    return {
        "type": kind,
        **_call_ids(call),
        "media": call.media,
        "state": call.state,
        "reason": call.reason,
        "ended_by": call.ended_by,
        "created_at": call.created_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
    }


def call_signal_event(
    kind: str, *, call: Call, side: str, to: str, signal: dict[str, Any]
) -> Event:
    """`call.offer`, `call.answer` or `call.candidate`: one browser's WebRTC signalling for
    one other party of the call (`from`: who sent it, `to`: the only socket that passes it
    on). Relayed, never stored."""
    return {
        "type": kind,
        **_call_ids(call),
        "from": side,
        "to": to,
        **signal,
    }


def call_worker_event(call: Call, *, online: bool) -> Event:
    """`call.worker`: the call's worker has no console open any more (`online` false: the
    call waits CALL_RECONNECT_GRACE_SECONDS for them), or one is open again. For the client
    and interpreters ("the social worker is reconnecting"); never stored."""
    return {"type": "call.worker", **_call_ids(call), "online": online}


def call_parties_event(kind: str, call: Call, *, who: str, parties: list[str]) -> Event:
    """`call.joined` or `call.left`: an interpreter (`who`, e.g. "interpreter-7") came into
    or left the call; `parties` is everyone in it now (by these names, never a person's)."""
    return {
        "type": kind,
        **_call_ids(call),
        "media": call.media,
        "who": who,
        "parties": parties,
    }
