"""The referral audit trail: one append-only row per change, written in the transaction of
the change. Kept apart from chat/services/referrals.py so the queue (which marks a referral
accepted when its conversation is assigned) can write here without importing routing."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Unit, User
from chat.models import Conversation, Referral, ReferralEvent


def referral_event_add(
    *,
    referral: Referral,
    kind: ReferralEvent.Kind,
    actor: User | None = None,
    unit: Unit | None = None,
) -> ReferralEvent:
    return ReferralEvent.objects.create(
        referral=referral,
        kind=kind,
        actor=actor,
        actor_name=actor.display_name if actor is not None else "",
        unit_id_then=unit.pk if unit is not None else None,
        unit_name=unit.name if unit is not None else "",
    )


def referral_mark_accepted(*, conversation: Conversation, worker: User) -> bool:
    """The referral's conversation was given to a worker for the first time: the partner's
    receipt shows when, and escalation stops. The caller holds the conversation's row lock.
    Returns whether the conversation was a referral not yet accepted."""
    referral = (
        Referral.objects.select_for_update()
        .filter(conversation_id=conversation.pk, accepted_at__isnull=True)
        .first()
    )
    if referral is None:
        return False
    referral.accepted_at = conversation.accepted_at or timezone.now()
    referral.state = Referral.State.ACCEPTED
    referral.escalate_at = None
    referral.save(update_fields=["accepted_at", "state", "escalate_at"])
    referral_event_add(
        referral=referral, kind=ReferralEvent.Kind.ACCEPTED, actor=worker, unit=conversation.unit
    )
    return True
