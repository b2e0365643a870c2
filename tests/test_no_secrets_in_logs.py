"""Nothing a client wrote and no resume token ends up in a log record or in a URL the
application makes. A whole client-and-worker flow runs with every logger at DEBUG."""

from __future__ import annotations

import logging
import re

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat.selectors import token_hash
from tests import factories
from tests.security_personas import reply_to

# The personas and fixtures of tests/security_personas.py (cast, private_rates, ...).
pytest_plugins = ["tests.security_personas"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_rates")]

FIRST = "Min sambo hotar mig, adress Storgatan 12."
SECOND = "Jag heter Lisa och bor med två barn."
REPLY = "Tack för att du skriver. Är du säker just nu?"
NOTE = "Privat anteckning: ring inte upp."
LOGGERS = ["", "django", "django.request", "django.db.backends", "channels", "daphne", "axes"]


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write out of the record."""
    parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    parts.extend(repr(value) for key, value in vars(record).items() if key not in {"msg"})
    return "\n".join(parts)


@pytest.fixture
def everything_logged(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


async def test_a_whole_conversation_leaves_no_body_and_no_token_in_the_logs(
    ws, everything_logged, ekonomi, anna, bengt
):
    console, _snapshot = await ws.console(anna)
    colleague, _ = await ws.console(bengt)
    client = await ws.client()
    sync, token = await factories.client_start(client, ekonomi, FIRST)
    conversation_id = sync["conversation"]
    await factories.settle(client)

    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await factories.frames_until(console, "conversation.assigned", conversation=conversation_id)
    client_id = await factories.send_message(client, SECOND)
    await factories.frames_until(client, "ack", client_id=client_id)
    reply_id = await factories.send_message(console, REPLY, conversation=conversation_id)
    await factories.frames_until(console, "ack", client_id=reply_id)
    await reply_to(
        console,
        {
            "type": "note",
            "conversation": conversation_id,
            "body": NOTE,
            "client_id": factories.new_client_id(),
        },
    )
    # A colleague reads (written to the access log), a typing signal, bad frames.
    await reply_to(colleague, {"type": "sync", "conversation": conversation_id, "after": 0})
    await reply_to(client, {"type": "typing"})
    await reply_to(client, {"type": "message", "body": SECOND + "\x00", "client_id": "x"})
    await reply_to(client, {"type": "resume", "token": token[::-1], "after": 0})
    await reply_to(client, {"type": "no-such-type", "body": FIRST, "token": token})
    # The client reloads: a second socket resumes with the token.
    again = await ws.client()
    await reply_to(again, {"type": "resume", "token": token, "after": 0})
    # Quick exit, as the browser does it: the beacon, then the navigation.
    browser = Client()

    def quick_exit():
        page = browser.get("/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
        beacon = browser.post("/exit/", {"token": token, "csrfmiddlewaretoken": csrf.group(1)})
        navigation = browser.get("/exit/")
        return beacon, navigation

    beacon, navigation = await database_sync_to_async(quick_exit)()
    assert beacon.status_code == 204
    await factories.frames_until(
        console, "conversation.message", where=factories.is_event("quick_exit")
    )
    await ws.close_all()

    records = everything_logged.records
    assert records, "nothing was logged at all: the capture is not working"
    secrets_ = {
        "first message": FIRST,
        "second message": SECOND,
        "reply": REPLY,
        "note": NOTE,
        "token": token,
        "token hash": token_hash(token),
    }
    for record in records:
        text = record_text(record)
        for what, secret in secrets_.items():
            assert secret not in text, f"the {what} is in a log record of {record.name}"
    # URLs the application made along the way.
    for response in (beacon, navigation):
        assert token not in response.get("Location", "")
        assert token not in str(response.headers)


@pytest.mark.django_db
def test_no_page_or_redirect_carries_a_token(ekonomi):
    _conversation, token = factories.start_conversation(ekonomi)
    browser = Client()

    pages = [browser.get(path) for path in ("/", "/exit/", "/console/")]

    for page in pages:
        assert token not in page.content.decode()
        assert token not in page.get("Location", "")


def test_the_socket_paths_carry_no_secret():
    from chatcounsel.routing import websocket_urlpatterns

    for pattern in websocket_urlpatterns:
        assert "<" not in str(pattern.pattern), pattern  # no path parameters at all


def test_production_logging_never_emits_debug_by_default(settings):
    """At DEBUG with DEBUG=True, Django's SQL log would print message bodies as query
    parameters; production runs neither (check --deploy refuses DEBUG)."""
    assert settings.LOGGING["root"]["level"] in {"INFO", "WARNING", "ERROR"}
    assert settings.LOGGING["loggers"]["django.channels.server"]["level"] == "WARNING"
