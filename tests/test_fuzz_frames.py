"""Generated frames for every frame type of every websocket endpoint: random JSON for every
field (wrong types, huge and odd strings, nested objects, booleans for ids, floats,
negative numbers), mixed with plausible values so that some frames are valid.

For every frame: no server error, the socket stays open (a ping afterwards gets its pong),
every reply that is an error is `{"type": "error", "code": ..., "message": ...}`, an error
stores nothing, and nothing already stored is changed or lost.

The fields of each endpoint are read from its consumer module (every `frame.get("...")`),
so a frame type or a field added later is fuzzed without editing this file.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import string
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chat.models import Conversation
from tests import factories
from tests.security_personas import (
    FIRST_BODY,
    all_messages,
    keys_anywhere,
    reply_or_close,
)

# The personas and fixtures of tests/security_personas.py (cast, private_rates, ...).
pytest_plugins = ["tests.security_personas"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_rates")]

ENDPOINTS = {
    "client": ("/ws/client/", "chat.consumers.client", "ClientConsumer"),
    "console": ("/ws/console/", "chat.consumers.console", "ConsoleConsumer"),
    "dashboard": ("/ws/dashboard/", "chat.consumers.dashboard", "DashboardConsumer"),
    "interpreter": ("/ws/interpreter/", "chat.consumers.interpreter", "InterpreterConsumer"),
}
FIELD = re.compile(r"""frame(?:\.get\(|\[)\s*["']([a-z_]+)["']""")


def consumer_of(endpoint: str):
    _path, module_name, class_name = ENDPOINTS[endpoint]
    return getattr(importlib.import_module(module_name), class_name)


def fields_of(endpoint: str) -> list[str]:
    """Every field the endpoint's consumer module reads from a frame."""
    source = inspect.getsource(importlib.import_module(ENDPOINTS[endpoint][1]))
    names = set(FIELD.findall(source)) - {"type"}
    # The survey's answers travel as the whole frame, read by the service.
    return sorted(names | {"conversation", "body", "client_id", "rating"})


CASES = [
    (endpoint, frame_type)
    for endpoint in ENDPOINTS
    for frame_type in sorted(consumer_of(endpoint).frame_types)
]


# --- values ----------------------------------------------------------------------------------
LONG = st.integers(min_value=0, max_value=4100)
odd_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "\n\r\t",
            "\x00",
            "a\x00b",
            "\u202eevil\u202c",  # right-to-left override
            "\u200b\ufeff",
            "<script>alert(1)</script>",
            "javascript:alert(1)",
            "' OR 1=1 --",
            '=HYPERLINK("https://evil.example")',
            "%s%n{0}",
            "../../etc/passwd",
            "𝕳𝖊𝖏 🙂",
            "hej \ud83d då",  # a lone surrogate: half an emoji
            # Numbers as text: other scripts' digits, signs, spaces (chat/parsing.py).
            "²",
            "١٢",
            "１２",
            "+1",
            " 1",
            "1 ",
            "9" * 40,
        ]
    ),
    LONG.map(lambda n: "a" * n),
    LONG.map(lambda n: "\u202e" * n),
    st.integers(min_value=3990, max_value=4010).map(lambda n: "å" * n),  # at the limit
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.0, -0.0, 2**53 + 1]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def plausible(field: str, ids: dict[str, list[Any]]) -> st.SearchStrategy:
    """Values that could be right for `field`, so some generated frames do something."""
    if field in {"conversation"}:
        return st.sampled_from(ids["conversations"])
    if field in {"unit", "to_unit"}:
        return st.sampled_from(ids["units"])
    if field in {"worker", "to_worker", "user"}:
        return st.sampled_from(ids["users"])
    if field in {"token"}:
        return st.one_of(
            st.sampled_from(ids["tokens"]),
            st.text(alphabet=TOKEN_ALPHABET, min_size=43, max_size=43),
        )
    if field == "client_id":
        return st.uuids().map(str)
    if field in {"after", "seq"}:
        return st.integers(min_value=0, max_value=10)
    if field in {"status", "presence"}:
        return st.sampled_from(["available", "away"])
    if field == "priority":
        return st.sampled_from([0, 1])
    if field == "capacity":
        return st.integers(min_value=1, max_value=10)
    if field == "rating":
        return st.integers(min_value=1, max_value=5)
    if field in {"share_history", "show_name"}:
        return st.booleans()
    return st.text(min_size=1, max_size=40).filter(str.strip)


def frames_for(frame_type: str, fields: list[str], ids: dict[str, list[Any]]):
    """A third all plausible (so valid frames are common), a third plausible but for one
    field, a third anything at all (fields left out, wrong types)."""
    all_plausible = st.fixed_dictionaries({field: plausible(field, ids) for field in fields})
    one_wrong = st.tuples(all_plausible, st.sampled_from(fields), json_values).map(
        lambda drawn: {**drawn[0], drawn[1]: drawn[2]}
    )
    anything = st.fixed_dictionaries(
        {}, optional={field: st.one_of(plausible(field, ids), json_values) for field in fields}
    )
    extra = st.dictionaries(
        st.sampled_from(["x", "id", "__proto__", "type2"]), json_values, max_size=2
    )
    return st.builds(
        lambda known, more: {**more, **known, "type": frame_type},
        st.one_of(all_plausible, one_wrong, anything),
        extra,
    )


def ends_with_a_pong(frame: dict[str, Any]) -> bool:
    """A ping that is no UTF-8 text (a lone surrogate, half an emoji) is refused as a bad
    frame, so no pong comes to end the reading of the replies; the tests below pin that
    refusal. Every other frame is fuzzed as drawn."""
    return frame["type"] != "ping" or not _has_lone_surrogate(frame)


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


# --- one socket per test ---------------------------------------------------------------------
@pytest.fixture
async def endpoint_socket(request, ws, cast):
    """The socket the test fuzzes, with something on it to act on: the client holds the
    other client's waiting conversation (the target stays untouched by anyone), the console
    is Anna's with the target active and hers, the dashboard Sara's."""
    endpoint, frame_type = request.param
    await database_sync_to_async(factories.accept)(cast.user("assigned_worker"), cast.target)
    path = ENDPOINTS[endpoint][0]
    user = {
        "client": None,
        "console": cast.user("assigned_worker"),
        "dashboard": cast.user("unit_supervisor"),
        "interpreter": cast.user("interpreter"),
    }[endpoint]
    comm = await ws.open(path, user=user)
    connected, _ = await comm.connect(timeout=3)
    assert connected
    if endpoint in {"console", "dashboard"}:
        assert (await factories.receive(comm))["type"].endswith(".snapshot")
        await factories.settle(comm)
    if endpoint == "client" and frame_type not in {"start", "leave_question", "resume"}:
        await comm.send_json_to({"type": "resume", "token": cast.other_token, "after": 0})
        await factories.frames_until(comm, "conversation.sync")
        await factories.settle(comm)
    ids = {
        "conversations": [cast.target.pk, cast.other.pk, 0, -1, 10**9],
        "units": [cast.unit.pk, cast.other_unit.pk, cast.third_unit.pk, 10**9],
        "users": [u.pk for u in cast.users.values() if u is not None] + [10**9],
        "tokens": [cast.other_token, factories.new_token()],
    }
    return endpoint, frame_type, comm, ids


def check_replies(frame: dict[str, Any], replies: list[dict[str, Any]]) -> list[dict]:
    errors = []
    for reply in replies:
        assert isinstance(reply, dict) and isinstance(reply.get("type"), str), reply
        if reply["type"] == "error":
            assert isinstance(reply.get("code"), str) and reply["code"], reply
            assert isinstance(reply.get("message"), str), reply
            errors.append(reply)
    return errors


async def fuzz_one(endpoint_socket, frame: dict[str, Any]) -> None:
    endpoint, _frame_type, comm, _ids = endpoint_socket
    before = await all_messages()

    replies, closed = await reply_or_close(comm, frame)

    assert closed is None, f"the socket closed ({closed}) after {frame!r:.300}"
    errors = check_replies(frame, replies)
    event(f"error: {errors[0]['code']}" if errors else "accepted")
    after = await all_messages()
    for key, stored in before.items():
        assert after.get(key) == stored, f"stored message {key} changed after {frame!r:.200}"
    new = {key: value for key, value in after.items() if key not in before}
    if errors:
        assert not new, f"an error ({errors[0]['code']}) and yet stored {new}"
    for (_conversation, _seq), (sender, _event, body) in new.items():
        if sender in {"client", "worker"}:
            sent = frame.get("body")
            assert isinstance(sent, str)
            assert body == sent.replace("\r\n", "\n").replace("\r", "\n"), "stored text differs"
    if endpoint in {"client", "interpreter"}:
        for reply in replies:
            assert "author" not in keys_anywhere(reply), reply


FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    "endpoint_socket", CASES, indirect=True, ids=[f"{e}-{t}" for e, t in CASES]
)
@FUZZ
@given(data=st.data())
async def test_generated_frames_never_break_a_socket_or_lose_what_is_stored(endpoint_socket, data):
    endpoint, frame_type, _comm, ids = endpoint_socket
    frame = data.draw(
        frames_for(frame_type, fields_of(endpoint), ids).filter(ends_with_a_pong),
        label="frame",
    )
    await fuzz_one(endpoint_socket, frame)


@pytest.mark.parametrize(
    "endpoint_socket", [(e, "ping") for e in ENDPOINTS], indirect=True, ids=list(ENDPOINTS)
)
@FUZZ
@given(
    raw=st.one_of(
        st.text(min_size=1, max_size=200),
        json_values.map(json.dumps),
        st.binary(min_size=1, max_size=50),
    )
)
async def test_generated_raw_text_is_answered_with_an_error_or_ignored(endpoint_socket, raw):
    _endpoint, _type, comm, _ids = endpoint_socket
    if isinstance(raw, bytes):
        await comm.send_to(bytes_data=raw)
    else:
        if any(0xD800 <= ord(c) <= 0xDFFF for c in raw):
            return  # not encodable as a websocket text frame (UTF-8) at all
        await comm.send_to(text_data=raw)

    replies, closed = await reply_or_close(comm, {"type": "ping"})

    assert closed is None
    check_replies({}, replies)


# --- crashes found by fuzzing, pinned -------------------------------------------------------
DEEP = 5000  # 10 kB: far below daphne's 64 kB frame limit


@pytest.mark.parametrize(
    "endpoint_socket", [(e, "ping") for e in ENDPOINTS], indirect=True, ids=list(ENDPOINTS)
)
async def test_a_deeply_nested_frame_gets_an_error_and_the_socket_stays_open(endpoint_socket):
    _endpoint, _type, comm, _ids = endpoint_socket
    await comm.send_to(text_data='{"type": "ping", "x": ' + "[" * DEEP + "]" * DEEP + "}")

    replies, closed = await reply_or_close(comm, {"type": "ping"})

    assert closed is None
    # (A broadcast still on its way from the fixture may come first: only errors count.)
    assert [r["code"] for r in replies if r["type"] == "error"] == ["bad_frame"], replies


@pytest.mark.parametrize(
    ("endpoint_socket", "field"),
    [
        (("client", "message"), "body"),
        (("client", "resume"), "token"),
        (("console", "message"), "body"),
    ],
    indirect=["endpoint_socket"],
    ids=["client-message-body", "client-resume-token", "console-message-body"],
)
async def test_a_lone_surrogate_gets_an_error_and_the_socket_stays_open(endpoint_socket, field):
    _endpoint, frame_type, comm, ids = endpoint_socket
    frame = {
        "type": frame_type,
        "conversation": ids["conversations"][0],
        "body": "hej",
        "client_id": factories.new_client_id(),
        "token": ids["tokens"][0],
        "after": 0,
    }
    frame[field] = "hej \ud83d då"

    replies, closed = await reply_or_close(comm, frame)

    assert closed is None
    assert [r["type"] for r in replies if r["type"] in {"error", "ack"}] == ["error"]


async def test_the_fuzzer_knows_every_frame_type(ws):
    """New frame types are fuzzed without editing this file; this shows which there are."""
    types = {endpoint: consumer_of(endpoint).frame_types for endpoint in ENDPOINTS}
    assert {"start", "resume", "message", "end", "ping"} <= types["client"]
    assert {"accept", "message", "sync", "end", "presence", "ping"} <= types["console"]
    assert {"set_priority", "move", "set_capacity", "set_presence", "ping"} <= types["dashboard"]
    assert len(CASES) == sum(len(t) for t in types.values())
    assert "body" in fields_of("client") and "after" in fields_of("console")


async def test_the_target_conversation_was_never_reachable(cast):
    """The fuzzed client holds only the other conversation's token."""
    assert (
        await database_sync_to_async(
            lambda: (
                Conversation.objects.get(pk=cast.target.pk).messages.filter(body=FIRST_BODY).count()
            )
        )()
        == 1
    )
