"""A unit's name and description in the client's language where staff have given them,
else the Swedish, marked lang="sv" on the page."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.models import UnitTranslation
from chat import selectors
from tests.factories import make_unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def ekonomi():
    unit = make_unit("Ekonomiskt bistånd", "ekonomi", description="Vi svarar på frågor.")
    UnitTranslation.objects.create(
        unit=unit, language="ar", name="المساعدة المالية", description="نجيب عن الأسئلة."
    )
    return unit


def test_it_gives_the_translation_in_the_language(ekonomi) -> None:
    text = selectors.unit_texts(units=[ekonomi], language="ar")[ekonomi.pk]
    assert text == ("المساعدة المالية", "نجيب عن الأسئلة.", "ar")


def test_it_falls_back_to_swedish_marked_as_swedish(ekonomi) -> None:
    text = selectors.unit_texts(units=[ekonomi], language="fi")[ekonomi.pk]
    assert text == ("Ekonomiskt bistånd", "Vi svarar på frågor.", "sv")


def test_the_client_page_shows_the_translation(client, ekonomi) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    html = client.get("/").content.decode()
    assert "المساعدة المالية" in html
    assert "Ekonomiskt bistånd" not in html


def test_the_client_page_marks_the_swedish_fallback(client, ekonomi) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fi"
    html = client.get("/").content.decode()
    assert 'dir="auto" lang="sv">Ekonomiskt bistånd</span>' in html
    assert 'dir="auto" lang="sv">Vi svarar på frågor.</span>' in html


def test_a_swedish_page_needs_no_mark(client, ekonomi) -> None:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert 'dir="auto">Ekonomiskt bistånd</span>' in html
