"""chat/services/messages.py: message_post stores each message once, numbers them without
gaps, and lets only the conversation's own client and worker write."""

import json
import uuid

import pytest

from chat import realtime
from chat.errors import Conflict, InvalidInput, NotAllowed, TooLong
from chat.models import Conversation, Message
from chat.services.conversations import conversation_end
from chat.services.messages import message_post
from tests.factories import accept, new_client_id, seqs, start_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(ekonomi, anna):
    """A conversation Anna has accepted: seq 1 the client's opening, seq 2 `accepted`."""
    conversation, _token = start_conversation(ekonomi)
    return accept(anna, conversation)


def post(conversation, author=None, body="Hej", client_id=None):
    return message_post(
        conversation=conversation,
        author=author,
        body=body,
        client_id=client_id or new_client_id(),
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
    client_id = new_client_id()
    with django_capture_on_commit_callbacks(execute=True):
        first, created = post(active, body="Skickat en gång", client_id=client_id)
    assert created is True
    assert [(group, event["type"]) for group, event in published] == [
        (realtime.conversation_group(active.pk), "conversation.message")
    ]
    published.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created_again = post(active, body="Skickat igen, ändrat", client_id=client_id)
        as_uuid, _ = post(active, body="Som UUID", client_id=uuid.UUID(client_id))
        upper, _ = post(active, body="Versaler", client_id=client_id.upper())

    assert created_again is False
    assert again.pk == as_uuid.pk == upper.pk == first.pk
    assert again.seq == first.seq == 3
    assert again.body == "Skickat en gång"
    assert callbacks == []
    assert published == []
    assert Message.objects.filter(conversation=active).count() == 3


def test_it_lets_the_same_client_id_appear_in_two_conversations(ekonomi):
    one, _ = start_conversation(ekonomi)
    two, _ = start_conversation(ekonomi)
    client_id = new_client_id()

    first, created_first = post(one, client_id=client_id)
    second, created_second = post(two, client_id=client_id)

    assert created_first and created_second
    assert first.pk != second.pk


@pytest.mark.parametrize("how", ["client", "worker"])
def test_it_still_acknowledges_a_repeat_after_the_conversation_ended(active, anna, how):
    author = anna if how == "worker" else None
    client_id = new_client_id()
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

    for outsider in (bengt, sara, cecilia):
        with pytest.raises(NotAllowed):
            post(active, author=outsider, body="Jag tar över")

    assert seqs(active) == before


def test_it_refuses_a_worker_message_to_a_conversation_still_in_the_queue(ekonomi, anna):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(Conflict):
        post(conversation, author=anna, body="Hej innan jag tagit dig")

    assert seqs(conversation) == [1]
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.QUEUED


@pytest.mark.parametrize(
    "body",
    ["", " ", "\n\n", "\t \r\n", "Hej\x00", "\x00", None, 7, b"Hej", ["Hej"], {"body": "Hej"}],
)
def test_it_refuses_an_empty_blank_nul_or_non_text_body(active, body):
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


@pytest.mark.parametrize("client_id", [None, "", "1234", "not-a-uuid", 42, ["x"], {}])
def test_it_refuses_a_message_without_a_uuid_client_id(active, client_id):
    with pytest.raises(InvalidInput):
        message_post(conversation=active, author=None, body="Hej", client_id=client_id)

    assert seqs(active) == [1, 2]


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
