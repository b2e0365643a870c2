"""Staff sign-in: two-factor enrolment and verification, lockout after wrong passwords,
log out everywhere, and idle expiry. Two-factor is switched on per test with the
`settings` fixture, so these pass whatever STAFF_TWO_FACTOR the run has."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from chat.consumers import base as consumers_base
from tests import factories
from tests.security_personas import cookie_of, http_client

# The personas and fixtures of tests/security_personas.py (cast, private_rates, ...).
pytest_plugins = ["tests.security_personas"]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "rätt häst batteri häftklammer"


@pytest.fixture
def two_factor(settings):
    settings.STAFF_TWO_FACTOR = True
    return settings


def code_for(device: TOTPDevice, drift: int = 0) -> str:
    """The code the authenticator app shows now (or `drift` steps away)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{code:0{device.digits}d}"


def wrong_code_for(device: TOTPDevice) -> str:
    near = {code_for(device, drift) for drift in range(-3, 4)}
    return next(f"{n:06d}" for n in range(1, 1000000, 7919) if f"{n:06d}" not in near)


def enrolled(user: User) -> tuple[TOTPDevice, list[str]]:
    """A confirmed authenticator and ten backup codes, as enrolment leaves them."""
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    backup = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(10)]
    for code in codes:
        backup.token_set.create(token=code)
    return device, codes


def password_only(user: User) -> Client:
    """Signed in with the password, not yet past the second factor."""
    client = Client()
    client.force_login(user)
    return client


def form_errors(response, field: str = "code") -> list[str]:
    return list(response.context["form"].errors.get(field, []))


# --- two-factor ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_console_sends_a_worker_without_an_authenticator_to_enrol(two_factor, anna):
    response = password_only(anna).get("/console/?tab=2")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/setup/?next=%2Fconsole%2F%3Ftab%3D2"


@pytest.mark.django_db
def test_the_console_sends_an_enrolled_worker_to_the_second_step(two_factor, anna):
    enrolled(anna)

    response = password_only(anna).get("/dashboard/")

    # Anna is no supervisor: the permission is checked before the second factor.
    assert response.status_code == 403
    response = password_only(anna).get("/console/")
    assert response["Location"] == "/accounts/two-factor/?next=%2Fconsole%2F"


@pytest.mark.django_db
def test_enrolment_confirms_the_device_shows_ten_backup_codes_and_opens_the_console(
    two_factor, anna
):
    browser = password_only(anna)
    page = browser.get("/accounts/two-factor/setup/?next=/console/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=anna, confirmed=False)
    assert page.context["secret"]  # shown for typing in by hand

    response = browser.post(
        "/accounts/two-factor/setup/", {"code": code_for(device), "next": "/console/"}
    )

    assert response.status_code == 200
    assert response.templates[0].name == "frontend/two_factor_backup_codes.html"
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert code in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert StaticToken.objects.filter(device__user=anna).count() == 10
    assert browser.get("/console/").status_code == 200


@pytest.mark.django_db
def test_enrolment_with_a_wrong_code_shows_an_error_and_confirms_nothing(two_factor, anna):
    browser = password_only(anna)
    browser.get("/accounts/two-factor/setup/")
    device = TOTPDevice.objects.get(user=anna, confirmed=False)

    response = browser.post("/accounts/two-factor/setup/", {"code": wrong_code_for(device)})

    assert response.status_code == 200
    assert form_errors(response)
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticToken.objects.filter(device__user=anna).exists()
    assert browser.get("/console/").status_code == 302


@pytest.mark.django_db
def test_the_second_step_accepts_a_code_from_the_app(two_factor, anna):
    device, _codes = enrolled(anna)
    browser = password_only(anna)

    response = browser.post(
        "/accounts/two-factor/", {"code": code_for(device), "next": "/console/"}
    )

    assert response.status_code == 302 and response["Location"] == "/console/"
    assert browser.get("/console/").status_code == 200


@pytest.mark.django_db
def test_the_second_step_accepts_a_backup_code_once(two_factor, anna):
    _device, codes = enrolled(anna)

    first = password_only(anna)
    response = first.post("/accounts/two-factor/", {"code": codes[0], "next": "/console/"})
    assert response.status_code == 302
    assert first.get("/console/").status_code == 200

    second = password_only(anna)
    response = second.post("/accounts/two-factor/", {"code": codes[0], "next": "/console/"})
    assert response.status_code == 200
    assert form_errors(response)
    assert second.get("/console/").status_code == 302
    assert StaticToken.objects.filter(device__user=anna).count() == 9


@pytest.mark.django_db
def test_the_second_step_refuses_a_wrong_code(two_factor, anna):
    device, _codes = enrolled(anna)
    browser = password_only(anna)

    response = browser.post("/accounts/two-factor/", {"code": wrong_code_for(device)})

    assert response.status_code == 200 and form_errors(response)
    assert browser.get("/console/").status_code == 302


@pytest.mark.django_db
def test_the_second_step_never_redirects_off_site(two_factor, anna):
    device, _codes = enrolled(anna)

    response = password_only(anna).post(
        "/accounts/two-factor/", {"code": code_for(device), "next": "https://evil.example/"}
    )

    assert response["Location"] == "/console/"


@pytest.mark.django_db
def test_a_password_alone_cannot_replace_an_enrolled_authenticator(two_factor, anna):
    owners_device, _codes = enrolled(anna)
    attacker = password_only(anna)

    page = attacker.get("/accounts/two-factor/setup/")
    if page.status_code == 200:
        new_device = TOTPDevice.objects.get(user=anna, confirmed=False)
        attacker.post("/accounts/two-factor/setup/", {"code": code_for(new_device)})

    assert attacker.get("/console/").status_code != 200
    assert TOTPDevice.objects.filter(pk=owners_device.pk, confirmed=True).exists()


@pytest.mark.django_db(transaction=True)
async def test_a_console_socket_from_a_session_without_the_second_factor_closes_4401(
    two_factor, ws, anna
):
    console = await ws.open("/ws/console/", user=anna, second_factor=False)

    assert (await console.connect(timeout=3))[0]
    assert await console.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_console_socket_past_the_second_factor_opens(two_factor, ws, anna):
    _console, snapshot = await ws.console(anna)

    assert snapshot["type"] == "console.snapshot"


def test_the_admin_asks_for_the_second_factor_when_it_is_on():
    env = {**os.environ, "DEBUG": "true", "STAFF_TWO_FACTOR": "true"}
    code = (
        "import django; django.setup(); import chatcounsel.urls; "
        "from django.contrib import admin; from django_otp.admin import OTPAdminSite; "
        "print(isinstance(admin.site, OTPAdminSite))"
    )
    env["DJANGO_SETTINGS_MODULE"] = "chatcounsel.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr


# --- lockout -------------------------------------------------------------------------------
def with_password(user: User) -> User:
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_username_but_not_a_colleague(anna, bengt):
    with_password(anna)
    with_password(bengt)
    browser = Client()  # one address for everything below
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        wrong = browser.post("/accounts/login/", {"username": "anna", "password": "fel"})
        assert wrong.status_code in (200, 429)

    locked = browser.post("/accounts/login/", {"username": "anna", "password": PASSWORD})

    assert locked.status_code == 429
    assert "frontend/locked_out.html" in [t.name for t in locked.templates]
    assert "_auth_user_id" not in browser.session
    colleague = browser.post("/accounts/login/", {"username": "bengt", "password": PASSWORD})
    assert colleague.status_code == 302
    assert browser.session["_auth_user_id"] == str(bengt.pk)


@pytest.mark.django_db
def test_four_wrong_passwords_do_not_lock(anna):
    with_password(anna)
    browser = Client()
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        browser.post("/accounts/login/", {"username": "anna", "password": "fel"})

    response = browser.post("/accounts/login/", {"username": "anna", "password": PASSWORD})

    assert response.status_code == 302


# --- log out everywhere --------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_log_out_everywhere_ends_the_other_session_and_closes_its_console(ws, anna):
    here = await database_sync_to_async(http_client)(anna)
    there = await database_sync_to_async(http_client)(anna)
    console = factories.communicator("/ws/console/", cookie=cookie_of(there))
    ws._open.append(console)
    assert (await console.connect(timeout=3))[0]
    assert (await factories.receive(console))["type"] == "console.snapshot"
    await factories.settle(console)

    response = await database_sync_to_async(here.post)("/accounts/logout-everywhere/")

    assert response.status_code == 302
    closed = None
    for _ in range(factories.FRAME_LIMIT):
        output = await console.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            closed = output
            break
    assert closed == {"type": "websocket.close", "code": 4401}
    after = await database_sync_to_async(there.get)("/console/")
    assert after.status_code == 302 and after["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in await database_sync_to_async(lambda: dict(there.session))()
    here_after = await database_sync_to_async(here.get)("/console/")
    assert here_after.status_code == 302


@pytest.fixture
def later(monkeypatch):
    """The consumers' clock, moved on by `later()` past the heartbeat's slow check."""
    now = [1000.0]
    monkeypatch.setattr(consumers_base, "monotonic", lambda: now[0])

    def advance() -> None:
        now[0] += consumers_base.staff_check_seconds()

    return advance


@pytest.mark.django_db(transaction=True)
async def test_a_console_opened_before_log_out_everywhere_is_refused_at_its_next_check(
    ws, anna, later
):
    """Even if the session.revoked event is lost (the layer is at-most-once), the
    heartbeat's next slow check checks the session and closes."""
    there = await database_sync_to_async(http_client)(anna)
    console = factories.communicator("/ws/console/", cookie=cookie_of(there))
    ws._open.append(console)
    assert (await console.connect(timeout=3))[0]
    await factories.receive(console)
    await factories.settle(console)
    await database_sync_to_async(
        lambda: User.objects.filter(pk=anna.pk).update(session_epoch=anna.session_epoch + 1)
    )()
    later()

    await console.send_json_to({"type": "ping"})

    outputs = []
    for _ in range(factories.FRAME_LIMIT):
        outputs.append(await console.receive_output(timeout=3))
        if outputs[-1]["type"] == "websocket.close":
            break
    assert outputs[-1] == {"type": "websocket.close", "code": 4401}
    assert not any('"pong"' in o.get("text", "") for o in outputs)


@pytest.mark.django_db
def test_log_out_everywhere_needs_a_post(anna):
    browser = http_client(anna)

    assert browser.get("/accounts/logout-everywhere/").status_code == 405
    assert browser.get("/console/").status_code == 200


# --- idle sessions -------------------------------------------------------------------------
def test_staff_sessions_end_after_thirty_idle_minutes_and_with_the_browser():
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True
    assert django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert django_settings.SESSION_COOKIE_HTTPONLY is True


@pytest.mark.django_db
def test_every_request_moves_the_idle_expiry_and_an_expired_session_is_anonymous(anna):
    browser = http_client(anna)
    assert browser.get("/console/").status_code == 200
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    expires = Session.objects.get(session_key=key).expire_date
    expected = timezone.now() + timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
    assert abs((expires - expected).total_seconds()) < 120

    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    response = browser.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db(transaction=True)
async def test_an_open_console_keeps_its_session_alive_and_closes_once_it_expired(ws, anna, later):
    there = await database_sync_to_async(http_client)(anna)
    key = there.cookies[django_settings.SESSION_COOKIE_NAME].value
    console = factories.communicator("/ws/console/", cookie=cookie_of(there))
    ws._open.append(console)
    assert (await console.connect(timeout=3))[0]
    await factories.receive(console)
    soon = timezone.now() + timedelta(seconds=5)
    await database_sync_to_async(
        lambda: Session.objects.filter(session_key=key).update(expire_date=soon)
    )()

    later()
    await factories.settle(console)  # pings: the first, a slow check, saves the session

    expires = await database_sync_to_async(
        lambda: Session.objects.get(session_key=key).expire_date
    )()
    assert expires > soon + timedelta(seconds=60)
    await database_sync_to_async(
        lambda: Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
    )()
    later()
    await console.send_json_to({"type": "ping"})
    outputs = []
    for _ in range(factories.FRAME_LIMIT):
        outputs.append(await console.receive_output(timeout=3))
        if outputs[-1]["type"] == "websocket.close":
            break
    assert outputs[-1] == {"type": "websocket.close", "code": 4401}


# --- interpreters with an account ---------------------------------------------------------------
AFTER_JOIN = "Det här skrevs när tolken var med."


@database_sync_to_async
def interpreter_in_conversation(ekonomi, anna):
    """Anna's active conversation with Tove, an interpreter with an account, invited in;
    the client writes once Tove is there."""
    from chat.selectors import conversation_get_for_client
    from chat.services.messages import message_post
    from chat.services.participants import participant_invite

    tove = factories.make_user("tove_login", role=User.Role.INTERPRETER)
    conversation, token = factories.start_conversation(ekonomi, "Före tolken.")
    factories.accept(anna, conversation)
    participant_invite(conversation=conversation, actor=anna, user_id=tove.pk)
    message_post(
        conversation_id=conversation_get_for_client(token=token).pk,
        author=None,
        body=AFTER_JOIN,
        client_id=factories.new_client_id(),
    )
    return tove, conversation, token


async def _interpreter_socket(ws, cookie: bytes):
    comm = factories.communicator("/ws/interpreter/", cookie=cookie)
    ws._open.append(comm)
    assert (await comm.connect(timeout=3))[0]
    return comm


@pytest.mark.django_db(transaction=True)
async def test_an_interpreter_with_an_account_reads_from_their_joining_on(ws, ekonomi, anna):
    tove, _conversation, _token = await interpreter_in_conversation(ekonomi, anna)
    comm = await _interpreter_socket(ws, await factories.session_cookie_for(tove))

    await comm.send_json_to({"type": "resume", "after": 0})

    sync = (await factories.frames_until(comm, "conversation.sync"))[-1]
    bodies = [m["body"] for m in sync["messages"]]
    assert AFTER_JOIN in bodies and "Före tolken." not in bodies


@pytest.mark.django_db(transaction=True)
async def test_an_interpreter_account_needs_the_second_factor_to_read(
    two_factor, ws, ekonomi, anna
):
    tove, _conversation, _token = await interpreter_in_conversation(ekonomi, anna)
    cookie = await factories.session_cookie_for(tove, second_factor=False)
    comm = await _interpreter_socket(ws, cookie)

    await comm.send_json_to({"type": "resume", "after": 0})
    await comm.send_json_to({"type": "ping"})

    seen = []
    for _ in range(factories.FRAME_LIMIT):
        output = await comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            break
        seen.append(output["text"])
        if '"pong"' in output["text"]:
            break
    assert not any("conversation.sync" in text for text in seen)


@pytest.mark.django_db(transaction=True)
async def test_log_out_everywhere_closes_an_interpreter_s_open_socket(ws, ekonomi, anna):
    tove, _conversation, token = await interpreter_in_conversation(ekonomi, anna)
    here = await database_sync_to_async(http_client)(tove)
    there = await database_sync_to_async(http_client)(tove)
    comm = await _interpreter_socket(ws, cookie_of(there))
    await comm.send_json_to({"type": "resume", "after": 0})
    await factories.frames_until(comm, "conversation.sync")
    await factories.settle(comm)

    await database_sync_to_async(here.post)("/accounts/logout-everywhere/")
    client = factories.communicator("/ws/client/")
    ws._open.append(client)
    await client.connect(timeout=3)
    await client.send_json_to({"type": "resume", "token": token, "after": 0})
    await factories.frames_until(client, "conversation.sync")
    await factories.send_message(client, "Efter utloggningen.")

    outputs = []
    for _ in range(factories.FRAME_LIMIT):
        output = await comm.receive_output(timeout=3)
        outputs.append(output)
        if output["type"] == "websocket.close" or "Efter utloggningen" in output.get("text", ""):
            break
    assert outputs[-1] == {"type": "websocket.close", "code": 4401}
