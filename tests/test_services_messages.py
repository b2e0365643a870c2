"""chat/services/messages.py: message_post stores each message once, numbers them without
gaps, and lets only the conversation's own client and worker write.

The service takes typed values (a body that is text, a client_id that is a UUID); frames are
parsed at the socket (tests/test_consumer_client.py). Every test here runs on both
databases: on PostgreSQL message_post stores with one statement, on SQLite with the ORM,
and the answers must be the same."""

import json
import uuid

import pytest
from django.utils import timezone

from chat import realtime
from chat.errors import Conflict, InvalidInput, NotAllowed, NotFound, TooLong
from chat.models import Conversation, Message
from chat.services.conversations import conversation_end
from chat.services.messages import message_post
from tests.factories import accept, seqs, start_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(ekonomi, anna):
    """A conversation Anna has accepted: seq 1 the client's opening, seq 2 `accepted`."""
    conversation, _token = start_conversation(ekonomi)
    return accept(anna, conversation)


def post(conversation, author=None, body="Hej", client_id=None, participant=None):
    return message_post(
        conversation_id=conversation.pk,
        author=author,
        body=body,
        client_id=client_id or uuid.uuid4(),
        participant=participant,
    )


def test_it_numbers_messages_from_both_sides_without_gaps(active, anna):
    stored = []
    for turn in range(30):
        author = anna if turn % 3 == 0 else None
        message, created = post(active, author=author, body=f"meddelande {turn}")
        assert created is True
        stored.append(message)

    assert [m.seq for m in stored] == list(range(3, 33))
    assert seqs(active) == list(range(1, 33))
    active.refresh_from_db()
    assert active.last_seq == 32
    senders = list(active.messages.filter(seq__gte=3).values_list("sender", flat=True))
    assert senders == ["worker" if turn % 3 == 0 else "client" for turn in range(30)]


def test_it_stores_the_author_of_a_worker_message_and_none_for_the_client(active, anna):
    from_worker, _ = post(active, author=anna, body="Hej, jag heter Anna.")
    from_client, _ = post(active, body="Hej Anna.")

    assert (from_worker.sender, from_worker.author) == (Message.Sender.WORKER, anna)
    assert (from_client.sender, from_client.author) == (Message.Sender.CLIENT, None)


def test_it_lets_the_client_write_while_still_queued(ekonomi):
    conversation, _ = start_conversation(ekonomi)

    message, created = post(conversation, body="Jag väntar fortfarande")

    assert (created, message.seq) == (True, 2)


def test_it_returns_the_same_message_for_a_repeated_client_id_and_publishes_nothing_new(
    active, published, django_capture_on_commit_callbacks
):
    client_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        first, created = post(active, body="Skickat en gång", client_id=client_id)
    assert created is True
    assert [(group, event["type"]) for group, event in published] == [
        (realtime.conversation_group(active.pk), "conversation.message")
    ]
    published.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created_again = post(active, body="Skickat igen, ändrat", client_id=client_id)

    assert created_again is False
    assert again.pk == first.pk
    assert again.seq == first.seq == 3
    assert again.body == "Skickat en gång"
    assert callbacks == []
    assert published == []
    assert Message.objects.filter(conversation=active).count() == 3
    active.refresh_from_db()
    assert active.last_seq == 3


def test_it_lets_the_same_client_id_appear_in_two_conversations(ekonomi):
    one, _ = start_conversation(ekonomi)
    two, _ = start_conversation(ekonomi)
    client_id = uuid.uuid4()

    first, created_first = post(one, client_id=client_id)
    second, created_second = post(two, client_id=client_id)

    assert created_first and created_second
    assert first.pk != second.pk


@pytest.mark.parametrize("how", ["client", "worker"])
def test_it_still_acknowledges_a_repeat_after_the_conversation_ended(active, anna, how):
    author = anna if how == "worker" else None
    client_id = uuid.uuid4()
    original, _ = post(active, author=author, body="Sista ordet", client_id=client_id)
    conversation_end(conversation=active, actor=anna)

    repeat, created = post(active, author=author, body="Sista ordet", client_id=client_id)

    assert created is False
    assert (repeat.pk, repeat.seq) == (original.pk, original.seq)


@pytest.mark.parametrize("leaves_while_queued", [True, False])
def test_it_refuses_a_client_message_after_the_end(ekonomi, anna, leaves_while_queued):
    conversation, _ = start_conversation(ekonomi)
    if not leaves_while_queued:
        accept(anna, conversation)
    conversation_end(conversation=conversation, actor=None)
    before = seqs(conversation)

    with pytest.raises(Conflict):
        post(conversation, body="Hallå?")

    assert seqs(conversation) == before


def test_it_refuses_a_worker_message_after_the_end(active, anna):
    conversation_end(conversation=active, actor=anna)

    with pytest.raises(Conflict):
        post(active, author=anna, body="En sak till")


def test_it_refuses_a_message_from_a_worker_the_conversation_is_not_assigned_to(
    active, bengt, sara, cecilia
):
    before = seqs(active)

    for colleague in (bengt, sara):  # they may read it (same unit), not write in it
        with pytest.raises(NotAllowed):
            post(active, author=colleague, body="Jag tar över")
    with pytest.raises(NotFound):  # another unit's worker learns nothing about it
        post(active, author=cecilia, body="Jag tar över")

    assert seqs(active) == before
    active.refresh_from_db()
    assert (active.last_seq, active.last_staff_message_at) == (2, None)


def test_it_tells_an_outsider_nothing_about_an_ended_conversation_or_a_repeat(
    active, anna, cecilia
):
    client_id = uuid.uuid4()
    post(active, author=anna, body="Hej", client_id=client_id)

    with pytest.raises(NotFound):  # not the stored message (same client_id)
        post(active, author=cecilia, body="Hej", client_id=client_id)
    conversation_end(conversation=active, actor=anna)
    with pytest.raises(NotFound):  # not "ended"
        post(active, author=cecilia, body="Hej")


def test_it_answers_not_found_for_a_conversation_that_does_not_exist(active):
    missing = Conversation(pk=active.pk + 1000)

    with pytest.raises(NotFound):
        post(missing, body="Hej")


def test_it_refuses_a_client_message_to_a_purged_conversation(active, anna):
    conversation_end(conversation=active, actor=anna)
    Conversation.objects.filter(pk=active.pk).update(purged_at=timezone.now())
    Message.objects.filter(conversation=active).delete()

    with pytest.raises(Conflict):
        post(active, body="Finns du kvar?")

    assert seqs(active) == []


def test_it_returns_the_message_as_stored_and_publishes_it_so(
    active, anna, published, django_capture_on_commit_callbacks
):
    """The message a post returns (and the event built from it) is the row in the
    database, field for field, from either side."""
    for author in (None, anna):
        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            message, _created = post(active, author=author, body="Se https://x.se\nRad två")

        stored = Message.objects.select_related("conversation", "author").get(pk=message.pk)
        fields = [f.attname for f in Message._meta.concrete_fields]
        assert [getattr(message, f) for f in fields] == [getattr(stored, f) for f in fields]
        assert published == [
            (realtime.conversation_group(active.pk), realtime.message_event(stored))
        ]


def test_it_records_the_last_word_from_each_side(active, anna):
    Conversation.objects.filter(pk=active.pk).update(unanswered_flagged_at=timezone.now())

    before_client = timezone.now()
    post(active, body="Hallå?")
    active.refresh_from_db()
    client_wrote = active.last_client_message_at
    assert client_wrote is not None and client_wrote >= before_client
    assert active.last_staff_message_at is None
    assert active.unanswered_flagged_at is not None

    before_worker = timezone.now()
    post(active, author=anna, body="Här är jag.")
    active.refresh_from_db()
    assert active.last_staff_message_at is not None
    assert active.last_staff_message_at >= before_worker
    assert active.unanswered_flagged_at is None
    assert active.last_client_message_at == client_wrote


def test_it_refuses_a_worker_message_to_a_conversation_still_in_the_queue(ekonomi, anna):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(Conflict):
        post(conversation, author=anna, body="Hej innan jag tagit dig")

    assert seqs(conversation) == [1]
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.QUEUED


@pytest.mark.parametrize("body", ["", " ", "\n\n", "\t \r\n", "Hej\x00", "\x00"])
def test_it_refuses_an_empty_blank_or_nul_body(active, body):
    with pytest.raises(InvalidInput) as raised:
        post(active, body=body)

    assert raised.value.code == "invalid"
    assert seqs(active) == [1, 2]


def test_it_refuses_a_body_over_the_limit_and_stores_nothing(active, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 10

    exactly, _ = post(active, body="x" * 10)
    with pytest.raises(TooLong) as raised:
        post(active, body="x" * 11)

    assert exactly.seq == 3
    assert raised.value.code == "too_long"
    assert raised.value.details == {"limit": 10}
    assert seqs(active) == [1, 2, 3]


def test_it_counts_the_limit_in_characters_not_bytes(active, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 4

    message, _ = post(active, body="åäö😀")

    assert message.body == "åäö😀"


def test_it_normalises_line_breaks_and_keeps_the_rest_as_typed(active):
    body = "Rad ett\r\nRad två\rRad tre\n  <b>fet?</b> &amp; https://x.se  "

    message, _ = post(active, body=body)

    message.refresh_from_db()
    assert message.body == "Rad ett\nRad två\nRad tre\n  <b>fet?</b> &amp; https://x.se  "


def test_it_publishes_a_message_as_plain_json_after_commit(
    active, anna, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message, _ = post(active, author=anna, body="Läs https://example.com")
    assert published == []

    for callback in callbacks:
        callback()

    [(group, event)] = published
    assert group == realtime.conversation_group(active.pk)
    assert json.loads(json.dumps(event)) == event
    assert event["type"] == "conversation.message"
    assert event["conversation"] == active.pk
    assert event["state"] == "active"
    payload = event["message"]
    assert payload["seq"] == message.seq == 3
    assert payload["sender"] == "worker"
    assert payload["author"] == "Anna"
    assert payload["body"] == "Läs https://example.com"
    assert payload["parts"] == [
        {"text": "Läs "},
        {"text": "https://example.com", "href": "https://example.com"},
    ]
    assert payload["client_id"] == str(message.client_id)
    assert payload["event"] == ""
