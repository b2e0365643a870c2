"""Identified clients: the client record an e-ID sign-in finds or makes, keyed on the
provider's issuer and subject (docs/security.md, "e-ID")."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import realtime
from chat.eid import EidIdentity
from chat.errors import Conflict, InvalidInput, NotFound
from chat.models import Case, ClientRecord, Conversation, FollowUp
from chat.services.queue import queue_announce


def personal_number_hash(personal_number: str) -> str:
    """Keyed, so a copy of the database alone cannot be searched for a known number."""
    key = (settings.EID_PERSONAL_NUMBER_PEPPER or settings.SECRET_KEY).encode()
    return hmac.new(key, personal_number.encode(), hashlib.sha256).hexdigest()


def client_record_identify(*, identity: EidIdentity) -> ClientRecord:
    """The client record for a verified identity, made on the first sign-in. The name is
    refreshed from the provider each time; the personal identity number is kept only as
    the deployment says (EID_STORE_PERSONAL_NUMBER), and then only as a keyed hash and its
    last four digits."""
    fields: dict[str, object] = {"name": identity.name, "last_identified_at": timezone.now()}
    if settings.EID_STORE_PERSONAL_NUMBER == "hash" and identity.personal_number:
        fields["personal_number_hash"] = personal_number_hash(identity.personal_number)
        fields["personal_number_last4"] = identity.personal_number[-4:]
    else:
        fields["personal_number_hash"] = ""
        fields["personal_number_last4"] = ""
    try:
        with transaction.atomic():
            record, created = ClientRecord.objects.get_or_create(
                issuer=identity.issuer, subject=identity.subject, defaults=fields
            )
    except IntegrityError:
        # The same person signing in twice at once: the other sign-in made the row.
        record, created = (
            ClientRecord.objects.get(issuer=identity.issuer, subject=identity.subject),
            False,
        )
    if not created:
        for name, value in fields.items():
            setattr(record, name, value)
        record.save(update_fields=list(fields))
    return record


def conversation_identify(*, conversation_id: int, client: ClientRecord) -> Conversation:
    """Link an open conversation to the identified client who consented to it (stepping up
    from anonymous inside a chat). The conversation goes on the client's case with its unit:
    their latest one, or the anonymous case it was on, which becomes theirs. Nothing written
    is lost or moved out of the conversation.

    Locks the conversation (a second consent, or the chat ending meanwhile, waits and then
    sees the outcome); publishes `conversation.identified` to its staff after commit."""
    if not client.is_identified:
        raise InvalidInput("only an identified client record")
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update()
            .select_related("case__client")
            .filter(pk=conversation_id)
            .first()
        )
        if locked is None:
            raise NotFound("no such conversation")
        if locked.identified or locked.case.client.is_identified:
            if locked.case.client_id == client.pk:
                return locked  # already done: a repeated consent changes nothing
            raise Conflict("the conversation belongs to another identified client")
        if not locked.is_open:
            raise Conflict("the conversation has ended", code="ended")
        theirs = (
            Case.objects.filter(client=client, unit_id=locked.unit_id)
            .order_by("-created_at")
            .first()
        )
        if theirs is None:
            Case.objects.filter(pk=locked.case_id).update(client=client)
        else:
            if theirs.status == Case.Status.CLOSED:
                theirs.status, theirs.closed_at = Case.Status.OPEN, None
                theirs.save(update_fields=["status", "closed_at"])
            # This conversation's follow-up questions go along with it.
            FollowUp.objects.filter(case_id=locked.case_id, conversation=locked).update(case=theirs)
            locked.case = theirs
        locked.identified = True
        locked.save(update_fields=["case", "identified"])
        realtime.publish_on_commit(
            realtime.conversation_staff_group(locked.pk), realtime.identified_event(locked)
        )
        if locked.state == Conversation.State.QUEUED:
            queue_announce(unit_id=locked.unit_id)
    return locked
