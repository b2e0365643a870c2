"""Personas and helpers for the case tests: cases, case codes, follow-up questions,
questions left outside opening hours, the survey, transcripts and the case pages.

The everyday cast comes from tests/conftest.py (ekonomi, vald, anna, bengt, cecilia, sara,
pelle); this module adds:

| fixture       | who / what                                                       |
|---------------|------------------------------------------------------------------|
| `ivar`        | interpreter (no units): never reaches a case                     |
| `code_tries`  | empty case-code counters for a test that counts tries            |
| `closed`      | Ekonomiskt bistånd closed all day (a holiday), yesterday to tomorrow |
| `meeting`     | a meeting anna had in ekonomi and ended: (conversation, token)   |
| `case_layer`  | Channels' in-memory layer for a consumer test (unless marked redis) |

Counting tries: the counters live in the default cache. A private LocMemCache is emptied
before and after (`code_tries`); a shared Redis cache (REDIS_URL) is never flushed, because
other runs use the same database. There every test tries from addresses of its own
(`factories.new_address`) and with codes of its own (`wrong_code`), so no two tests, and
no two runs, share a counter.

Test modules load the fixtures with `pytest_plugins = ["tests.case_personas"]` and import
the helpers by name. The import comes first, so pytest cannot rewrite this module's few
asserts; PYTEST_DONT_REWRITE says that is meant (instead of a warning per run).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core import serializers
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client
from django.utils import timezone
from django.utils.translation import trans_real

from accounts.models import ClosedDay, Unit, User
from chat.models import Case, Conversation
from chat.services.cases import CODE_ALPHABET, _new_code, case_code_hash, case_issue_code
from chat.services.conversations import conversation_end
from tests import factories

# What /return/ says to every refused code, in English and Swedish.
REFUSED_PAGE_TEXT = "We could not open a case with that code."


# --- personas ---------------------------------------------------------------------------------
@pytest.fixture
def ivar(db) -> User:
    """An interpreter user: joins single conversations by invitation, never a case."""
    return factories.make_user("ivar", role=User.Role.INTERPRETER)


@pytest.fixture
def closed(ekonomi: Unit) -> Unit:
    """Ekonomiskt bistånd closed all day, yesterday to tomorrow, so a test running across
    midnight still finds it closed."""
    today = timezone.localdate()
    for offset in (-1, 0, 1):
        ClosedDay.objects.create(unit=ekonomi, date=today + timedelta(days=offset))
    return ekonomi


def ended_meeting(
    unit: Unit, worker: User, body: str = "Hej, jag behöver hjälp.", **end: Any
) -> tuple[Conversation, str]:
    """A client queued with `body`, the worker accepted and ended the meeting (with the
    `end` keywords, e.g. followups); returns (conversation, token)."""
    conversation, token = factories.start_conversation(unit, body)
    factories.accept(worker, conversation)
    conversation = conversation_end(conversation=conversation, actor=worker, **end)
    conversation.refresh_from_db()
    return conversation, token


@pytest.fixture
def meeting(ekonomi: Unit, anna: User) -> tuple[Conversation, str]:
    """A meeting anna had with a client in Ekonomiskt bistånd, now ended."""
    return ended_meeting(ekonomi, anna)


def aged(obj: Any, **delta: float) -> Any:
    """Move the row's created_at back by `delta` (timedelta keywords): time passes by the
    timestamps, never by sleeping."""
    created_at = timezone.now() - timedelta(**delta)
    type(obj).objects.filter(pk=obj.pk).update(created_at=created_at)
    obj.created_at = created_at
    return obj


# --- case codes -----------------------------------------------------------------------------
@pytest.fixture
def code_tries():
    """Empty try counters for a test that counts case-code tries (see the module doc)."""
    if isinstance(caches["default"], LocMemCache):
        cache.clear()
    yield
    if isinstance(caches["default"], LocMemCache):
        cache.clear()


def wrong_code() -> str:
    """A well-formed code that opens nothing, new for every call (so counters per code are
    never shared between tests, not even in a shared Redis)."""
    code = _new_code()
    assert not Case.objects.filter(code_hash=case_code_hash(code)).exists()
    return code


def lockout_passes(address: str) -> None:
    """What CASE_CODE_LOCKOUT_SECONDS passing does for `address`: its lock and its try
    counter expire (cases.case_open_by_code keeps both with that timeout)."""
    cache.delete_many([f"casecode:lock:{address}", f"casecode:tries:{address}"])


def returning_browser(case: Case, **client_defaults: Any) -> Client:
    """A client's browser that came back through /return/ with a fresh code of `case`."""
    client_defaults.setdefault("REMOTE_ADDR", factories.new_address())
    browser = Client(**client_defaults)
    response = browser.post("/return/", {"code": case_issue_code(case=case)})
    assert response.status_code == 302, response.content
    return browser


# --- what the database holds ------------------------------------------------------------------
def database_text() -> str:
    """Every row of every model as JSON text, sessions decoded: for "appears nowhere"."""
    parts = []
    for model in apps.get_models():
        parts.append(serializers.serialize("json", model._default_manager.all()))
    from django.contrib.sessions.models import Session

    parts.extend(str(session.get_decoded()) for session in Session.objects.all())
    return "\n".join(parts)


# --- translations -----------------------------------------------------------------------------
_TRANSLATE = re.compile(r'{%\s*(?:translate|trans)\s+"((?:[^"\\]|\\.)*)"[^%]*%}')
_BLOCK = re.compile(
    r"{%\s*blocktrans(?:late)?\b(?P<args>[^%]*)%}(?P<body>.*?){%\s*endblocktrans(?:late)?\s*%}",
    re.S,
)
_VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")
_PLURAL = re.compile(r"{%\s*plural\s*%}")


def _block_text(args: str, body: str) -> str:
    text = _VARIABLE.sub(lambda m: f"%({m.group(1)})s", body)
    if "trimmed" in args.split():
        text = " ".join(line.strip() for line in text.strip().splitlines())
    return text


def template_msgids(source: str) -> list[tuple[str, str | None]]:
    """(msgid, msgid_plural) of every translate and blocktranslate tag in a template."""
    found: list[tuple[str, str | None]] = [(m.group(1), None) for m in _TRANSLATE.finditer(source)]
    for match in _BLOCK.finditer(source):
        parts = _PLURAL.split(match.group("body"))
        singular = _block_text(match.group("args"), parts[0])
        plural = _block_text(match.group("args"), parts[1]) if len(parts) > 1 else None
        found.append((singular, plural))
    return found


def untranslated(response: Any, language: str = "sv") -> list[str]:
    """The strings of the templates a response rendered that the `language` catalogue
    does not translate: what a reader of that language would see in English."""
    catalog = trans_real.translation(language)._catalog
    missing = []
    for template in response.templates:
        for msgid, plural in template_msgids(template.source):
            key = msgid if plural is None else (msgid, 0)
            if key not in catalog:
                missing.append(f"{template.name}: {msgid!r}")
    return sorted(set(missing))


def code_pattern() -> re.Pattern[str]:
    group = f"[{re.escape(CODE_ALPHABET)}]{{4}}"
    return re.compile(rf"{group}-{group}-{group}")


# --- sockets ----------------------------------------------------------------------------------
@pytest.fixture
def case_layer(request: pytest.FixtureRequest, settings) -> None:
    """Channels' in-memory layer for a consumer test, even when REDIS_URL is set: on Redis
    every last disconnect waits a full second (gotcha G11). Tests marked `redis` keep the
    layer their `redis_layer` fixture (tests/conftest.py) sets."""
    if request.node.get_closest_marker("redis") is None:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def returning_cookie(case: Case) -> bytes:
    """The Cookie header of a browser that came back with a code of `case` (its session
    holds the case id)."""
    from tests.security_personas import cookie_of

    return cookie_of(returning_browser(case))


async def returning_socket(ws: factories.Sockets, cookie: bytes):
    """A connected client socket whose session came back to a case."""
    comm = factories.communicator("/ws/client/", cookie=cookie)
    ws._open.append(comm)  # the ws fixture disconnects it
    connected, _code = await comm.connect(timeout=factories.RECEIVE_TIMEOUT)
    assert connected
    return comm
