"""Referrals from partner staff: the referral chain, receipts, what the console is told, and
the statistics hooks (referrals per partner and month, time from referral to acceptance)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import PartnerPlace, Unit, User
from chat.models import Referral
from chat.permissions import require
from chat.selectors.units import unit_is_open


def referral_chain() -> list[Unit]:
    """The units that take referrals, in the order they are tried."""
    return list(
        Unit.objects.filter(referral_order__isnull=False, is_active=True).order_by(
            "referral_order", "pk"
        )
    )


def referral_unit_open_now(*, after: Unit | None = None, at: datetime | None = None) -> Unit | None:
    """The first unit of the chain open at `at` (now); with `after`, the first one after
    that unit in the chain (the next step of an escalation)."""
    chain = referral_chain()
    if after is not None:
        ids = [unit.pk for unit in chain]
        chain = chain[ids.index(after.pk) + 1 :] if after.pk in ids else []
    return next((unit for unit in chain if unit_is_open(unit=unit, at=at)), None)


def partner_place_list(*, partner: User) -> QuerySet[PartnerPlace]:
    """The active places of the partner's organisation, where a referral can come from."""
    return PartnerPlace.objects.filter(
        organisation_id=partner.partner_organisation_id,
        organisation__is_active=True,
        is_active=True,
    ).order_by("name")


def unit_get_for_poster(*, user: User, unit_id: int) -> Unit:
    """An active unit of the staff member's, for its poster; NotFound otherwise."""
    return require(
        user,
        "chat.print_unit_poster",
        Unit.objects.filter(pk=unit_id, is_active=True).first(),
        hide=True,
    )


def partner_place_get_for_poster(*, partner: User, place_id: int) -> PartnerPlace:
    """An active place of the partner's organisation, for its poster; NotFound otherwise."""
    return require(
        partner,
        "chat.print_place_poster",
        PartnerPlace.objects.filter(pk=place_id, is_active=True).first(),
        hide=True,
    )


def referral_get_receipt(*, partner: User, referral_id: int) -> Referral:
    """A referral of the partner's organisation, for its receipt; NotFound otherwise."""
    return require(
        partner,
        "chat.view_referral_receipt",
        Referral.objects.filter(pk=referral_id).select_related("place").first(),
        hide=True,
    )


@dataclass(frozen=True)
class Receipt:
    """All a partner ever sees of a referral after sending it: when, and whether a social
    worker has it. Never the unit, the worker, or anything said."""

    referral_id: int
    sent_at: datetime
    received_at: datetime | None
    no_unit_open: bool
    chat_now: bool
    chat_opened: bool


def referral_receipt(*, referral: Referral) -> Receipt:
    return Receipt(
        referral_id=referral.pk,
        sent_at=referral.created_at,
        received_at=referral.accepted_at,
        no_unit_open=referral.state == Referral.State.NO_UNIT_OPEN,
        chat_now=referral.contact == Referral.Contact.CHAT_NOW,
        chat_opened=referral.chat_opened_at is not None,
    )


def referral_list_recent(*, partner: User, limit: int = 5) -> list[Receipt]:
    """The receipts of the partner's own referrals today, newest first."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = Referral.objects.filter(partner=partner, created_at__gte=today).order_by(
        "-created_at", "-pk"
    )[:limit]
    return [referral_receipt(referral=row) for row in rows]


def referral_summary(*, referral: Referral) -> str:
    """The referral as the worker reads it in the conversation (a private note). It is
    stored, and read by the unit's staff, so it is written in the units' working language
    (LANGUAGE_CODE), whatever language the partner's page was in."""
    with translation.override(settings.LANGUAGE_CODE):
        return _referral_summary(referral)


def _referral_summary(referral: Referral) -> str:
    place = referral.place
    lines = [
        _("Urgent referral: the code word was used at %(place)s (%(organisation)s).")
        % {"place": place.name, "organisation": place.organisation.name},
        _("Contact: %(contact)s") % {"contact": referral.get_contact_display()},
    ]
    if referral.phone:
        lines.append(_("Phone: %(phone)s") % {"phone": referral.phone})
    if referral.safe_time:
        lines.append(_("Safe time to call: %(time)s") % {"time": referral.safe_time})
    lines.append(_("Children involved: %(answer)s") % {"answer": referral.get_children_display()})
    if referral.language:
        lines.append(_("Language: %(language)s") % {"language": referral.language})
    if referral.interpreter:
        lines.append(_("An interpreter is needed."))
    if referral.note:
        lines.append(_("Note from partner staff: %(note)s") % {"note": referral.note})
    return "\n".join(lines)


def referral_alert_payload(*, referral: Referral) -> dict[str, object]:
    """What the console's alert shows of a new referral: where from and how to reach the
    person, no names."""
    place = referral.place
    return {
        "id": referral.pk,
        "place": place.name,
        "organisation": place.organisation.name,
        "contact": referral.contact,
        "children": referral.children,
        "interpreter": referral.interpreter,
        "created_at": referral.created_at.isoformat(),
    }


def referral_list_due(*, at: datetime | None = None) -> list[int]:
    """Referrals not yet accepted whose next escalation step has come."""
    return list(
        Referral.objects.filter(
            state=Referral.State.SENT,
            accepted_at__isnull=True,
            escalate_at__lte=at or timezone.now(),
        )
        .order_by("escalate_at", "pk")
        .values_list("pk", flat=True)
    )


# --- statistics hooks ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReferralMonth:
    organisation_id: int
    organisation: str
    month: datetime  # the first moment of the month, Stockholm time
    referrals: int
    accepted: int
    no_unit_open: int


def referral_counts_by_partner_month(
    *, since: datetime | None = None, until: datetime | None = None
) -> list[ReferralMonth]:
    """Referrals per partner organisation and calendar month (Stockholm time), with how
    many a social worker accepted and how many found no unit open."""
    rows = Referral.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    grouped = (
        rows.annotate(
            month=TruncMonth("created_at", tzinfo=timezone.get_current_timezone()),
            organisation_id=F("place__organisation_id"),
            organisation=F("place__organisation__name"),
        )
        .values("organisation_id", "organisation", "month")
        .annotate(
            referrals=Count("pk"),
            accepted=Count("pk", filter=Q(accepted_at__isnull=False)),
            no_unit_open=Count("pk", filter=Q(state=Referral.State.NO_UNIT_OPEN)),
        )
        .order_by("month", "organisation")
    )
    return [ReferralMonth(**row) for row in grouped]


def referral_acceptance_seconds(
    *, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[int, float]]:
    """(referral id, seconds from sending to a social worker accepting it) for every
    accepted referral, oldest first: the raw series for medians and percentiles."""
    rows = Referral.objects.filter(accepted_at__isnull=False)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return [
        (pk, (accepted - created).total_seconds())
        for pk, created, accepted in rows.order_by("created_at", "pk").values_list(
            "pk", "created_at", "accepted_at"
        )
        if accepted is not None  # the filter above; for the type checker
    ]
