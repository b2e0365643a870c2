"""Every other page a client sees, in every client language (issue 16, point 1): the case
page behind a code, the error pages, the e-ID pages and the partner's "chat now" page follow
the language the client chose for this browser session, set `lang` and `dir`, and show no
string their language's catalogue lacks. The follow-up quick answers in the client's
language (point 4) are at the end."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import path
from django.utils import translation

from accounts.models import UnitTranslation
from chat import eid
from chat.consumers.console import followup_questions
from chat.errors import InvalidInput
from chat.models import FollowUp, Referral
from chat.services.cases import followup_ask, followup_client_answer
from chat.services.conversations import conversation_end
from chatcounsel import urls as project_urls
from frontend.error_views import ERRORS
from tests import factories
from tests.case_personas import returning_browser, untranslated
from tests.oidc import LOA3
from tests.referral_personas import send
from tests.test_eid_chat import start, tolvan

pytest_plugins = ["tests.case_personas", "tests.referral_personas"]
pytestmark = pytest.mark.django_db

LANGUAGES = [code for code, _name in settings.CLIENT_LANGUAGES]
RTL = {"ar", "fa"}


def _raises(exception: Exception):
    def view(request):
        raise exception

    return view


# The project's URLs and error handlers, and three views that fail as a broken page would.
urlpatterns = [
    *project_urls.urlpatterns,
    path("test-400/", _raises(SuspiciousOperation("bad"))),
    path("test-403/", _raises(PermissionDenied())),
    path("test-500/", _raises(RuntimeError("boom"))),
]
handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def in_language(client: Client, lang: str) -> Client:
    """A browser whose client chose `lang` in the picker (a cookie for the session)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


def assert_reads_in(response, lang: str) -> str:
    html = response.content.decode()
    direction = "rtl" if lang in RTL else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    if lang != "en":  # English is the source: its catalogue is empty on purpose
        assert untranslated(response, lang) == []
    return html


@pytest.fixture(params=LANGUAGES)
def lang(request) -> str:
    return request.param


# --- error pages -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "status"),
    [("/test-400/", 400), ("/test-403/", 403), ("/no-such-page/", 404), ("/test-500/", 500)],
)
def test_error_pages_speak_the_clients_language(settings, lang, url, status) -> None:
    settings.ROOT_URLCONF = __name__
    browser = in_language(Client(raise_request_exception=False), lang)
    response = browser.get(url)
    assert response.status_code == status
    html = assert_reads_in(response, lang)
    with translation.override(lang):
        title = str(ERRORS[status][0])
    assert f'data-status="{status}">{title}</h1>' in html
    assert 'id="quick-exit"' in html and 'id="language-picker"' in html


def test_a_refused_form_gets_the_csrf_page_in_the_clients_language(lang) -> None:
    browser = in_language(Client(enforce_csrf_checks=True), lang)
    response = browser.post("/return/", {"code": "ABCD-EFGH-JKMN"})
    assert response.status_code == 403
    html = assert_reads_in(response, lang)
    with translation.override(lang):
        assert str(ERRORS["csrf"][1]) in html
    # The page hands out a fresh token, so its own picker and quick exit work.
    assert 'name="csrfmiddlewaretoken"' in html


def test_staff_paths_keep_their_error_pages_in_swedish() -> None:
    response = in_language(Client(), "ar").get("/console/no-such-page/")
    assert response.status_code == 404
    assert '<html lang="sv" dir="ltr">' in response.content.decode()


# --- the case page behind a code -------------------------------------------------------------
@pytest.fixture
def case(meeting):
    conversation, _token = meeting
    return conversation.case


def test_the_case_page_speaks_the_clients_language(case, anna, lang) -> None:
    followup_ask(case=case, actor=anna, body="Hur gick det?", choices=["Bra", "Dåligt"])
    browser = in_language(returning_browser(case), lang)
    assert_reads_in(browser.get("/return/case/"), lang)
    # And after answering: the answered question, the client's own question.
    followup = case.followups.get()
    browser.post("/return/case/", {"action": "answer", "followup": followup.pk, "choice": "Bra"})
    browser.post("/return/case/", {"action": "ask", "body": "När hörs vi?"})
    assert_reads_in(browser.get("/return/case/"), lang)


def test_the_case_page_names_the_unit_in_the_clients_language(case) -> None:
    UnitTranslation.objects.create(unit=case.unit, language="ar", name="الدعم المالي")
    arabic = in_language(returning_browser(case), "ar").get("/return/case/").content.decode()
    assert "<bdi>الدعم المالي</bdi>" in arabic
    finnish = in_language(returning_browser(case), "fi").get("/return/case/").content.decode()
    assert f'<bdi lang="sv">{case.unit.name}</bdi>' in finnish


# --- e-ID ------------------------------------------------------------------------------------
def test_the_consent_page_speaks_the_clients_language(ekonomi, lang) -> None:
    record = tolvan()
    conversation = start(ekonomi, body="Hej.")
    browser = in_language(Client(), lang)
    session = browser.session
    session["eid_consent"] = {"client": record.pk, "acr": LOA3, "conversation": conversation.pk}
    session.save()
    html = assert_reads_in(browser.get("/eid/consent/"), lang)
    assert "Tolvan Tolvansson" in html and 'id="language-picker"' in html


def test_my_pages_speak_the_clients_language(ekonomi, anna, lang) -> None:
    record = tolvan()
    conversation = start(ekonomi, client=record, body="Hej.")
    followup_ask(case=conversation.case, actor=anna, body="Hur gick det?", choices=[])
    browser = in_language(Client(), lang)
    session = browser.session
    session[eid.SESSION_CLIENT] = {"client": record.pk, "acr": LOA3}
    session.save()
    assert_reads_in(browser.get("/me/"), lang)


def test_the_refusal_page_speaks_the_clients_language(eid_settings, lang) -> None:
    browser = in_language(Client(), lang)
    response = browser.get("/eid/callback/", {"state": "unknown", "error": "access_denied"})
    html = assert_reads_in(response, lang)
    assert 'data-reason="cancelled"' in html


# --- the partner's "chat now" device ---------------------------------------------------------
def test_chat_now_speaks_the_language_chosen_on_the_receipt(pia, pharmacy_place, chain, lang):
    referral = send(pia, pharmacy_place, contact=Referral.Contact.CHAT_NOW)
    browser = Client()
    browser.force_login(pia)
    receipt = browser.get(f"/partner/referrals/{referral.pk}/").content.decode()
    chat_url = f"/partner/referrals/{referral.pk}/chat/"
    assert f'<input type="hidden" name="next" value="{chat_url}">' in receipt
    # The person picks their language on the receipt page and lands on the chat.
    chosen = browser.post("/i18n/setlang/", {"language": lang, "next": chat_url})
    assert chosen["Location"] == chat_url
    page = browser.get(chat_url)
    html = assert_reads_in(page, lang)
    catalogue = json.loads(
        re.search(r'<script id="client-catalogue" type="application/json">(.*?)</script>', html)[1]
    )
    assert "/jsi18n/" not in html
    if lang not in ("sv", "en"):
        assert (
            "This chat cannot be opened. Send a new referral if the person needs it."
            in (catalogue["strings"])
        )
    # The partner's own pages stay in Swedish or English.
    again = browser.get(f"/partner/referrals/{referral.pk}/").content.decode()
    assert '<html lang="sv" dir="ltr">' in again or lang == "en"


# --- follow-up quick answers per language (point 4) ------------------------------------------
def test_quick_answers_show_in_the_clients_language_and_fall_back_to_swedish(case, anna):
    followup_ask(
        case=case,
        actor=anna,
        body="Hur gick det?",
        choices=["Bra", "Dåligt"],
        translated_choices={"ar": ["جيد", "سيئ"], "fi": []},
    )
    arabic = in_language(returning_browser(case), "ar")
    html = arabic.get("/return/case/").content.decode()
    # The Arabic label; the Swedish value, so the worker reads the answer as they wrote it.
    assert '<input type="radio" name="choice" value="Bra"> <bdi>جيد</bdi>' in html
    finnish = in_language(returning_browser(case), "fi").get("/return/case/").content.decode()
    assert '<input type="radio" name="choice" value="Bra"> <bdi lang="sv">Bra</bdi>' in finnish
    followup = case.followups.get()
    arabic.post("/return/case/", {"action": "answer", "followup": followup.pk, "choice": "Bra"})
    followup.refresh_from_db()
    assert followup.answer == "Bra"
    assert "<bdi>جيد</bdi>" in arabic.get("/return/case/").content.decode()


def test_quick_answers_in_a_language_must_match_the_swedish_ones(case, anna) -> None:
    with pytest.raises(InvalidInput):
        followup_ask(
            case=case,
            actor=anna,
            body="Hur gick det?",
            choices=["Bra", "Dåligt"],
            translated_choices={"ar": ["جيد"]},
        )
    with pytest.raises(InvalidInput):
        followup_ask(
            case=case, actor=anna, body="?", choices=["Bra"], translated_choices={"xx": ["a"]}
        )
    assert not FollowUp.objects.exists()


def test_the_client_own_words_are_shown_as_written(case, anna) -> None:
    followup = followup_ask(
        case=case, actor=anna, body="?", choices=["Bra"], translated_choices={"ar": ["جيد"]}
    )
    followup_client_answer(case=case, followup_id=followup.pk, answer="Ganska bra")
    followup.refresh_from_db()
    assert followup.answer_in("ar") == ("Ganska bra", "Ganska bra", "")


def test_questions_left_at_the_end_keep_their_quick_answers_in_the_clients_language(
    ekonomi, anna
) -> None:
    questions = followup_questions(
        [{"body": "Hur gick det?", "choices": ["Bra"], "translated_choices": {"ar": ["جيد"]}}]
    )
    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    conversation_end(conversation=conversation, actor=anna, followups=questions)
    assert conversation.case.followups.get().translated_choices == {"ar": ["جيد"]}


@pytest.mark.parametrize("value", [["جيد"], {"ar": "جيد"}, {"ar": [1]}])
def test_quick_answers_in_a_language_must_be_lists_of_texts_by_language(value) -> None:
    with pytest.raises(InvalidInput):
        followup_questions([{"body": "?", "choices": ["Bra"], "translated_choices": value}])


def test_staff_give_quick_answers_per_language_on_the_case_page(case, bengt) -> None:
    staff = Client()
    staff.force_login(bengt)
    response = staff.post(
        f"/console/cases/{case.pk}/",
        {
            "action": "ask",
            "body": "Hur gick det?",
            "choices": "Bra\nDåligt",
            "choices_ar": "جيد\nسيئ\n",
            "choices_uk": "",
        },
    )
    assert response.status_code == 302
    followup = case.followups.get()
    assert followup.translated_choices == {"ar": ["جيد", "سيئ"]}
