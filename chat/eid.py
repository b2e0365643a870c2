"""e-ID over OpenID Connect: the provider's configuration, the Authlib client, and the
mapping from a verified ID token's claims to an identity (docs/security.md, "e-ID").

Authlib does the protocol: discovery, `state`, `nonce`, PKCE (S256), the code exchange and
the ID token's signature, `iss`, `aud`, `exp` and `nonce`. This module adds what Authlib
leaves to the application: the RFC 9207 `iss` on the callback, an ID token being there at
all, the required level of assurance (`acr`), and the claims this service needs. Every
refusal is an `EidRefused` with a reason code that the error page words and the log names;
neither ever carries a claim's value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from joserfc.errors import JoseError

# Why a sign-in was refused. The error page words each one; the log line names it.
REASONS = (
    "state",  # no sign-in of this browser's waits for this answer (tampered, replayed, old)
    "cancelled",  # the client cancelled or declined at the provider
    "provider",  # the provider answered with an error, or refused the code
    "token",  # the ID token failed a check: signature, issuer, audience, expiry, nonce
    "issuer",  # the answer names another issuer than the configured one
    "loa",  # the level of assurance is below what the service requires
    "claims",  # a claim the service needs is missing or malformed
    "unavailable",  # the provider could not be reached
)
PERSONAL_NUMBER = re.compile(r"^(?:19|20)\d{10}$")
SESSION_PENDING = "eid_pending"  # state -> what to do after the callback
# The identified client in a browser's session: {"client": record id, "acr": level}. Never
# a staff sign-in: staff pages read `request.user`, which this does not set.
SESSION_CLIENT = "eid_client"


class EidRefused(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(reason)
        self.reason = reason
        # The exception's type or the provider's error code: never a claim's value.
        self.detail = detail


@dataclass(frozen=True)
class EidIdentity:
    """What a verified sign-in says about the client."""

    issuer: str
    subject: str
    acr: str
    name: str
    personal_number: str  # "" when the deployment does not ask for it


def is_configured() -> bool:
    return bool(settings.EID_OIDC_DISCOVERY_URL and settings.EID_OIDC_CLIENT_ID)


@dataclass(frozen=True)
class _Config:
    discovery_url: str
    client_id: str
    client_secret: str
    scopes: str
    auth_method: str
    timeout: int


def _config() -> _Config:
    return _Config(
        discovery_url=settings.EID_OIDC_DISCOVERY_URL,
        client_id=settings.EID_OIDC_CLIENT_ID,
        client_secret=settings.EID_OIDC_CLIENT_SECRET,
        scopes=settings.EID_OIDC_SCOPES,
        auth_method=settings.EID_OIDC_TOKEN_AUTH_METHOD,
        timeout=settings.EID_OIDC_TIMEOUT_SECONDS,
    )


@lru_cache(maxsize=4)
def _client_for(config: _Config) -> Any:
    """One Authlib client per configuration: it caches the discovery document and the keys
    (fetched again when a token names a key it does not know)."""
    oauth = OAuth()
    return oauth.register(
        name="eid",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.discovery_url,
        client_kwargs={
            "scope": config.scopes,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": config.auth_method,
            "default_timeout": config.timeout,
        },
    )


def client() -> Any:
    return _client_for(_config())


def expected_issuer() -> str:
    """The issuer the discovery document names; the configured one must match it."""
    try:
        metadata = client().load_server_metadata()
    except OSError as exc:  # requests' errors are OSErrors
        raise EidRefused("unavailable", type(exc).__name__) from exc
    issuer = str(metadata.get("issuer", ""))
    if settings.EID_OIDC_ISSUER and issuer != settings.EID_OIDC_ISSUER:
        raise EidRefused("issuer", "discovery")
    return issuer


def authorization_origin() -> str | None:
    """The origin of the provider's authorization endpoint, or None when it cannot be read.
    Pages with the sign-in button allow their form to lead there (CSP `form-action` covers
    the redirect that follows the form's POST)."""
    try:
        endpoint = str(client().load_server_metadata().get("authorization_endpoint", ""))
    except (OSError, ValueError):
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def authorization_redirect(
    request: HttpRequest, *, redirect_uri: str, language: str
) -> tuple[str, HttpResponse]:
    """Start a sign-in: the redirect to the provider, with a fresh `state` (returned, so the
    caller can note what to do when it comes back), `nonce` and PKCE verifier kept in this
    session by Authlib, and the required level of assurance asked for."""
    expected_issuer()
    state = secrets.token_urlsafe(32)
    try:
        response = client().authorize_redirect(
            request,
            redirect_uri,
            state=state,
            acr_values=" ".join(settings.EID_REQUIRED_ACR),
            ui_locales=language,
        )
    except OSError as exc:
        raise EidRefused("unavailable", type(exc).__name__) from exc
    return state, response


def complete(request: HttpRequest) -> tuple[str, EidIdentity]:
    """Finish a sign-in from the provider's callback: the state it answers and the verified
    identity. Raises `EidRefused`; the state is used up either way."""
    params = request.GET
    state = params.get("state", "")
    error = params.get("error", "")
    if error:
        # Clear what Authlib kept for this state: an answer is final either way.
        client().framework.clear_state_data(request.session, state)
        reason = "cancelled" if error in {"access_denied", "login_required"} else "provider"
        raise EidRefused(reason, error[:40])
    issuer = expected_issuer()
    # RFC 9207: a provider that names itself on the callback must name the one we asked.
    if "iss" in params and params["iss"] != issuer:
        client().framework.clear_state_data(request.session, state)
        raise EidRefused("issuer", "callback")
    try:
        token = client().authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "values": [issuer]},
                "sub": {"essential": True},
                "aud": {"essential": True, "value": settings.EID_OIDC_CLIENT_ID},
                "exp": {"essential": True},
            },
        )
    except MismatchingStateError as exc:
        raise EidRefused("state", type(exc).__name__) from exc
    except OAuthError as exc:
        raise EidRefused("provider", str(exc.error)[:40]) from exc
    except JoseError as exc:
        raise EidRefused("token", type(exc).__name__) from exc
    except OSError as exc:
        raise EidRefused("unavailable", type(exc).__name__) from exc
    except ValueError as exc:  # an answer that is not JSON, a token that is not a JWT
        raise EidRefused("token", type(exc).__name__) from exc
    claims = token.get("userinfo")
    if not claims:
        # Authlib checks an ID token only when there is one: without it, nothing is verified.
        raise EidRefused("token", "no_id_token")
    return state, identity_from_claims(claims)


def identity_from_claims(claims: Mapping[str, Any]) -> EidIdentity:
    """The identity in verified ID token claims, by this deployment's claim mapping."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not issuer or not isinstance(subject, str) or not subject:
        raise EidRefused("claims", "sub")
    if len(issuer) > 200 or len(subject) > 200:
        raise EidRefused("claims", "too_long")
    acr = claims.get("acr")
    if settings.EID_REQUIRED_ACR and acr not in settings.EID_REQUIRED_ACR:
        raise EidRefused("loa", "acr" if acr else "no_acr")
    personal_number = ""
    if settings.EID_PERSONAL_NUMBER_CLAIM:
        value = claims.get(settings.EID_PERSONAL_NUMBER_CLAIM)
        if not isinstance(value, str):
            raise EidRefused("claims", "personal_number")
        personal_number = value.replace("-", "").strip()
        if not PERSONAL_NUMBER.match(personal_number):
            raise EidRefused("claims", "personal_number_format")
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        given, family = claims.get("given_name"), claims.get("family_name")
        name = " ".join(part for part in (given, family) if isinstance(part, str) and part)
    return EidIdentity(
        issuer=issuer,
        subject=subject,
        acr=str(acr or ""),
        name=name.strip()[:200],
        personal_number=personal_number,
    )
