""" "Took part" in the read-access log means any part: assigned, handed the conversation
over or took it over, was invited, or ended it; for a case, any part in any of its
conversations or follow-ups. Only reads by everyone else stand out on the review page."""

from __future__ import annotations

import uuid

import pytest

from chat.models import AccessLog
from chat.services.access import case_read, conversation_read_messages
from chat.services.conversations import conversation_end
from chat.services.handover import handover_accept
from chat.services.participants import participant_invite
from tests.handover_personas import active_conversation, fresh, hand_over

pytestmark = pytest.mark.django_db


def took_part_reading(user, conversation) -> bool:
    conversation_read_messages(
        actor=user, conversation_id=conversation.pk, after=0, request_id=uuid.uuid4()
    )
    return AccessLog.objects.filter(actor=user).latest("pk").took_part


def took_part_opening_case(user, conversation) -> bool:
    case_read(actor=user, case_id=conversation.case_id, request_id=uuid.uuid4())
    return (
        AccessLog.objects.filter(actor=user, action=AccessLog.Action.READ_CASE)
        .latest("pk")
        .took_part
    )


@pytest.fixture
def talk(ekonomi, anna):
    conversation, _token = active_conversation(ekonomi, anna)
    return conversation


def test_the_assigned_worker_took_part(talk, anna):
    assert took_part_reading(anna, talk) is True
    assert took_part_opening_case(anna, talk) is True


def test_a_colleague_who_took_it_over_by_handover_and_ended_it_took_part(talk, anna, bengt):
    """The case stays Anna's (she took it first); Bengt took the meeting over and ended it."""
    offer = hand_over(talk, anna, to_worker=bengt)
    handover_accept(handover=offer, actor=bengt)
    conversation_end(conversation=fresh(talk), actor=bengt)

    assert took_part_reading(bengt, talk) is True
    assert took_part_opening_case(bengt, talk) is True


def test_the_worker_who_handed_it_over_still_took_part(talk, anna, bengt):
    offer = hand_over(talk, anna, to_worker=bengt)
    handover_accept(handover=offer, actor=bengt)

    assert fresh(talk).worker_id == bengt.pk
    assert took_part_reading(anna, talk) is True


def test_an_invited_colleague_took_part(talk, anna, bengt):
    participant_invite(conversation=talk, actor=anna, user_id=bengt.pk)

    assert took_part_reading(bengt, talk) is True


def test_a_colleague_who_only_reads_did_not_take_part(talk, bengt):
    assert took_part_reading(bengt, talk) is False
    assert took_part_opening_case(bengt, talk) is False


def test_a_colleague_offered_the_conversation_who_declined_did_not_take_part(talk, anna, bengt):
    from chat.services.handover import handover_decline

    offer = hand_over(talk, anna, to_worker=bengt)
    handover_decline(handover=offer, actor=bengt, reason="Har möte")

    assert took_part_reading(bengt, talk) is False


def test_a_supervisor_who_reads_did_not_take_part(talk, sara):
    assert took_part_reading(sara, talk) is False
