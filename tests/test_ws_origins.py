"""Websocket origins are whole origins (scheme, host, port), checked like Django's CSRF
origin check: the handshake's own origin, or one listed in CSRF_TRUSTED_ORIGINS. A page on
another port or scheme of the same host name is same-site, so the browser sends the staff
cookie along: such a handshake must be refused before any consumer runs."""

from __future__ import annotations

import pytest

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

# Each endpoint, and who opens it in a browser.
ENDPOINTS = [
    ("/ws/client/", None),
    ("/ws/console/", "anna"),
    ("/ws/dashboard/", "sara"),
    ("/ws/interpreter/", None),
]
FIRST_FRAME = {"/ws/console/": "console.snapshot", "/ws/dashboard/": "dashboard.snapshot"}


@pytest.fixture
def who(anna, sara):
    return {"anna": anna, "sara": sara, None: None}


async def handshake(ws, path, user, *, origin, host=factories.HOST, extra=()):
    comm = await ws.open(path, user=user, origin=origin, host=host)
    comm.scope["headers"].extend(extra)  # the application starts on first use
    connected, _code = await comm.connect(timeout=factories.RECEIVE_TIMEOUT)
    return comm, connected


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param(b"http://127.0.0.1:9999", id="foreign-port"),
        pytest.param(b"https://127.0.0.1", id="foreign-scheme"),
        pytest.param(b"http://localhost:1", id="other-allowed-host-and-port"),
    ],
)
@pytest.mark.parametrize("path,persona", ENDPOINTS)
async def test_a_page_on_another_port_or_scheme_of_the_host_is_refused(
    ws, who, path, persona, origin
):
    _comm, connected = await handshake(ws, path, who[persona], origin=origin)

    assert connected is False


@pytest.mark.parametrize("path,persona", ENDPOINTS)
async def test_the_sites_own_origin_is_accepted(ws, who, path, persona):
    comm, connected = await handshake(ws, path, who[persona], origin=b"http://127.0.0.1")

    assert connected is True
    if path in FIRST_FRAME:
        assert (await factories.receive(comm))["type"] == FIRST_FRAME[path]
    else:
        await comm.send_json_to({"type": "ping"})
        assert (await factories.receive(comm))["type"] == "pong"


@pytest.mark.parametrize("path,persona", ENDPOINTS)
async def test_the_port_is_part_of_the_origin(ws, who, path, persona):
    _own, own_connected = await handshake(
        ws, path, who[persona], origin=b"http://127.0.0.1:8000", host=b"127.0.0.1:8000"
    )
    _other, other_connected = await handshake(
        ws, path, who[persona], origin=b"http://127.0.0.1", host=b"127.0.0.1:8000"
    )

    assert own_connected is True
    assert other_connected is False


@pytest.mark.parametrize("origin", [None, b"null", b"", b"127.0.0.1", b"http://127.0.0.1/"])
async def test_a_missing_or_malformed_origin_is_refused(ws, anna, origin):
    _comm, connected = await handshake(ws, "/ws/console/", anna, origin=origin)

    assert connected is False


async def test_two_origin_headers_are_refused(ws, anna):
    _comm, connected = await handshake(
        ws,
        "/ws/console/",
        anna,
        origin=b"http://127.0.0.1",
        extra=[(b"origin", b"http://127.0.0.1")],
    )

    assert connected is False


async def test_a_host_name_outside_allowed_hosts_is_never_the_own_origin(ws, anna):
    # A rebound DNS name points at this server, but its Host is not one of ours.
    _comm, connected = await handshake(
        ws, "/ws/console/", anna, origin=b"http://rebound.example", host=b"rebound.example"
    )

    assert connected is False


# --- behind the reverse proxy (daphne --proxy-headers) ----------------------------------
@pytest.fixture
def behind_the_proxy(settings):
    settings.ALLOWED_HOSTS = ["chat.example.se"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


async def test_behind_the_proxy_the_own_origin_is_https(ws, anna, behind_the_proxy):
    proto = [(b"x-forwarded-proto", b"https")]
    _secure, secure_connected = await handshake(
        ws,
        "/ws/console/",
        anna,
        origin=b"https://chat.example.se",
        host=b"chat.example.se",
        extra=proto,
    )
    _plain, plain_connected = await handshake(
        ws,
        "/ws/console/",
        anna,
        origin=b"http://chat.example.se",
        host=b"chat.example.se",
        extra=proto,
    )

    assert secure_connected is True
    assert plain_connected is False


async def test_without_the_proxys_header_an_https_origin_is_not_the_own_one(
    ws, anna, behind_the_proxy
):
    _comm, connected = await handshake(
        ws, "/ws/console/", anna, origin=b"https://chat.example.se", host=b"chat.example.se"
    )

    assert connected is False


async def test_a_wss_scope_is_its_own_https_origin(ws, anna, behind_the_proxy):
    comm = await ws.open(
        "/ws/console/", user=anna, origin=b"https://chat.example.se", host=b"chat.example.se"
    )
    comm.scope["scheme"] = "wss"

    assert (await comm.connect(timeout=factories.RECEIVE_TIMEOUT))[0] is True


# --- CSRF_TRUSTED_ORIGINS governs websockets too -------------------------------------------
async def test_an_origin_trusted_for_csrf_is_trusted_for_websockets(ws, anna, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://intranet.example.se"]

    _trusted, trusted_connected = await handshake(
        ws, "/ws/console/", anna, origin=b"https://intranet.example.se"
    )
    _port, port_connected = await handshake(
        ws, "/ws/console/", anna, origin=b"https://intranet.example.se:8443"
    )
    _scheme, scheme_connected = await handshake(
        ws, "/ws/console/", anna, origin=b"http://intranet.example.se"
    )

    assert trusted_connected is True
    assert port_connected is False
    assert scheme_connected is False


async def test_a_wildcard_trusted_origin_covers_subdomains_of_its_scheme_only(ws, anna, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.se"]

    _sub, sub_connected = await handshake(
        ws, "/ws/console/", anna, origin=b"https://chat.example.se"
    )
    _plain, plain_connected = await handshake(
        ws, "/ws/console/", anna, origin=b"http://chat.example.se"
    )
    _other, other_connected = await handshake(
        ws, "/ws/console/", anna, origin=b"https://chat.example.com"
    )

    assert sub_connected is True
    assert plain_connected is False
    assert other_connected is False
