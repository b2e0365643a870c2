"""Urgent referrals from partner staff: routing along the chain, the receipt, escalation,
the audit trail and the statistics hooks (chat/services/referrals.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from accounts.models import User
from chat import selectors
from chat.errors import InvalidInput, NotAllowed, NotFound
from chat.models import Conversation, Message, PrivateNote, Referral, ReferralEvent
from chat.services.conversations import conversation_accept, conversation_start
from chat.services.timed import conversation_abandon_silent, timed_sweep
from tests import factories
from tests.referral_personas import close_today, form, make_due, send

pytest_plugins = ["tests.referral_personas"]
pytestmark = pytest.mark.django_db


def kinds(referral: Referral) -> list[str]:
    return list(referral.events.values_list("kind", flat=True))


def test_a_referral_becomes_an_urgent_conversation_first_in_the_open_units_queue(
    pia, pharmacy_place, chain
):
    vald, _jour = chain
    earlier, _ = factories.start_conversation(vald, "Jag har väntat länge.")
    referral = send(pia, pharmacy_place)
    conversation = referral.conversation
    assert referral.state == Referral.State.SENT
    assert conversation.unit == vald and conversation.priority == Conversation.Priority.URGENT
    assert conversation.case.unit == vald and conversation.case != earlier.case
    waiting = list(selectors.conversation_list_waiting(unit_ids=[vald.pk]))
    assert waiting == [conversation, earlier]
    assert kinds(referral) == ["sent", "routed"]


def test_the_worker_reads_what_the_partner_told_the_client_does_not(pia, pharmacy_place, chain):
    referral = send(
        pia, pharmacy_place, note="Mannen väntar utanför.", language="arabiska", interpreter=True
    )
    note = PrivateNote.objects.get(conversation=referral.conversation)
    assert "Storgatan" in note.body and "070-123 45 67" in note.body
    assert "Mannen väntar utanför." in note.body and "arabiska" in note.body
    # The only message, which a client on the partner's device would see, says nothing of it.
    messages = list(Message.objects.filter(conversation=referral.conversation))
    assert [(m.sender, m.event, m.body) for m in messages] == [("system", "referred", "")]


def test_the_partners_note_is_in_the_units_language_whatever_the_partners_page_was_in(
    pia, pharmacy_place, chain
):
    with translation.override("en"):  # the partner's page in English
        referral = send(pia, pharmacy_place)
    body = PrivateNote.objects.get(conversation=referral.conversation).body
    with translation.override("sv"):
        assert (
            translation.gettext("Contact: %(contact)s")
            % {"contact": referral.get_contact_display()}
            in body.splitlines()
        )
    assert "Contact:" not in body


def test_it_falls_back_along_the_chain_when_the_first_unit_is_closed(pia, pharmacy_place, chain):
    vald, jour = chain
    close_today(vald)
    referral = send(pia, pharmacy_place)
    assert referral.conversation.unit == jour
    assert referral.events.get(kind="routed").unit_name == "Socialjouren"


def test_with_no_unit_open_the_partner_is_told_at_once_and_nothing_waits(
    pia, pharmacy_place, chain
):
    for unit in chain:
        close_today(unit)
    referral = send(pia, pharmacy_place)
    assert referral.state == Referral.State.NO_UNIT_OPEN and referral.conversation is None
    assert selectors.referral_receipt(referral=referral).no_unit_open
    assert kinds(referral) == ["sent", "no_unit_open"]
    assert not Conversation.objects.exists()


def test_units_outside_the_chain_never_get_referrals(pia, pharmacy_place, ekonomi, vald):
    referral = send(pia, pharmacy_place)
    assert referral.state == Referral.State.NO_UNIT_OPEN


def test_a_call_back_needs_a_number_and_bad_input_stores_nothing(pia, pharmacy_place, chain):
    with pytest.raises(InvalidInput) as missing:
        send(pia, pharmacy_place, phone="")
    assert missing.value.code == "phone_required"
    with pytest.raises(InvalidInput) as bad:
        send(pia, pharmacy_place, phone="ring mig")
    assert bad.value.code == "phone_invalid"
    with pytest.raises(InvalidInput):
        send(pia, pharmacy_place, note="x" * 301)
    assert not Referral.objects.exists() and not Conversation.objects.exists()


def test_only_partner_staff_refer_and_only_from_their_own_places(
    pia, lars, library_place, pharmacy_place, chain, cecilia
):
    with pytest.raises(NotFound):
        send(pia, library_place)
    with pytest.raises(NotAllowed):
        send(cecilia, pharmacy_place)
    orphan = factories.make_user("utan", role=User.Role.PARTNER)
    with pytest.raises(NotAllowed):
        send(orphan, pharmacy_place)
    pia.is_active = False
    pia.save()
    with pytest.raises(NotAllowed):
        send(pia, pharmacy_place)
    assert not Referral.objects.exists()


def test_accepting_gives_the_partner_the_time_received_and_stops_escalation(
    pia, pharmacy_place, chain, cecilia
):
    referral = send(pia, pharmacy_place)
    receipt = selectors.referral_receipt(referral=referral)
    assert receipt.received_at is None
    conversation_accept(worker=cecilia)
    referral.refresh_from_db()
    assert referral.state == Referral.State.ACCEPTED and referral.accepted_at is not None
    assert selectors.referral_receipt(referral=referral).received_at == referral.accepted_at
    accepted = referral.events.get(kind="accepted")
    assert accepted.actor == cecilia and accepted.unit_name == "Våld i nära relationer"
    make_due(referral)
    timed_sweep()
    referral.refresh_from_db()
    assert referral.escalation_step == 0


def test_the_receipt_is_for_the_partners_own_organisation_only(
    pia, lars, pharmacy_place, chain, cecilia
):
    referral = send(pia, pharmacy_place)
    assert selectors.referral_get_receipt(partner=pia, referral_id=referral.pk) == referral
    for stranger in (lars, cecilia):
        with pytest.raises(NotFound):
            selectors.referral_get_receipt(partner=stranger, referral_id=referral.pk)


def test_an_unaccepted_referral_goes_to_the_supervisors_and_then_along_the_chain(
    pia, pharmacy_place, chain, published, django_capture_on_commit_callbacks
):
    vald, jour = chain
    referral = send(pia, pharmacy_place)
    timed_sweep()  # not due yet
    assert Referral.objects.get(pk=referral.pk).escalation_step == 0

    make_due(referral)
    with django_capture_on_commit_callbacks(execute=True):
        timed_sweep()
    referral.refresh_from_db()
    assert referral.escalation_step == 1 and referral.escalate_at > timezone.now()
    escalated = [e for g, e in published if e["type"] == "referral.escalated"]
    assert [(g, e["conversation"]) for g, e in published if e["type"] == "referral.escalated"] == [
        (f"unit.{vald.pk}.supervisors", referral.conversation_id)
    ]
    assert escalated[0]["referral"]["place"] == "Storgatan"

    published.clear()
    make_due(referral)
    with django_capture_on_commit_callbacks(execute=True):
        timed_sweep()
    referral.refresh_from_db()
    conversation = referral.conversation
    assert conversation.unit == jour and conversation.case.unit == jour
    assert conversation.priority == Conversation.Priority.URGENT
    assert referral.unit == jour
    assert [g for g, e in published if e["type"] == "referral.received"] == [
        f"unit.{jour.pk}.staff"
    ]
    assert kinds(referral) == ["sent", "routed", "escalated_supervisors", "escalated_unit"]

    # Jour's supervisors next; then the chain has ended: it stays, its supervisors told again.
    for _step in range(3):
        make_due(referral)
        timed_sweep()
    referral.refresh_from_db()
    assert referral.conversation.unit == jour
    assert kinds(referral).count("end_of_chain") == 1


def test_a_waiting_referral_is_not_given_up_when_the_persons_tab_is_silent(
    pia, pharmacy_place, chain, settings
):
    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    Conversation.objects.filter(pk=referral.conversation_id).update(
        client_seen_at=timezone.now() - timedelta(hours=1)
    )
    assert conversation_abandon_silent() == 0


def test_statistics_count_referrals_per_partner_and_month_and_time_to_acceptance(
    pia, lars, pharmacy_place, library_place, chain, cecilia
):
    first = send(pia, pharmacy_place)
    send(pia, pharmacy_place)
    send(lars, library_place)
    conversation_accept(worker=cecilia, conversation_id=first.conversation_id)
    months = selectors.referral_counts_by_partner_month()
    counted = {(m.organisation, m.referrals, m.accepted) for m in months}
    assert counted == {("Apoteket Hjärtat", 2, 1), ("Stadsbiblioteket", 1, 0)}
    assert {m.month.day for m in months} == {1}
    series = selectors.referral_acceptance_seconds()
    assert [pk for pk, _ in series] == [first.pk] and series[0][1] >= 0


def test_the_audit_trail_rows_are_written_with_the_change(pia, pharmacy_place, chain):
    referral = send(pia, pharmacy_place)
    sent = referral.events.get(kind=ReferralEvent.Kind.SENT)
    assert sent.actor == pia and sent.actor_name == "Pia"
    assert form(pharmacy_place).place_id == pharmacy_place.pk


def test_chat_now_carries_the_persons_language_into_the_conversation_as_a_start_does(
    pia, pharmacy_place, chain
):
    from chat.services.referrals import referral_open_chat

    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    with pytest.raises(InvalidInput):  # the client start's rule: a client language or none
        referral_open_chat(
            partner=pia, referral_id=referral.pk, token=factories.new_token(), language="xx"
        )
    referral.refresh_from_db()
    assert referral.chat_opened_at is None and referral.conversation.language == ""
    referral_open_chat(
        partner=pia, referral_id=referral.pk, token=factories.new_token(), language="ar"
    )
    conversation = Conversation.objects.get(pk=referral.conversation_id)
    assert conversation.language == "ar"
    # The same value a client's own start stores for a page in Arabic.
    started, _ = conversation_start(
        unit_id=conversation.unit_id,
        token=factories.new_token(),
        body="Hej",
        client_id=uuid.uuid4(),
        language="ar",
    )
    assert started.language == conversation.language


def test_chat_now_without_a_language_leaves_it_unknown(pia, pharmacy_place, chain):
    from chat.services.referrals import referral_open_chat

    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    referral_open_chat(partner=pia, referral_id=referral.pk, token=factories.new_token())
    assert Conversation.objects.get(pk=referral.conversation_id).language == ""
