"""The social worker's console: their units' queues, their conversations (several at
once), handover, invitations, private notes, typing and seen."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import Presence, User
from chat import liveness, realtime, selectors
from chat.consumers.base import AccountGone, Frame, StaffConsumer, ack_frame, seq_value
from chat.consumers.calls import call_id, call_media, ice_servers, is_for, open_event, signal_for
from chat.errors import ChatError, NotFound
from chat.parsing import (
    frame_bool,
    frame_choice,
    frame_id,
    frame_int,
    frame_list,
    frame_object,
    frame_optional_id,
    frame_text,
    frame_texts,
    frame_uuid,
)
from chat.services.access import (
    PreviewShown,
    conversation_open,
    followup_read,
    queue_previews_read,
)
from chat.services.calls import WORKER, call_end, call_offer, call_worker_back
from chat.services.cases import FollowUpQuestion, followup_ask, followup_worker_answer
from chat.services.conversations import (
    conversation_accept,
    conversation_end,
    conversation_mark_read,
)
from chat.services.handover import (
    conversation_hand_over,
    handover_accept,
    handover_decline,
)
from chat.services.messages import message_post, private_note_post
from chat.services.participants import (
    participant_invite,
    participant_invite_link,
    participant_leave,
)
from chat.services.presence import (
    presence_console_closed,
    presence_console_opened,
    presence_set_status,
)
from chat.services.risk import risk_lower

log = logging.getLogger(__name__)


def browser_time(value: object) -> datetime | None:
    """A time the browser sends, in milliseconds since the epoch; None when absent."""
    if value is None:
        return None
    milliseconds = frame_int(value, minimum=0, maximum=BROWSER_TIME_MAX, name="chosen_at")
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


BROWSER_TIME_MAX = 2**53 - 1  # the largest whole number a browser's clock gives exactly


def translated_choices(value: object) -> dict[str, tuple[str, ...]]:
    """A question's quick answers in other client languages: {language: [texts]}, or
    absent. Which languages, and how many, is the service's rule."""
    if value is None:
        return {}
    return {
        str(language): frame_texts(texts, name="translated_choices", optional=False)
        for language, texts in frame_object(value, name="translated_choices").items()
    }


def followup_questions(value: object) -> list[FollowUpQuestion]:
    """The questions an `end` frame leaves for the client: a list of {body, choices,
    translated_choices}."""
    questions = []
    for item in frame_list(value, name="followups"):
        question = frame_object(item, name="followups")
        questions.append(
            FollowUpQuestion(
                body=frame_text(question.get("body"), name="body"),
                choices=frame_texts(question.get("choices"), name="choices"),
                translated_choices=translated_choices(question.get("translated_choices")),
            )
        )
    return questions


# --- the console's actions: each runs in one crossing into sync code (StaffConsumer.act) --
def console_units(user: User) -> list[tuple[int, str]]:
    """The console's units (id, name), by name: whose queues it hears."""
    return list(selectors.unit_list_for_staff(user=user).values_list("pk", "name"))


console_units_read = database_sync_to_async(console_units)


@database_sync_to_async
def console_snapshot(
    user: User,
    channel_name: str,
    session_key: str | None,
    units: list[tuple[int, str]] | None = None,
) -> tuple[Frame, list[Frame]]:
    """Registers this open console (the worker can be given clients) and reads the state
    of `units` (`console_units`, read before the socket joined their groups; None: read
    here). With it, a `call.open` for each call of the worker's still going (a page
    reloaded in a call connects again)."""
    presence = presence_console_opened(
        worker=user, channel_name=channel_name, session_key=session_key
    )
    open_calls = [open_event(call, me=WORKER) for call in call_worker_back(worker=user)]
    if units is None:
        units = console_units(user)
    unit_names = dict(units)
    heads = selectors.queue_heads(unit_ids=list(unit_names))
    waiting = sorted(
        (row for head in heads.values() for row in head.rows), key=selectors.queue_sort_key
    )
    previews = selectors.queue_previews(
        conversation_ids=[
            row.pk for head in heads.values() for row in head.rows[: settings.CONSOLE_PREVIEW_ROWS]
        ]
    )
    waiting_rows = [realtime.waiting_payload(row, previews.get(row.pk)) for row in waiting]
    queue_previews_read(
        actor=user,
        shown=previews_shown(waiting_rows, unit_names),
        request_id=uuid.uuid4(),
    )
    mine = selectors.conversation_list_mine(user=user)
    offers = selectors.handover_list_offered_to(user=user)
    snapshot = {
        "type": "console.snapshot",
        "units": [
            {"id": pk, "name": name, **realtime.queue_counts(heads[pk])} for pk, name in units
        ],
        "waiting": waiting_rows,
        "conversations": [mine_payload(c, user) for c in mine],
        "offers": [realtime.handover_payload(h) for h in offers],
        "presence": realtime.presence_event(presence),
    }
    return snapshot, open_calls


def mine_payload(conversation, user: User) -> Frame:
    """One of the console's own conversations; the unread count is the worker's own."""
    payload = realtime.my_conversation_payload(conversation)
    if conversation.worker_id != user.pk:
        payload["read_seq"] = payload["unread"] = None
    return payload


def previews_shown(
    waiting: list[Frame], unit_names: dict[int, str], logged: dict[int, int] | None = None
) -> list[PreviewShown]:
    """The previews among `waiting` (`realtime.waiting_payload`s) that this console has not
    yet logged (`logged`: conversation id -> the seq it logged last)."""
    logged = logged or {}
    return [
        PreviewShown(row["id"], row["unit"], unit_names.get(row["unit"], ""))
        for row in waiting
        if row.get("preview") and logged.get(row["id"]) != row["preview"]["seq"]
    ]


def console_previews_read(user: User, unit_id: int, shown: list[PreviewShown]) -> None:
    """Run by `act`: the account as it is now, still in the unit (else NotFound), then the
    previews new to this console logged (nothing to write when none is new)."""
    if not user.units.filter(pk=unit_id).exists():
        raise NotFound("not one of your units")
    queue_previews_read(actor=user, shown=shown, request_id=uuid.uuid4())


def console_ping(user: User) -> Frame:
    """The heartbeat's answer at its slow check: each open conversation's `last_seq` as
    the database has it, so a dropped last broadcast shows as a gap, and when its client's
    socket last gave a sign of life (`clients_seen`), so a lost `conversation.client`
    heals."""
    mine = selectors.conversation_list_open_for(user=user)
    last_seqs, clients_seen = {}, {}
    for c in mine:
        last_seqs[str(c.pk)] = c.last_seq
        clients_seen[str(c.pk)] = c.client_seen_at.isoformat() if c.client_seen_at else None
    return {"type": "pong", "last_seqs": last_seqs, "clients_seen": clients_seen}


def console_presence(user: User, frame: Frame) -> None:
    presence_set_status(
        worker=user,
        status=frame_choice(frame.get("status"), Presence.Status, name="status"),
        actor=user,
        chosen_at=browser_time(frame.get("chosen_at")),
    )


@database_sync_to_async
def console_left(user: User, channel_name: str) -> None:
    presence_console_closed(worker=user, channel_name=channel_name)


def console_accept(user: User, frame: Frame) -> None:
    conversation_id = frame_optional_id(frame.get("conversation"), name="conversation")
    conversation_accept(worker=user, conversation_id=conversation_id)


def console_sync(user: User, frame: Frame) -> tuple[Frame, Frame]:
    """Missed messages (from where this reader's view starts), then the staff context:
    handover trail, private notes and participants."""
    return conversation_open(
        actor=user,
        conversation_id=frame_id(frame.get("conversation"), name="conversation", error=NotFound),
        after=seq_value(frame.get("after", 0), "after"),
        request_id=uuid.uuid4(),
    )


def _conversation(user: User, frame: Frame):
    return selectors.conversation_get_for_staff(
        user=user,
        conversation_id=frame_id(frame.get("conversation"), name="conversation", error=NotFound),
    )


def console_lower_risk(user: User, frame: Frame) -> Frame:
    """The `risk.lowered` event, for the socket that asked too (a waiting conversation's
    staff group holds no console)."""
    override = risk_lower(
        conversation_id=frame_id(frame.get("conversation"), name="conversation", error=NotFound),
        actor=user,
        reason=frame_text(frame.get("reason"), name="reason"),
    )
    return realtime.risk_event(override.conversation, raised=False, lowered=True)


def console_post(user: User, frame: Frame) -> Frame:
    """message_post checks the worker's rights itself, under the row lock its statement
    takes, and answers NotFound to a worker who may not read the conversation: no separate
    look-up here."""
    conversation_id = frame_id(frame.get("conversation"), name="conversation", error=NotFound)
    message, _created = message_post(
        conversation_id=conversation_id,
        author=user,
        body=frame_text(frame.get("body"), name="body"),
        client_id=frame_uuid(frame.get("client_id")),
    )
    return ack_frame(message, conversation_id)


def console_note(user: User, frame: Frame) -> Frame:
    body = frame_text(frame.get("body"), name="body")
    client_id = frame_uuid(frame.get("client_id"))
    conversation = _conversation(user, frame)
    note, _created = private_note_post(
        conversation=conversation, author=user, body=body, client_id=client_id
    )
    return {
        "type": "ack",
        "conversation": conversation.pk,
        "client_id": str(note.client_id),
        "note": note.pk,
    }


def console_end(user: User, frame: Frame) -> None:
    followups = followup_questions(frame.get("followups"))
    conversation_end(conversation=_conversation(user, frame), actor=user, followups=followups)


def console_ask_followup(user: User, frame: Frame) -> None:
    case = selectors.case_get_for_staff(
        user=user, case_id=frame_id(frame.get("case"), name="case", error=NotFound)
    )
    followup_ask(
        case=case,
        actor=user,
        body=frame_text(frame.get("body"), name="body"),
        choices=frame_texts(frame.get("choices"), name="choices"),
        translated_choices=translated_choices(frame.get("translated_choices")),
    )


def console_read_followup(user: User, frame: Frame) -> Frame:
    followup = followup_read(
        actor=user,
        followup_id=frame_id(frame.get("followup"), name="followup", error=NotFound),
        request_id=uuid.uuid4(),
    )
    return realtime.followup_read_event(followup)


def console_answer_question(user: User, frame: Frame) -> None:
    followup = selectors.followup_get_for_staff(
        user=user, followup_id=frame_id(frame.get("followup"), name="followup", error=NotFound)
    )
    followup_worker_answer(
        followup=followup, actor=user, answer=frame_text(frame.get("answer"), name="answer")
    )


def console_hand_over(user: User, frame: Frame) -> None:
    conversation_hand_over(
        conversation=_conversation(user, frame),
        actor=user,
        note=frame_text(frame.get("note"), name="note"),
        # Absent is the whole history; null shares only the note, as false does.
        share_history=frame_bool(frame.get("share_history", True), name="share_history"),
        to_worker_id=frame_optional_id(frame.get("to_worker"), name="to_worker"),
        to_unit_id=frame_optional_id(frame.get("to_unit"), name="to_unit"),
    )


def console_handover_accept(user: User, frame: Frame) -> None:
    handover = selectors.handover_get_for(
        user=user, handover_id=frame_id(frame.get("handover"), name="handover", error=NotFound)
    )
    show_name = frame_bool(frame.get("show_name"), name="show_name")
    handover_accept(handover=handover, actor=user, show_name=show_name)


def console_handover_decline(user: User, frame: Frame) -> None:
    handover = selectors.handover_get_for(
        user=user, handover_id=frame_id(frame.get("handover"), name="handover", error=NotFound)
    )
    handover_decline(
        handover=handover, actor=user, reason=frame_text(frame.get("reason"), name="reason")
    )


def console_invite(user: User, frame: Frame) -> None:
    participant_invite(
        conversation=_conversation(user, frame),
        actor=user,
        user_id=frame_id(frame.get("user"), name="user"),
    )


def console_invite_link(user: User, frame: Frame) -> Frame:
    conversation = _conversation(user, frame)
    invitation = participant_invite_link(conversation=conversation, actor=user)
    # Only to this socket, once: the worker passes the link on by a safe channel.
    return {"type": "invitation", "conversation": conversation.pk, "invitation": invitation}


def console_remove(user: User, frame: Frame) -> None:
    conversation = _conversation(user, frame)
    seat = selectors.participant_get_for_removal(
        conversation=conversation,
        participant_id=frame_id(frame.get("participant"), name="participant"),
    )
    participant_leave(participant=seat, actor=user)


def console_leave(user: User, frame: Frame) -> None:
    conversation = _conversation(user, frame)
    for seat in selectors.participant_list(conversation=conversation):
        if seat.user_id == user.pk:
            participant_leave(participant=seat, actor=user)


def console_may_read(user: User, frame: Frame) -> int:
    return _conversation(user, frame).pk


def console_seen(user: User, frame: Frame) -> tuple[int, int, str]:
    """The reader had the conversation's messages up to `seq` in view. For its worker they
    are unread no more; an invited colleague's or a supervisor's reading is `colleague`,
    which neither lowers the worker's unread count nor tells the client "seen"."""
    conversation = _conversation(user, frame)
    seq = seq_value(frame.get("seq", 0))
    conversation_mark_read(conversation=conversation, reader=user, seq=seq)
    return conversation.pk, seq, "worker" if conversation.worker_id == user.pk else "colleague"


# --- calls (chat/services/calls.py) ------------------------------------------------------
def console_call_start(user: User, frame: Frame) -> None:
    call_offer(conversation=_conversation(user, frame), actor=user, media=call_media(frame))


def console_call_signal(user: User, frame: Frame) -> Frame:
    return signal_for(_conversation(user, frame), frame, side=WORKER, actor=user)


def console_call_end(user: User, frame: Frame) -> None:
    call_end(
        conversation=_conversation(user, frame), call_id=call_id(frame), side=WORKER, actor=user
    )


# --- the consumer ------------------------------------------------------------------------
class ConsoleConsumer(StaffConsumer):
    """A worker's or supervisor's console: their units' queues and their conversations."""

    permission = "chat.use_console"
    frame_types = frozenset(
        {
            "accept",
            "message",
            "note",
            "sync",
            "end",
            "presence",
            "ping",
            "hand_over",
            "handover_accept",
            "handover_decline",
            "invite",
            "invite_link",
            "remove_participant",
            "leave",
            "typing",
            "seen",
            "ask_followup",
            "answer_question",
            "read_followup",
            "lower_risk",
            "call_start",
            "call_offer",
            "call_answer",
            "call_candidate",
            "call_end",
        }
    )
    relayed = frozenset(
        {
            "referral.received",
            "conversation.message",
            "conversation.note",
            "conversation.context",
            "conversation.typing",
            "conversation.seen",
            "conversation.unanswered",
            "conversation.client",
            "conversation.identified",
            "conversation.language",
            "presence.updated",
            "followup.updated",
            "risk.flagged",
            "risk.lowered",
        }
    )

    last_handover_news: Frame | None = None
    # The queue's units by name (for the access log), and which preview of each waiting
    # conversation this socket has logged (conversation id -> seq): a preview is logged
    # once per console, not with every announcement that repeats it.
    unit_names: dict[int, str]
    previews_logged: dict[int, int]

    @classmethod
    async def encode_json(cls, content: Frame) -> str:
        """Frames as UTF-8 text, not \\u escapes: clients' words in the queue's previews
        (often in Arabic, Somali or Tigrinya) take a third of the bytes."""
        return json.dumps(content, ensure_ascii=False)

    opening = staticmethod(console_units)

    async def staff_connected(self, opened: list[tuple[int, str]] | None = None) -> None:
        self.unit_names, self.previews_logged = {}, {}
        # Join before reading, as in ClientConsumer.follow: a later queue event only repeats.
        unit_list = opened if opened is not None else await console_units_read(self.user)
        units = {realtime.unit_staff_group(pk) for pk, _name in unit_list}
        for group in units:
            await self.join(group)
        session = self.scope.get("session")
        snapshot, open_calls = await console_snapshot(
            self.user,
            self.channel_name,
            session.session_key if session is not None else None,
            unit_list,
        )
        conversations = set()
        for conversation in snapshot["conversations"]:
            conversations.add(realtime.conversation_group(conversation["id"]))
            conversations.add(realtime.conversation_staff_group(conversation["id"]))
        await self.keep_only(units | conversations)
        self.unit_names = {unit["id"]: unit["name"] for unit in snapshot["units"]}
        self.note_previews(snapshot["waiting"])  # the snapshot logged its own
        await self.send_json(snapshot)
        for call in open_calls:
            await self.send_json(call)
        self.alive()  # opening a console is a sign of life (written in the next batch)

    async def follow(self, conversation_id: int) -> None:
        await self.join(realtime.conversation_group(conversation_id))
        await self.join(realtime.conversation_staff_group(conversation_id))

    async def disconnect(self, code: int) -> None:
        user = getattr(self, "user", None)
        if user is None:
            return
        # The worker gets no new client at once; the clients they have go back to the queue
        # if no console of theirs speaks for the grace period, and a call of theirs ends if
        # none speaks for CALL_RECONNECT_GRACE_SECONDS (chat/services/timed.py).
        await console_left(user, self.channel_name)

    checked_pong = staticmethod(console_ping)

    def pong(self) -> Frame:
        # From memory: the last seq this socket sent of each conversation it follows.
        return {
            "type": "pong",
            "last_seqs": {
                str(pk): seq
                for pk, seq in self.seqs.items()
                if realtime.conversation_group(pk) in self.groups
            },
        }

    def alive(self) -> None:
        liveness.worker_seen(self.user.pk)  # keeps the worker online (batched)

    async def on_presence(self, frame: Frame) -> None:
        await self.act(console_presence, frame)

    async def on_accept(self, frame: Frame) -> None:
        await self.act(console_accept, frame)

    async def on_message(self, frame: Frame) -> None:
        await self.send_json(await self.act(console_post, frame))

    async def on_note(self, frame: Frame) -> None:
        await self.send_json(await self.act(console_note, frame))

    async def on_sync(self, frame: Frame) -> None:
        for event in await self.act(console_sync, frame):
            await self.send_json(event)

    async def on_end(self, frame: Frame) -> None:
        await self.act(console_end, frame)

    async def on_lower_risk(self, frame: Frame) -> None:
        await self.send_json(await self.act(console_lower_risk, frame))

    async def on_ask_followup(self, frame: Frame) -> None:
        await self.act(console_ask_followup, frame)

    async def on_read_followup(self, frame: Frame) -> None:
        await self.send_json(await self.act(console_read_followup, frame))

    async def on_answer_question(self, frame: Frame) -> None:
        await self.act(console_answer_question, frame)

    async def on_hand_over(self, frame: Frame) -> None:
        await self.act(console_hand_over, frame)

    async def on_handover_accept(self, frame: Frame) -> None:
        await self.act(console_handover_accept, frame)

    async def on_handover_decline(self, frame: Frame) -> None:
        await self.act(console_handover_decline, frame)

    async def on_invite(self, frame: Frame) -> None:
        await self.act(console_invite, frame)

    async def on_invite_link(self, frame: Frame) -> None:
        await self.send_json(await self.act(console_invite_link, frame))

    async def on_remove_participant(self, frame: Frame) -> None:
        await self.act(console_remove, frame)

    async def on_leave(self, frame: Frame) -> None:
        await self.act(console_leave, frame)

    async def on_typing(self, frame: Frame) -> None:
        # Throttled and never stored; only to a conversation this worker may read.
        if not self.typing.ready():
            return
        conversation_id = await self.act(console_may_read, frame)
        await realtime.relay(
            realtime.conversation_group(conversation_id),
            realtime.presence_in_conversation_event(conversation_id, kind="typing", who="worker"),
        )

    async def on_seen(self, frame: Frame) -> None:
        conversation_id, seq, who = await self.act(console_seen, frame)
        await realtime.relay(
            realtime.conversation_group(conversation_id),
            realtime.presence_in_conversation_event(conversation_id, kind="seen", who=who, seq=seq),
        )

    async def on_call_start(self, frame: Frame) -> None:
        await self.act(console_call_start, frame)

    async def on_call_offer(self, frame: Frame) -> None:
        event = await self.act(console_call_signal, frame)
        await realtime.relay(realtime.conversation_group(event["conversation"]), event)

    on_call_answer = on_call_candidate = on_call_offer

    async def on_call_end(self, frame: Frame) -> None:
        await self.act(console_call_end, frame)

    async def call_news(self, event: Frame) -> None:
        """A call event of the conversation's group: only for the call's own worker, and
        never their own signalling back. The accepted call brings the ICE servers."""
        if not is_for(event, side=WORKER, worker_id=self.user.pk):
            return
        if event["type"] == "call.accepted":
            event = {**event, "ice_servers": ice_servers()}
        await self.send_json(event)

    call_ringing = call_accepted = call_ended = call_joined = call_left = call_news
    call_offer = call_answer = call_candidate = call_news

    async def queue_updated(self, event: Frame) -> None:
        """A unit's queue with its previews. Clients' words go only to an account that may
        still read them: in one crossing, the account is checked (a deactivated worker's
        open console is closed) and the previews this console has not shown before are
        written to the access log, in one statement; only then is it sent. If the log
        cannot be written, the queue goes without its previews."""
        waiting = event.get("waiting", [])
        if any(row.get("preview") for row in waiting):
            shown = previews_shown(waiting, self.unit_names, self.previews_logged)
            try:
                await self.act(console_previews_read, event.get("unit"), shown)
            except AccountGone as gone:
                await self.close(code=gone.code)
                return
            except Exception as error:
                if not isinstance(error, ChatError):  # no longer their unit: no text
                    log.exception("logging the queue's previews failed; sent without them")
                await self.send_json(
                    {**event, "waiting": [{**row, "preview": None} for row in waiting]}
                )
                return
            self.note_previews(waiting)
        await self.send_json(event)

    def note_previews(self, waiting: list[Frame]) -> None:
        for row in waiting:
            if row.get("preview"):
                self.previews_logged[row["id"]] = row["preview"]["seq"]

    async def handover_updated(self, event: Frame) -> None:
        """A handover's sender hears of it as its worker and as staff following the
        conversation: the second copy of the same news is dropped."""
        if event == self.last_handover_news:
            return
        self.last_handover_news = event
        await self.send_json(event)

    async def conversation_assigned(self, event: Frame) -> None:
        """Every tab follows a conversation its worker was given or invited into."""
        await self.follow(event["conversation"])
        await self.send_json(event)

    async def conversation_left(self, event: Frame) -> None:
        """Handed over, returned or removed: stop following, and say why."""
        conversation_id = event["conversation"]
        for group in (
            realtime.conversation_group(conversation_id),
            realtime.conversation_staff_group(conversation_id),
        ):
            if group in self.groups:
                await self.channel_layer.group_discard(group, self.channel_name)
                self.groups.remove(group)
        await self.send_json(event)
