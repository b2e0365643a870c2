"""Transcripts (chat/transcripts.py, chat/services/access.py, frontend/case_views.py): the
staff transcript holds what a journal needs, private notes only when asked and allowed,
every staff read is logged; the client's own copy has no notes and no staff names, and its
token never travels in a URL."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import timezone, translation

from chat.errors import NotFound
from chat.models import AccessLog, Message
from chat.selectors import transcript_for_client
from chat.services.access import conversation_transcript
from chat.services.conversations import conversation_end
from chat.services.handover import conversation_hand_over, handover_accept
from chat.services.messages import message_post, private_note_post
from chat.services.participants import participant_invite
from chat.transcripts import FSI, PDI, entries, transcript_text
from tests import factories
from tests.security_personas import http_client

pytest_plugins = ["tests.case_personas"]
pytestmark = pytest.mark.django_db

NOTE = "Anteckning: klienten verkar orolig."
CLIENT_FIRST = "Hej, jag har inte råd med hyran."
WORKER_REPLY = "Hej! Berätta mer."
CLIENT_SECOND = "Vi är tre i familjen."
HANDOVER_NOTE = "Gäller hyresskuld, Bengt tar över."


def post(conversation, author, body):
    return message_post(
        conversation_id=conversation.pk,
        author=author,
        body=body,
        client_id=factories.new_client_id(),
    )[0]


def note(conversation, author, body=NOTE):
    return private_note_post(
        conversation=conversation, author=author, body=body, client_id=factories.new_client_id()
    )[0]


def transcript(actor, conversation, *, notes=False):
    return conversation_transcript(
        actor=actor, conversation_id=conversation.pk, include_notes=notes, request_id=uuid.uuid4()
    )


@pytest.fixture
def handed_over(ekonomi, anna, bengt, ivar):
    """A meeting anna began with an interpreter and a private note and handed to bengt,
    who ended it: (conversation, token)."""
    anna.first_name, anna.last_name = "Anna", "Andersson"
    anna.save()
    conversation, token = factories.start_conversation(ekonomi, CLIENT_FIRST)
    factories.accept(anna, conversation)
    participant_invite(conversation=conversation, actor=anna, user_id=ivar.pk)
    post(conversation, anna, WORKER_REPLY)
    note(conversation, anna)
    post(conversation, None, CLIENT_SECOND)
    handover = conversation_hand_over(
        conversation=conversation, actor=anna, note=HANDOVER_NOTE, to_worker_id=bengt.pk
    )
    handover_accept(handover=handover, actor=bengt)
    conversation.refresh_from_db()
    conversation_end(conversation=conversation, actor=bengt)
    conversation.refresh_from_db()
    return conversation, token


# --- the staff transcript ---------------------------------------------------------------------
def test_it_holds_the_unit_times_participants_handovers_and_messages_in_order(handed_over, bengt):
    conversation, _token = handed_over

    text = transcript_text(transcript(bengt, conversation))

    local = timezone.localtime
    assert "Ekonomiskt bistånd" in text
    assert f"{local(conversation.created_at):%Y-%m-%d %H:%M}" in text
    assert f"{local(conversation.ended_at):%Y-%m-%d %H:%M}" in text
    assert f": {conversation.pk}" in text and f": {conversation.case_id}" in text
    assert "Bengt" in text  # the worker who has it now
    assert "Ivar" in text  # the interpreter
    assert f"{FSI}{HANDOVER_NOTE}{PDI}" in text
    assert f"{FSI}Anna Andersson{PDI} -> {FSI}Bengt{PDI}" in text
    positions = [text.index(part) for part in (CLIENT_FIRST, WORKER_REPLY, CLIENT_SECOND)]
    assert positions == sorted(positions)
    assert text.index(f"{FSI}Anna Andersson{PDI}:") < text.index(WORKER_REPLY)  # who wrote
    assert NOTE not in text  # not asked for


def test_its_entries_follow_the_messages_seq_with_system_events(handed_over, anna):
    conversation, _token = handed_over

    rows = entries(transcript(anna, conversation))

    texts = [row["text"] for row in rows]
    stored = list(Message.objects.filter(conversation=conversation).order_by("seq"))
    assert len(rows) == len(stored)
    assert [row["system"] for row in rows] == [m.sender == "system" for m in stored]
    assert texts.index(CLIENT_FIRST) < texts.index(WORKER_REPLY) < texts.index(CLIENT_SECOND)


def test_private_notes_come_only_when_asked_and_allowed(handed_over, anna, bengt, sara):
    conversation, _token = handed_over
    colleague = factories.make_user("greta", units=[conversation.unit])

    assert NOTE in transcript_text(transcript(bengt, conversation, notes=True))  # has it now
    assert NOTE in transcript_text(transcript(sara, conversation, notes=True))  # supervisor
    assert NOTE not in transcript_text(transcript(bengt, conversation, notes=False))
    # Staff of the unit who are not in it read the messages, never the notes: not even
    # anna, who wrote it and has handed the conversation over since.
    for reader in (colleague, anna):
        text = transcript_text(transcript(reader, conversation, notes=True))
        assert CLIENT_FIRST in text
        assert NOTE not in text


def test_a_note_sits_after_the_message_it_followed(handed_over, bengt):
    conversation, _token = handed_over

    rows = entries(transcript(bengt, conversation, notes=True))

    texts = [row["text"] for row in rows]
    assert texts.index(WORKER_REPLY) < texts.index(NOTE) < texts.index(CLIENT_SECOND)
    (row,) = [r for r in rows if r["note"]]
    assert "Anna Andersson" in row["who"]


def test_it_is_never_for_a_worker_of_another_unit(handed_over, cecilia, ivar):
    conversation, _token = handed_over

    with pytest.raises(NotFound):
        transcript(cecilia, conversation, notes=True)
    for path in (
        f"/console/conversations/{conversation.pk}/transcript/",
        f"/console/conversations/{conversation.pk}/transcript.txt",
    ):
        assert http_client(cecilia).get(path).status_code == 404
        assert http_client(cecilia).get(path + "?notes=1").status_code == 404
        assert http_client(ivar).get(path).status_code == 403  # an interpreter has no console
        assert http_client(None).get(path).status_code == 302  # to the login
    assert not AccessLog.objects.exists()


def test_every_staff_download_and_page_view_writes_an_access_log_row(handed_over, anna, bengt):
    conversation, _token = handed_over
    browser = http_client(bengt)

    page = browser.get(f"/console/conversations/{conversation.pk}/transcript/")
    download = browser.get(f"/console/conversations/{conversation.pk}/transcript.txt?notes=1")
    http_client(anna).get(f"/console/conversations/{conversation.pk}/transcript.txt")

    assert page.status_code == download.status_code == 200
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" in download["Content-Disposition"]
    assert CLIENT_FIRST in download.content.decode()
    assert NOTE in download.content.decode()
    rows = list(AccessLog.objects.order_by("pk").values_list("actor", "action", "took_part"))
    assert rows == [
        (bengt.pk, AccessLog.Action.READ_TRANSCRIPT, True),
        (bengt.pk, AccessLog.Action.READ_TRANSCRIPT, True),
        (anna.pk, AccessLog.Action.READ_TRANSCRIPT, True),  # she handed it over: took part
    ]
    assert set(AccessLog.objects.values_list("conversation_id", flat=True)) == {conversation.pk}


def test_the_transcript_page_shows_the_same_as_the_text(handed_over, bengt):
    conversation, _token = handed_over

    html = http_client(bengt).get(f"/console/conversations/{conversation.pk}/transcript/?notes=1")

    content = html.content.decode()
    for part in ("Ekonomiskt bistånd", CLIENT_FIRST, WORKER_REPLY, HANDOVER_NOTE, NOTE):
        assert part in content
    assert "transcript__note" in content


# --- the client's transcript ------------------------------------------------------------------
def test_the_clients_transcript_has_no_notes_and_no_staff_names(handed_over):
    _conversation, token = handed_over

    response = http_client(None).post("/transcript/", {"token": token})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    for said in (CLIENT_FIRST, WORKER_REPLY, CLIENT_SECOND):
        assert said in text
    for secret in (NOTE, HANDOVER_NOTE, "Anna", "Andersson", "Bengt", "bengt", "Ivar", "ivar"):
        assert secret not in text
    assert "Case:" not in text and "Ärende:" not in text  # the case number is for staff
    assert text == transcript_text(transcript_for_client(token=token))


def test_the_clients_transcript_refuses_a_wrong_token(handed_over):
    for token in (factories.new_token(), "", "x"):
        assert http_client(None).post("/transcript/", {"token": token}).status_code == 404
    assert http_client(None).post("/transcript/").status_code == 404


def test_the_clients_transcript_never_takes_the_token_from_a_url(handed_over):
    _conversation, token = handed_over

    response = http_client(None).get("/transcript/", {"token": token})

    assert response.status_code == 405
    assert CLIENT_FIRST.encode() not in response.content
    # The page never puts a token into a link or a form action either.
    for page in ("/", "/return/"):
        html = http_client(None).get(page).content.decode()
        assert "token=" not in html
        assert token not in html


def test_the_client_transcript_is_the_clients_own_conversation_only(ekonomi, anna, handed_over):
    _other, other_token = factories.start_conversation(ekonomi, "Någon annans hemlighet.")

    text = http_client(None).post("/transcript/", {"token": handed_over[1]}).content.decode()

    assert "Någon annans hemlighet." not in text
    assert "Någon annans hemlighet." in transcript_text(transcript_for_client(token=other_token))


def test_the_transcript_speaks_swedish(handed_over, bengt):
    conversation, token = handed_over
    english = {
        "Chat transcript",
        "Started",
        "Ended",
        "Case",
        "Client",
        "You",
        "Social worker",
        "A social worker joined the chat.",
        "The chat ended.",
    }

    with translation.override("sv"):
        staff = transcript_text(transcript(bengt, conversation))
        client = transcript_text(transcript_for_client(token=token))

    leftovers = sorted(
        phrase
        for phrase in english
        if re.search(rf"(^|\W){re.escape(phrase)}(\W|$)", staff + client, re.M)
    )
    assert leftovers == []


# --- direction of user text ---------------------------------------------------------------------
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "gnp.exe" then shows as "exe.png"
SPOOF = f"Faktura {RLO}gnp.exe 500 kr"


def _isolation_faults(text: str) -> list[str]:
    """Lines where an override sits outside an isolate, or an isolate is left open."""
    faults = []
    for line in text.splitlines():
        depth = 0
        for char in line:
            depth += (char == FSI) - (char == PDI)
            if depth < 0 or (char == RLO and depth == 0):
                faults.append(line)
                break
        else:
            if depth:
                faults.append(line)
    return faults


def test_the_text_transcript_isolates_every_piece_of_user_text(ekonomi, anna, bengt, ivar):
    for user, last_name in ((anna, f"{RLO}nossrednA"), (bengt, f"B{RLO}erg"), (ivar, RLO)):
        user.last_name = last_name
        user.save()
    conversation, token = factories.start_conversation(ekonomi, f"{SPOOF}\n\nRad två {RLO}321")
    factories.accept(anna, conversation)
    participant_invite(conversation=conversation, actor=anna, user_id=ivar.pk)
    post(conversation, anna, SPOOF)
    note(conversation, anna, SPOOF)
    handover = conversation_hand_over(
        conversation=conversation, actor=anna, note=SPOOF, to_worker_id=bengt.pk
    )
    handover_accept(handover=handover, actor=bengt)
    conversation.refresh_from_db()

    staff = transcript_text(transcript(bengt, conversation, notes=True))
    client = transcript_text(transcript_for_client(token=token))

    for text in (staff, client):
        assert _isolation_faults(text) == []
        # Each line of a message on its own, the empty line left empty.
        assert f"    {FSI}{SPOOF}{PDI}\n    \n    {FSI}Rad två {RLO}321{PDI}\n" in text
    anna_name, bengt_name = f"{FSI}Anna {RLO}nossrednA{PDI}", f"{FSI}Bengt B{RLO}erg{PDI}"
    assert f"] {anna_name}:\n    {FSI}{SPOOF}{PDI}\n" in staff  # her message
    assert f", {anna_name}:\n    {FSI}{SPOOF}{PDI}\n" in staff  # her private note
    assert f": {bengt_name}\n" in staff and f": {FSI}Ivar {RLO}{PDI}\n" in staff
    assert f": {anna_name} -> {bengt_name} (" in staff
    assert f"): {FSI}{SPOOF}{PDI}\n" in staff  # the handover note
    assert "nossrednA" not in client and f"{FSI}{SPOOF}{PDI}" in client
