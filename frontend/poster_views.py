"""Printable A4 posters, in Swedish and in English: one per unit (for its staff to put up,
e.g. in stairwells) and one per partner place (the code word, for the pharmacy's or
library's own walls). Each has a QR code to the client page."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache

from accounts.qr import qr_svg_data_uri
from chat import selectors
from chat.errors import ChatError
from frontend.decorators import staff_page

POSTER_LANGUAGES = ("sv", "en")


def _client_url(request: HttpRequest) -> str:
    """The client page's public address: PUBLIC_BASE_URL, else the address asked for."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + reverse("client")
    return request.build_absolute_uri(reverse("client"))


def _language(language: str) -> str:
    if language not in POSTER_LANGUAGES:
        raise Http404
    return language


@never_cache
@staff_page("chat.use_console")
def posters_page(request: HttpRequest) -> HttpResponse:
    """The posters a staff member may print: one per unit of theirs, in each language."""
    return render(
        request,
        "frontend/posters.html",
        {"units": selectors.unit_list_for_staff(user=request.user), "partner": False},  # type: ignore[arg-type]
    )


@never_cache
@staff_page("chat.refer")
def partner_posters_page(request: HttpRequest) -> HttpResponse:
    """The posters partner staff may print: one per place of their organisation."""
    return render(
        request,
        "frontend/posters.html",
        {"places": selectors.partner_place_list(partner=request.user), "partner": True},  # type: ignore[arg-type]
    )


@never_cache
@staff_page("chat.use_console")
def unit_poster(request: HttpRequest, unit_id: int, language: str) -> HttpResponse:
    try:
        unit = selectors.unit_get_for_poster(user=request.user, unit_id=unit_id)  # type: ignore[arg-type]
    except ChatError:
        raise Http404 from None
    return _poster(request, language, {"unit": unit})


@never_cache
@staff_page("chat.refer")
def place_poster(request: HttpRequest, place_id: int, language: str) -> HttpResponse:
    try:
        place = selectors.partner_place_get_for_poster(partner=request.user, place_id=place_id)  # type: ignore[arg-type]
    except ChatError:
        raise Http404 from None
    return _poster(request, language, {"place": place, "code_word": settings.REFERRAL_CODE_WORD})


def _poster(request: HttpRequest, language: str, context: dict) -> HttpResponse:
    url = _client_url(request)
    with translation.override(_language(language)):
        return render(
            request,
            "frontend/poster.html",
            {**context, "client_url": url, "qr": qr_svg_data_uri(url, box_size=10)},
        )
