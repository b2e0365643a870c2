"""Root test configuration: test order, PostgreSQL-only selection, the browser, Redis and
the personas. The recipes behind each piece are in ../shared/recipes/testing.md."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from tests import factories

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the suite runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the network is closed: no calls home
    "--disable-component-update",
    "--disable-sync",
    # Calls (tests/browser/test_call.py): a synthetic camera and microphone, granted without
    # a prompt, and ICE candidates on 127.0.0.1 (without it a loopback-only CI host gathers
    # none and the call never connects).
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
REDIS_SERVER = "/usr/bin/redis-server"

_POSTGRES_DESELECTED = pytest.StashKey[int]()


# --- collection: browser tests last, PostgreSQL-only tests only on PostgreSQL ------------
def _default_database_is_postgres() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect `postgres` tests on any other database (SQLite ignores row locks, so they
    would pass without proving anything), then move `e2e` tests last: once Playwright's sync
    API has started, every later pytest-asyncio test fails with "Runner.run() cannot be
    called from a running event loop" (gotcha G2)."""
    if not _default_database_is_postgres():
        deselected = [item for item in items if item.get_closest_marker("postgres")]
        if deselected:
            items[:] = [item for item in items if not item.get_closest_marker("postgres")]
            config.hook.pytest_deselected(items=deselected)
        config.stash[_POSTGRES_DESELECTED] = len(deselected)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)  # stable


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    count = config.stash.get(_POSTGRES_DESELECTED, 0)
    if count:
        terminalreporter.write_line(
            f"{count} PostgreSQL-only tests deselected: set DATABASE_URL to run them",
            yellow=True,
        )


# --- browser: Debian's Chromium, never `playwright install` -------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments, pointed at /usr/bin/chromium (gotcha G1)."""
    if not os.path.exists(CHROMIUM):
        context = (
            "CI is set, so the browser tests must run"
            if os.environ.get("CI")
            else "the browser tests never skip"
        )
        pytest.fail(
            f"{CHROMIUM} is missing and {context}: run scripts/ensure-chromium.sh "
            "(as root it installs Debian's chromium). Do not run `playwright install`.",
            pytrace=False,
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def playwright(playwright):
    """Playwright's sync API keeps an event loop registered as running in the main thread,
    so Django refuses sync ORM calls from then on (gotcha G3). Allow them only from here on:
    browser tests run last, so every async test before them keeps Django's check."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield playwright
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


# --- the test e-ID provider (Node), one process per session --------------------------------
@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory):
    """The test e-ID provider (deploy/oidc-test-provider) on a free port of 127.0.0.1. It
    knows two redirect URIs: Django's test client's and the browser tests' server's, whose
    port it picks (`rp_port`). Never skips: a missing node or oidc-provider is a failure."""
    from tests.oidc import free_port, missing_reason, start_provider

    reason = missing_reason()
    if reason:
        pytest.fail(f"the e-ID tests need the test provider: {reason}", pytrace=False)
    provider = start_provider(
        log_path=tmp_path_factory.mktemp("oidc") / "provider.log", rp_port=free_port()
    )
    yield provider
    provider.stop()


@pytest.fixture
def eid_settings(settings, oidc_provider):
    """The site signs clients in at the test provider, for one test."""
    for name, value in oidc_provider.settings().items():
        setattr(settings, name, value)
    return oidc_provider


# --- time ---------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_timer_in_the_application(settings):
    """Tests apply the timed rules themselves (chat/services/timed.py), and write the
    heartbeats' notes themselves (chat/liveness.py `flush`); the application's in-process
    timers would do either at moments no test chose. Queue announcements go at once, not
    coalesced (tests/test_announce.py coalesces on purpose)."""
    settings.TIMED_RULES = "off"
    settings.LIVENESS_FLUSH_SECONDS = 0
    settings.QUEUE_ANNOUNCE_MS = 0


# --- database -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Close the connections that async ORM calls and consumers opened in asgiref's worker
    thread before the test database is dropped (gotcha G6): otherwise PostgreSQL teardown
    waits and then fails with 'database ... is being accessed by other users'."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


# --- Redis ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """REDIS_URL if set, else a private redis-server that pytest-redis starts on a free port
    and stops at the end of the session. Never skips: a missing server is a failure."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if not (os.path.exists(REDIS_SERVER) or shutil.which("redis-server")):
        pytest.fail(
            f"the Redis tests need REDIS_URL or {REDIS_SERVER}: run scripts/ensure-services.sh "
            "(as root it installs and starts redis-server) or set REDIS_URL",
            pytrace=False,
        )
    proc = request.getfixturevalue("redis_proc")
    return f"redis://{proc.host}:{proc.port}/0"


@pytest.fixture
async def redis_layer(settings, redis_url):
    """Put Channels on the production layer (Redis pub/sub) for one test, under a prefix of
    its own. pytest-django's `settings` fires setting_changed, so Channels drops its cached
    layer now and again when the test ends."""
    from channels.layers import get_channel_layer

    prefix = f"{os.environ.get('REDIS_PREFIX', 'cc')}.test.{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    }
    layer = get_channel_layer()
    yield layer
    # Cancels this loop's receiver task and closes its connection (pub/sub keeps no keys).
    await layer.flush()


@pytest.fixture(autouse=True)
def fresh_risk_rules():
    """Each test compiles its units' risk rules afresh: a unit's id comes back after a
    rolled-back test on SQLite, and its rules must not (chat/services/risk.py)."""
    from chat.services.risk import risk_rules_forget_all

    risk_rules_forget_all()
    yield
    risk_rules_forget_all()


# --- broadcasts -------------------------------------------------------------------------------
@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    """Every `chat.realtime.publish(group, event)` call, recorded instead of sent."""
    from chat import realtime

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: sent.append((group, event)))
    return sent


# --- websockets -------------------------------------------------------------------------------
@pytest.fixture
async def ws():
    """Opens communicators against the real ASGI application and disconnects every one of
    them when the test ends, even when it fails half-way."""
    sockets = factories.Sockets()
    yield sockets
    await sockets.close_all()


# --- personas (conventions habit 15) ----------------------------------------------------------
@pytest.fixture
def ekonomi(db):
    return factories.make_unit("Ekonomiskt bistånd", "ekonomiskt-bistand")


@pytest.fixture
def vald(db):
    return factories.make_unit("Våld i nära relationer", "vald-i-nara-relationer")


@pytest.fixture
def anna(ekonomi):
    """Social worker in Ekonomiskt bistånd."""
    return factories.make_user("anna", units=[ekonomi])


@pytest.fixture
def bengt(ekonomi):
    """Anna's colleague in Ekonomiskt bistånd."""
    return factories.make_user("bengt", units=[ekonomi])


@pytest.fixture
def cecilia(vald):
    """Social worker in Våld i nära relationer only."""
    return factories.make_user("cecilia", units=[vald])


@pytest.fixture
def sara(ekonomi):
    """Supervisor (gruppledare) of Ekonomiskt bistånd."""
    return factories.make_user("sara", role="supervisor", units=[ekonomi])


@pytest.fixture
def pelle(ekonomi):
    """Partner staff at the pharmacy: listed in a unit, but never in the console."""
    return factories.make_user("pelle", role="partner", units=[ekonomi])
