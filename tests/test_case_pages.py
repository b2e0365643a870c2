"""The case pages (frontend/case_views.py): the client's way back with a case code
(/return/, /return/case/), the staff case page with its timeline and the follow-up inbox;
in Swedish and English."""

from __future__ import annotations

import re

import pytest

from chat.models import AccessLog, Case, FollowUp
from chat.ratelimit import address_key
from chat.services.cases import (
    case_issue_code,
    followup_ask,
    followup_client_ask,
    followup_worker_answer,
)
from chat.services.conversations import conversation_accept, conversation_start
from chat.services.handover import conversation_hand_over
from chat.services.messages import private_note_post
from tests import factories
from tests.case_personas import (
    REFUSED_PAGE_TEXT,
    ended_meeting,
    lockout_passes,
    returning_browser,
    untranslated,
    wrong_code,
)
from tests.security_personas import http_client

pytest_plugins = ["tests.case_personas"]
pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


@pytest.fixture
def case(meeting):
    conversation, _token = meeting
    return conversation.case


def browser(**defaults):
    """An anonymous browser from an address of its own, reading English unless told."""
    defaults.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
    return http_client(None, REMOTE_ADDR=factories.new_address(), **defaults)


def page_text(response) -> str:
    return CSRF.sub("", response.content.decode())


def note(conversation, author, body):
    private_note_post(
        conversation=conversation, author=author, body=body, client_id=factories.new_client_id()
    )


# --- /return/ ---------------------------------------------------------------------------------
def test_the_return_page_asks_for_the_code(client):
    response = client.get("/return/")

    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_the_right_code_opens_the_case_and_the_session_holds_only_its_id(case):
    visitor = browser()
    old_key = visitor.session.session_key  # a session from before: it must not survive

    response = visitor.post("/return/", {"code": case_issue_code(case=case).lower()})

    assert response.status_code == 302
    assert response["Location"] == "/return/case/"
    session = visitor.session
    assert session.session_key != old_key  # a new key: no fixation
    assert dict(session.items()) == {"case_id": case.pk}


def test_a_wrong_code_says_the_same_whatever_the_reason(settings, code_tries, case):
    settings.CASE_CODE_TRIES = settings.CASE_CODE_ADDRESS_TRIES = 2
    code = case_issue_code(case=case)

    wrong = browser().post("/return/", {"code": wrong_code()})
    empty = browser().post("/return/", {"code": ""})
    missing = browser().post("/return/", {})
    locked_address = browser()
    for _ in range(2):
        locked_address.post("/return/", {"code": wrong_code()})
    right_code_locked_address = locked_address.post("/return/", {"code": code})
    popular = wrong_code()
    for _ in range(2):
        browser().post("/return/", {"code": popular})
    locked_code = browser().post("/return/", {"code": popular})

    refusals = [wrong, empty, missing, right_code_locked_address, locked_code]
    assert [r.status_code for r in refusals] == [400] * 5
    assert REFUSED_PAGE_TEXT in page_text(wrong)
    assert len({page_text(r) for r in refusals}) == 1  # the same page, byte for byte
    assert all("case_id" not in dict(r.wsgi_request.session.items()) for r in refusals)


@pytest.mark.parametrize(
    "form",
    [{}, {"code": "12345678"}, {"code": ["ABCD", "EFGH"]}, {"other": "ABCD-EFGH-JKMN"}],
    ids=repr,
)
def test_a_form_that_holds_no_code_gets_the_one_refusal(code_tries, case, form):
    """What is not a code's text (no field, digits, two values) stops at the same page as a
    wrong code: the form's text is what case_open_by_code reads."""
    wrong = browser().post("/return/", {"code": wrong_code()})

    response = browser().post("/return/", form)

    assert response.status_code == 400
    assert page_text(response) == page_text(wrong)
    assert "case_id" not in dict(response.wsgi_request.session.items())


def test_the_right_code_opens_again_once_the_lockout_has_passed(settings, code_tries, case):
    code = case_issue_code(case=case)
    address = factories.new_address()
    visitor = http_client(None, REMOTE_ADDR=address)
    for _ in range(settings.CASE_CODE_ADDRESS_TRIES):
        assert visitor.post("/return/", {"code": wrong_code()}).status_code == 400
    assert visitor.post("/return/", {"code": code}).status_code == 400

    lockout_passes(address_key({"client": (address, 0)}))
    assert visitor.post("/return/", {"code": code}).status_code == 302


def test_the_case_page_without_a_case_in_the_session_sends_the_client_to_return(client):
    response = client.get("/return/case/")

    assert response.status_code == 302
    assert response["Location"] == "/return/"
    assert client.post("/return/case/", {"action": "ask", "body": "Hej"})["Location"] == (
        "/return/"
    )
    assert not FollowUp.objects.exists()


# --- /return/case/ ----------------------------------------------------------------------------
def test_the_returning_client_sees_their_case(case, anna):
    question = followup_ask(case=case, actor=anna, body="Fick du pengarna?", choices=["Ja", "Nej"])

    response = returning_browser(case).get("/return/case/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ekonomiskt bistånd" in html
    assert question.body in html
    assert 'value="Ja"' in html and 'value="Nej"' in html
    assert f'name="followup" value="{question.pk}"' in html
    assert not re.search(r"\banna\b", html, re.I)  # no staff names


@pytest.mark.parametrize(
    "form,stored",
    [
        ({"choice": "Nej"}, "Nej"),
        ({"answer": "Inte än, tyvärr."}, "Inte än, tyvärr."),
        ({"choice": "Ja", "answer": "Ja, i tisdags."}, "Ja, i tisdags."),  # own words win
    ],
    ids=["quick-answer", "own-words", "both"],
)
def test_the_client_answers_a_question(case, anna, form, stored):
    question = followup_ask(case=case, actor=anna, body="Fick du pengarna?", choices=["Ja", "Nej"])
    visitor = returning_browser(case)

    response = visitor.post("/return/case/", {"action": "answer", "followup": question.pk, **form})

    assert response.status_code == 302
    assert response["Location"] == "/return/case/"
    question.refresh_from_db()
    assert question.answer == stored
    html = visitor.get("/return/case/").content.decode()
    assert f'name="followup" value="{question.pk}"' not in html  # no form for it any more


@pytest.mark.parametrize(
    "form",
    [{"answer": ""}, {"answer": "   "}, {}, {"followup": "x", "answer": "Ja"}],
    ids=["empty", "blank", "nothing", "bad-id"],
)
def test_an_empty_or_bad_answer_is_refused_and_nothing_is_saved(case, anna, form):
    question = followup_ask(case=case, actor=anna, body="Fick du pengarna?")
    form = {"action": "answer", "followup": question.pk, **form}

    response = returning_browser(case).post("/return/case/", form)

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    question.refresh_from_db()
    assert not question.is_answered


def test_a_client_cannot_answer_another_cases_question(ekonomi, anna, case):
    other, _token = ended_meeting(ekonomi, anna)
    foreign = followup_ask(case=other.case, actor=anna, body="Någon annans fråga?")

    response = returning_browser(case).post(
        "/return/case/", {"action": "answer", "followup": foreign.pk, "answer": "Ja"}
    )

    assert response.status_code == 400
    foreign.refresh_from_db()
    assert not foreign.is_answered
    assert "Någon annans fråga?" not in response.content.decode()


def test_the_client_asks_a_question_and_it_reaches_the_units_inbox(case, bengt):
    visitor = returning_browser(case)

    response = visitor.post("/return/case/", {"action": "ask", "body": "När kommer beslutet?"})

    assert response.status_code == 302
    asked = FollowUp.objects.get()
    assert (asked.case, asked.kind, asked.body) == (case, "from_client", "När kommer beslutet?")
    assert "När kommer beslutet?" in visitor.get("/return/case/").content.decode()
    inbox = http_client(bengt).get("/console/inbox/").content.decode()
    assert "När kommer beslutet?" in inbox


def test_an_empty_question_is_refused(case):
    response = returning_browser(case).post("/return/case/", {"action": "ask", "body": "  "})

    assert response.status_code == 400
    assert not FollowUp.objects.exists()


def test_forget_ends_the_session_on_this_device(case):
    visitor = returning_browser(case)

    response = visitor.post("/return/case/", {"action": "forget"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "case_id" not in dict(visitor.session.items())
    assert visitor.get("/return/case/")["Location"] == "/return/"


def test_an_answer_is_marked_new_once_then_read(case, anna):
    asked = followup_client_ask(case=case, body="När kommer beslutet?")
    followup_worker_answer(followup=asked, actor=anna, answer="På fredag.")
    visitor = returning_browser(case, HTTP_ACCEPT_LANGUAGE="en")

    first = visitor.get("/return/case/").content.decode()
    second = visitor.get("/return/case/").content.decode()

    assert "På fredag." in first and "På fredag." in second
    assert '<span class="badge">new</span>' in first
    assert '<span class="badge">' not in second
    asked.refresh_from_db()
    assert asked.read_at is not None


def test_text_from_clients_and_workers_stays_text_on_every_page(case, anna, bengt):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    asked = followup_client_ask(case=case, body=attack)
    followup_worker_answer(followup=asked, actor=anna, answer=attack)
    followup_ask(case=case, actor=anna, body=attack, choices=[attack])

    pages = [
        returning_browser(case).get("/return/case/"),
        http_client(bengt).get(f"/console/cases/{case.pk}/"),
        http_client(bengt).get("/console/inbox/"),
    ]

    for response in pages:
        html = response.content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert" in html


# --- the staff case page ----------------------------------------------------------------------
def test_the_case_page_is_not_found_for_a_worker_of_another_unit(case, cecilia):
    assert http_client(cecilia).get(f"/console/cases/{case.pk}/").status_code == 404
    assert (
        http_client(cecilia)
        .post(f"/console/cases/{case.pk}/", {"action": "ask", "body": "Hej?"})
        .status_code
        == 404
    )
    assert not FollowUp.objects.exists()
    assert not AccessLog.objects.exists()


def test_the_case_page_is_for_console_staff_only(case, pelle, ivar):
    assert http_client(pelle).get(f"/console/cases/{case.pk}/").status_code == 403
    assert http_client(ivar).get(f"/console/cases/{case.pk}/").status_code == 403
    assert http_client(None).get(f"/console/cases/{case.pk}/").status_code == 302
    assert (
        http_client(factories.make_user("bo", units=[])).get("/console/cases/9999/").status_code
        == 404
    )


def test_the_unit_sees_the_timeline_and_every_view_is_logged(meeting, anna, bengt):
    conversation, _token = meeting
    case = conversation.case
    asked = followup_ask(case=case, actor=anna, body="Fick du pengarna?", choices=["Ja", "Nej"])
    question = followup_client_ask(case=case, body="När kommer beslutet?")

    response = http_client(bengt).get(f"/console/cases/{case.pk}/")
    http_client(anna).get(f"/console/cases/{case.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "timeline__item--conversation" in html
    assert html.count("timeline__item--followup") == 2
    assert html.index(asked.body) < html.index(question.body)  # oldest first
    assert f"/console/conversations/{conversation.pk}/transcript/" in html
    assert f'name="followup" value="{question.pk}"' in html  # bengt may answer it
    rows = list(AccessLog.objects.order_by("pk").values_list("actor", "action", "case_id"))
    assert rows == [
        (bengt.pk, AccessLog.Action.READ_CASE, case.pk),
        (anna.pk, AccessLog.Action.READ_CASE, case.pk),
    ]
    assert list(AccessLog.objects.order_by("pk").values_list("took_part", flat=True)) == [
        False,
        True,  # anna owns the case
    ]


def test_a_worker_asks_answers_and_closes_from_the_case_page(case, bengt):
    question = followup_client_ask(case=case, body="När kommer beslutet?")
    staff = http_client(bengt)
    path = f"/console/cases/{case.pk}/"

    asked = staff.post(
        path, {"action": "ask", "body": "Hur går det?", "choices": "Bra\n\nDåligt\n"}
    )
    answered = staff.post(path, {"action": "answer", "followup": question.pk, "answer": "Fredag."})
    refused = staff.post(path, {"action": "answer", "followup": question.pk, "answer": "Igen."})
    closed = staff.post(path, {"action": "close"})

    assert [asked.status_code, answered.status_code, closed.status_code] == [302, 302, 302]
    assert refused.status_code == 400
    new = FollowUp.objects.get(kind="to_client")
    assert (new.body, new.choices, new.asked_by) == ("Hur går det?", ["Bra", "Dåligt"], bengt)
    question.refresh_from_db()
    assert (question.answer, question.answered_by) == ("Fredag.", bengt)
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED


def test_the_case_page_shows_only_the_private_notes_the_reader_may_see(
    ekonomi, vald, anna, bengt, cecilia, sara, meeting
):
    first, _token = meeting  # anna's meeting
    note(first, anna, "Annas anteckning.")
    second, _created = conversation_start(
        unit_id=ekonomi.pk,
        token=factories.new_token(),
        body="Jag är tillbaka.",
        client_id=factories.new_client_id(),
        case=first.case,
    )
    factories.accept(bengt, second)
    note(second, bengt, "Bengts anteckning.")
    conversation_hand_over(conversation=second, actor=bengt, note="Till Våld.", to_unit_id=vald.pk)
    conversation_accept(worker=cecilia, conversation_id=second.pk)
    note(second, cecilia, "Cecilias anteckning i Våld.")

    def seen_by(user):
        html = http_client(user).get(f"/console/cases/{first.case_id}/").content.decode()
        return {text for text in ("Annas", "Bengts", "Cecilias") if f"{text} anteckning" in html}

    assert seen_by(anna) == {"Annas"}  # bengt's meeting was never hers
    # The meeting went on in Våld, on the client's case there, without its history: Ekonomi
    # no longer sees it, and Våld sees only what was written after the handover.
    assert seen_by(sara) == {"Annas"}
    second.refresh_from_db()
    assert second.case_id != first.case_id and second.case.unit == vald
    html = http_client(cecilia).get(f"/console/cases/{second.case_id}/").content.decode()
    assert "Cecilias anteckning" in html and "Bengts anteckning" not in html


def test_the_case_page_keeps_another_units_handover_notes_with_that_unit(
    ekonomi, vald, anna, bengt, cecilia, meeting
):
    first, _token = meeting
    second, _created = conversation_start(
        unit_id=ekonomi.pk,
        token=factories.new_token(),
        body="Jag är tillbaka.",
        client_id=factories.new_client_id(),
        case=first.case,
    )
    factories.accept(bengt, second)
    conversation_hand_over(
        conversation=second, actor=bengt, note="Till Våld, se ärendet.", to_unit_id=vald.pk
    )
    conversation_accept(worker=cecilia, conversation_id=second.pk)
    vidar = factories.make_user("vidar", units=[vald])
    conversation_hand_over(
        conversation=second,
        actor=cecilia,
        note="Våld internt: skyddat boende.",
        to_worker_id=vidar.pk,
    )

    html = http_client(anna).get(f"/console/cases/{first.case_id}/").content.decode()

    assert "Till Våld, se ärendet." in html  # ekonomi's own handover
    assert "Våld internt: skyddat boende." not in html


# --- languages ----------------------------------------------------------------------------------
def _return_case(case, users):
    return returning_browser(case), "/return/case/"


def _risk_rules(case, users):
    from chat.models import RiskRule

    RiskRule.objects.create(unit=case.unit, label="Hot", phrases="döda mig", action="urgent")
    RiskRule.objects.create(
        unit=case.unit, label="Skulder", phrases="kronofogde*", action="mark", active=False
    )
    return http_client(users["sara"]), "/dashboard/risk-rules/"


PAGES = {
    "risk-rules": _risk_rules,
    "return": lambda case, users: (browser(), "/return/"),
    "return-case": _return_case,
    "case": lambda case, users: (http_client(users["bengt"]), f"/console/cases/{case.pk}/"),
    "inbox": lambda case, users: (http_client(users["bengt"]), "/console/inbox/"),
    "transcript": lambda case, users: (
        http_client(users["bengt"]),
        f"/console/conversations/{case.conversations.get().pk}/transcript/",
    ),
    "surveys": lambda case, users: (http_client(users["sara"]), "/dashboard/surveys/"),
}


@pytest.fixture
def full_case(case, anna, bengt, sara):
    """A case with something in every part of its pages."""
    followup_ask(case=case, actor=anna, body="Fick du pengarna?", choices=["Ja", "Nej"])
    asked = followup_client_ask(case=case, body="När kommer beslutet?")
    followup_worker_answer(followup=asked, actor=bengt, answer="På fredag.")
    return case, {"anna": anna, "bengt": bengt, "sara": sara}


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("page_name", sorted(PAGES))
def test_every_page_renders_in_the_chosen_language(full_case, page_name, language):
    case, users = full_case
    visitor, path = PAGES[page_name](case, users)

    response = visitor.get(path, HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert f'<html lang="{language}" dir="ltr">' in response.content.decode()


@pytest.mark.parametrize("page_name", sorted(PAGES))
def test_every_page_is_translated_into_swedish(full_case, page_name):
    case, users = full_case
    visitor, path = PAGES[page_name](case, users)

    response = visitor.get(path, HTTP_ACCEPT_LANGUAGE="sv")

    assert untranslated(response) == []


def test_the_refusal_on_the_return_page_is_in_swedish(code_tries):
    response = browser().post("/return/", {"code": wrong_code()}, HTTP_ACCEPT_LANGUAGE="sv")

    assert response.status_code == 400
    assert '<html lang="sv" dir="ltr">' in response.content.decode()
    assert REFUSED_PAGE_TEXT not in response.content.decode()
