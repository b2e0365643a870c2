"""Follow-up questions (chat/services/cases.py, chat/selectors/cases.py): a worker ends a meeting
with questions for the client, the client answers when they come back and asks the unit,
a worker of the unit answers, and the follow-up inbox shows the unit's share of it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import realtime
from chat.consumers.console import console_answer_question, followup_questions
from chat.errors import ChatError, Conflict, InvalidInput, NotAllowed, NotFound
from chat.models import Conversation, FollowUp
from chat.selectors import followup_get_for_staff, followup_inbox, followup_list_for_client
from chat.services.cases import (
    FollowUpQuestion,
    followup_ask,
    followup_client_answer,
    followup_client_ask,
    followup_mark_read,
    followup_worker_answer,
)
from chat.services.conversations import conversation_end
from chat.services.participants import participant_invite
from tests import factories
from tests.case_personas import aged, ended_meeting
from tests.security_personas import http_client

pytest_plugins = ["tests.case_personas"]
pytestmark = pytest.mark.django_db


TWO_QUESTIONS = [
    FollowUpQuestion("Har du fått hyran betald den här månaden?", ("Ja", "Nej", "Delvis")),
    FollowUpQuestion("Hur går det med ansökan?"),
]


def followup_events(published, unit):
    return [
        event["followup"]
        for group, event in published
        if group == realtime.unit_staff_group(unit.pk) and event["type"] == "followup.updated"
    ]


@pytest.fixture
def question(meeting, anna):
    """A question anna put to her client after the meeting, with quick answers."""
    conversation, _token = meeting
    return followup_ask(
        case=conversation.case, actor=anna, body="Fick du pengarna?", choices=["Ja", "Nej"]
    )


@pytest.fixture
def client_question(meeting):
    """A question the client asked the unit."""
    conversation, _token = meeting
    return followup_client_ask(case=conversation.case, body="När får jag beslutet?")


# --- a worker ends the meeting with questions ----------------------------------------------
def test_it_ends_a_meeting_with_two_questions_for_the_client(
    ekonomi, anna, published, django_capture_on_commit_callbacks
):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)

    with django_capture_on_commit_callbacks(execute=True):
        conversation_end(conversation=conversation, actor=anna, followups=TWO_QUESTIONS)

    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ENDED
    rows = list(FollowUp.objects.order_by("pk"))
    assert [(f.kind, f.body, f.choices) for f in rows] == [
        (FollowUp.Kind.TO_CLIENT, TWO_QUESTIONS[0].body, ["Ja", "Nej", "Delvis"]),
        (FollowUp.Kind.TO_CLIENT, TWO_QUESTIONS[1].body, []),
    ]
    assert all(f.case_id == conversation.case_id for f in rows)
    assert all(f.conversation_id == conversation.pk for f in rows)
    assert all(f.asked_by == anna and not f.is_answered for f in rows)
    events = followup_events(published, ekonomi)
    assert [e["id"] for e in events] == [f.pk for f in rows]
    assert events[0]["kind"] == "to_client"
    assert "choices" not in events[0] and "body" not in events[0]  # the text is read on demand


def test_it_tells_only_the_units_staff_about_a_question(
    ekonomi, vald, anna, published, django_capture_on_commit_callbacks
):
    conversation, _token = ended_meeting(ekonomi, anna)
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        followup_ask(case=conversation.case, actor=anna, body="Hur mår du?")

    groups = {group for group, event in published if event["type"] == "followup.updated"}
    assert groups == {realtime.unit_staff_group(ekonomi.pk)}


@pytest.mark.parametrize(
    "followups",
    [
        [{"body": ""}],
        [{"body": "   "}],
        [{"body": "x" * 2001}],
        [{"body": "Hur går det?", "choices": ["a", "b", "c", "d", "e", "f", "g"]}],
        [{"body": "Hur går det?", "choices": ["Ja", ""]}],
        [{"body": "Hur går det?", "choices": ["x" * 101]}],
        # A good question first: the bad one after it undoes the whole end.
        [{"body": "Hur går det?"}, {"body": ""}],
    ],
    ids=[
        "empty-body",
        "blank-body",
        "too-long",
        "seven-choices",
        "empty-choice",
        "long-choice",
        "good-then-empty",
    ],
)
def test_it_refuses_bad_questions_and_the_meeting_stays_as_it_was(ekonomi, anna, followups):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    questions = [FollowUpQuestion(q["body"], tuple(q.get("choices", ()))) for q in followups]

    with pytest.raises(InvalidInput):
        conversation_end(conversation=conversation, actor=anna, followups=questions)

    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE  # nothing half done
    assert not FollowUp.objects.exists()


@pytest.mark.parametrize(
    "followups",
    [
        "Hur går det?",
        {"body": "Hur går det?"},
        ["Hur går det?"],
        [{"choices": ["Ja"]}],
        [{"body": "Hur går det?", "choices": ["Ja", 1]}],
        [{"body": "Hur går det?", "choices": "Ja"}],
    ],
    ids=["text", "object", "list-of-text", "no-body", "number-choice", "choices-text"],
)
def test_an_end_frame_with_questions_of_the_wrong_shape_is_refused(followups):
    """Refused where the console reads the `end` frame, before anything is ended."""
    with pytest.raises(InvalidInput):
        followup_questions(followups)


def test_an_end_frame_is_read_as_its_questions():
    frame_value = [
        {"body": TWO_QUESTIONS[0].body, "choices": list(TWO_QUESTIONS[0].choices)},
        {"body": TWO_QUESTIONS[1].body},
    ]

    assert followup_questions(frame_value) == TWO_QUESTIONS
    assert followup_questions(None) == []


def test_questions_sent_as_the_client_leaves_are_kept_or_refused_never_lost(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    conversation_end(conversation=conversation, actor=None)  # the client ends first

    try:
        conversation_end(conversation=conversation, actor=anna, followups=TWO_QUESTIONS)
    except ChatError:
        return  # refused out loud: the console shows an error and the worker asks again
    assert FollowUp.objects.filter(case=conversation.case).count() == 2


def test_the_client_cannot_leave_questions_for_themself_when_ending(ekonomi, anna):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)

    with pytest.raises(InvalidInput):
        conversation_end(conversation=conversation, actor=None, followups=TWO_QUESTIONS)

    assert not FollowUp.objects.exists()


def test_a_worker_of_another_unit_cannot_ask_on_the_case(meeting, cecilia, ivar):
    conversation, _token = meeting
    for stranger in (cecilia, ivar):
        with pytest.raises(NotAllowed):
            followup_ask(case=conversation.case, actor=stranger, body="Hur går det?")
    assert not FollowUp.objects.exists()


# --- the client answers ---------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["Ja", "Nej, inte än. Jag ringer i morgon."])
def test_the_client_answers_with_a_quick_answer_or_own_words(
    question, answer, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        followup_client_answer(case=question.case, followup_id=question.pk, answer=answer)

    question.refresh_from_db()
    assert question.answer == answer
    assert question.is_answered
    assert question.answered_by is None  # the client is no user
    (event,) = followup_events(published, question.case.unit)
    assert event["id"] == question.pk
    assert event["answered"] is True
    assert "answer" not in event  # the client's words go only to a logged read


# Not text at all (None, 3, ["Ja"]) never gets here: the return page reads the form's text
# (tests/test_case_pages.py), and frames' text is read by chat/parsing.py (test_parsing.py).
@pytest.mark.parametrize("answer", ["", "   \n ", "x" * 2001, "a\x00b"])
def test_it_refuses_an_empty_or_bad_answer(question, answer):
    with pytest.raises(InvalidInput):
        followup_client_answer(case=question.case, followup_id=question.pk, answer=answer)

    question.refresh_from_db()
    assert not question.is_answered
    assert question.answer == ""


def test_it_refuses_a_second_answer(question):
    followup_client_answer(case=question.case, followup_id=question.pk, answer="Ja")

    with pytest.raises(Conflict):
        followup_client_answer(case=question.case, followup_id=question.pk, answer="Nej")

    question.refresh_from_db()
    assert question.answer == "Ja"


def test_a_client_answers_only_questions_put_to_them_on_their_own_case(
    ekonomi, anna, question, client_question
):
    stranger, _token = ended_meeting(ekonomi, anna)

    for case, followup_id in [
        (stranger.case, question.pk),  # another client's question
        (question.case, client_question.pk),  # their own question to the unit
        (question.case, question.pk + 1000),
    ]:
        with pytest.raises(NotFound):
            followup_client_answer(case=case, followup_id=followup_id, answer="Ja")

    question.refresh_from_db()
    assert not question.is_answered


# --- the client asks, a worker of the unit answers --------------------------------------------
def test_the_client_asks_the_unit_a_question(
    meeting, published, django_capture_on_commit_callbacks
):
    conversation, _token = meeting

    with django_capture_on_commit_callbacks(execute=True):
        asked = followup_client_ask(case=conversation.case, body="  När får jag beslutet?  ")

    assert asked.kind == FollowUp.Kind.FROM_CLIENT
    assert asked.body == "När får jag beslutet?"
    assert asked.asked_by is None
    assert followup_list_for_client(case=conversation.case) == [asked]
    (event,) = followup_events(published, conversation.unit)
    assert (event["id"], event["kind"], event["answered"]) == (asked.pk, "from_client", False)


# Not text at all (None, 12): see test_it_refuses_an_empty_or_bad_answer.
@pytest.mark.parametrize("body", ["", "  ", "x" * 2001])
def test_it_refuses_an_empty_or_bad_question_from_the_client(meeting, body):
    conversation, _token = meeting
    with pytest.raises(InvalidInput):
        followup_client_ask(case=conversation.case, body=body)
    assert not FollowUp.objects.exists()


def test_a_worker_of_the_unit_answers_the_clients_question(
    client_question, bengt, published, django_capture_on_commit_callbacks
):
    # bengt neither met the client nor owns the case: the unit answers, not one person.
    found = followup_get_for_staff(user=bengt, followup_id=client_question.pk)

    with django_capture_on_commit_callbacks(execute=True):
        followup_worker_answer(followup=found, actor=bengt, answer="Inom två veckor.")

    client_question.refresh_from_db()
    assert client_question.answer == "Inom två veckor."
    assert client_question.answered_by == bengt
    assert client_question.read_at is None  # new to the client until they see it
    (event,) = followup_events(published, client_question.case.unit)
    assert event["answered"] is True


def test_a_worker_answers_a_clients_question_only_once(client_question, anna, bengt):
    followup_worker_answer(followup=client_question, actor=anna, answer="I morgon.")

    with pytest.raises(Conflict):
        followup_worker_answer(followup=client_question, actor=bengt, answer="Om en vecka.")

    client_question.refresh_from_db()
    assert (client_question.answer, client_question.answered_by) == ("I morgon.", anna)


def test_a_worker_does_not_answer_their_own_question_to_the_client(question, anna):
    with pytest.raises(InvalidInput):
        followup_worker_answer(followup=question, actor=anna, answer="Ja")
    question.refresh_from_db()
    assert not question.is_answered


def test_it_refuses_an_empty_answer_from_a_worker(client_question, anna):
    with pytest.raises(InvalidInput):
        followup_worker_answer(followup=client_question, actor=anna, answer="  ")
    client_question.refresh_from_db()
    assert not client_question.is_answered


def test_a_worker_of_another_unit_gets_not_found(client_question, cecilia):
    with pytest.raises(NotFound):
        followup_get_for_staff(user=cecilia, followup_id=client_question.pk)
    # Called with the row anyway, the service itself refuses.
    with pytest.raises(NotAllowed):
        followup_worker_answer(followup=client_question, actor=cecilia, answer="Hej")

    client_question.refresh_from_db()
    assert not client_question.is_answered


def test_an_interpreter_never_answers_not_even_one_in_the_clients_meeting(ekonomi, anna, ivar):
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    participant_invite(conversation=conversation, actor=anna, user_id=ivar.pk)
    asked = followup_client_ask(case=conversation.case, body="Kan tolken svara?")

    with pytest.raises(NotFound):
        followup_get_for_staff(user=ivar, followup_id=asked.pk)
    with pytest.raises(ChatError):
        followup_worker_answer(followup=asked, actor=ivar, answer="Ja")

    asked.refresh_from_db()
    assert not asked.is_answered


@pytest.mark.parametrize("followup_id", [None, "1", True, 1.5])
def test_a_follow_up_is_only_found_by_a_whole_number(client_question, anna, followup_id):
    """Refused where the console reads the frame: not found, as for an unknown id."""
    frame = {"followup": followup_id, "answer": "Inom två veckor."}

    with pytest.raises(NotFound):
        console_answer_question(anna, frame)

    client_question.refresh_from_db()
    assert not client_question.is_answered


def test_marking_read_touches_only_answered_questions_of_the_client(
    meeting, anna, question, client_question
):
    conversation, _token = meeting
    unanswered = followup_client_ask(case=conversation.case, body="En fråga till.")
    followup_worker_answer(followup=client_question, actor=anna, answer="Svar.")
    followup_client_answer(case=question.case, followup_id=question.pk, answer="Ja")

    followup_mark_read(case=conversation.case)

    read = dict(FollowUp.objects.values_list("pk", "read_at"))
    assert read[client_question.pk] is not None
    assert read[unanswered.pk] is None
    assert read[question.pk] is None  # a question to the client has no answer to "read"


# --- the follow-up inbox ----------------------------------------------------------------------
def test_the_inbox_lists_clients_questions_and_answers_to_the_workers_questions(
    ekonomi, vald, anna, bengt, cecilia, question, client_question
):
    waiting_answer = followup_ask(case=question.case, actor=anna, body="Obesvarad fråga?")
    followup_client_answer(case=question.case, followup_id=question.pk, answer="Ja")
    vald_meeting, _token = ended_meeting(vald, cecilia)
    vald_question = followup_client_ask(case=vald_meeting.case, body="Fråga till Våld.")

    for worker in (anna, bengt):
        listed = set(followup_inbox(user=worker))
        assert listed == {question, client_question}
        assert waiting_answer not in listed  # nothing to read yet
    assert set(followup_inbox(user=cecilia)) == {vald_question}


def test_the_inbox_of_a_worker_of_two_units_lists_both_once(
    ekonomi, vald, anna, cecilia, client_question
):
    vald_meeting, _token = ended_meeting(vald, cecilia)
    vald_question = followup_client_ask(case=vald_meeting.case, body="Fråga till Våld.")
    both = factories.make_user("britt", units=[ekonomi, vald])

    assert sorted(f.pk for f in followup_inbox(user=both)) == sorted(
        [client_question.pk, vald_question.pk]
    )


def test_the_inbox_puts_unanswered_questions_first(meeting, anna, client_question, question):
    followup_client_answer(case=question.case, followup_id=question.pk, answer="Ja")
    conversation, _token = meeting
    answered = followup_client_ask(case=conversation.case, body="Besvarad fråga.")
    followup_worker_answer(followup=answered, actor=anna, answer="Svar.")

    listed = list(followup_inbox(user=anna))

    assert listed[0] == client_question
    assert set(listed[1:]) == {question, answered}


def test_the_inbox_shows_the_newest_answers_first(meeting, anna):
    conversation, _token = meeting
    older = followup_ask(case=conversation.case, actor=anna, body="Första frågan?")
    newer = followup_ask(case=conversation.case, actor=anna, body="Andra frågan?")
    followup_client_answer(case=conversation.case, followup_id=older.pk, answer="Ja")
    followup_client_answer(case=conversation.case, followup_id=newer.pk, answer="Nej")
    now = timezone.now()
    FollowUp.objects.filter(pk=older.pk).update(answered_at=now - timedelta(days=3))
    FollowUp.objects.filter(pk=newer.pk).update(answered_at=now - timedelta(hours=1))

    assert list(followup_inbox(user=anna)) == [newer, older]


def test_the_inbox_page_marks_questions_waiting_longer_than_the_reminder_days(
    settings, meeting, anna, cecilia
):
    settings.FOLLOWUP_REMINDER_DAYS = 2
    conversation, _token = meeting
    fresh = followup_client_ask(case=conversation.case, body="Ny fråga.")
    almost = aged(followup_client_ask(case=conversation.case, body="Snart sen."), days=1, hours=23)
    overdue = aged(
        followup_client_ask(case=conversation.case, body="Gammal fråga."), days=2, hours=1
    )
    answered_late = aged(followup_client_ask(case=conversation.case, body="Besvarad sent."), days=5)
    followup_worker_answer(followup=answered_late, actor=anna, answer="Förlåt dröjsmålet.")
    old_to_client = aged(
        followup_ask(case=conversation.case, actor=anna, body="Till klienten?"), days=5
    )
    followup_client_answer(case=conversation.case, followup_id=old_to_client.pk, answer="Ja")

    page = http_client(anna).get("/console/inbox/")

    assert page.status_code == 200
    html = page.content.decode()
    overdue_ids = {
        int(chunk.split('data-followup="')[1].split('"')[0])
        for chunk in html.split('class="inbox__item')[1:]
        if chunk.startswith(" inbox__item--overdue")
    }
    assert overdue_ids == {overdue.pk}
    for shown in (fresh, almost, overdue, answered_late, old_to_client):
        assert f'data-followup="{shown.pk}"' in html
    assert http_client(cecilia).get("/console/inbox/").content.decode().count("data-followup=") == 0


def test_the_reminder_follows_the_setting(settings, meeting, anna):
    settings.FOLLOWUP_REMINDER_DAYS = 7
    conversation, _token = meeting
    six_days = aged(followup_client_ask(case=conversation.case, body="Sex dagar."), days=6)

    html = http_client(anna).get("/console/inbox/").content.decode()

    assert f'data-followup="{six_days.pk}"' in html
    assert "inbox__item--overdue" not in html


def test_the_inbox_page_is_for_console_staff_only(pelle, ivar):
    assert http_client(pelle).get("/console/inbox/").status_code == 403
    assert http_client(ivar).get("/console/inbox/").status_code == 403
    anonymous = http_client(None).get("/console/inbox/")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]


def test_a_followup_event_carries_ids_and_plain_json_only(question):
    event = realtime.followup_event(question)

    assert event["type"] == "followup.updated"
    json.dumps(event)  # no model instances
    payload = event["followup"]
    # No client text goes to every console of the unit: showing it is a logged read.
    assert set(payload) == {"id", "case", "kind", "answered", "created_at", "answered_at"}
    assert set(realtime.followup_read_event(question)["followup"]) == set(payload) | {
        "body",
        "choices",
        "answer",
    }
    assert payload["case"] == question.case_id
