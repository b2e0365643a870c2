"""The post-chat survey (chat/services/cases.survey_submit, selectors.survey_summary): only
after the meeting, once per conversation, validated, and never shown one answer at a time:
supervisors see counts per unit, workers nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.utils import timezone

from chat.consumers.client import survey_reply
from chat.errors import Conflict, InvalidInput, NotFound
from chat.models import SurveyAnswer
from chat.selectors import survey_summary
from chat.services.cases import SurveyReply, survey_submit
from chat.services.retention import retention_purge
from tests import factories
from tests.case_personas import ended_meeting
from tests.security_personas import http_client

pytest_plugins = ["tests.case_personas"]
pytestmark = pytest.mark.django_db

COMMENT = "Handläggaren var snäll men jag fick vänta länge."
YES, PARTLY, NO = SurveyAnswer.Helped.YES, SurveyAnswer.Helped.PARTLY, SurveyAnswer.Helped.NO


def test_it_saves_the_survey_after_the_meeting(meeting):
    conversation, token = meeting

    survey = survey_submit(
        token=token, answers=SurveyReply(helped=PARTLY, rating=4, comment=f"  {COMMENT}  ")
    )

    assert survey.conversation == conversation
    assert (survey.helped, survey.rating, survey.comment) == ("partly", 4, COMMENT)


def test_every_answer_is_optional(meeting):
    _conversation, token = meeting

    survey = survey_submit(token=token, answers=survey_reply({"type": "survey"}))

    assert (survey.helped, survey.rating, survey.comment) == ("", None, "")


@pytest.mark.parametrize(
    "empty", [{}, {"helped": None, "rating": None, "comment": None}, {"helped": ""}]
)
def test_a_survey_frame_without_answers_is_no_answers(empty):
    assert survey_reply({"type": "survey", **empty}) == SurveyReply()


def test_a_survey_frame_is_read_as_its_answers():
    frame = {"type": "survey", "helped": "partly", "rating": 4, "comment": COMMENT}

    assert survey_reply(frame) == SurveyReply(helped=PARTLY, rating=4, comment=COMMENT)


@pytest.mark.parametrize("accepted", [True, False], ids=["waiting", "in-the-meeting"])
def test_it_refuses_the_survey_before_the_meeting_is_over(ekonomi, anna, accepted):
    conversation, token = factories.start_conversation(ekonomi)
    if accepted:
        factories.accept(anna, conversation)

    with pytest.raises(Conflict):
        survey_submit(token=token, answers=SurveyReply(helped=YES))

    assert not SurveyAnswer.objects.exists()


def test_it_keeps_one_survey_per_conversation_and_a_second_one_updates_it(meeting):
    conversation, token = meeting
    first = survey_submit(token=token, answers=SurveyReply(helped=NO, rating=1))

    second = survey_submit(token=token, answers=SurveyReply(helped=YES, rating=5, comment="Bra."))

    assert SurveyAnswer.objects.count() == 1
    assert second.pk == first.pk
    stored = SurveyAnswer.objects.get(conversation=conversation)
    assert (stored.helped, stored.rating, stored.comment) == ("yes", 5, "Bra.")


@pytest.mark.parametrize(
    "answers",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"comment": "x" * 2001},
        {"comment": "nul\x00byte"},
    ],
    ids=repr,
)
def test_it_refuses_answers_outside_the_questions(meeting, answers):
    _conversation, token = meeting

    with pytest.raises(InvalidInput):
        survey_submit(token=token, answers=SurveyReply(**answers))

    assert not SurveyAnswer.objects.exists()


@pytest.mark.parametrize(
    "answers",
    [
        {"helped": "maybe"},
        {"helped": "YES"},
        {"helped": True},
        {"helped": ["yes"]},
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"rating": 2.5},
        {"rating": "5"},
        {"rating": True},
        {"rating": [5]},
        {"comment": 42},
        {"comment": ["Bra"]},
    ],
    ids=repr,
)
def test_a_survey_frame_with_answers_outside_the_questions_is_refused(answers):
    """Refused where the frame is read (chat/consumers/client.py), before the service."""
    with pytest.raises(InvalidInput, match=f"`{next(iter(answers))}`"):
        survey_reply({"type": "survey", **answers})


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_it_takes_every_rating_from_one_to_five(meeting, rating):
    _conversation, token = meeting
    assert survey_submit(token=token, answers=survey_reply({"rating": rating})).rating == rating


def test_a_bad_second_survey_leaves_the_first_as_it_was(meeting):
    conversation, token = meeting
    survey_submit(token=token, answers=SurveyReply(helped=YES, rating=5, comment=COMMENT))

    with pytest.raises(InvalidInput):
        survey_submit(token=token, answers=SurveyReply(helped=NO, rating=9))

    stored = SurveyAnswer.objects.get(conversation=conversation)
    assert (stored.helped, stored.rating, stored.comment) == ("yes", 5, COMMENT)


@pytest.mark.parametrize("token", ["", "x" * 43, factories.new_token()])
def test_it_refuses_an_unknown_token(meeting, token):
    with pytest.raises(NotFound):
        survey_submit(token=token, answers=SurveyReply(helped=YES))
    assert not SurveyAnswer.objects.exists()


# --- never one survey at a time ---------------------------------------------------------------
@pytest.fixture
def answered(ekonomi, vald, anna, cecilia):
    """Three surveys in Ekonomiskt bistånd, one in Våld; returns the ekonomi conversations."""
    conversations = []
    for helped, rating, comment in [
        ("yes", 5, COMMENT),
        ("no", 2, ""),
        ("partly", None, "Okej."),
    ]:
        conversation, token = ended_meeting(ekonomi, anna)
        survey_submit(
            token=token,
            answers=SurveyReply(helped=SurveyAnswer.Helped(helped), rating=rating, comment=comment),
        )
        conversations.append(conversation)
    _vald_conversation, vald_token = ended_meeting(vald, cecilia)
    survey_submit(token=vald_token, answers=SurveyReply(helped=YES, rating=1, comment="Våld."))
    return conversations


def test_the_supervisor_sees_counts_for_their_units_only(answered, sara):
    (row,) = survey_summary(supervisor=sara)

    assert row["unit"].name == "Ekonomiskt bistånd"
    assert row["answers"] == 3
    assert row["helped"] == {"yes": 1, "partly": 1, "no": 1}
    assert row["ratings"] == 2
    assert row["average_rating"] == 3.5
    assert row["comments"] == 2
    assert row["too_few"] is True  # three answers: fewer than it takes to show them
    assert set(row) == {
        "unit",
        "answers",
        "helped",
        "ratings",
        "average_rating",
        "comments",
        "too_few",
    }


def test_the_summary_can_start_from_a_date(answered, sara):
    SurveyAnswer.objects.filter(conversation=answered[0]).update(
        created_at=timezone.now() - timedelta(days=40)
    )

    (row,) = survey_summary(supervisor=sara, since=timezone.localdate() - timedelta(days=7))

    assert row["answers"] == 2


def test_a_worker_sees_no_summary(answered, anna):
    assert survey_summary(supervisor=anna) == []


def test_the_survey_page_shows_supervisors_counts_and_never_a_comment(answered, sara):
    response = http_client(sara).get("/dashboard/surveys/")

    assert response.status_code == 200
    html = response.content.decode()
    assert COMMENT not in html and "Okej." not in html
    assert "Ekonomiskt bistånd" in html
    assert "Våld i nära relationer" not in html  # not sara's unit
    # Three answers are too few to show without revealing someone's answer.
    assert "<td>3</td>" in html and "3,5 (2)" not in html


def test_no_staff_page_shows_a_single_survey(answered, anna, bengt, sara, cecilia, pelle):
    conversation = answered[0]
    staff_pages = [
        "/console/",
        "/console/inbox/",
        f"/console/cases/{conversation.case_id}/",
        f"/console/conversations/{conversation.pk}/transcript/",
        f"/console/conversations/{conversation.pk}/transcript.txt",
        "/dashboard/",
    ]
    for user in (anna, bengt, sara):
        for path in staff_pages:
            response = http_client(user).get(path)
            assert response.status_code in (200, 403), (user, path, response.status_code)
            assert COMMENT not in response.content.decode(), (user, path)
    for user in (anna, bengt, cecilia, pelle):
        assert http_client(user).get("/dashboard/surveys/").status_code == 403


def test_survey_answers_are_not_in_the_admin():
    assert SurveyAnswer not in admin.site._registry


def test_the_client_does_not_see_the_survey_in_their_transcript(meeting):
    _conversation, token = meeting
    survey_submit(token=token, answers=SurveyReply(comment=COMMENT))

    text = http_client(None).post("/transcript/", {"token": token}).content.decode()

    assert COMMENT not in text


def test_survey_answers_are_purged_after_their_retention_period(settings, meeting):
    _conversation, token = meeting
    survey_submit(token=token, answers=SurveyReply(comment=COMMENT))
    days = settings.RETENTION_DAYS["survey_answers"]
    SurveyAnswer.objects.update(created_at=timezone.now() - timedelta(days=days + 1))

    retention_purge()

    assert not SurveyAnswer.objects.filter(comment=COMMENT).exists()
