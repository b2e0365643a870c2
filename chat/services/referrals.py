"""Urgent referrals from partner staff (pharmacies, libraries): the code word was used.

`referral_send` turns the partner's form into an urgent conversation on a new case in the
first unit of the referral chain that is open now (Unit.referral_order), alerts that unit's
consoles, and answers at once when no unit is open. `referral_escalate_if_due` (a timed
rule, chat/services/timed.py) alerts the unit's supervisors when nobody has accepted it in
REFERRAL_ESCALATE_MINUTES, and then moves it one unit along the chain at a time. The
partner sees only the receipt; every step is in the audit trail (ReferralEvent).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import PartnerPlace, Unit, User
from chat import realtime, selectors
from chat.errors import Conflict, InvalidInput, NotFound
from chat.models import Conversation, Message, PrivateNote, Referral, ReferralEvent
from chat.permissions import require
from chat.services.cases import case_for_transfer, case_open_for_new_conversation
from chat.services.conversations import conversation_language_clean
from chat.services.messages import message_append
from chat.services.queue import queue_announce, queue_dispatch_on_commit
from chat.services.referral_audit import referral_event_add

PHONE_PATTERN = re.compile(r"\A\+?[0-9][0-9 \-]{4,22}[0-9]\Z")
NOTE_MAX_LENGTH = 300
LANGUAGE_MAX_LENGTH = 60
SAFE_TIME_MAX_LENGTH = 100


@dataclass(frozen=True)
class ReferralForm:
    """What partner staff fill in, parsed at the edge (frontend/forms.py)."""

    place_id: int
    contact: Referral.Contact
    children: Referral.Children
    phone: str = ""
    safe_time: str = ""
    language: str = ""
    interpreter: bool = False
    note: str = ""


def _clean(form: ReferralForm) -> ReferralForm:
    phone = " ".join(form.phone.split())
    if form.contact == Referral.Contact.CALL_BACK:
        if not phone:
            raise InvalidInput("a number to call is needed", code="phone_required")
        if not PHONE_PATTERN.fullmatch(phone):
            raise InvalidInput("that is not a phone number", code="phone_invalid")
    elif phone and not PHONE_PATTERN.fullmatch(phone):
        raise InvalidInput("that is not a phone number", code="phone_invalid")
    for value, limit in (
        (form.note, NOTE_MAX_LENGTH),
        (form.language, LANGUAGE_MAX_LENGTH),
        (form.safe_time, SAFE_TIME_MAX_LENGTH),
    ):
        if len(value) > limit:
            raise InvalidInput("too long", code="too_long", limit=limit)
    return ReferralForm(
        place_id=form.place_id,
        contact=form.contact,
        children=form.children,
        phone=phone,
        safe_time=form.safe_time.strip(),
        language=form.language.strip(),
        interpreter=form.interpreter,
        note=form.note.strip(),
    )


def referral_send(*, partner: User, form: ReferralForm) -> Referral:
    """Partner staff send a referral from one of their organisation's places. It becomes an
    urgent conversation in the first open unit of the chain, or, with none open, a referral
    in state `no_unit_open` (the partner page then says what to do instead). Publishes
    `referral.received` to the unit's staff after commit."""
    require(partner, "chat.refer")
    clean = _clean(form)
    place = PartnerPlace.objects.filter(
        pk=clean.place_id, is_active=True, organisation=partner.partner_organisation_id
    ).first()
    if place is None:
        raise NotFound("no such place")
    unit = selectors.referral_unit_open_now()
    fields = {
        "partner": partner,
        "place": place,
        "contact": clean.contact,
        "phone": clean.phone,
        "safe_time": clean.safe_time,
        "children": clean.children,
        "language": clean.language,
        "interpreter": clean.interpreter,
        "note": clean.note,
    }
    with transaction.atomic():
        if unit is None:
            referral = Referral.objects.create(**fields, state=Referral.State.NO_UNIT_OPEN)
            referral_event_add(referral=referral, kind=ReferralEvent.Kind.SENT, actor=partner)
            referral_event_add(referral=referral, kind=ReferralEvent.Kind.NO_UNIT_OPEN)
            return referral
        now = timezone.now()
        conversation = Conversation.objects.create(
            unit=unit,
            case=case_open_for_new_conversation(unit=unit),
            priority=Conversation.Priority.URGENT,
            # Nobody holds this token: "chat now" gives the person's tab one of its own
            # (referral_open_chat); until then nobody can attach as the client.
            token_hash=selectors.token_hash(secrets.token_urlsafe(32)),
            queued_at=now,
        )
        message_append(conversation, sender=Message.Sender.SYSTEM, event=Message.Event.REFERRED)
        referral = Referral.objects.create(
            **fields,
            state=Referral.State.SENT,
            unit=unit,
            conversation=conversation,
            escalate_at=now + timedelta(minutes=settings.REFERRAL_ESCALATE_MINUTES),
        )
        referral_event_add(referral=referral, kind=ReferralEvent.Kind.SENT, actor=partner)
        referral_event_add(referral=referral, kind=ReferralEvent.Kind.ROUTED, unit=unit)
        # What the partner told: for the staff in the conversation only, never the client.
        PrivateNote.objects.create(
            conversation=conversation,
            author=partner,
            body=selectors.referral_summary(referral=referral),
            after_seq=conversation.last_seq,
            client_id=uuid.uuid4(),
        )
        _alert_unit(referral=referral, unit=unit)
        queue_announce(unit_id=unit.pk)
        queue_dispatch_on_commit(unit_ids=[unit.pk])
    return referral


def _alert_unit(*, referral: Referral, unit: Unit) -> None:
    assert referral.conversation_id is not None  # noqa: S101 - routed referrals have one
    realtime.publish_on_commit(
        realtime.unit_staff_group(unit.pk),
        realtime.referral_received_event(
            conversation_id=referral.conversation_id,
            unit_id=unit.pk,
            referral=selectors.referral_alert_payload(referral=referral),
        ),
    )


def _alert_supervisors(*, referral: Referral, unit: Unit) -> None:
    assert referral.conversation_id is not None  # noqa: S101 - routed referrals have one
    realtime.publish_on_commit(
        realtime.unit_supervisors_group(unit.pk),
        realtime.referral_escalated_event(
            conversation_id=referral.conversation_id,
            unit_id=unit.pk,
            unit_name=unit.name,
            step=referral.escalation_step,
            referral=selectors.referral_alert_payload(referral=referral),
        ),
    )


def referral_escalate_if_due(*, referral_id: int) -> bool:
    """If the referral is still not accepted when its escalation is due: first alert the
    unit's supervisors (`referral.escalated` on the dashboard), then at each later step
    move it to the next open unit of the chain and alert that unit's staff. Decided on the
    locked rows: a worker may have accepted it meanwhile. Returns whether it escalated."""
    now = timezone.now()
    conversation_id = (
        Referral.objects.filter(pk=referral_id).values_list("conversation_id", flat=True).first()
    )
    if conversation_id is None:
        return False
    with transaction.atomic():
        # The conversation's row first, then the referral's: the order an accept takes them
        # in (conversation_assign, then referral_mark_accepted), so the two never deadlock.
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        referral = (
            Referral.objects.select_for_update()
            .filter(
                pk=referral_id,
                state=Referral.State.SENT,
                accepted_at__isnull=True,
                escalate_at__lte=now,
            )
            .first()
        )
        if referral is None:
            return False
        if conversation.state != Conversation.State.QUEUED:
            # Not waiting (given to a worker, or ended): nothing to escalate any more.
            referral.escalate_at = None
            referral.save(update_fields=["escalate_at"])
            return False
        unit = conversation.unit
        referral.escalation_step += 1
        referral.escalate_at = now + timedelta(minutes=settings.REFERRAL_ESCALATE_MINUTES)
        next_unit = (
            selectors.referral_unit_open_now(after=unit)
            if referral.escalation_step % 2 == 0
            else None
        )
        if referral.escalation_step % 2 == 1:
            referral_event_add(
                referral=referral, kind=ReferralEvent.Kind.ESCALATED_SUPERVISORS, unit=unit
            )
            _alert_supervisors(referral=referral, unit=unit)
        elif next_unit is not None:
            conversation.unit = next_unit
            conversation.case = case_for_transfer(case=conversation.case, unit=next_unit)
            conversation.save(update_fields=["unit", "case"])
            message_append(conversation, sender=Message.Sender.SYSTEM, event=Message.Event.MOVED)
            referral.unit = next_unit
            referral_event_add(
                referral=referral, kind=ReferralEvent.Kind.ESCALATED_UNIT, unit=next_unit
            )
            _alert_unit(referral=referral, unit=next_unit)
            queue_announce(unit_id=unit.pk)
            queue_announce(unit_id=next_unit.pk)
            queue_dispatch_on_commit(unit_ids=[next_unit.pk])
        else:
            # The end of the chain: it stays where it is, its supervisors alerted again.
            if not referral.events.filter(kind=ReferralEvent.Kind.END_OF_CHAIN).exists():
                referral_event_add(
                    referral=referral, kind=ReferralEvent.Kind.END_OF_CHAIN, unit=unit
                )
            _alert_supervisors(referral=referral, unit=unit)
        referral.save(update_fields=["escalation_step", "escalate_at", "unit"])
    return True


def referral_open_chat(
    *, partner: User, referral_id: int, token: str, language: str = ""
) -> Conversation:
    """ "Chat now": the person chats from the partner's device. The tab made `token` in
    memory; from now on it alone reaches the conversation (only its hash is stored). Once
    only, and only while the conversation is open: a second tab, or the partner later,
    gets nothing. `language` is the chat page's, chosen for the person on the receipt page:
    it becomes the conversation's as a client's start makes it (conversation_start); after
    commit a waiting conversation's queue is announced again, and `conversation.language`
    goes to the staff already in it, so the consoles show it."""
    if not selectors.TOKEN_PATTERN.fullmatch(token):
        raise InvalidInput("token must be 43 base64url characters")
    language = conversation_language_clean(language)
    seen = require(
        partner,
        "chat.view_referral_receipt",
        Referral.objects.filter(pk=referral_id).first(),
        hide=True,
    )
    if seen.contact != Referral.Contact.CHAT_NOW or seen.conversation_id is None:
        raise Conflict("this referral has no chat to open", code="no_chat")
    with transaction.atomic():
        # The conversation's row, then the referral's: the order an accept takes them in.
        conversation = Conversation.objects.select_for_update().get(pk=seen.conversation_id)
        referral = Referral.objects.select_for_update().get(pk=seen.pk)
        if referral.chat_opened_at is not None:
            raise Conflict("the chat was opened already", code="no_chat")
        if not conversation.is_open:
            raise Conflict("the conversation has ended", code="no_chat")
        conversation.token_hash = selectors.token_hash(token)
        conversation.client_seen_at = timezone.now()
        fields = ["token_hash", "client_seen_at"]
        if language:
            conversation.language = language
            fields.append("language")
        conversation.save(update_fields=fields)
        if language:
            # A worker may have accepted it before the person had the device.
            realtime.publish_on_commit(
                realtime.conversation_staff_group(conversation.pk),
                realtime.language_event(conversation),
            )
            if conversation.state == Conversation.State.QUEUED:
                queue_announce(unit_id=conversation.unit_id)
        referral.chat_opened_at = timezone.now()
        referral.save(update_fields=["chat_opened_at"])
        referral_event_add(referral=referral, kind=ReferralEvent.Kind.CHAT_OPENED, actor=partner)
    return conversation
