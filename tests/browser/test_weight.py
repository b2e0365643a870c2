"""The client page on a weak phone: what a cold load costs, measured with the DevTools
protocol, in every client language, as the demo serves it (DEBUG) and as production does
(DEBUG off: whitenoise's compressed, hashed files); and on a slow, high-latency connection
the client still gets a first message to the server in time."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import MOBILE
from tests.browser.flows import client_log, start_chat
from tests.browser.server import PROJECT_ROOT, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_BUDGET = 100_000
PRODUCTION_BUDGET = 50_000
# A cheap phone on a poor mobile connection.
SLOW_NETWORK = {
    "offline": False,
    "latency": 400,  # ms
    "downloadThroughput": 400_000 / 8,  # bytes per second
    "uploadThroughput": 400_000 / 8,
}
SLOW_BUDGET_SECONDS = 10
CLIENT_LANGUAGES = [code for code, _name in settings.CLIENT_LANGUAGES]


def cold_load(context: BrowserContext, url: str) -> tuple[int, list[str]]:
    """Bytes on the wire (headers and bodies) and the URLs of a load with an empty cache."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    page.goto(url, wait_until="networkidle")
    expect(page.locator("#start")).to_be_visible()
    page.close()
    return sum(sizes.values()), sorted(urls[r] for r in sizes)


def _open_in(page: Page, base: str, lang: str) -> None:
    """The client page in `lang`, chosen in the picker as a client would."""
    page.goto(f"{base}/")
    if page.locator("html").get_attribute("lang") != lang:
        page.locator("#language-picker summary").click()
        page.locator(f"#language-picker button[value='{lang}']").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.fixture(params=CLIENT_LANGUAGES)
def lang(request) -> str:
    return request.param


def _weigh(new_context, base: str, lang: str, personas) -> tuple[int, list[str]]:
    context = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE")
    _open_in(context.new_page(), base, lang)  # the session now holds the language
    return cold_load(context, f"{base}/")


def _server(extra_env: dict[str, str]):
    """The app as deployed (static files by whitenoise, not the tests' static handler)."""
    from django.db import connection

    class Server(LiveServer):
        def environment(self) -> dict[str, str]:
            return {**super().environment(), **extra_env}

    return Server(
        db_name=str(connection.settings_dict["NAME"]),
        log_dir=PROJECT_ROOT / "test-results" / "daphne",
        app="chatcounsel.asgi:application",
    ).start()


@pytest.fixture(scope="module")
def demo_server(django_db_setup):
    server = _server({"DEBUG": "true"})
    try:
        yield server
    finally:
        server.stop()


def test_the_demo_client_page_weighs_under_100_kb(demo_server, personas, new_context, lang):
    total, urls = _weigh(new_context, demo_server.url, lang, personas)
    assert total <= DEMO_BUDGET, f"{total} bytes: {urls}"
    assert not any("/jsi18n/" in url for url in urls)


@pytest.fixture(scope="module")
def production_server(django_db_setup, tmp_path_factory):
    """A daphne with production settings: DEBUG off and collectstatic's output."""
    static_root = tmp_path_factory.mktemp("static")
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "weight-test-only",
        "SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(static_root),
    }
    env = {**os.environ, **production}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=PROJECT_ROOT, env=env, check=True,
    )  # fmt: skip
    server = _server(production)
    try:
        yield server
    finally:
        server.stop()


def test_the_production_client_page_weighs_under_50_kb_compressed(
    production_server, personas, new_context, lang
):
    total, urls = _weigh(new_context, production_server.url, lang, personas)
    assert total <= PRODUCTION_BUDGET, f"{total} bytes: {urls}"
    # Hashed names (cached for a year), imports included.
    statics = [url for url in urls if "/static/" in url]
    assert statics and all(len(url.rsplit(".", 2)) == 3 for url in statics), statics


def test_a_client_on_a_slow_connection_sends_a_message_within_10_seconds(
    production_server, personas, new_context
):
    context = new_context(viewport=MOBILE, is_mobile=True, locale="sv-SE")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_NETWORK)
    started = time.monotonic()
    start_chat(page, production_server.url, "Hej, jag behöver hjälp.")
    elapsed = time.monotonic() - started
    expect(client_log(page).locator("li.message--client")).to_have_count(1)
    assert elapsed <= SLOW_BUDGET_SECONDS, f"{elapsed:.1f} s"
