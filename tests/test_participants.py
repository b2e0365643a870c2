"""chat/services/participants.py: the conversation's worker invites a colleague (any unit)
or an interpreter; whoever joins reads only from their joining on, writes with their own
sender, and leaves or is removed; an external interpreter's link works once."""

import pytest

from chat import realtime, selectors
from chat.consumers.console import console_invite, console_remove
from chat.consumers.interpreter import join_frame
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Conversation, Message, Participant
from chat.services.conversations import conversation_accept, conversation_end
from chat.services.handover import conversation_hand_over
from chat.services.messages import message_post
from chat.services.participants import (
    participant_invite,
    participant_invite_link,
    participant_join_by_link,
    participant_leave,
)
from tests import factories
from tests.handover_personas import (
    active_conversation,
    client_says,
    fresh,
    read,
    sent_to,
    staff_says,
    tove_fixture,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def talk(ekonomi, anna):
    """Anna's conversation with a history a newcomer must not read: seqs 1-4."""
    conversation, _token = active_conversation(ekonomi, anna, "Han slår mig när han dricker.")
    staff_says(conversation, anna, "Är du i säkerhet nu?")
    client_says(conversation, "Ja, hos min syster.")
    return fresh(conversation)


def invite(conversation, actor, user):
    return participant_invite(conversation=conversation, actor=actor, user_id=user.pk)


def join(invitation, token=None):
    return participant_join_by_link(invitation=invitation, token=token or factories.new_token())


def interpreter_says(seat, body="Tolken översätter."):
    message, _created = message_post(
        conversation_id=seat.conversation_id,
        author=None,
        participant=seat,
        body=body,
        client_id=factories.new_client_id(),
    )
    return message


# --- a colleague of another unit ------------------------------------------------------------
def test_it_lets_an_invited_colleague_of_another_unit_read_only_from_joining_on(
    talk, anna, cecilia
):
    seat = invite(talk, anna, cecilia)

    assert (seat.role, seat.user, seat.invited_by) == ("colleague", cecilia, anna)
    assert seat.visible_from_seq == 4
    assert seat.is_present
    assert read(cecilia, talk) == (4, [5])  # participant_joined
    staff_says(talk, anna, "Cecilia från Våld är med nu.")
    assert read(cecilia, talk) == (4, [5, 6])


def test_it_tells_everyone_someone_joined_and_the_colleague_follows_the_conversation(
    talk, anna, cecilia, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(talk, anna, cecilia)

    joined = Message.objects.get(conversation=talk, seq=5)
    assert (joined.sender, joined.event, joined.body) == (
        "system",
        "participant_joined",
        "colleague",
    )
    assert joined.author is None
    assigned = sent_to(published, realtime.worker_group(cecilia.pk))
    assert [event["type"] for event in assigned] == ["conversation.assigned"]
    assert assigned[0]["conversation"] == talk.pk
    assert list(selectors.conversation_list_open_for(user=cecilia)) == [talk]


def test_it_lets_an_invited_colleague_write_as_a_worker(talk, anna, cecilia):
    invite(talk, anna, cecilia)

    message = staff_says(talk, cecilia, "Hej, jag heter Cecilia.")

    assert (message.sender, message.author) == (Message.Sender.WORKER, cecilia)


def test_it_keeps_the_conversation_its_workers(talk, anna, cecilia):
    invite(talk, anna, cecilia)

    assert fresh(talk).worker == anna
    with pytest.raises(NotAllowed):
        invite(talk, cecilia, factories.make_user("olle", units=[cecilia.units.first()]))


def test_it_leaves_handover_and_ending_to_the_worker_not_the_invited(talk, anna, cecilia, bengt):
    invite(talk, anna, cecilia)

    with pytest.raises(NotAllowed):
        conversation_hand_over(
            conversation=talk, actor=cecilia, note="Tar över", to_worker_id=bengt.pk
        )
    with pytest.raises(NotAllowed):
        conversation_end(conversation=talk, actor=cecilia)
    assert fresh(talk).state == Conversation.State.ACTIVE


def test_it_refuses_to_invite_someone_already_present(talk, anna, cecilia):
    invite(talk, anna, cecilia)

    with pytest.raises(Conflict) as refused:
        invite(talk, anna, cecilia)

    assert refused.value.code == "already_present"
    assert Participant.objects.filter(conversation=talk).count() == 1


def test_it_lets_a_colleague_who_left_be_invited_again(talk, anna, cecilia):
    participant_leave(participant=invite(talk, anna, cecilia), actor=cecilia)
    staff_says(talk, anna, "Medan Cecilia var borta.")

    again = invite(talk, anna, cecilia)

    assert again.visible_from_seq == fresh(talk).last_seq - 1
    from_seq, seqs = read(cecilia, talk)
    assert from_seq == again.visible_from_seq
    assert seqs == [from_seq + 1]


@pytest.mark.parametrize("persona", ["bengt", "sara", "cecilia"])
def test_it_lets_only_the_assigned_worker_invite(talk, persona, request, tove):
    with pytest.raises(NotAllowed):
        invite(talk, request.getfixturevalue(persona), tove)
    assert not Participant.objects.exists()


@pytest.mark.parametrize("persona", ["anna", "pelle"])
def test_it_refuses_to_invite_oneself_or_partner_staff(talk, anna, persona, request):
    with pytest.raises(NotFound):
        invite(talk, anna, request.getfixturevalue(persona))


def test_it_refuses_an_invitation_that_is_not_a_user_id(talk, anna):
    """Refused where the console reads the frame: the service takes an id."""
    for value in ("3", None, True, 2.0):
        with pytest.raises(InvalidInput, match="`user`"):
            console_invite(anna, {"conversation": talk.pk, "user": value})
    assert not Participant.objects.exists()


def test_it_takes_no_participants_in_a_conversation_that_is_not_active(ekonomi, anna, cecilia):
    conversation, _token = active_conversation(ekonomi, anna)
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.ENDED)

    with pytest.raises(Conflict):
        invite(conversation, anna, cecilia)
    with pytest.raises(Conflict):
        participant_invite_link(conversation=conversation, actor=anna)


# --- an interpreter with an account ---------------------------------------------------------
def test_it_lets_an_invited_interpreter_read_only_from_joining_on(talk, anna, tove):
    seat = invite(talk, anna, tove)

    assert seat.role == Participant.Role.INTERPRETER
    assert Message.objects.get(conversation=talk, seq=5).body == "interpreter"
    assert read(tove, talk) == (4, [5])


def test_it_lets_an_interpreter_write_as_the_interpreter(talk, anna, tove):
    invite(talk, anna, tove)

    message = staff_says(talk, tove, "Jag tolkar: hon är hos sin syster.")

    assert message.sender == Message.Sender.INTERPRETER
    assert selectors.participant_present_for(user=tove).conversation == talk


def test_it_shows_an_interpreter_no_other_conversation(talk, anna, tove, ekonomi):
    invite(talk, anna, tove)
    other, _token = active_conversation(ekonomi, anna)

    with pytest.raises(NotFound):
        read(tove, other)


# --- an external interpreter by link --------------------------------------------------------
def test_it_seats_an_external_interpreter_once_by_the_link(talk, anna):
    invitation = participant_invite_link(conversation=talk, actor=anna)
    seat = Participant.objects.get(conversation=talk)
    assert (seat.user, seat.role, seat.is_present) == (None, "interpreter", False)
    assert invitation not in (seat.invitation_hash or "")
    staff_says(talk, anna, "Tolken är på väg.")

    token = factories.new_token()
    joined = join(invitation, token)

    assert joined.pk == seat.pk
    assert joined.is_present
    assert joined.visible_from_seq == 5
    assert Message.objects.get(conversation=talk, seq=6).event == "participant_joined"
    assert selectors.participant_get_by_token(token=token) == joined


def test_it_answers_the_same_seat_when_the_same_tab_joins_again(talk, anna):
    invitation = participant_invite_link(conversation=talk, actor=anna)
    token = factories.new_token()
    first = join(invitation, token)
    count = Message.objects.filter(conversation=talk).count()

    again = join(invitation, token)

    assert again.pk == first.pk
    assert Message.objects.filter(conversation=talk).count() == count


def test_it_refuses_the_link_to_a_second_tab(talk, anna):
    invitation = participant_invite_link(conversation=talk, actor=anna)
    join(invitation)

    with pytest.raises(NotFound):
        join(invitation, factories.new_token())


def test_it_refuses_an_unknown_link_or_a_malformed_token(talk, anna):
    invitation = participant_invite_link(conversation=talk, actor=anna)

    with pytest.raises(NotFound):
        join("not-the-invitation")
    with pytest.raises(NotFound):
        join("")
    for token in ("short", "x" * 44):
        with pytest.raises(InvalidInput):
            participant_join_by_link(invitation=invitation, token=token)
    assert not Participant.objects.get(conversation=talk).is_present


def test_a_join_frame_that_is_not_text_is_refused_where_it_is_read(talk, anna):
    """The interpreter's socket reads the frame (chat/consumers/interpreter.py): a token that
    is not text is invalid, an invitation that is not text is not found, as before."""
    invitation = participant_invite_link(conversation=talk, actor=anna)
    token = factories.new_token()

    with pytest.raises(NotFound):
        join_frame({"invitation": None, "token": token})
    with pytest.raises(NotFound):
        join_frame({"invitation": 42, "token": token})
    for bad in (None, 42, [token]):
        with pytest.raises(InvalidInput, match="`token`"):
            join_frame({"invitation": invitation, "token": bad})
    assert join_frame({"invitation": invitation, "token": token}) == (invitation, token)
    assert not Participant.objects.get(conversation=talk).is_present


def test_it_voids_a_link_the_worker_withdrew_before_it_was_used(talk, anna):
    invitation = participant_invite_link(conversation=talk, actor=anna)
    count = Message.objects.filter(conversation=talk).count()
    participant_leave(participant=Participant.objects.get(conversation=talk), actor=anna)

    with pytest.raises(NotFound):
        join(invitation)
    assert Message.objects.filter(conversation=talk).count() == count


def test_it_refuses_the_link_after_the_conversation_ended(talk, anna):
    invitation = participant_invite_link(conversation=talk, actor=anna)
    Conversation.objects.filter(pk=talk.pk).update(state=Conversation.State.ENDED)

    with pytest.raises(Conflict):
        join(invitation)


def test_it_lets_only_the_assigned_worker_make_a_link(talk, bengt, sara):
    for actor in (bengt, sara):
        with pytest.raises(NotAllowed):
            participant_invite_link(conversation=talk, actor=actor)


def test_it_lets_an_external_interpreter_write_with_sender_interpreter(talk, anna):
    seat = join(participant_invite_link(conversation=talk, actor=anna))

    message = interpreter_says(seat, "Hon säger att hon är trygg.")

    assert (message.sender, message.author) == (Message.Sender.INTERPRETER, None)
    assert message.seq == fresh(talk).last_seq


def test_it_refuses_a_seat_that_has_not_joined_yet(talk, anna):
    participant_invite_link(conversation=talk, actor=anna)
    seat = Participant.objects.get(conversation=talk)

    with pytest.raises(NotAllowed):
        interpreter_says(seat)


# --- leaving and removal --------------------------------------------------------------------
def test_it_lets_an_external_interpreter_leave(
    talk, anna, published, django_capture_on_commit_callbacks
):
    token = factories.new_token()
    seat = join(participant_invite_link(conversation=talk, actor=anna), token)

    with django_capture_on_commit_callbacks(execute=True):
        participant_leave(participant=seat, actor=None)

    seat.refresh_from_db()
    assert seat.left_at is not None
    last = Message.objects.filter(conversation=talk).last()
    assert (last.event, last.body) == ("participant_left", "interpreter")
    assert sent_to(published, realtime.participant_group(seat.pk)) == [
        realtime.left_event(talk.pk, reason="left")
    ]
    with pytest.raises(NotFound):
        selectors.participant_get_by_token(token=token)
    with pytest.raises(NotAllowed):
        interpreter_says(seat)


def test_it_lets_the_worker_remove_an_external_interpreter(
    talk, anna, published, django_capture_on_commit_callbacks
):
    seat = join(participant_invite_link(conversation=talk, actor=anna))

    with django_capture_on_commit_callbacks(execute=True):
        participant_leave(participant=seat, actor=anna)

    assert sent_to(published, realtime.participant_group(seat.pk)) == [
        realtime.left_event(talk.pk, reason="removed")
    ]
    with pytest.raises(NotAllowed):
        interpreter_says(seat)


def test_it_shuts_a_removed_colleague_out(
    talk, anna, cecilia, published, django_capture_on_commit_callbacks
):
    seat = invite(talk, anna, cecilia)

    with django_capture_on_commit_callbacks(execute=True):
        participant_leave(participant=seat, actor=anna)

    assert realtime.left_event(talk.pk, reason="removed") in sent_to(
        published, realtime.worker_group(cecilia.pk)
    )
    with pytest.raises(NotFound):
        read(cecilia, talk)
    with pytest.raises(NotFound):  # no longer a reader: the conversation is hidden
        staff_says(talk, cecilia, "Jag är kvar?")
    assert list(selectors.conversation_list_open_for(user=cecilia)) == []
    assert selectors.participant_list(conversation=talk) == []


def test_it_shuts_a_removed_interpreter_out(talk, anna, tove):
    seat = invite(talk, anna, tove)

    participant_leave(participant=seat, actor=anna)

    with pytest.raises(NotFound):
        read(tove, talk)
    with pytest.raises(NotFound):  # no longer a reader: the conversation is hidden
        staff_says(talk, tove, "Hallå?")
    with pytest.raises(NotFound):
        selectors.participant_present_for(user=tove)


def test_it_lets_a_colleague_leave_by_themselves(talk, anna, cecilia):
    seat = invite(talk, anna, cecilia)

    participant_leave(participant=seat, actor=cecilia)

    seat.refresh_from_db()
    assert seat.left_at is not None
    with pytest.raises(NotFound):
        read(cecilia, talk)


@pytest.mark.parametrize("persona", ["bengt", "sara", "tove"])
def test_it_lets_only_the_worker_remove_someone_else(talk, anna, cecilia, persona, request):
    seat = invite(talk, anna, cecilia)

    with pytest.raises(NotAllowed):
        participant_leave(participant=seat, actor=request.getfixturevalue(persona))

    seat.refresh_from_db()
    assert seat.is_present


def test_it_treats_leaving_twice_as_done(talk, anna, cecilia):
    seat = invite(talk, anna, cecilia)
    participant_leave(participant=seat, actor=cecilia)
    count = Message.objects.filter(conversation=talk).count()

    participant_leave(participant=seat, actor=cecilia)

    assert Message.objects.filter(conversation=talk).count() == count


def test_it_finds_a_participant_to_remove_only_in_that_conversation(talk, anna, cecilia, ekonomi):
    seat = invite(talk, anna, cecilia)
    other, _token = active_conversation(ekonomi, anna)

    assert selectors.participant_get_for_removal(conversation=talk, participant_id=seat.pk) == seat
    with pytest.raises(NotFound):
        selectors.participant_get_for_removal(conversation=other, participant_id=seat.pk)
    with pytest.raises(InvalidInput, match="`participant`"):
        console_remove(anna, {"conversation": talk.pk, "participant": str(seat.pk)})
    assert selectors.participant_get_present(participant_id=seat.pk) == seat


# --- participants and a handover to another unit ------------------------------------------
def test_it_shuts_the_sending_units_invited_colleague_out_after_a_unit_handover(
    talk, anna, bengt, vald, cecilia
):
    invite(talk, anna, bengt)
    conversation_hand_over(
        conversation=talk, actor=anna, note="Till Våld", share_history=False, to_unit_id=vald.pk
    )
    conversation_accept(worker=cecilia)
    staff_says(talk, cecilia, "Vi ordnar skyddat boende på hemlig adress.")

    with pytest.raises(NotFound):
        read(bengt, talk)
