"""Cases (chat/services/cases.py, chat/services/queue.py): every conversation belongs to a
case on a client record, a returning client's chat joins their case, the first worker to
take a case's conversation owns it, and client records keep their identity rules."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from chat.consumers.console import console_ask_followup
from chat.errors import InvalidInput, NotAllowed, NotFound
from chat.models import Case, ClientRecord, Conversation, FollowUp
from chat.parsing import session_id
from chat.selectors import case_get_for_staff, case_get_returning
from chat.services.cases import case_close, case_open_for_new_conversation
from chat.services.conversations import conversation_start
from tests import factories
from tests.case_personas import ended_meeting

pytest_plugins = ["tests.case_personas"]

pytestmark = pytest.mark.django_db


def start_on(case, unit, body="Jag är tillbaka."):
    return conversation_start(
        unit_id=unit.pk,
        token=factories.new_token(),
        body=body,
        client_id=factories.new_client_id(),
        case=case,
    )


def test_it_gives_every_conversation_a_case_on_an_anonymous_client_record(ekonomi):
    conversation, _token = factories.start_conversation(ekonomi)

    case = conversation.case
    assert case is not None
    assert case.unit == ekonomi
    assert case.status == Case.Status.OPEN
    assert case.owner is None
    assert case.code_hash is None  # no code until the client asks for one
    assert case.client.is_identified is False
    assert (case.client.issuer, case.client.subject) == ("", "")


def test_it_gives_each_new_client_a_case_and_a_client_record_of_their_own(ekonomi):
    first, _ = factories.start_conversation(ekonomi)
    second, _ = factories.start_conversation(ekonomi)

    assert first.case_id != second.case_id
    assert first.case.client_id != second.case.client_id


def test_it_puts_a_returning_clients_new_conversation_on_the_same_case(ekonomi, anna):
    earlier, _token = ended_meeting(ekonomi, anna)

    again, created = start_on(earlier.case, ekonomi)

    assert created
    assert again.pk != earlier.pk
    assert again.case_id == earlier.case_id
    assert Case.objects.count() == 1
    assert ClientRecord.objects.count() == 1
    assert list(earlier.case.conversations.order_by("pk")) == [earlier, again]


def test_it_reopens_a_closed_case_when_its_client_comes_back(ekonomi, anna):
    earlier, _token = ended_meeting(ekonomi, anna)
    case_close(case=earlier.case, actor=anna)
    earlier.case.refresh_from_db()
    assert earlier.case.status == Case.Status.CLOSED
    assert earlier.case.closed_at is not None

    again, _created = start_on(earlier.case, ekonomi)

    again.case.refresh_from_db()
    assert again.case.status == Case.Status.OPEN
    assert again.case.closed_at is None


def test_it_refuses_a_returning_case_of_another_unit(ekonomi, vald, anna):
    earlier, _token = ended_meeting(ekonomi, anna)

    with pytest.raises(InvalidInput):
        start_on(earlier.case, vald)
    with pytest.raises(InvalidInput):
        case_open_for_new_conversation(unit=vald, case=earlier.case)

    assert Conversation.objects.count() == 1
    assert Case.objects.count() == 1


def test_it_makes_the_first_worker_to_accept_the_case_owner(ekonomi, anna, bengt):
    first, _token = factories.start_conversation(ekonomi)
    assert first.case.owner is None

    factories.accept(anna, first)
    first.case.refresh_from_db()
    assert first.case.owner == anna

    second, _created = start_on(first.case, ekonomi)
    factories.accept(bengt, second)

    second.case.refresh_from_db()
    assert second.case.owner == anna  # the first stays the owner


@pytest.mark.parametrize(
    "issuer,subject",
    [("https://idp.example.se", ""), ("", "199001011234")],
    ids=["issuer-without-subject", "subject-without-issuer"],
)
def test_it_keeps_a_client_record_either_anonymous_or_with_issuer_and_subject(issuer, subject):
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientRecord.objects.create(issuer=issuer, subject=subject)

    assert not ClientRecord.objects.exists()


def test_it_keeps_an_identified_client_record_with_both_issuer_and_subject():
    record = ClientRecord.objects.create(issuer="https://idp.example.se", subject="199001011234")

    assert record.is_identified
    assert str(record) == "identified client"


def test_it_keeps_identities_unique_and_lets_anonymous_records_be_many():
    ClientRecord.objects.create(issuer="https://idp.example.se", subject="199001011234")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientRecord.objects.create(issuer="https://idp.example.se", subject="199001011234")

    # The same subject at another issuer is another person; anonymous records never clash.
    ClientRecord.objects.create(issuer="https://other-idp.example.se", subject="199001011234")
    ClientRecord.objects.create()
    ClientRecord.objects.create()

    assert ClientRecord.objects.count() == 4


def test_staff_of_the_unit_reach_the_case_and_nobody_else_does(
    ekonomi, anna, bengt, cecilia, sara, pelle, ivar
):
    conversation, _token = factories.start_conversation(ekonomi)
    case = conversation.case

    for reader in (anna, bengt, sara):
        assert case_get_for_staff(user=reader, case_id=case.pk) == case
    for stranger in (cecilia, pelle, ivar):
        with pytest.raises(NotFound):
            case_get_for_staff(user=stranger, case_id=case.pk)
    with pytest.raises(NotFound):
        case_get_for_staff(user=anna, case_id=case.pk + 1000)


def test_a_console_frame_reaches_a_case_only_by_its_id(ekonomi, anna):
    """What is not an id stops where the console reads the frame: not found, as for an
    unknown id."""
    conversation, _token = factories.start_conversation(ekonomi)
    case = conversation.case

    for bad_id in (case.pk + 1000, str(case.pk), True, None):
        with pytest.raises(NotFound):
            console_ask_followup(anna, {"case": bad_id, "body": "Hur går det?"})
    assert not FollowUp.objects.exists()


def test_only_staff_of_the_unit_close_a_case(ekonomi, bengt, cecilia):
    conversation, _token = factories.start_conversation(ekonomi)
    case = conversation.case

    with pytest.raises(NotAllowed):
        case_close(case=case, actor=cecilia)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN

    case_close(case=case, actor=bengt)
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED


@pytest.mark.parametrize("case_id", [None, "1", True, 1.0, [1], 0, -1], ids=repr)
def test_a_returning_case_is_only_ever_found_by_a_whole_number(ekonomi, case_id):
    """The session's value is read with chat.parsing.session_id, where the pages and the
    client's socket read it."""
    conversation, _token = factories.start_conversation(ekonomi)

    assert case_get_returning(case_id=session_id(case_id)) is None
    assert case_get_returning(case_id=session_id(conversation.case_id)) == conversation.case
