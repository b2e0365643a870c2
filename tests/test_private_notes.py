"""Private notes (chat/services/messages.py private_note_post): stored once per client_id,
acknowledged, and sent to the staff in the conversation only: never to the client's socket,
resume or transcript, never to an interpreter."""

import uuid

import pytest
from channels.db import database_sync_to_async

from chat import realtime, selectors
from chat.errors import InvalidInput, NotAllowed
from chat.models import Message, PrivateNote
from chat.services.access import conversation_transcript
from chat.services.conversations import conversation_accept
from chat.services.handover import handover_accept
from chat.services.participants import (
    participant_invite,
    participant_invite_link,
    participant_leave,
)
from chat.transcripts import transcript_text
from tests import factories
from tests.factories import frames_until, next_frame, send_message, settle
from tests.handover_personas import (
    active_conversation,
    active_conversation_async,
    client_says,
    console_sync,
    fresh,
    hand_over,
    interpreter_socket,
    note,
    of_type,
    sent_to,
    tove_fixture,  # noqa: F401 - fixture
)
from tests.security_personas import (
    keys_anywhere,
    private_rates,  # noqa: F401 - fixture
    text_of,
)

# vera, memory_layer and the other queue fixtures, by name.
pytest_plugins = ["tests.queue_personas"]

pytestmark = pytest.mark.django_db

SECRET = "Misstänker att mannen läser hennes sms."
sockets = pytest.mark.usefixtures("private_rates", "memory_layer")


@pytest.fixture
def talk(ekonomi, anna):
    conversation, token = active_conversation(ekonomi, anna)
    conversation.token = token  # for the client's transcript
    return conversation


# --- stored and acknowledged ------------------------------------------------------------------
def test_it_stores_a_note_after_the_latest_message_without_taking_a_seq(talk, anna):
    client_says(talk, "Jag är rädd.")
    before = fresh(talk).last_seq

    stored, created = note(talk, anna, SECRET)

    assert created is True
    assert (stored.author, stored.body, stored.after_seq) == (anna, SECRET, before)
    assert fresh(talk).last_seq == before
    assert not Message.objects.filter(conversation=talk, body=SECRET).exists()


def test_it_sends_a_note_to_the_staff_group_only(
    talk, anna, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stored, _ = note(talk, anna, SECRET)

    assert published == [(realtime.conversation_staff_group(talk.pk), realtime.note_event(stored))]
    assert sent_to(published, realtime.conversation_group(talk.pk)) == []


def test_it_stores_a_repeated_client_id_once_and_publishes_nothing_new(
    talk, anna, published, django_capture_on_commit_callbacks
):
    client_id = factories.new_client_id()
    first, created = note(talk, anna, SECRET, client_id=client_id)
    assert created is True

    with django_capture_on_commit_callbacks(execute=True):
        again, created_again = note(talk, anna, "ändrad text", client_id=client_id)

    assert (again.pk, again.body, created_again) == (first.pk, SECRET, False)
    assert PrivateNote.objects.filter(conversation=talk).count() == 1
    assert published == []


@pytest.mark.parametrize("body", ["", "   ", "a\x00b"])
def test_it_refuses_a_note_without_text(talk, anna, body):
    with pytest.raises(InvalidInput):
        note(talk, anna, body)
    assert not PrivateNote.objects.exists()


@sockets
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "client_id"),
    [(None, "uuid"), (["Hej"], "uuid"), ("Hej", None), ("Hej", "not-a-uuid"), ("Hej", 42)],
)
async def test_it_refuses_a_note_frame_without_text_or_a_uuid(ws, ekonomi, anna, body, client_id):
    """Parsed at the socket: the service only ever sees a str and a UUID."""
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    if client_id == "uuid":
        client_id = factories.new_client_id()

    await console.send_json_to(
        {"type": "note", "conversation": conversation_id, "body": body, "client_id": client_id}
    )

    error = await next_frame(console, "error")
    assert (error["code"], error["in_reply_to"]) == ("invalid", "note")
    assert not await PrivateNote.objects.aexists()
    await console.send_json_to({"type": "ping"})
    await next_frame(console, "pong")


# --- who writes them --------------------------------------------------------------------------
def test_it_lets_the_worker_the_units_supervisor_and_an_invited_colleague_write_notes(
    talk, anna, sara, cecilia
):
    participant_invite(conversation=talk, actor=anna, user_id=cecilia.pk)

    for author in (anna, sara, cecilia):
        assert note(talk, author, f"Notering av {author.username}")[1] is True


@pytest.mark.parametrize("persona", ["bengt", "cecilia", "pelle"])
def test_it_refuses_notes_from_staff_not_in_the_conversation(talk, persona, request):
    with pytest.raises(NotAllowed):
        note(talk, request.getfixturevalue(persona), SECRET)
    assert not PrivateNote.objects.exists()


def test_it_refuses_notes_from_an_interpreter(talk, anna, tove):
    participant_invite(conversation=talk, actor=anna, user_id=tove.pk)

    with pytest.raises(NotAllowed):
        note(talk, tove, SECRET)


def test_it_refuses_notes_from_a_colleague_who_was_removed(talk, anna, cecilia):
    seat = participant_invite(conversation=talk, actor=anna, user_id=cecilia.pk)
    participant_leave(participant=seat, actor=anna)

    with pytest.raises(NotAllowed):
        note(talk, cecilia, SECRET)


# --- never the client's ---------------------------------------------------------------------
def test_it_keeps_notes_out_of_the_clients_transcript(talk, anna):
    note(talk, anna, SECRET)
    client_says(talk, "Tack för hjälpen.")

    transcript = selectors.transcript_for_client(token=talk.token)

    assert transcript.notes == []
    assert all(SECRET not in m.body for m in transcript.messages)
    assert SECRET not in transcript_text(transcript)


def test_it_puts_notes_in_a_staff_transcript_only_when_asked(talk, anna):
    note(talk, anna, SECRET)

    def transcript(include_notes):
        return conversation_transcript(
            actor=anna,
            conversation_id=talk.pk,
            include_notes=include_notes,
            request_id=uuid.uuid4(),
        )

    assert SECRET in transcript_text(transcript(True))
    assert SECRET not in transcript_text(transcript(False))


# --- secrecy towards those who came later ----------------------------------------------------
def test_it_keeps_the_sending_units_notes_from_a_unit_that_got_no_history(
    talk, anna, vald, cecilia
):
    note(talk, anna, SECRET)
    hand_over(talk, anna, to_unit=vald, share_history=False)
    conversation_accept(worker=cecilia)
    note(talk, cecilia, "Ny notering i Våld.")

    transcript = conversation_transcript(
        actor=cecilia, conversation_id=talk.pk, include_notes=True, request_id=uuid.uuid4()
    )

    assert [n.body for n in transcript.notes] == ["Ny notering i Våld."]


def test_it_gives_the_notes_along_with_the_history(talk, anna, vald, cecilia):
    note(talk, anna, SECRET)
    hand_over(talk, anna, to_unit=vald, share_history=True)
    conversation_accept(worker=cecilia)

    transcript = conversation_transcript(
        actor=cecilia, conversation_id=talk.pk, include_notes=True, request_id=uuid.uuid4()
    )

    assert [n.body for n in transcript.notes] == [SECRET]


def test_it_gives_the_notes_to_a_colleague_of_the_same_unit_taking_over(talk, anna, bengt):
    note(talk, anna, SECRET)
    handover_accept(handover=hand_over(talk, anna, to_worker=bengt), actor=bengt)

    assert [n.body for n in selectors.private_note_list(conversation=talk)] == [SECRET]
    transcript = conversation_transcript(
        actor=bengt, conversation_id=talk.pk, include_notes=True, request_id=uuid.uuid4()
    )
    assert SECRET in transcript_text(transcript)


def test_it_keeps_notes_from_before_an_invited_colleague_joined_from_them(talk, anna, cecilia):
    note(talk, anna, SECRET)
    participant_invite(conversation=talk, actor=anna, user_id=cecilia.pk)
    note(talk, anna, "Efter att Cecilia kom in.")

    transcript = conversation_transcript(
        actor=cecilia, conversation_id=talk.pk, include_notes=True, request_id=uuid.uuid4()
    )

    assert [n.body for n in transcript.notes] == ["Efter att Cecilia kom in."]


# --- over the sockets ---------------------------------------------------------------------------
@sockets
@pytest.mark.django_db(transaction=True)
async def test_it_acks_a_note_and_sends_it_to_staff_but_not_to_the_client(
    ws, ekonomi, anna, cecilia
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    colleague, _ = await ws.console(cecilia)
    await console.send_json_to(
        {"type": "invite", "conversation": conversation_id, "user": cecilia.pk}
    )
    await next_frame(colleague, "conversation.assigned", conversation=conversation_id)
    await settle(client)
    await settle(console)

    client_id = factories.new_client_id()
    await console.send_json_to(
        {"type": "note", "conversation": conversation_id, "body": SECRET, "client_id": client_id}
    )

    frames = await settle(console)
    (ack,) = of_type(frames, "ack")
    stored = await database_sync_to_async(PrivateNote.objects.get)(client_id=client_id)
    assert (ack["conversation"], ack["client_id"], ack["note"]) == (
        conversation_id,
        client_id,
        stored.pk,
    )
    for staff_frames in (frames, await settle(colleague)):
        (seen,) = of_type(staff_frames, "conversation.note")
        assert (seen["conversation"], seen["note"]["body"]) == (conversation_id, SECRET)
        assert seen["note"]["author"] == "Anna"
    heard = await settle(client)
    assert SECRET not in text_of(heard)
    assert of_type(heard, "conversation.note") == []


@sockets
@pytest.mark.django_db(transaction=True)
async def test_it_answers_a_repeated_note_with_the_same_ack_and_no_second_broadcast(
    ws, ekonomi, anna
):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    frame = {
        "type": "note",
        "conversation": conversation_id,
        "body": SECRET,
        "client_id": factories.new_client_id(),
    }

    await console.send_json_to(frame)
    first = await settle(console)
    await console.send_json_to(frame)
    second = await settle(console)

    assert of_type(first, "ack") == of_type(second, "ack")
    assert len(of_type(first, "ack")) == 1
    assert len(of_type(first, "conversation.note")) == 1
    assert of_type(second, "conversation.note") == []
    count = database_sync_to_async(
        PrivateNote.objects.filter(conversation_id=conversation_id).count
    )
    assert await count() == 1


@sockets
@pytest.mark.django_db(transaction=True)
async def test_it_never_gives_a_note_to_a_resuming_client(ws, ekonomi, anna):
    conversation, token = await active_conversation_async(ekonomi, anna)
    await database_sync_to_async(note)(conversation, anna, SECRET)
    client = await ws.client()

    await client.send_json_to({"type": "resume", "token": token, "after": 0})
    sync = await next_frame(client, "conversation.sync")

    assert [m["seq"] for m in sync["messages"]] == [1, 2]
    assert SECRET not in text_of(sync)
    assert not {"note", "notes"} & keys_anywhere(sync)
    assert of_type(await settle(client), "conversation.note") == []


@sockets
@pytest.mark.django_db(transaction=True)
async def test_it_never_gives_a_note_to_an_interpreter(ws, ekonomi, anna, tove):
    conversation, _token = await active_conversation_async(ekonomi, anna)
    console, _ = await ws.console(anna)
    await database_sync_to_async(note)(conversation, anna, "Före tolken.")
    await database_sync_to_async(participant_invite)(
        conversation=conversation, actor=anna, user_id=tove.pk
    )
    invitation = await database_sync_to_async(participant_invite_link)(
        conversation=conversation, actor=anna
    )
    external = await interpreter_socket(ws)
    await external.send_json_to(
        {"type": "join", "invitation": invitation, "token": factories.new_token()}
    )
    await next_frame(external, "conversation.sync")
    signed_in = await interpreter_socket(ws, user=tove)
    await signed_in.send_json_to({"type": "resume"})
    await next_frame(signed_in, "conversation.sync")
    await settle(console)

    await console.send_json_to(
        {
            "type": "note",
            "conversation": conversation.pk,
            "body": SECRET,
            "client_id": factories.new_client_id(),
        }
    )
    assert len(of_type(await settle(console), "conversation.note")) == 1
    reply = await send_message(console, "Nu fortsätter vi.", conversation=conversation.pk)
    await frames_until(console, "ack", client_id=reply)

    for interpreter in (external, signed_in):
        frames = await settle(interpreter)
        assert [f["message"]["body"] for f in of_type(frames, "conversation.message")] == [
            "Nu fortsätter vi."
        ]
        assert SECRET not in text_of(frames)
        assert "Före tolken." not in text_of(frames)
        assert of_type(frames, "conversation.note") == []
    await signed_in.send_json_to({"type": "resume", "after": 0})
    resumed = await next_frame(signed_in, "conversation.sync")
    assert SECRET not in text_of(resumed)


@sockets
@pytest.mark.django_db(transaction=True)
async def test_it_gives_staff_the_notes_in_the_sync_context(ws, ekonomi, anna):
    conversation, _token = await active_conversation_async(ekonomi, anna)
    await database_sync_to_async(note)(conversation, anna, SECRET)
    console, _ = await ws.console(anna)

    sync, context = await console_sync(console, conversation.pk)

    assert SECRET not in text_of(sync)
    assert [n["body"] for n in context["notes"]] == [SECRET]
    assert context["notes"][0]["after_seq"] == 2


@sockets
@pytest.mark.django_db(transaction=True)
async def test_it_leaves_the_sending_units_notes_out_of_the_sync_context_without_history(
    ws, ekonomi, vald, anna, cecilia
):
    conversation, _token = await active_conversation_async(ekonomi, anna)
    await database_sync_to_async(note)(conversation, anna, SECRET)
    await database_sync_to_async(hand_over)(conversation, anna, to_unit=vald, share_history=False)
    await database_sync_to_async(conversation_accept)(worker=cecilia)
    console, _ = await ws.console(cecilia)

    sync, context = await console_sync(console, conversation.pk)

    assert sync["from_seq"] == 2
    assert SECRET not in text_of(context)
