"""The error pages' layout follows the path: a client path gets the client layout (quick
exit, the client languages' picker, the client's language); a staff path gets the staff
layout (Swedish or English, no quick exit). Neither reads the database for a 500."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import path
from django.utils import translation

from chatcounsel import urls as project_urls
from frontend.error_views import ERRORS
from frontend.staff_errors import STAFF_TEXTS

pytestmark = pytest.mark.django_db


def _raises(exception: Exception):
    def view(request):
        raise exception

    return view


FAILING = [("test-400/", 400), ("test-403/", 403), ("no-such-page/", 404), ("test-500/", 500)]

# The project's URLs and handlers, and views that fail under a client and a staff path.
urlpatterns = [
    *project_urls.urlpatterns,
    *(
        path(f"{prefix}test-{status}/", _raises(exception))
        for prefix in ("", "console/", "dashboard/", "partner/")
        for status, exception in (
            (400, SuspiciousOperation("bad")),
            (403, PermissionDenied()),
            (500, RuntimeError("boom")),
        )
    ),
]
handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.fixture(autouse=True)
def failing_urls(settings):
    settings.ROOT_URLCONF = __name__


def browser(lang: str) -> Client:
    """A browser whose picker chose `lang` for this session."""
    client = Client(raise_request_exception=False)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


def title(kind: int | str, lang: str) -> str:
    with translation.override(lang):
        return str(ERRORS[kind][0])


@pytest.mark.parametrize(("url", "status"), FAILING)
def test_a_client_paths_error_page_has_the_client_layout_in_the_clients_language(url, status):
    response = browser("ar").get("/" + url)
    html = response.content.decode()
    assert response.status_code == status
    assert '<html lang="ar" dir="rtl">' in html
    assert f'data-status="{status}">{title(status, "ar")}</h1>' in html
    assert 'id="quick-exit"' in html and 'id="language-picker"' in html
    assert 'class="client-page"' in html and "staff-page" not in html


@pytest.mark.parametrize("prefix", ["/console/", "/dashboard/", "/partner/"])
@pytest.mark.parametrize(("url", "status"), FAILING)
def test_a_staff_paths_error_page_has_the_staff_layout_in_swedish(prefix, url, status):
    # A browser set to Arabic (a client's choice on a shared computer) sees Swedish.
    response = browser("ar").get(prefix + url)
    html = response.content.decode()
    assert response.status_code == status
    assert '<html lang="sv" dir="ltr">' in html
    assert f'data-status="{status}">{title(status, "sv")}</h1>' in html
    with translation.override("sv"):
        assert str(STAFF_TEXTS[status]) in html
    assert 'class="staff-page"' in html
    assert "quick-exit" not in html and "language-picker" not in html
    # The staff pages' own language switch: Swedish or English only.
    assert 'name="language" value="en"' in html and 'value="ar"' not in html
    back = "/partner/" if prefix == "/partner/" else "/console/"
    assert f'href="{back}"' in html


def test_a_staff_paths_error_page_is_in_english_for_staff_who_chose_english():
    response = browser("en").get("/console/no-such-page/")
    html = response.content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert f'data-status="404">{title(404, "en")}</h1>' in html
    assert 'class="staff-page"' in html and 'name="language" value="sv"' in html


def test_a_refused_form_under_a_staff_path_gets_the_staff_layout():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/logout/")
    html = response.content.decode()
    assert response.status_code == 403
    assert '<html lang="sv" dir="ltr">' in html and 'class="staff-page"' in html
    with translation.override("sv"):
        assert str(STAFF_TEXTS["csrf"]) in html
    assert "quick-exit" not in html
    # A fresh token, so the page's own language switch works.
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.parametrize("url", ["/test-500/", "/console/test-500/", "/partner/test-500/"])
def test_the_500_page_reads_nothing_from_the_database(url, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = browser("sv").get(url)
    assert response.status_code == 500
