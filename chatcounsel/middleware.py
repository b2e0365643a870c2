"""Small middleware: a request id for the access log, and privacy headers."""

import re
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware
from django.utils import translation

Handler = Callable[[HttpRequest], HttpResponse]


def request_id(get_response: Handler) -> Handler:
    """Give every request an id; the access log records it and the response carries it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        request.id = uuid.uuid4()  # type: ignore[attr-defined]
        response = get_response(request)
        response["X-Request-ID"] = str(request.id)  # type: ignore[attr-defined]
        return response

    return middleware


def privacy_headers(get_response: Handler) -> Handler:
    """No browser features the chat does not use; pages of this site are never cached."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if not request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            # Nothing a client read may stay in a shared device's cache.
            response["Cache-Control"] = "no-store"
        return response

    return middleware


def compress_static(get_response: Handler) -> Handler:
    """DEBUG only (settings.py): static files gzipped on the way out, as production serves
    whitenoise's compressed copies, so the demo weighs what production does. Only static
    files: they hold no secret a compressed page could leak (BREACH); pages stay as sent."""
    gzip = GZipMiddleware(get_response)
    prefix = "/" + settings.STATIC_URL.lstrip("/")

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.startswith(prefix):
            return gzip(request)  # type: ignore[return-value]  # sync: a response
        return get_response(request)

    return middleware


# Pages for staff only, in Swedish or English: a browser set to a client language (the
# client's own, or a shared computer's) sees them in Swedish.
# /jsi18n/ serves only staff pages (client pages inline their strings).
STAFF_PATH_PREFIXES = (
    "/console/",
    "/dashboard/",
    "/accounts/",
    "/admin/",
    "/jsi18n/",
    "/partner/",
)
# ... except the partner's "chat now" page, which the person referred reads, in the
# language chosen for them on the receipt page.
CLIENT_PATHS_UNDER_STAFF = re.compile(r"/partner/referrals/\d+/chat/$")


def is_staff_path(path: str) -> bool:
    """A path of the staff pages: Swedish or English, and the staff layout (an error page
    under it too, frontend/error_views.py)."""
    return path.startswith(STAFF_PATH_PREFIXES) and not CLIENT_PATHS_UNDER_STAFF.match(path)


def staff_language(get_response: Handler) -> Handler:
    """After LocaleMiddleware: staff pages keep to settings.STAFF_LANGUAGES."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if (
            is_staff_path(request.path)
            and translation.get_language() not in settings.STAFF_LANGUAGES
        ):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return get_response(request)

    return middleware


def calls_allowed(view: Handler) -> Handler:
    """A page with calls (chat/services/calls.py): camera and microphone for this site only
    (settings.CALL_PERMISSIONS_POLICY); every other page has them off."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Permissions-Policy"] = settings.CALL_PERMISSIONS_POLICY
        return response

    return wrapper
