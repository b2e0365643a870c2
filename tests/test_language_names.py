"""Client languages as staff pages name them (frontend/languages.py): on its own with its
capital ("Språk: Arabiska", "Language: Arabic"), inside a sentence as Swedish writes it, in
lower case ("på arabiska"), and as English does ("in Arabic")."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.utils import translation

from chat.services.cases import followup_ask
from frontend.languages import (
    IN_LANGUAGE,
    client_language_names,
    client_languages_in_text,
    in_language,
)
from tests.security_personas import http_client

pytest_plugins = ["tests.case_personas"]

SWEDISH_IN_TEXT = {
    "sv-x-ll": "på lättläst svenska",
    "en": "på engelska",
    "fi": "på finska",
    "ar": "på arabiska",
    "fa": "på persiska",
    "so": "på somaliska",
    "uk": "på ukrainska",
}


def test_every_client_language_can_be_named_inside_a_sentence():
    assert set(IN_LANGUAGE) == {code for code, _name in settings.CLIENT_LANGUAGES}
    assert in_language("xx") == ""


def test_swedish_names_a_language_in_lower_case_inside_a_sentence_and_capitalised_alone():
    with translation.override("sv"):
        assert client_languages_in_text() == SWEDISH_IN_TEXT
        assert in_language("sv") == "på svenska"
        # On its own, a label or a list, the name keeps its capital, as before.
        assert client_language_names()["ar"] == "Arabiska"


def test_english_keeps_the_capital_inside_a_sentence():
    with translation.override("en"):
        assert in_language("ar") == "in Arabic"
        assert client_language_names()["ar"] == "Arabic"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "alone", "in_text"),
    [("sv", "Arabiska", "på arabiska"), ("en", "Arabic", "in Arabic")],
)
def test_the_console_gets_both_forms(anna, accept, alone, in_text):
    html = http_client(anna, HTTP_ACCEPT_LANGUAGE=accept).get("/console/").content.decode()

    def table(name: str) -> dict[str, str]:
        found = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html)
        assert found, name
        return json.loads(found.group(1))

    assert table("client-language-names")["ar"] == alone
    assert table("client-languages-in-text")["ar"] == in_text


@pytest.mark.django_db
@pytest.mark.parametrize(("accept", "in_text"), [("sv", "på arabiska"), ("en", "in Arabic")])
def test_the_case_page_names_the_quick_answers_languages_inside_the_sentence(
    meeting, anna, accept, in_text
):
    conversation, _token = meeting
    case = conversation.case
    followup_ask(
        case=case,
        actor=anna,
        body="Hur gick det?",
        choices=["Bra"],
        translated_choices={"ar": ["جيد"]},
    )
    html = http_client(anna, HTTP_ACCEPT_LANGUAGE=accept).get(f"/console/cases/{case.pk}/")
    assert f"({in_text})</p>" in html.content.decode()
