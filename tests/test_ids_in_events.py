"""Events name staff by id (and a name for showing): the browser compares ids, so two
colleagues with the same name are never taken for each other. Clients and interpreters
get neither the ids nor the names of staff."""

from __future__ import annotations

import pytest

from chat import realtime
from chat.services.participants import participant_invite
from tests import factories
from tests.handover_personas import active_conversation, hand_over, note, staff_says
from tests.security_personas import keys_anywhere

pytestmark = pytest.mark.django_db


@pytest.fixture
def namesake(ekonomi, anna):
    return factories.make_user(
        "anna2", units=[ekonomi], first_name=anna.first_name, last_name=anna.last_name
    )


def test_messages_notes_handovers_and_participants_carry_the_staff_members_id(
    ekonomi, anna, namesake
):
    talk, _token = active_conversation(ekonomi, anna)
    said = staff_says(talk, anna, "Hej")
    written, _created = note(talk, anna, "Anteckning")
    seat = participant_invite(conversation=talk, actor=anna, user_id=namesake.pk)
    offer = hand_over(talk, anna, to_worker=namesake)

    assert anna.display_name == namesake.display_name
    assert realtime.message_payload(said)["author_id"] == anna.pk
    assert realtime.note_payload(written)["author_id"] == anna.pk
    payload = realtime.handover_payload(offer)
    assert (payload["from_id"], payload["to_id"]) == (anna.pk, namesake.pk)
    assert realtime.participant_payload(seat)["user"] == namesake.pk


def test_a_client_never_gets_a_staff_members_id_or_name(ekonomi, anna):
    talk, _token = active_conversation(ekonomi, anna)
    said = staff_says(talk, anna, "Hej")

    for event in (
        realtime.message_event(said),
        realtime.sync_event(talk, [said]),
    ):
        seen = realtime.for_client(event)
        assert not {"author", "author_id"} & keys_anywhere(seen)
