"""The error pages (400, 403, 404, 500 and a refused CSRF check) as a client sees them: in
the language the client chose for this browser session (`lang` and `dir` set), with quick
exit, the language picker and the way back to the chat. Under a staff path
(chatcounsel.middleware.is_staff_path) they have the staff layout instead, in Swedish or
English like every staff page (chatcounsel.middleware.staff_language), without quick exit
(frontend/staff_errors.py has their words).

Nothing here touches the database: an error page must render while the database is down.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import requires_csrf_token

from chatcounsel.middleware import is_staff_path
from frontend.staff_errors import PARTNER_PREFIX, STAFF_TEXTS

ERRORS = {
    400: (
        _("Something in the request was wrong"),
        _("The page could not use what your browser sent. Go back and try again."),
    ),
    403: (
        _("You cannot open this page"),
        _("This page is not open to you. You can still start a chat."),
    ),
    404: (
        _("We could not find that page"),
        _("The address may be wrong, or the page is gone. Your chat is not affected."),
    ),
    500: (
        _("Something went wrong on our side"),
        _("We could not show this page. Wait a moment and try again. Nothing you wrote is lost."),
    ),
    "csrf": (
        _("The page had expired"),
        _(
            "For your safety, the form could not be sent: the page was open too long, or "
            "quick exit was used in another tab. Go back, reload the page and try again."
        ),
    ),
}


def _error_page(request: HttpRequest, kind: int | str, status: int) -> HttpResponse:
    title, text = ERRORS[kind]
    if is_staff_path(request.path):
        return render(
            request,
            "frontend/staff_error.html",
            {
                "title": title,
                "text": STAFF_TEXTS[kind],
                "status": status,
                "partner": request.path.startswith(PARTNER_PREFIX),
            },
            status=status,
        )
    return render(
        request,
        "frontend/error.html",
        {
            "title": title,
            "text": text,
            "status": status,
            "quick_exit_url": settings.QUICK_EXIT_URL,
        },
        status=status,
    )


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 400, 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 403, 403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 404, 404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page(request, 500, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """settings.CSRF_FAILURE_VIEW: a refused form, e.g. after quick exit in another tab
    cleared the cookies. The reason stays in the log (django.security.csrf), not the page."""
    return _error_page(request, "csrf", 403)
