"""chat/services/handover.py: a worker offers a live conversation to a named colleague
(accept, decline, expiry) or sends it to a unit's queue; the receiving unit reads the history
only when the sender lets it go along; the trail says who, when, to whom and why."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Presence
from chat import realtime, selectors
from chat.consumers.console import console_hand_over, console_handover_decline
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Conversation, Handover, Message
from chat.services.access import conversation_read_messages
from chat.services.conversations import conversation_accept
from chat.services.handover import handover_accept, handover_decline
from chat.services.messages import private_note_post
from chat.services.timed import handover_expire_due, timed_sweep
from tests import factories
from tests.handover_personas import (
    active_conversation,
    client_says,
    dora_fixture,  # noqa: F401 - fixture
    expire,
    fill_to_capacity,
    fresh,
    hand_over,
    jour_fixture,  # noqa: F401 - fixture
    message_events,
    read,
    sent_to,
    staff_says,
    types_to,
)
from tests.security_personas import http_client

# vera, memory_layer and the other queue fixtures, by name.
pytest_plugins = ["tests.queue_personas"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def talk(ekonomi, anna):
    """Anna's conversation in Ekonomiskt bistånd with some history: seq 1 the client's
    opening, 2 `accepted`, 3 Anna, 4 the client."""
    conversation, _token = active_conversation(ekonomi, anna, "Jag har inte råd med hyran.")
    staff_says(conversation, anna, "Hej, jag heter Anna. Berätta mer.")
    client_says(conversation, "Min man tar alla pengar.")
    return fresh(conversation)


# --- an offer to a colleague in the same unit ---------------------------------------------
def test_it_makes_a_handover_to_a_colleague_an_offer_that_expires(
    talk, anna, bengt, ekonomi, settings
):
    before = timezone.now()

    handover = hand_over(talk, anna, to_worker=bengt, note="Hyran, se ansökan.")

    assert handover.state == Handover.State.OFFERED
    assert (handover.from_worker, handover.to_worker) == (anna, bengt)
    assert (handover.from_unit, handover.to_unit) == (ekonomi, ekonomi)
    assert handover.note == "Hyran, se ansökan."
    assert handover.at_seq == 4
    assert handover.expires_at is not None
    assert handover.expires_at >= before + timedelta(seconds=settings.HANDOVER_OFFER_SECONDS)
    # The sender keeps the conversation until the offer is answered.
    talk.refresh_from_db()
    assert (talk.state, talk.worker) == (Conversation.State.ACTIVE, anna)


def test_it_tells_the_client_a_handover_started_and_offers_it_to_the_receiver(
    talk, anna, bengt, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        handover = hand_over(talk, anna, to_worker=bengt)

    assert message_events(published, talk) == [Message.Event.HANDOVER_STARTED]
    assert factories.system_events(talk)[-1] == Message.Event.HANDOVER_STARTED
    offer = sent_to(published, realtime.worker_group(bengt.pk))
    assert [event["type"] for event in offer] == ["handover.updated"]
    assert offer[0]["handover"]["id"] == handover.pk
    assert offer[0]["handover"]["state"] == "offered"
    assert offer[0]["handover"]["note"] == handover.note
    # The sender: the news, and the trail as she now sees it (no need to ask for it).
    assert types_to(published, realtime.worker_group(anna.pk)) == [
        "handover.updated",
        "conversation.context",
    ]


def test_it_refuses_a_second_open_offer_for_the_same_conversation(talk, anna, bengt, sara):
    hand_over(talk, anna, to_worker=bengt)

    with pytest.raises(Conflict) as refused:
        hand_over(talk, anna, to_worker=sara)

    assert refused.value.code == "handover_open"
    assert Handover.objects.filter(conversation=talk).count() == 1


def test_it_refuses_a_unit_handover_while_an_offer_is_open(talk, anna, bengt, vald):
    hand_over(talk, anna, to_worker=bengt)

    with pytest.raises(Conflict) as refused:
        hand_over(talk, anna, to_unit=vald)

    assert refused.value.code == "handover_open"
    assert fresh(talk).worker == anna


@pytest.mark.parametrize("persona", ["bengt", "sara", "cecilia"])
def test_it_lets_only_the_assigned_worker_hand_over(talk, persona, request, anna):
    actor = request.getfixturevalue(persona)

    with pytest.raises(NotAllowed):
        hand_over(talk, actor, to_worker=anna)

    assert not Handover.objects.exists()


def test_it_needs_a_note_for_the_receiver(talk, anna, bengt):
    for note in ["", "   ", "x" * 2001, "a\x00b"]:
        with pytest.raises(InvalidInput):
            hand_over(talk, anna, to_worker=bengt, note=note)
    assert not Handover.objects.exists()


def test_a_hand_over_frame_whose_note_is_not_text_is_refused(talk, anna, bengt):
    """Refused where the console reads the frame: the service takes text."""
    for note in [None, 42]:
        with pytest.raises(InvalidInput, match="`note`"):
            console_hand_over(anna, {"conversation": talk.pk, "to_worker": bengt.pk, "note": note})
    assert not Handover.objects.exists()


@pytest.mark.parametrize("share_history", ["yes", 1, [True]], ids=repr)
def test_a_hand_over_frame_shares_history_only_by_a_boolean(talk, anna, vald, share_history):
    frame = {"conversation": talk.pk, "to_unit": vald.pk, "note": "Till Våld"}

    with pytest.raises(InvalidInput, match="`share_history`"):
        console_hand_over(anna, {**frame, "share_history": share_history})
    assert not Handover.objects.exists()


@pytest.mark.parametrize(
    ("fields", "shared"), [({}, True), ({"share_history": None}, False)], ids=["absent", "null"]
)
def test_a_hand_over_frame_without_a_choice_shares_as_before(talk, anna, vald, fields, shared):
    """Absent is the whole history (the console's default); null only the note."""
    frame = {"conversation": talk.pk, "to_unit": vald.pk, "note": "Till Våld", **fields}

    console_hand_over(anna, frame)

    assert Handover.objects.get().share_history is shared


def test_it_needs_a_colleague_or_a_unit(talk, anna):
    with pytest.raises(InvalidInput):
        hand_over(talk, anna)


def test_it_refuses_to_offer_to_oneself_or_to_someone_without_a_console(talk, anna, pelle):
    for receiver in (anna, pelle):
        with pytest.raises(NotFound):
            hand_over(talk, anna, to_worker=receiver)
    assert not Handover.objects.exists()


def test_it_refuses_to_hand_over_a_conversation_that_is_not_active(ekonomi, anna, bengt):
    conversation, _token = active_conversation(ekonomi, anna)
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.ENDED)

    with pytest.raises(Conflict):
        hand_over(conversation, anna, to_worker=bengt)


# --- accept ---------------------------------------------------------------------------------
def test_it_moves_the_conversation_to_the_receiver_on_accept(
    talk, anna, bengt, published, django_capture_on_commit_callbacks
):
    handover = hand_over(talk, anna, to_worker=bengt)

    with django_capture_on_commit_callbacks(execute=True):
        conversation = handover_accept(handover=handover, actor=bengt)

    conversation.refresh_from_db()
    assert (conversation.state, conversation.worker) == (Conversation.State.ACTIVE, bengt)
    handover.refresh_from_db()
    assert handover.state == Handover.State.ACCEPTED
    assert handover.answered_at is not None
    assert message_events(published, talk) == [Message.Event.HANDOVER_JOINED]
    left = [
        event
        for event in sent_to(published, realtime.worker_group(anna.pk))
        if event["type"] == "conversation.left"
    ]
    assert left == [realtime.left_event(talk.pk, reason="handed_over")]
    assert "conversation.assigned" in types_to(published, realtime.worker_group(bengt.pk))
    # The sender is told the answer too.
    answers = [
        event["handover"]["state"]
        for event in sent_to(published, realtime.worker_group(anna.pk))
        if event["type"] == "handover.updated"
    ]
    assert answers == ["accepted"]


def test_it_lets_the_receiver_write_and_not_the_sender_after_accept(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)
    handover_accept(handover=handover, actor=bengt)

    message = staff_says(talk, bengt, "Hej, jag heter Bengt och tar över.")
    assert (message.sender, message.author) == (Message.Sender.WORKER, bengt)
    with pytest.raises(NotAllowed):
        staff_says(talk, anna, "Jag skriver ändå.")


def test_it_shows_the_client_the_receivers_first_name_only_when_they_choose(ekonomi, anna, bengt):
    bengt.last_name = "Bengtsson"
    bengt.save()
    shown, _ = active_conversation(ekonomi, anna)
    hidden, _ = active_conversation(ekonomi, anna)

    handover_accept(handover=hand_over(shown, anna, to_worker=bengt), actor=bengt, show_name=True)
    handover_accept(handover=hand_over(hidden, anna, to_worker=bengt), actor=bengt)

    joined = Message.objects.get(conversation=shown, event=Message.Event.HANDOVER_JOINED)
    assert joined.body == "Bengt"
    assert Message.objects.get(conversation=hidden, event=Message.Event.HANDOVER_JOINED).body == ""


def test_it_never_sends_the_receivers_author_to_the_client(
    talk, anna, bengt, published, django_capture_on_commit_callbacks
):
    handover = hand_over(talk, anna, to_worker=bengt)
    with django_capture_on_commit_callbacks(execute=True):
        handover_accept(handover=handover, actor=bengt, show_name=True)

    (event,) = [
        e
        for e in sent_to(published, realtime.conversation_group(talk.pk))
        if e["type"] == "conversation.message"
    ]
    client_view = realtime.for_client(event)
    assert "author" not in client_view["message"]
    assert client_view["message"]["body"] == "Bengt"
    assert "Bengtsson" not in str(client_view)


def test_it_keeps_the_offer_open_when_the_receiver_is_at_capacity(talk, anna, bengt, ekonomi):
    full = fill_to_capacity(bengt, ekonomi, capacity=1)
    handover = hand_over(talk, anna, to_worker=bengt)

    with pytest.raises(Conflict) as refused:
        handover_accept(handover=handover, actor=bengt)

    assert refused.value.code == "at_capacity"
    handover.refresh_from_db()
    assert handover.state == Handover.State.OFFERED
    talk.refresh_from_db()
    assert (talk.state, talk.worker) == (Conversation.State.ACTIVE, anna)
    assert list(Conversation.objects.filter(worker=bengt, state="active")) == full
    assert Message.Event.HANDOVER_JOINED not in factories.system_events(talk)

    # Once a place frees up, the same offer can be taken.
    Presence.objects.filter(user=bengt).update(capacity=2)
    handover_accept(handover=handover, actor=bengt)
    assert fresh(talk).worker == bengt


@pytest.mark.parametrize("persona", ["sara", "cecilia", "anna"])
def test_it_hides_an_offer_from_anyone_but_its_receiver(talk, anna, bengt, persona, request):
    handover = hand_over(talk, anna, to_worker=bengt)
    other = request.getfixturevalue(persona)

    with pytest.raises(NotFound):
        selectors.handover_get_for(user=other, handover_id=handover.pk)
    with pytest.raises(NotAllowed):
        handover_accept(handover=handover, actor=other)
    with pytest.raises(NotAllowed):
        handover_decline(handover=handover, actor=other, reason="Nej")

    handover.refresh_from_db()
    assert handover.state == Handover.State.OFFERED
    assert fresh(talk).worker == anna


def test_it_finds_the_offer_for_its_receiver(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)

    assert selectors.handover_get_for(user=bengt, handover_id=handover.pk) == handover
    assert selectors.handover_list_offered_to(user=bengt) == [handover]
    assert selectors.handover_list_offered_to(user=anna) == []


def test_it_refuses_an_offer_that_was_already_answered(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)
    handover_accept(handover=handover, actor=bengt)

    with pytest.raises(Conflict) as again:
        handover_accept(handover=handover, actor=bengt)
    with pytest.raises(Conflict) as declined:
        handover_decline(handover=handover, actor=bengt, reason="Ångrar mig")

    assert again.value.code == declined.value.code == "handover_closed"


# --- decline --------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001, "a\x00b"])
def test_it_needs_a_reason_to_decline(talk, anna, bengt, reason):
    handover = hand_over(talk, anna, to_worker=bengt)

    with pytest.raises(InvalidInput):
        handover_decline(handover=handover, actor=bengt, reason=reason)

    handover.refresh_from_db()
    assert handover.state == Handover.State.OFFERED


@pytest.mark.parametrize("reason", [None, 7])
def test_a_decline_frame_whose_reason_is_not_text_is_refused(talk, anna, bengt, reason):
    """Refused where the console reads the frame: the service takes text."""
    handover = hand_over(talk, anna, to_worker=bengt)

    with pytest.raises(InvalidInput, match="`reason`"):
        console_handover_decline(bengt, {"handover": handover.pk, "reason": reason})

    handover.refresh_from_db()
    assert handover.state == Handover.State.OFFERED


def test_it_returns_a_declined_offer_to_the_sender_with_the_reason(
    talk, anna, bengt, published, django_capture_on_commit_callbacks
):
    handover = hand_over(talk, anna, to_worker=bengt)

    with django_capture_on_commit_callbacks(execute=True):
        handover_decline(handover=handover, actor=bengt, reason="  Jag har fullt idag.  ")

    handover.refresh_from_db()
    assert (handover.state, handover.decline_reason) == ("declined", "Jag har fullt idag.")
    (answer,) = [
        event
        for event in sent_to(published, realtime.worker_group(anna.pk))
        if event["type"] == "handover.updated"
    ]
    assert answer["handover"]["state"] == "declined"
    assert answer["handover"]["decline_reason"] == "Jag har fullt idag."
    assert message_events(published, talk) == [Message.Event.HANDOVER_CANCELLED]
    talk.refresh_from_db()
    assert (talk.state, talk.worker) == (Conversation.State.ACTIVE, anna)


def test_it_lets_the_sender_write_and_hand_over_again_after_a_decline(talk, anna, bengt, sara):
    handover_decline(handover=hand_over(talk, anna, to_worker=bengt), actor=bengt, reason="Fullt")

    assert staff_says(talk, anna, "Jag är kvar.").sender == Message.Sender.WORKER
    again = hand_over(talk, anna, to_worker=sara)
    assert again.state == Handover.State.OFFERED


# --- expiry ---------------------------------------------------------------------------------
def test_it_returns_an_expired_offer_to_the_sender(
    talk, anna, bengt, published, django_capture_on_commit_callbacks
):
    handover = hand_over(talk, anna, to_worker=bengt)
    expire(handover)

    with django_capture_on_commit_callbacks(execute=True):
        assert handover_expire_due() == 1

    handover.refresh_from_db()
    assert handover.state == Handover.State.EXPIRED
    assert message_events(published, talk) == [Message.Event.HANDOVER_CANCELLED]
    states = [
        event["handover"]["state"]
        for event in sent_to(published, realtime.worker_group(anna.pk))
        if event["type"] == "handover.updated"
    ]
    assert states == ["expired"]
    assert fresh(talk).worker == anna
    assert staff_says(talk, anna, "Jag finns kvar här.").seq == 7  # started, cancelled, this
    assert factories.seqs(talk) == list(range(1, 8))


def test_it_expires_offers_in_the_queue_sweep(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)
    expire(handover)

    timed_sweep()

    handover.refresh_from_db()
    assert handover.state == Handover.State.EXPIRED
    assert factories.system_events(talk)[-1] == Message.Event.HANDOVER_CANCELLED


def test_it_leaves_offers_that_have_not_expired(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)

    assert handover_expire_due() == 0
    timed_sweep()

    handover.refresh_from_db()
    assert handover.state == Handover.State.OFFERED


def test_it_refuses_to_accept_an_offer_past_its_time_before_the_sweep(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)
    expire(handover)

    with pytest.raises(Conflict) as refused:
        handover_accept(handover=handover, actor=bengt)

    assert refused.value.code == "handover_closed"
    assert fresh(talk).worker == anna


# --- to another unit's queue ----------------------------------------------------------------
def test_it_queues_a_unit_handover_in_the_receiving_unit_as_transferred(
    talk, anna, vald, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        handover = hand_over(talk, anna, to_unit=vald)

    assert handover.state == Handover.State.QUEUED
    assert handover.expires_at is None
    talk.refresh_from_db()
    assert (talk.unit, talk.state, talk.worker) == (vald, Conversation.State.QUEUED, None)
    assert talk.transferred is True
    assert realtime.left_event(talk.pk, reason="handed_over") in sent_to(
        published, realtime.worker_group(anna.pk)
    )
    assert list(selectors.conversation_list_waiting(unit_ids=[vald.pk])) == [talk]


def test_a_unit_handover_goes_back_to_a_queue_as_any_return_does_and_tells_both_units(
    talk, anna, ekonomi, vald, published, django_capture_on_commit_callbacks
):
    """One home for putting a conversation back in a queue (conversation_return_to_queue):
    the sending unit's staff see it leave their queue, the receiving unit's see it arrive,
    and the client sees the handover start once."""
    with django_capture_on_commit_callbacks(execute=True):
        hand_over(talk, anna, to_unit=vald)

    queues = {
        unit.pk: [
            [c["id"] for c in event["waiting"]]
            for event in sent_to(published, realtime.unit_staff_group(unit.pk))
            if event["type"] == "queue.updated"
        ]
        for unit in (ekonomi, vald)
    }
    assert queues == {ekonomi.pk: [[]], vald.pk: [[talk.pk]]}
    events = list(Message.objects.filter(conversation=talk).values_list("event", flat=True))
    assert events.count(Message.Event.HANDOVER_STARTED) == 1
    talk.refresh_from_db()
    assert talk.case.unit == vald
    assert talk.unanswered_flagged_at is None


def test_it_puts_a_transferred_conversation_behind_urgent_clients_and_ahead_of_normal_ones(
    talk, anna, vald
):
    normal, _ = factories.start_conversation(vald, "Jag väntade först.")
    urgent, _ = factories.start_conversation(vald, "Det är bråttom.")
    Conversation.objects.filter(pk=urgent.pk).update(priority=Conversation.Priority.URGENT)
    Conversation.objects.filter(pk__in=[normal.pk, urgent.pk]).update(
        queued_at=timezone.now() - timedelta(minutes=20)
    )

    hand_over(talk, anna, to_unit=vald)

    waiting = selectors.conversation_list_waiting(unit_ids=[vald.pk])
    assert [c.pk for c in waiting] == [urgent.pk, talk.pk, normal.pk]


def test_it_lets_a_worker_of_the_receiving_unit_take_the_transferred_conversation(
    talk, anna, cecilia, vald
):
    hand_over(talk, anna, to_unit=vald)

    taken = conversation_accept(worker=cecilia)

    assert taken == talk
    assert (fresh(talk).worker, fresh(talk).state) == (cecilia, Conversation.State.ACTIVE)


def test_it_refuses_a_unit_handover_to_a_closed_unit(talk, anna, vald):
    vald.is_active = False
    vald.save()

    with pytest.raises(NotFound):
        hand_over(talk, anna, to_unit=vald)
    assert fresh(talk).worker == anna


# --- history between units ------------------------------------------------------------------
def test_it_shows_the_receiving_unit_only_what_follows_the_handover_without_history(
    talk, anna, vald, cecilia
):
    handover = hand_over(talk, anna, to_unit=vald, share_history=False)
    conversation_accept(worker=cecilia)

    from_seq, seqs = read(cecilia, talk)

    assert from_seq == handover.at_seq == 4
    assert seqs == [5, 6]  # handover_started, accepted
    assert fresh(talk).unit_visible_from_seq == 4


def test_it_shows_the_receiving_unit_everything_with_history(talk, anna, vald, cecilia):
    hand_over(talk, anna, to_unit=vald, share_history=True)
    conversation_accept(worker=cecilia)

    from_seq, seqs = read(cecilia, talk)

    assert from_seq == 0
    assert seqs == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("share_history", [True, False])
@pytest.mark.parametrize("persona", ["anna", "bengt", "sara"])
def test_it_closes_the_conversation_to_the_sending_unit_after_a_unit_handover(
    talk, anna, vald, cecilia, persona, share_history, request
):
    hand_over(talk, anna, to_unit=vald, share_history=share_history)
    conversation_accept(worker=cecilia)
    reader = request.getfixturevalue(persona)

    with pytest.raises(NotFound):
        read(reader, talk)
    with pytest.raises(NotFound):
        selectors.conversation_get_for_staff(user=reader, conversation_id=talk.pk)


def test_it_closes_the_conversation_to_the_sending_unit_while_it_waits_in_the_other_queue(
    talk, anna, bengt, vald
):
    hand_over(talk, anna, to_unit=vald, share_history=False)

    for reader in (anna, bengt):
        with pytest.raises(NotFound):
            read(reader, talk)


def test_it_limits_a_named_colleague_of_another_unit_to_what_follows_without_history(
    talk, anna, bengt, cecilia, vald
):
    handover = hand_over(talk, anna, to_worker=cecilia, share_history=False)
    assert handover.to_unit == vald

    # Before accepting, the receiver sees only the note, not the conversation.
    with pytest.raises(NotFound):
        read(cecilia, talk)

    handover_accept(handover=handover, actor=cecilia)

    from_seq, seqs = read(cecilia, talk)
    assert from_seq == 4
    assert seqs == [5, 6]  # handover_started, handover_joined
    assert fresh(talk).unit == vald
    for reader in (anna, bengt):
        with pytest.raises(NotFound):
            read(reader, talk)


def test_it_gives_a_named_colleague_of_another_unit_everything_with_history(talk, anna, cecilia):
    handover_accept(
        handover=hand_over(talk, anna, to_worker=cecilia, share_history=True), actor=cecilia
    )

    assert read(cecilia, talk) == (0, [1, 2, 3, 4, 5, 6])


def test_it_always_sends_the_history_along_within_one_unit(talk, anna, bengt, sara, ekonomi):
    handover = hand_over(talk, anna, to_worker=bengt, share_history=False)
    assert handover.share_history is True

    handover_accept(handover=handover, actor=bengt)

    assert read(bengt, talk) == (0, [1, 2, 3, 4, 5, 6])
    assert read(sara, talk)[0] == 0
    assert fresh(talk).unit_visible_from_seq == 0


def test_it_always_sends_the_history_along_to_the_own_units_queue(talk, anna, bengt, ekonomi):
    handover = hand_over(talk, anna, to_unit=ekonomi, share_history=False)

    assert handover.share_history is True
    conversation_accept(worker=bengt)
    assert read(bengt, talk)[1][:4] == [1, 2, 3, 4]


def test_it_offers_a_colleague_in_two_units_the_conversations_own_unit(
    talk, anna, ekonomi, vald, vera
):
    vera.units.add(ekonomi)

    handover = hand_over(talk, anna, to_worker=vera, share_history=False)

    assert handover.to_unit == ekonomi
    assert handover.share_history is True


# --- messages during a handover ------------------------------------------------------------
def test_it_keeps_what_the_client_writes_while_an_offer_is_open(talk, anna, bengt):
    handover = hand_over(talk, anna, to_worker=bengt)
    during = [client_says(talk, f"Är du kvar? {n}").seq for n in range(3)]

    handover_accept(handover=handover, actor=bengt)

    assert factories.seqs(talk) == list(range(1, 10))
    _from_seq, seqs = read(bengt, talk)
    assert set(during) <= set(seqs)


def test_it_keeps_what_the_client_writes_while_waiting_in_the_other_units_queue(
    talk, anna, vald, cecilia
):
    hand_over(talk, anna, to_unit=vald, share_history=False)
    during = [client_says(talk, f"Hallå? {n}") for n in range(2)]

    conversation_accept(worker=cecilia)

    assert factories.seqs(talk) == list(range(1, 9))
    _conversation, messages, _from = conversation_read_messages(
        actor=cecilia, conversation_id=talk.pk, after=0, request_id=uuid.uuid4()
    )
    assert [m.body for m in messages if m.sender == "client"] == [m.body for m in during]


# --- the trail --------------------------------------------------------------------------------
def test_it_lists_who_handed_over_when_to_whom_and_why(talk, anna, bengt):
    declined = hand_over(talk, anna, to_worker=bengt, note="Första försöket")
    handover_decline(handover=declined, actor=bengt, reason="Har möte")
    accepted = hand_over(talk, anna, to_worker=bengt, note="Andra försöket")
    handover_accept(handover=accepted, actor=bengt)

    trail = selectors.handover_trail(user=bengt, conversation=talk)

    assert [(h.from_worker, h.to_worker, h.note, h.state) for h in trail] == [
        (anna, bengt, "Första försöket", "declined"),
        (anna, bengt, "Andra försöket", "accepted"),
    ]
    assert trail[0].decline_reason == "Har möte"
    assert all(h.created_at is not None for h in trail)


def test_it_hides_handovers_of_units_the_reader_has_nothing_to_do_with(
    talk, anna, cecilia, dora, vald, jour
):
    first = hand_over(talk, anna, to_unit=vald, note="Till Våld: hot i hemmet")
    conversation_accept(worker=cecilia)
    second = hand_over(talk, cecilia, to_unit=jour, note="Till jouren över natten")
    conversation_accept(worker=dora)

    assert selectors.handover_trail(user=dora, conversation=talk) == [second]
    assert selectors.handover_trail(user=cecilia, conversation=talk) == [first, second]
    assert selectors.handover_trail(user=anna, conversation=talk) == [first]


def test_it_shows_the_trail_to_a_named_receiver_of_another_unit(talk, anna, cecilia):
    handover = hand_over(talk, anna, to_worker=cecilia, note="Skyddat boende?")

    assert selectors.handover_trail(user=cecilia, conversation=talk) == [handover]


# --- the sending unit's case page -----------------------------------------------------------
@pytest.fixture
def gone_to_jour(talk, anna, vald, jour, cecilia):
    """Anna's conversation went to Våld without its history; Cecilia wrote a private note
    there and sent it on to Socialjour with a note of her own."""
    hand_over(talk, anna, to_unit=vald, share_history=False, note="Till Våld: hot i hemmet")
    conversation_accept(worker=cecilia)
    private_note_post(
        conversation=talk,
        author=cecilia,
        body="Skyddat boende ordnat på hemlig adress.",
        client_id=factories.new_client_id(),
    )
    hand_over(talk, cecilia, to_unit=jour, note="Till jouren: adressen är skyddad.")
    return talk


def sending_units_case_page(conversation, reader) -> str:
    """The case page of the case the conversation had in the sending unit."""
    response = http_client(reader).get(f"/console/cases/{conversation.case_id}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("persona", ["anna", "sara"])
def test_it_keeps_the_receiving_units_private_notes_off_the_sending_units_case_page(
    gone_to_jour, persona, request
):
    page = sending_units_case_page(gone_to_jour, request.getfixturevalue(persona))

    assert "Skyddat boende ordnat" not in page


@pytest.mark.parametrize("persona", ["anna", "sara"])
def test_it_keeps_a_note_between_two_other_units_off_the_sending_units_case_page(
    gone_to_jour, persona, request
):
    page = sending_units_case_page(gone_to_jour, request.getfixturevalue(persona))

    assert "Till jouren: adressen är skyddad." not in page
