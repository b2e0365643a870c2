"""Small middleware: a request id for the access log, and privacy headers."""

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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


def calls_allowed(view: Handler) -> Handler:
    """A page with calls (chat/services/calls.py): camera and microphone for this site only
    (settings.CALL_PERMISSIONS_POLICY); every other page has them off."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Permissions-Policy"] = settings.CALL_PERMISSIONS_POLICY
        return response

    return wrapper
