"""Browser tests: Debian's Chromium (Playwright) against a real daphne subprocess.

Every test here is `e2e` (run last, see tests/conftest.py) and
`django_db(transaction=True)`: the server is another process and only sees committed rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.netcut import NetCut
from tests.browser.server import PROJECT_ROOT, LiveServer

BROWSER_DIR = Path(__file__).resolve().parent
# One PNG per tested step. E2E_SCREENS_DIR moves them: any pytest run in the project wipes
# test-results/ when it starts (pytest-playwright's autouse `delete_output_dir`).
SCREENS_DIR = Path(os.environ.get("E2E_SCREENS_DIR") or PROJECT_ROOT / "test-results" / "screens")
# Not under pytest's basetemp: parallel pytest runs on this machine rotate those away.
SERVER_LOGS_DIR = Path(
    os.environ.get("E2E_SERVER_LOG_DIR") or PROJECT_ROOT / "test-results" / "daphne"
)
PASSWORD = "anna-test-password-1"
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# The staff pages' languages, with the browser locale each is tried in.
LOCALES = {"sv": "sv-SE", "en": "en-GB"}


@pytest.fixture(params=sorted(LOCALES))
def lang(request: pytest.FixtureRequest) -> str:
    """Each test that asks for it runs in Swedish and in English (a module may define its
    own `lang` for other languages)."""
    return request.param


# Playwright's expect() retries until this; each flow keeps its own bounded waits on top.
expect.set_options(timeout=10_000)


def _is_browser_test(item: pytest.Item) -> bool:
    return BROWSER_DIR in Path(str(item.path)).resolve().parents


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything in tests/browser before the root conftest sorts `e2e` last."""
    for item in items:
        if _is_browser_test(item):
            if item.get_closest_marker("e2e") is None:
                item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("django_db") is None:
                item.add_marker(pytest.mark.django_db(transaction=True))


# --- the server ----------------------------------------------------------------------------
def _test_db_name() -> str:
    from django.db import connection

    return str(connection.settings_dict["NAME"])


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_the_live_servers_last_writes() -> Iterator[None]:
    """After a browser test its pages close, and the server process records that (presence,
    a client's last sign of life) while pytest-django truncates every table. On PostgreSQL
    the two can deadlock; the truncation is then simply tried again."""
    import time

    from django.db import OperationalError
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):  # type: ignore[no-untyped-def]
        for attempt in range(5):
            try:
                return original(self, sql_list)
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
        return None

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _live_server_helper() -> Iterator[None]:
    """Shadows pytest-django's helper of the same name, which would treat our `live_server`
    as its own WSGI server (it enables that server's settings overrides). Ours needs none:
    the marker above already gives every test here `transactional_db`."""
    yield


@pytest.fixture(autouse=True)
def _no_events_from_the_test_process(settings) -> None:
    """The test process only writes the data the live server then serves; it runs inside
    Playwright's event loop, where publishing an event cannot work (and nothing here listens).
    Without a channel layer, the services' events after commit are simply not sent."""
    settings.CHANNEL_LAYERS = {}


@pytest.fixture(scope="session")
def live_server(django_db_setup, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """One daphne for the session, on the test database, signing clients in with e-ID at
    the session's test provider. The provider must run under CI (the fixture fails without
    it); elsewhere, without node, only the e-ID tests fail."""
    from tests.oidc import missing_reason

    port, extra_env = None, {}
    if os.environ.get("CI") or missing_reason() is None:
        provider = request.getfixturevalue("oidc_provider")
        port, extra_env = provider.rp_port, provider.environment()
    server = LiveServer(
        db_name=_test_db_name(), log_dir=SERVER_LOGS_DIR, port=port, extra_env=extra_env
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def restartable_server(django_db_setup) -> Iterator[LiveServer]:
    """A daphne of this test's own, which the test may stop and restart."""
    server = LiveServer(db_name=_test_db_name(), log_dir=SERVER_LOGS_DIR).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def netcut(live_server) -> Iterator[NetCut]:
    """A TCP proxy in front of the session's server that can cut the network."""
    proxy = NetCut(live_server.port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


# --- personas --------------------------------------------------------------------------------
@dataclass
class Personas:
    unit: object
    anna: object
    password: str = PASSWORD


@pytest.fixture
def personas(playwright) -> Personas:
    """Unit "Ekonomiskt bistånd" and its worker anna, committed for the server to see.

    Asks for `playwright` so that DJANGO_ALLOW_ASYNC_UNSAFE is already set (recipe G3).
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Unit, User

    unit = Unit.objects.create(name="Ekonomiskt bistånd", slug="ekonomi")
    anna = User.objects.create_user(
        username="anna",
        password=PASSWORD,
        first_name="Anna",
        last_name="Andersson",
        role=User.Role.WORKER,
    )
    anna.units.set([unit])
    # Staff sign in with two factors: anna has an enrolled authenticator app.
    TOTPDevice.objects.create(user=anna, name="authenticator", confirmed=True)
    return Personas(unit=unit, anna=anna)


def colleague(personas: Personas, username: str, first_name: str, last_name: str):
    """Another worker in the personas' unit, signing in with two factors like anna."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    user = User.objects.create_user(
        username=username,
        password=personas.password,
        first_name=first_name,
        last_name=last_name,
        role=User.Role.WORKER,
    )
    user.units.set([personas.unit])
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return user


@pytest.fixture
def partner(personas):
    """The personas' unit takes referrals; Pia works at a pharmacy with one place."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import PartnerOrganisation, PartnerPlace, User

    personas.unit.referral_order = 1
    personas.unit.save(update_fields=["referral_order"])
    pharmacy = PartnerOrganisation.objects.create(
        name="Apoteket Hjärtat", kind=PartnerOrganisation.Kind.PHARMACY
    )
    place = PartnerPlace.objects.create(organisation=pharmacy, name="Storgatan 12")
    pia = User.objects.create_user(
        username="pia",
        password=personas.password,
        first_name="Pia",
        role=User.Role.PARTNER,
        partner_organisation=pharmacy,
    )
    TOTPDevice.objects.create(user=pia, name="authenticator", confirmed=True)
    return place


def partner_login(page: Page, base_url: str, password: str) -> None:
    page.goto(f"{base_url}/partner/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.locator("#id_username").fill("pia")
    page.locator("#id_password").fill(password)
    page.locator("#id_password").press("Enter")
    expect(page).to_have_url(re.compile(r"/partner/$|/accounts/two-factor/"))
    if "/accounts/two-factor/" in page.url:
        page.locator("#id_code").fill(current_totp("pia"))
        page.locator("#id_code").press("Enter")
    expect(page).to_have_url(re.compile(r"/partner/$"))


# --- contexts --------------------------------------------------------------------------------
@pytest.fixture
def client_context(new_context) -> BrowserContext:
    """A phone-sized context for the client, in Swedish like most clients."""
    return new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="sv-SE")


@pytest.fixture
def worker_context(new_context) -> BrowserContext:
    return new_context(viewport=DESKTOP, locale="sv-SE")


def current_totp(username: str) -> str:
    """The code the user's authenticator app shows now."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return str(code).zfill(device.digits)


def login(page: Page, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form (and the second step, when it is on) and land on
    the console."""
    page.goto(f"{base_url}/console/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("#id_password").press("Enter")
    expect(page).to_have_url(re.compile(r"/console/$|/accounts/two-factor/"))
    if "/accounts/two-factor/" in page.url:
        page.locator("#id_code").fill(current_totp(username))
        page.locator("#id_code").press("Enter")
    expect(page).to_have_url(re.compile(r"/console/$"))


# --- screenshots -----------------------------------------------------------------------------
class Screens:
    """One full-page PNG per step, in test-results/screens/, named by test and step."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
        self.count = 0
        self.paths: list[Path] = []

    def __call__(self, page: Page, step: str) -> Path:
        self.count += 1
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", step).strip("-")
        path = SCREENS_DIR / f"{self.prefix}--{self.count:02d}-{name}.png"
        # Playwright makes the folder: any pytest run here may have wiped test-results/
        # meanwhile (pytest-playwright's autouse `delete_output_dir`).
        page.screenshot(path=str(path), full_page=True)
        self.paths.append(path)
        return path


@pytest.fixture
def shot(request) -> Screens:
    return Screens(request.node.name)
