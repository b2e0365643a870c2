"""Response headers, cookies, and Django's deployment checks with production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests import factories

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.fixture
def client_page():
    return Client().get("/")


def test_the_client_page_has_a_strict_content_security_policy(client_page):
    csp = directives(client_page["Content-Security-Policy"])

    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]


def test_the_client_page_has_no_inline_script(client_page):
    html = client_page.content.decode()
    for tag in html.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert "src=" in opening or 'type="application/json"' in opening, opening


def test_the_client_page_sends_the_privacy_headers(client_page):
    assert client_page["X-Frame-Options"] == "DENY"
    # Not no-referrer: Chromium then sends `Origin: null` on form posts and CSRF fails.
    assert client_page["Referrer-Policy"] == "same-origin"
    assert client_page["X-Content-Type-Options"] == "nosniff"
    permissions = client_page["Permissions-Policy"]
    # Calls: camera and microphone for this site only; nothing else.
    for feature in ("camera=(self)", "microphone=(self)", "geolocation=()", "interest-cohort=()"):
        assert feature in permissions
    assert client_page["Cache-Control"] == "no-store"
    assert uuid.UUID(client_page["X-Request-ID"])


def test_pages_without_calls_keep_camera_and_microphone_off():
    permissions = Client().get("/accounts/login/")["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in permissions


@pytest.mark.parametrize("path", ["/accounts/login/", "/exit/", "/console/", "/healthz"])
def test_every_response_is_uncached_and_has_a_request_id(path):
    response = Client().get(path)

    assert response["Cache-Control"] == "no-store"
    assert uuid.UUID(response["X-Request-ID"])
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in response


def test_request_ids_differ():
    browser = Client()
    assert browser.get("/")["X-Request-ID"] != browser.get("/")["X-Request-ID"]


def test_an_anonymous_client_gets_only_a_session_csrf_cookie(client_page):
    assert set(client_page.cookies) == {settings.CSRF_COOKIE_NAME}
    morsel = client_page.cookies[settings.CSRF_COOKIE_NAME]
    assert morsel["max-age"] == "" and morsel["expires"] == ""
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"


def test_a_client_who_chats_still_gets_no_other_cookie(ekonomi):
    browser = Client()
    browser.get("/")
    factories.start_conversation(ekonomi)
    again = browser.get("/")

    assert set(browser.cookies) == {settings.CSRF_COOKIE_NAME}
    assert settings.SESSION_COOKIE_NAME not in again.cookies


def test_the_language_choice_is_a_session_cookie():
    browser = Client()
    response = browser.post("/i18n/setlang/", {"language": "en", "next": "/"})

    morsel = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert morsel.value == "en"
    assert morsel["max-age"] == "" and morsel["expires"] == ""


def test_a_staff_session_cookie_ends_with_the_browser(anna):
    browser = Client()
    from tests.security_personas import verify_session

    browser.force_login(anna)
    verify_session(browser, anna)
    response = browser.get("/console/")

    morsel = response.cookies[settings.SESSION_COOKIE_NAME]
    assert morsel["max-age"] == "" and morsel["expires"] == ""
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"


# --- websockets from other sites ----------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [b"https://evil.example", b"null", None])
@pytest.mark.parametrize("path", ["/ws/client/", "/ws/console/", "/ws/dashboard/"])
async def test_a_socket_from_another_origin_is_refused(ws, sara, path, origin):
    comm = await ws.open(path, user=sara, origin=origin)

    connected, _ = await comm.connect(timeout=3)

    assert connected is False


# --- production settings ---------------------------------------------------------------------
def production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "SECURE",
            "STAFF_TWO_FACTOR",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="chat.example.se",
        DJANGO_SETTINGS_MODULE="chatcounsel.settings",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_checks_pass_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_checks_would_catch_a_weak_secret_key():
    """The check above is not vacuous: a short key fails it."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(SECRET_KEY="kort")
    )

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_are_strict():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.STAFF_TWO_FACTOR, s.ALLOWED_HOSTS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.split(maxsplit=6) == [
        "False",
        "True",
        "True",
        "True",
        "31536000",
        "True",
        "['chat.example.se']\n",
    ], result.stderr
