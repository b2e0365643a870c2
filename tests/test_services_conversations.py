"""chat/services/conversations.py: start, accept and end, their system messages and the
events they publish after commit."""

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ClosedDay, OpeningHours, Presence, Unit
from chat import realtime
from chat.consumers.client import first_message
from chat.errors import ChatError, Conflict, InvalidInput, NotAllowed, NotFound, NothingWaiting
from chat.models import Conversation, Message
from chat.services.conversations import conversation_accept, conversation_end, conversation_start
from tests.factories import (
    accept,
    make_unit,
    new_client_id,
    new_token,
    seqs,
    start_conversation,
    system_events,
)

pytestmark = pytest.mark.django_db


# The events these tests are about; queue.position and dashboard.unit have their own.
CORE_TYPES = {"conversation.message", "conversation.assigned", "queue.updated"}


def events_of_type(published, type_):
    return [(group, event) for group, event in published if event["type"] == type_]


def core_events(published):
    """(group, type) of the conversation, assignment and queue events, in publish order."""
    return [(group, event["type"]) for group, event in published if event["type"] in CORE_TYPES]


def nothing_stored():
    return Conversation.objects.count() == 0 and Message.objects.count() == 0


# --- start ------------------------------------------------------------------------------------
def test_it_queues_a_new_conversation_with_the_first_message_at_seq_1(ekonomi):
    token = new_token()
    client_id = uuid.uuid4()

    conversation, created = conversation_start(
        unit_id=ekonomi.pk, token=token, body="Hej, jag behöver hjälp.", client_id=client_id
    )

    assert created is True
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.QUEUED
    assert conversation.unit == ekonomi
    assert conversation.worker is None
    assert conversation.last_seq == 1
    [message] = conversation.messages.all()
    assert (message.seq, message.sender, message.body, str(message.client_id)) == (
        1,
        Message.Sender.CLIENT,
        "Hej, jag behöver hjälp.",
        str(client_id),
    )
    assert message.author is None


def test_it_keeps_only_a_hash_of_the_resume_token(ekonomi):
    conversation, token = start_conversation(ekonomi)

    assert conversation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not Conversation.objects.filter(token_hash=token).exists()


def test_it_gives_the_same_conversation_for_the_same_token_twice(ekonomi):
    first, token = start_conversation(ekonomi, "Första försöket")

    again, created = conversation_start(
        unit_id=ekonomi.pk, token=token, body="Andra försöket", client_id=uuid.uuid4()
    )

    assert created is False
    assert again.pk == first.pk
    assert Conversation.objects.count() == 1
    assert list(Message.objects.values_list("body", flat=True)) == ["Första försöket"]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "short",
        "a" * 42,
        "a" * 44,
        "a" * 42 + "=",
        "a" * 42 + "+",
        "a" * 42 + "/",
        "å" * 43,
    ],
)
def test_it_refuses_a_token_that_is_not_43_base64url_characters(ekonomi, token):
    with pytest.raises(InvalidInput):
        conversation_start(unit_id=ekonomi.pk, token=token, body="Hej", client_id=uuid.uuid4())
    assert nothing_stored()


# --- what is not even text, a UUID or an id stops where the frame is read -------------------
def start_as_the_socket_does(in_unit, **fields):
    """A `start` frame read as chat/consumers/client.py reads it, then the service."""
    frame = {"unit": in_unit.pk, "token": new_token(), "body": "Hej", "client_id": new_client_id()}
    first = first_message({**frame, **fields, "type": "start"})
    return conversation_start(
        unit_id=first.unit_id, token=first.token, body=first.body, client_id=first.client_id
    )


@pytest.mark.parametrize("token", [None, 12345, ["a" * 43]], ids=repr)
def test_a_start_frame_whose_token_is_not_text_is_refused(ekonomi, token):
    with pytest.raises(InvalidInput, match="`token`"):
        start_as_the_socket_does(ekonomi, token=token)
    assert nothing_stored()


@pytest.mark.parametrize("unit_id", [None, "1", 1.0, [1], {"id": 1}], ids=repr)
def test_a_start_frame_whose_unit_is_not_an_id_is_refused(ekonomi, unit_id):
    with pytest.raises(InvalidInput, match="`unit`"):
        start_as_the_socket_does(ekonomi, unit=unit_id)
    assert nothing_stored()


def test_a_start_frame_with_true_as_its_unit_is_refused(db):
    unit = Unit.objects.create(pk=1, name="Ekonomiskt bistånd", slug="ekonomiskt-bistand")

    with pytest.raises(InvalidInput, match="`unit`"):
        start_as_the_socket_does(unit, unit=True)
    assert not unit.conversations.exists()


@pytest.mark.parametrize("body", [None, 42, ["Hej"]], ids=repr)
def test_a_start_frame_whose_body_is_not_text_is_refused(ekonomi, body):
    with pytest.raises(InvalidInput, match="`body`") as raised:
        start_as_the_socket_does(ekonomi, body=body)
    assert raised.value.code == "invalid"
    assert nothing_stored()


@pytest.mark.parametrize("client_id", [None, "", "not-a-uuid", 42, ["x"]], ids=repr)
def test_a_start_frame_without_a_uuid_client_id_is_refused(ekonomi, client_id):
    with pytest.raises(InvalidInput, match="`client_id`"):
        start_as_the_socket_does(ekonomi, client_id=client_id)
    assert nothing_stored()


def test_a_start_frame_that_is_right_starts_a_conversation(ekonomi):
    conversation, created = start_as_the_socket_does(ekonomi, body="Hej där")

    assert created
    assert [m.body for m in conversation.messages.all()] == ["Hej där"]


def test_it_refuses_an_unknown_unit(ekonomi):
    with pytest.raises(NotFound):
        conversation_start(
            unit_id=ekonomi.pk + 1000, token=new_token(), body="Hej", client_id=uuid.uuid4()
        )
    assert nothing_stored()


def test_it_refuses_a_unit_that_is_closed_for_chats(db):
    closed = make_unit("Beroende", "beroende", is_active=False)

    with pytest.raises(NotFound):
        conversation_start(unit_id=closed.pk, token=new_token(), body="Hej", client_id=uuid.uuid4())
    assert nothing_stored()


def test_it_refuses_a_new_conversation_on_a_closed_day(ekonomi):
    ClosedDay.objects.create(unit=ekonomi, date=timezone.localdate(), reason="Utbildningsdag")

    with pytest.raises(Conflict) as raised:
        conversation_start(
            unit_id=ekonomi.pk, token=new_token(), body="Hej", client_id=uuid.uuid4()
        )

    assert raised.value.code == "unit_closed"
    assert nothing_stored()


def test_it_refuses_a_new_conversation_outside_opening_hours(ekonomi):
    now = timezone.localtime()
    # Open only on another weekday, so "now" is outside the hours whatever the clock says.
    OpeningHours.objects.create(
        unit=ekonomi,
        weekday=(now.weekday() + 1) % 7,
        opens=now.time().replace(hour=0, minute=0, second=0, microsecond=0),
        closes=now.time().replace(hour=23, minute=0, second=0, microsecond=0),
    )

    with pytest.raises(Conflict) as raised:
        conversation_start(
            unit_id=ekonomi.pk, token=new_token(), body="Hej", client_id=uuid.uuid4()
        )

    assert raised.value.code == "unit_closed"
    assert nothing_stored()


def test_it_still_finds_the_conversation_of_a_known_token_after_closing_time(ekonomi):
    conversation, token = start_conversation(ekonomi)
    ClosedDay.objects.create(unit=ekonomi, date=timezone.localdate())

    again, created = conversation_start(
        unit_id=ekonomi.pk, token=token, body="Hej igen", client_id=uuid.uuid4()
    )

    assert (again.pk, created) == (conversation.pk, False)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", InvalidInput),
        ("   \n\t  ", InvalidInput),
        ("\r\n", InvalidInput),
        ("Hej\x00då", InvalidInput),
        ("x" * 4001, "too_long"),
    ],
)
def test_it_refuses_a_bad_first_message_and_stores_nothing(ekonomi, body, error):
    with pytest.raises(ChatError) as raised:
        conversation_start(unit_id=ekonomi.pk, token=new_token(), body=body, client_id=uuid.uuid4())

    if error == "too_long":
        assert raised.value.code == "too_long"
        assert raised.value.details["limit"] == 4000
    else:
        assert isinstance(raised.value, error)
        assert raised.value.code == "invalid"
    assert nothing_stored()


def test_it_announces_a_new_conversation_to_the_units_staff_after_commit(
    ekonomi, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        conversation, _token = start_conversation(ekonomi)

    assert core_events(published) == [
        (realtime.conversation_group(conversation.pk), "conversation.message"),
        (realtime.unit_staff_group(ekonomi.pk), "queue.updated"),
    ]
    [(_group, queue)] = events_of_type(published, "queue.updated")
    assert queue["unit"] == ekonomi.pk
    assert [c["id"] for c in queue["waiting"]] == [conversation.pk]


# --- accept -----------------------------------------------------------------------------------
def test_it_gives_the_worker_the_waiting_conversation(ekonomi, anna):
    conversation, _token = start_conversation(ekonomi)

    accepted = conversation_accept(worker=anna)

    assert accepted.pk == conversation.pk
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE
    assert conversation.worker == anna
    assert conversation.accepted_at is not None
    assert system_events(conversation) == [Message.Event.ACCEPTED]
    accepted_message = conversation.messages.get(seq=2)
    assert accepted_message.author == anna


def test_it_accepts_by_priority_then_oldest_first(ekonomi, anna, bengt):
    now = timezone.now()
    newest, _ = start_conversation(ekonomi, "Nyast")
    oldest, _ = start_conversation(ekonomi, "Äldst")
    urgent, _ = start_conversation(ekonomi, "Brådskande")
    # Created in another order than they queued, so the order cannot come from the id.
    Conversation.objects.filter(pk=newest.pk).update(queued_at=now - timedelta(minutes=1))
    Conversation.objects.filter(pk=oldest.pk).update(queued_at=now - timedelta(minutes=10))
    Conversation.objects.filter(pk=urgent.pk).update(
        queued_at=now, priority=Conversation.Priority.URGENT
    )

    taken = [
        conversation_accept(worker=anna).pk,
        conversation_accept(worker=bengt).pk,
        conversation_accept(worker=anna).pk,
    ]

    assert taken == [urgent.pk, oldest.pk, newest.pk]


def test_it_never_gives_a_worker_a_conversation_of_another_unit(
    ekonomi, vald, anna, bengt, cecilia
):
    in_vald, _ = start_conversation(vald, "Jag är rädd hemma")

    for worker in (anna, bengt):
        with pytest.raises(NothingWaiting):
            conversation_accept(worker=worker)
        with pytest.raises(ChatError):
            conversation_accept(worker=worker, conversation_id=in_vald.pk)
    in_vald.refresh_from_db()
    assert (in_vald.state, in_vald.worker) == (Conversation.State.QUEUED, None)

    in_ekonomi, _ = start_conversation(ekonomi, "Fråga om försörjningsstöd")
    assert conversation_accept(worker=cecilia).pk == in_vald.pk
    with pytest.raises(NothingWaiting):
        conversation_accept(worker=cecilia)
    with pytest.raises(ChatError):
        conversation_accept(worker=cecilia, conversation_id=in_ekonomi.pk)
    in_ekonomi.refresh_from_db()
    assert (in_ekonomi.state, in_ekonomi.worker) == (Conversation.State.QUEUED, None)


def test_it_raises_nothing_waiting_when_the_queue_is_empty(ekonomi, anna):
    with pytest.raises(NothingWaiting):
        conversation_accept(worker=anna)


def test_it_refuses_a_named_conversation_that_is_already_taken(ekonomi, anna, bengt):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)

    with pytest.raises(Conflict):
        conversation_accept(worker=bengt, conversation_id=conversation.pk)

    conversation.refresh_from_db()
    assert conversation.worker == anna
    assert system_events(conversation) == [Message.Event.ACCEPTED]


def test_it_refuses_a_named_conversation_that_has_ended(ekonomi, anna):
    conversation, _ = start_conversation(ekonomi)
    conversation_end(conversation=conversation, actor=None)

    with pytest.raises(Conflict):
        conversation_accept(worker=anna, conversation_id=conversation.pk)


def test_it_takes_a_named_conversation_out_of_queue_order(ekonomi, anna):
    first, _ = start_conversation(ekonomi, "Först")
    second, _ = start_conversation(ekonomi, "Sedan")

    assert accept(anna, second).pk == second.pk
    first.refresh_from_db()
    assert first.state == Conversation.State.QUEUED


def test_it_never_gives_a_worker_more_than_their_capacity(ekonomi, anna, bengt):
    Presence.objects.create(user=anna, capacity=1)
    first, _ = start_conversation(ekonomi, "Först")
    second, _ = start_conversation(ekonomi, "Sedan")
    accept(anna, first)

    with pytest.raises(Conflict) as raised:
        conversation_accept(worker=anna)
    assert raised.value.code == "at_capacity"
    with pytest.raises(Conflict):
        conversation_accept(worker=anna, conversation_id=second.pk)

    second.refresh_from_db()
    assert (second.state, second.worker) == (Conversation.State.QUEUED, None)
    assert system_events(second) == []
    assert conversation_accept(worker=bengt).pk == second.pk


def test_it_frees_a_place_when_a_conversation_ends(ekonomi, anna):
    Presence.objects.create(user=anna, capacity=1)
    first, _ = start_conversation(ekonomi, "Först")
    second, _ = start_conversation(ekonomi, "Sedan")
    accept(anna, first)
    conversation_end(conversation=first, actor=None)

    assert conversation_accept(worker=anna).pk == second.pk


def test_it_lets_a_supervisor_accept(ekonomi, sara):
    conversation, _ = start_conversation(ekonomi)

    assert conversation_accept(worker=sara).pk == conversation.pk


def test_it_never_lets_partner_staff_accept(ekonomi, pelle):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(NotAllowed):
        conversation_accept(worker=pelle)
    with pytest.raises(NotAllowed):
        conversation_accept(worker=pelle, conversation_id=conversation.pk)

    conversation.refresh_from_db()
    assert (conversation.state, conversation.worker) == (Conversation.State.QUEUED, None)
    assert system_events(conversation) == []


def test_it_never_lets_a_deactivated_worker_accept(ekonomi, anna):
    start_conversation(ekonomi)
    anna.is_active = False
    anna.save()

    with pytest.raises(NotAllowed):
        conversation_accept(worker=anna)


def test_it_publishes_an_accept_to_the_worker_the_conversation_and_the_queue_after_commit(
    ekonomi, anna, bengt, published, django_capture_on_commit_callbacks
):
    taken, _ = start_conversation(ekonomi, "Först")
    still_waiting, _ = start_conversation(ekonomi, "Sedan")

    with django_capture_on_commit_callbacks(execute=True):
        conversation_accept(worker=anna)

    assert core_events(published) == [
        (realtime.conversation_group(taken.pk), "conversation.message"),
        (realtime.worker_group(anna.pk), "conversation.assigned"),
        (realtime.unit_staff_group(ekonomi.pk), "queue.updated"),
    ]
    message, assigned, queue = (event for _group, event in published if event["type"] in CORE_TYPES)
    assert message["message"]["event"] == "accepted"
    assert message["message"]["author"] == "Anna"
    assert message["state"] == "active"
    assert assigned["conversation"] == taken.pk
    assert assigned["detail"]["state"] == "active"
    assert [c["id"] for c in queue["waiting"]] == [still_waiting.pk]


# --- end --------------------------------------------------------------------------------------
def test_it_marks_a_conversation_abandoned_when_the_client_leaves_the_queue(ekonomi):
    conversation, _ = start_conversation(ekonomi)

    ended = conversation_end(conversation=conversation, actor=None)

    assert ended.state == Conversation.State.ABANDONED
    assert ended.ended_by == Conversation.EndedBy.CLIENT
    assert ended.ended_at is not None
    assert system_events(conversation) == [Message.Event.ABANDONED]


def test_it_ends_an_active_conversation_for_the_client(ekonomi, anna):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)

    ended = conversation_end(conversation=conversation, actor=None)

    assert (ended.state, ended.ended_by) == (Conversation.State.ENDED, "client")
    assert system_events(conversation) == [Message.Event.ACCEPTED, Message.Event.ENDED]


def test_it_ends_an_active_conversation_for_its_worker(ekonomi, anna):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)

    ended = conversation_end(conversation=conversation, actor=anna)

    assert (ended.state, ended.ended_by) == (Conversation.State.ENDED, "worker")
    last = conversation.messages.order_by("-seq").first()
    assert (last.event, last.author) == (Message.Event.ENDED, anna)


def test_it_never_lets_another_worker_end_a_conversation(ekonomi, anna, bengt, sara):
    queued, _ = start_conversation(ekonomi, "Väntar")
    active, _ = start_conversation(ekonomi, "Pratar med Anna")
    accept(anna, active)

    for conversation in (queued, active):
        for outsider in (bengt, sara):
            with pytest.raises(NotAllowed):
                conversation_end(conversation=conversation, actor=outsider)

    queued.refresh_from_db()
    active.refresh_from_db()
    assert queued.state == Conversation.State.QUEUED
    assert (active.state, active.worker) == (Conversation.State.ACTIVE, anna)
    assert system_events(queued) == []
    assert system_events(active) == [Message.Event.ACCEPTED]


@pytest.mark.parametrize("accepted", [False, True])
def test_it_adds_no_second_system_message_when_ended_twice(ekonomi, anna, accepted):
    conversation, _ = start_conversation(ekonomi)
    if accepted:
        accept(anna, conversation)
    first = conversation_end(conversation=conversation, actor=None)

    again = conversation_end(conversation=conversation, actor=None)
    if accepted:
        conversation_end(conversation=conversation, actor=anna)

    assert (again.state, again.ended_at) == (first.state, first.ended_at)
    assert len(system_events(conversation)) == (2 if accepted else 1)


def test_it_publishes_nothing_for_a_second_end(
    ekonomi, anna, published, django_capture_on_commit_callbacks
):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)
    conversation_end(conversation=conversation, actor=anna)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        conversation_end(conversation=conversation, actor=anna)

    assert callbacks == []
    assert published == []


def test_it_adds_exactly_one_system_message_per_state_change(ekonomi, anna):
    conversation, _token = start_conversation(ekonomi)
    assert system_events(conversation) == []

    accept(anna, conversation)
    assert system_events(conversation) == ["accepted"]

    conversation_end(conversation=conversation, actor=anna)
    assert system_events(conversation) == ["accepted", "ended"]

    abandoned, _ = start_conversation(ekonomi)
    conversation_end(conversation=abandoned, actor=None)
    assert system_events(abandoned) == ["abandoned"]

    assert seqs(conversation) == [1, 2, 3]
    assert seqs(abandoned) == [1, 2]
    system = Message.objects.filter(sender=Message.Sender.SYSTEM)
    assert all(m.body == "" and m.client_id is None for m in system)


# --- events -----------------------------------------------------------------------------------
def test_it_publishes_nothing_before_the_transaction_commits(
    ekonomi, anna, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation, _ = start_conversation(ekonomi)
        accept(anna, conversation)
        conversation_end(conversation=conversation, actor=anna)

    assert callbacks
    assert published == []

    for callback in callbacks:
        callback()
    assert [type_ for _group, type_ in core_events(published)] == [
        "conversation.message",  # the first message
        "queue.updated",
        "conversation.message",  # accepted
        "conversation.assigned",
        "queue.updated",
        "conversation.message",  # ended
        "queue.updated",
    ]


def test_it_publishes_plain_json(ekonomi, anna, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        conversation, _ = start_conversation(ekonomi, "Se https://example.com <b>nu</b>")
        accept(anna, conversation)
        left, _ = start_conversation(ekonomi)
        conversation_end(conversation=left, actor=None)
        conversation_end(conversation=conversation, actor=anna)

    assert {event["type"] for _group, event in published} >= CORE_TYPES
    for group, event in published:
        assert isinstance(group, str)
        assert json.loads(json.dumps(event)) == event


def test_it_announces_the_units_waiting_list_in_queue_order(
    ekonomi, vald, published, django_capture_on_commit_callbacks
):
    now = timezone.now()
    later, _ = start_conversation(ekonomi, "Senare")
    earlier, _ = start_conversation(ekonomi, "Tidigare")
    urgent, _ = start_conversation(ekonomi, "Brådskande")
    start_conversation(vald, "Annan enhet")
    Conversation.objects.filter(pk=later.pk).update(queued_at=now - timedelta(minutes=1))
    Conversation.objects.filter(pk=earlier.pk).update(queued_at=now - timedelta(minutes=5))
    Conversation.objects.filter(pk=urgent.pk).update(
        queued_at=now, priority=Conversation.Priority.URGENT
    )

    with django_capture_on_commit_callbacks(execute=True):
        newest, _ = start_conversation(ekonomi, "Nyast")

    [(group, queue)] = events_of_type(published, "queue.updated")
    assert group == realtime.unit_staff_group(ekonomi.pk)
    assert [c["id"] for c in queue["waiting"]] == [urgent.pk, earlier.pk, later.pk, newest.pk]
    assert queue["waiting"][0]["priority"] == Conversation.Priority.URGENT
    assert {c["unit"] for c in queue["waiting"]} == {ekonomi.pk}
    assert all(c["state"] == "queued" for c in queue["waiting"])


def test_it_announces_the_shorter_queue_when_a_client_leaves_it(
    ekonomi, published, django_capture_on_commit_callbacks
):
    leaving, _ = start_conversation(ekonomi, "Går")
    staying, _ = start_conversation(ekonomi, "Stannar")

    with django_capture_on_commit_callbacks(execute=True):
        conversation_end(conversation=leaving, actor=None)

    assert core_events(published) == [
        (realtime.conversation_group(leaving.pk), "conversation.message"),
        (realtime.unit_staff_group(ekonomi.pk), "queue.updated"),
    ]
    [(_group, message)] = events_of_type(published, "conversation.message")
    [(_group, queue)] = events_of_type(published, "queue.updated")
    assert message["message"]["event"] == "abandoned"
    assert message["state"] == "abandoned"
    assert [c["id"] for c in queue["waiting"]] == [staying.pk]


def test_it_tells_everyone_in_the_conversation_that_it_ended(
    ekonomi, anna, published, django_capture_on_commit_callbacks
):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)

    with django_capture_on_commit_callbacks(execute=True):
        conversation_end(conversation=conversation, actor=None)

    [(group, message)] = events_of_type(published, "conversation.message")
    assert group == realtime.conversation_group(conversation.pk)
    assert message["message"]["event"] == "ended"
    assert message["state"] == "ended"
