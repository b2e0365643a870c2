"""The websocket origin check: the same rule as Django's CSRF origin check, on one setting.

A browser sends cookies with a websocket handshake whatever page opened it, and a page on
another port or scheme of the same host name is "same-site", so Lax cookies go along. A
handshake is therefore let through only when its Origin is this site's own origin (scheme,
host and port, as `CsrfViewMiddleware` works it out for a request) or is listed in
`CSRF_TRUSTED_ORIGINS`. Channels' `AllowedHostsOriginValidator` compares host names only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.utils.http import is_same_domain


class _Handshake(HttpRequest):
    """Just enough of a request for Django to work out the handshake's own origin: its
    headers as META (joined as Django's ASGI handler joins them), the server address as a
    fallback host, and ws/wss read as http/https. `SECURE_PROXY_SSL_HEADER`,
    `USE_X_FORWARDED_HOST` and `ALLOWED_HOSTS` then apply exactly as they do to requests."""

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__()
        server = scope.get("server") or ("unknown", "0")
        self.META["SERVER_NAME"] = str(server[0])
        self.META["SERVER_PORT"] = str(server[1])
        for name, value in scope.get("headers", []):
            key = "HTTP_" + name.decode("latin1").upper().replace("-", "_")
            text = value.decode("latin1")
            self.META[key] = f"{self.META[key]},{text}" if key in self.META else text
        self._handshake_scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"

    def _get_scheme(self) -> str:
        return self._handshake_scheme


def _origins(scope: dict[str, Any]) -> list[str]:
    return [value.decode("latin1") for name, value in scope.get("headers", []) if name == b"origin"]


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether a websocket handshake comes from this site or a trusted origin. Mirrors
    `django.middleware.csrf.CsrfViewMiddleware._origin_verified`; a missing, repeated or
    `null` Origin is refused (browsers always send one with a websocket handshake)."""
    origins = _origins(scope)
    if len(origins) != 1:
        return False
    origin = origins[0]
    request = _Handshake(scope)
    try:
        own = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    except DisallowedHost:
        pass
    else:
        if origin == own:
            return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in (entry for entry in trusted if "*" not in entry):
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    # "https://*.example.com" trusts every subdomain, for that scheme only.
    return any(
        is_same_domain(parsed.netloc, pattern.netloc.lstrip("*"))
        for pattern in map(urlsplit, (entry for entry in trusted if "*" in entry))
        if pattern.scheme == parsed.scheme
    )


class OriginValidator:
    """ASGI middleware for the websocket router: refuses (closes before accepting) every
    handshake whose origin `origin_allowed` does not accept."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("OriginValidator only guards websocket connections")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
