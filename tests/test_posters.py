"""Printable posters: per unit for its staff, per partner place for that partner's staff,
in Swedish and English, each with a QR code to the client page."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

pytest_plugins = ["tests.referral_personas"]
pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the texts below are the English ones
    client.force_login(user)
    return client


def qr_svg(page: str) -> str:
    start = page.index("data:image/svg+xml;base64,") + len("data:image/svg+xml;base64,")
    return base64.b64decode(page[start : page.index('"', start)]).decode()


def test_a_place_poster_has_the_code_word_in_either_language_and_a_qr_code(
    pia, pharmacy_place, settings
):
    settings.REFERRAL_CODE_WORD = "paraply-7"
    settings.PUBLIC_BASE_URL = "https://chatt.kommun.example"
    client = signed_in(pia)
    swedish = client.get(f"/partner/posters/place/{pharmacy_place.pk}/sv/").content.decode()
    english = client.get(f"/partner/posters/place/{pharmacy_place.pk}/en/").content.decode()
    assert '<html lang="sv">' in swedish and '<html lang="en">' in english
    for page in (swedish, english):
        assert "paraply-7" in page and "https://chatt.kommun.example/" in page
        assert "112" in page and "<svg" in qr_svg(page)
    assert "Say <span" in english


def test_a_unit_poster_is_for_its_staff_and_names_the_unit(cecilia, chain, anna):
    vald, _jour = chain
    page = signed_in(cecilia).get(f"/console/posters/unit/{vald.pk}/en/")
    assert page.status_code == 200 and "Våld i nära relationer" in page.content.decode()
    assert "http://testserver/" in page.content.decode()
    assert signed_in(anna).get(f"/console/posters/unit/{vald.pk}/en/").status_code == 404


def test_only_swedish_and_english_posters_exist(cecilia, chain):
    vald, _jour = chain
    assert signed_in(cecilia).get(f"/console/posters/unit/{vald.pk}/de/").status_code == 404


def test_another_partners_place_has_no_poster_for_them(lars, pharmacy_place, library_place):
    client = signed_in(lars)
    assert client.get(f"/partner/posters/place/{pharmacy_place.pk}/sv/").status_code == 404
    assert client.get(f"/partner/posters/place/{library_place.pk}/sv/").status_code == 200


def test_the_poster_lists_show_ones_own_units_and_places(pia, pharmacy_place, cecilia, chain):
    places = signed_in(pia).get("/partner/posters/").content.decode()
    assert "Storgatan" in places
    units = signed_in(cecilia).get("/console/posters/").content.decode()
    assert "Våld i nära relationer" in units and "Socialjouren" not in units
