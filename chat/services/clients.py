"""Identified clients: the client record an e-ID sign-in finds or makes, keyed on the
provider's issuer and subject (docs/security.md, "e-ID")."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.eid import EidIdentity
from chat.models import ClientRecord


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
