"""Personas for the referral tests: a pharmacy with one place and its staff member Pia, a
library with Lars, and a referral chain of two units: Våld i nära relationer (1), then the
after-hours on-call unit Socialjouren (2). Cecilia works in Våld (Vera, of tests/queue_personas.py,
supervises it), Jonas works in the on-call unit.

Use with `pytest_plugins = ["tests.referral_personas"]`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ClosedDay, PartnerOrganisation, PartnerPlace, Unit, User
from chat.models import Referral
from chat.services.referrals import ReferralForm, referral_send
from tests import factories


@pytest.fixture
def pharmacy(db) -> PartnerOrganisation:
    return PartnerOrganisation.objects.create(
        name="Apoteket Hjärtat", kind=PartnerOrganisation.Kind.PHARMACY
    )


@pytest.fixture
def pharmacy_place(pharmacy) -> PartnerPlace:
    return PartnerPlace.objects.create(
        organisation=pharmacy, name="Storgatan", address="Storgatan 1"
    )


@pytest.fixture
def library(db) -> PartnerOrganisation:
    return PartnerOrganisation.objects.create(
        name="Stadsbiblioteket", kind=PartnerOrganisation.Kind.LIBRARY
    )


@pytest.fixture
def library_place(library) -> PartnerPlace:
    return PartnerPlace.objects.create(organisation=library, name="Huvudbiblioteket")


@pytest.fixture
def pia(pharmacy, pharmacy_place) -> User:
    """Partner staff at the pharmacy."""
    return factories.make_user("pia", role=User.Role.PARTNER, partner_organisation=pharmacy)


@pytest.fixture
def lars(library, library_place) -> User:
    """Partner staff at the library."""
    return factories.make_user("lars", role=User.Role.PARTNER, partner_organisation=library)


@pytest.fixture
def chain(vald) -> tuple[Unit, Unit]:
    """Våld i nära relationer first, then the on-call unit."""
    vald.referral_order = 1
    vald.save(update_fields=["referral_order"])
    jour = factories.make_unit("Socialjouren", "socialjouren", referral_order=2)
    return vald, jour


@pytest.fixture
def jonas(chain) -> User:
    """Social worker in the on-call unit."""
    return factories.make_user("jonas", units=[chain[1]])


def close_today(unit: Unit) -> None:
    ClosedDay.objects.create(unit=unit, date=timezone.localdate())


def form(place: PartnerPlace, **fields) -> ReferralForm:
    fields.setdefault("contact", Referral.Contact.CALL_BACK)
    fields.setdefault("children", Referral.Children.YES)
    if fields["contact"] == Referral.Contact.CALL_BACK:
        fields.setdefault("phone", "070-123 45 67")
    return ReferralForm(place_id=place.pk, **fields)


def send(partner: User, place: PartnerPlace, **fields) -> Referral:
    return referral_send(partner=partner, form=form(place, **fields))


def make_due(referral: Referral) -> None:
    Referral.objects.filter(pk=referral.pk).update(
        escalate_at=timezone.now() - timedelta(seconds=1)
    )
