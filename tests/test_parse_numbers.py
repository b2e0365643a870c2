"""Numbers from outside (chat/parsing.py, docs/security.md "Numbers from outside").

Every whole number a browser sends is parsed once, by one rule: text from a form or a query
string is 1 to 19 ASCII digits, a JSON frame's value a real int that is not a bool, and
either lies in the field's range. Here every such field gets what Python's int() and
str.isdigit() would let through or choke on: other scripts' digits ("²", "١٢", "１２"),
signs, spaces, huge values, floats, bools, empty strings. Each is refused with a 4xx page
or an `error` frame naming the field; never a server error or a closed socket, and nothing
already stored changes.
"""

from __future__ import annotations

import importlib
import inspect
import re
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Presence
from chat.errors import InvalidInput, NotFound
from chat.models import (
    AccessLog,
    CannedReply,
    Case,
    Conversation,
    FollowUp,
    Handover,
    Message,
    Participant,
    PrivateNote,
    SurveyAnswer,
)
from chat.parsing import (
    ID_MAX,
    SEQ_MAX,
    frame_id,
    frame_int,
    frame_optional_id,
    frame_seq,
    parse_id,
    parse_int,
)
from chat.services.cases import followup_ask, followup_client_ask
from chat.services.participants import participant_invite
from chat.services.replies import canned_reply_save
from tests import factories
from tests.case_personas import ended_meeting, returning_browser
from tests.security_personas import http_client, reply_or_close

# The personas and fixtures of tests/security_personas.py (cast, private_rates, ...).
pytest_plugins = ["tests.security_personas"]

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what a browser could send instead of a number --------------------------------------------
# The digits 0-9 of other scripts: str.isdigit() says yes to each; int() takes all but the
# superscripts.
SCRIPTS = {
    "fullwidth": "０１２３４５６７８９",
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "devanagari": "०१२३४५६७८९",
    "superscript": "⁰¹²³⁴⁵⁶⁷⁸⁹",
}
NOT_NUMBERS = [
    "²",
    "١٢",
    "１２",
    "+1",
    "-1",
    " 1",
    "1 ",
    "1\n",
    "\t1",
    "1_0",
    "1.0",
    "1.5",
    "1e3",
    "0x1f",
    "NaN",
    "9" * 40,
    str(2**63),
    str(2**70),
    "0" * 19 + "1",  # too long, whatever it says
]
ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def in_scripts(number: int) -> list[str]:
    """`number` written in other scripts' digits, whole or but its first digit."""
    text = str(number)
    whole = [text.translate(str.maketrans("0123456789", digits)) for digits in SCRIPTS.values()]
    return whole + [text[0] + other[1:] for other in whole if len(text) > 1]


def disguised(number: int) -> list[str]:
    """`number` as int() or isdigit() would read it, and as this project's rule does not."""
    text = str(number)
    return [
        *in_scripts(number),
        f"+{text}",
        f"-{text}",
        f" {text}",
        f"{text} ",
        f"{text}\n",
        f"{text}.0",
        f"{text[0]}_{text[1:]}" if len(text) > 1 else f"{text}_0",
    ]


def bad_text(number: int, *, empty: bool = True) -> st.SearchStrategy[str]:
    """Form or query values that are not `number` nor any other id: disguises of the real
    id, the usual suspects, ids out of range, and any text that is not ASCII digits."""
    return st.one_of(
        st.sampled_from(disguised(number) + NOT_NUMBERS + ["0"] + ([""] if empty else [])),
        st.integers(min_value=ID_MAX + 1).map(str),
        st.floats().map(str),
        st.text(max_size=30).filter(lambda t: not ASCII_DIGITS.fullmatch(t) and (t or empty)),
    )


def bad_json(minimum: int, maximum: int) -> st.SearchStrategy[Any]:
    """JSON values that are not a whole number from `minimum` to `maximum`."""
    return st.one_of(
        st.integers(max_value=minimum - 1),
        st.integers(min_value=maximum + 1),
        st.sampled_from([2**63, 2**70, -(2**70)]),
        st.booleans(),
        st.floats(),
        st.sampled_from([float(minimum), float(maximum), minimum + 0.5]),
        st.sampled_from([*NOT_NUMBERS, "", str(minimum), str(maximum)]),
        st.just([minimum]),
        st.just({"id": minimum}),
    )


# --- the helper -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1", "42", "007", str(ID_MAX), "0" * 18 + "1"])
def test_an_id_of_ascii_digits_is_read(value):
    assert parse_id(value) == int(value)


@pytest.mark.parametrize("value", [*NOT_NUMBERS, "", "0", str(ID_MAX + 1), None, 1, True, b"1"])
def test_anything_else_is_not_an_id(value):
    with pytest.raises(InvalidInput, match="`id` must be a whole number from 1 to"):
        parse_id(value)


@given(text=st.text(max_size=25))
def test_text_is_a_number_exactly_when_it_is_ascii_digits_in_range(text):
    expected = int(text) if ASCII_DIGITS.fullmatch(text) and len(text) <= 19 else None
    if expected is not None and 3 <= expected <= 12_000:
        assert parse_int(text, minimum=3, maximum=12_000) == expected
    else:
        with pytest.raises(InvalidInput):
            parse_int(text, minimum=3, maximum=12_000)


@given(number=st.integers(min_value=1, max_value=10**6))
def test_no_disguise_of_a_number_is_read_as_it(number):
    for text in disguised(number):
        with pytest.raises(InvalidInput):
            parse_id(text)


@given(value=bad_json(1, ID_MAX))
def test_a_frame_id_is_an_int_in_range_and_nothing_else(value):
    with pytest.raises(InvalidInput, match="`conversation`"):
        frame_id(value, name="conversation")


@given(value=st.integers(min_value=1, max_value=ID_MAX))
def test_a_frame_id_in_range_is_itself(value):
    assert frame_id(value) == value
    assert frame_optional_id(value) == value


def test_the_bounds_are_the_database_columns():
    assert frame_seq(0) == 0 and frame_seq(SEQ_MAX) == SEQ_MAX
    for value in (-1, SEQ_MAX + 1, True, 1.0, "1", None):
        with pytest.raises(InvalidInput, match="`after`"):
            frame_seq(value, name="after")
    assert frame_optional_id(None) is None
    assert frame_int(0, minimum=0, maximum=1) == 0


def test_the_caller_names_the_error():
    with pytest.raises(NotFound):
        parse_id("١٢", name="followup", error=NotFound)
    with pytest.raises(NotFound):
        frame_id(True, name="case", error=NotFound)


# --- what is stored ---------------------------------------------------------------------------
# Written by a ping or a page view itself, not by the refused input.
VOLATILE = {"client_seen_at", "last_seen", "idle_since", "read_at"}
STORED = (
    Case,
    Conversation,
    Message,
    PrivateNote,
    Participant,
    Handover,
    FollowUp,
    SurveyAnswer,
    CannedReply,
    Presence,
    AccessLog,
)


def stored(*models) -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: [
            {key: value for key, value in row.items() if key not in VOLATILE}
            for row in model.objects.order_by("pk").values()
        ]
        for model in models or STORED
    }


# --- forms and query strings ------------------------------------------------------------------
def assert_refused(response) -> None:
    assert 400 <= response.status_code < 500, response.status_code


@pytest.fixture
def sara_reply(sara):
    return canned_reply_save(actor=sara, unit=None, title="Hälsning", body="Hej!", language="sv")


@pytest.mark.django_db
@EXAMPLES
@given(data=st.data())
def test_a_supervisor_deletes_a_reply_only_by_its_id(sara, sara_reply, data):
    value = data.draw(bad_text(sara_reply.pk), label="delete")
    before = stored(CannedReply)

    response = http_client(sara).post("/console/replies/", {"delete": value})

    assert_refused(response)
    assert stored(CannedReply) == before


@pytest.mark.django_db
def test_the_superscript_two_that_used_to_be_a_server_error(sara, sara_reply):
    response = http_client(sara).post("/console/replies/", {"delete": "²"})

    assert response.status_code == 400
    assert CannedReply.objects.filter(pk=sara_reply.pk).exists()


@pytest.fixture
def returning_case(ekonomi, anna):
    conversation, _token = ended_meeting(ekonomi, anna)
    question = followup_ask(
        case=conversation.case, actor=anna, body="Fick du pengarna?", choices=["Ja", "Nej"]
    )
    asked = followup_client_ask(case=conversation.case, body="När kommer beslutet?")
    return conversation.case, question, asked


@pytest.mark.django_db
@EXAMPLES
@given(data=st.data())
def test_a_returning_client_answers_a_question_only_by_its_id(returning_case, data):
    case, question, _asked = returning_case
    value = data.draw(bad_text(question.pk), label="followup")
    before = stored(FollowUp)

    response = returning_browser(case).post(
        "/return/case/", {"action": "answer", "followup": value, "answer": "Ja"}
    )

    assert_refused(response)
    assert stored(FollowUp) == before


@pytest.mark.django_db
@EXAMPLES
@given(data=st.data())
def test_staff_answer_a_clients_question_only_by_its_id(returning_case, anna, data):
    case, _question, asked = returning_case
    value = data.draw(bad_text(asked.pk), label="followup")
    before = stored(FollowUp)

    response = http_client(anna).post(
        f"/console/cases/{case.pk}/", {"action": "answer", "followup": value, "answer": "Fredag"}
    )

    assert_refused(response)
    assert stored(FollowUp) == before


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/console/cases/{}/", "/console/conversations/{}/transcript/"])
@pytest.mark.parametrize("number", ["9" * 40, str(2**63), "0"])
def test_an_id_in_a_path_that_fits_no_row_is_not_found(anna, path, number):
    assert http_client(anna).get(path.format(number)).status_code == 404


@pytest.fixture
def reviewed(ekonomi, sara, anna, bengt):
    """Reads in the log of Sara's unit: Anna's of her conversation, Bengt's of it too."""
    from chat.services.access import conversation_read_messages

    conversation, _token = factories.start_conversation(ekonomi)
    factories.accept(anna, conversation)
    for reader in (anna, bengt):
        conversation_read_messages(
            actor=reader, conversation_id=conversation.pk, after=0, request_id=uuid.uuid4()
        )
    return conversation


@pytest.mark.django_db
@EXAMPLES
@given(data=st.data())
@pytest.mark.parametrize("path", ["/dashboard/access-log/", "/dashboard/access-log.csv"])
@pytest.mark.parametrize("field", ["conversation", "actor"])
def test_the_access_log_filters_only_by_ids(sara, anna, reviewed, path, field, data):
    number = reviewed.pk if field == "conversation" else anna.pk
    # An empty filter is no filter.
    value = data.draw(bad_text(number, empty=False), label=field)

    response = http_client(sara).get(path, {field: value})

    assert_refused(response)
    if path.endswith(".csv"):
        assert response.content == b""  # nothing exported, not everything
    else:
        assert response.context["form"].errors[field]


@pytest.mark.django_db
def test_the_access_log_still_filters_by_real_ids(sara, anna, bengt, reviewed):
    browser = http_client(sara)

    by_actor = browser.get("/dashboard/access-log/", {"actor": str(bengt.pk)})
    by_conversation = browser.get("/dashboard/access-log/", {"conversation": str(reviewed.pk)})
    csv = browser.get("/dashboard/access-log.csv", {"actor": str(bengt.pk), "conversation": ""})

    assert by_actor.status_code == by_conversation.status_code == csv.status_code == 200
    assert [row.actor_id for row in by_actor.context["rows"]] == [bengt.pk]
    assert {row.conversation_id for row in by_conversation.context["rows"]} == {reviewed.pk}
    assert len(csv.content.decode().strip().splitlines()) == 2  # the header and Bengt's read


def code_now(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


def code_disguises(code: str) -> list[str]:
    """The authenticator's right code as int() reads it, and the form does not."""
    return [
        *(code.translate(str.maketrans("0123456789", digits)) for digits in SCRIPTS.values()),
        f"+{code}",
        f"{code[:3]}_{code[3:]}",
    ]


@pytest.mark.django_db
@EXAMPLES
@given(which=st.integers(min_value=0, max_value=len(code_disguises("123456")) - 1))
def test_the_second_step_takes_the_code_only_in_ascii_digits(settings, anna, which):
    settings.STAFF_TWO_FACTOR = True
    device, _ = TOTPDevice.objects.get_or_create(user=anna, name="app", confirmed=True)
    device.throttle_reset()
    browser = Client()
    browser.force_login(anna)

    response = browser.post(
        "/accounts/two-factor/", {"code": code_disguises(code_now(device))[which]}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert DEVICE_ID_SESSION_KEY not in browser.session
    assert browser.get("/console/").status_code == 302


@pytest.mark.django_db
@EXAMPLES
@given(which=st.integers(min_value=0, max_value=len(code_disguises("123456")) - 1))
def test_enrolment_takes_the_code_only_in_ascii_digits(settings, bengt, which):
    settings.STAFF_TWO_FACTOR = True
    browser = Client()
    browser.force_login(bengt)
    browser.get("/accounts/two-factor/setup/")
    device = TOTPDevice.objects.get(user=bengt, confirmed=False)
    device.throttle_reset()

    response = browser.post(
        "/accounts/two-factor/setup/", {"code": code_disguises(code_now(device))[which]}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    device.refresh_from_db()
    assert not device.confirmed


@pytest.mark.django_db
def test_the_second_step_still_takes_the_right_code(settings, anna):
    settings.STAFF_TWO_FACTOR = True
    device = TOTPDevice.objects.create(user=anna, name="app", confirmed=True)
    browser = Client()
    browser.force_login(anna)

    response = browser.post("/accounts/two-factor/", {"code": f" {code_now(device)} "})

    assert response.status_code == 302
    assert browser.session[DEVICE_ID_SESSION_KEY] == device.persistent_id


# --- websocket frames -------------------------------------------------------------------------
ID = (1, ID_MAX)
SEQ = (0, SEQ_MAX)
# Every number a frame carries: (endpoint, frame type, field, its range).
FRAME_NUMBERS = [
    ("console", "accept", "conversation", ID),
    ("console", "answer_question", "followup", ID),
    ("console", "ask_followup", "case", ID),
    ("console", "end", "conversation", ID),
    ("console", "hand_over", "conversation", ID),
    ("console", "hand_over", "to_unit", ID),
    ("console", "hand_over", "to_worker", ID),
    ("console", "handover_accept", "handover", ID),
    ("console", "handover_decline", "handover", ID),
    ("console", "invite", "conversation", ID),
    ("console", "invite", "user", ID),
    ("console", "invite_link", "conversation", ID),
    ("console", "leave", "conversation", ID),
    ("console", "message", "conversation", ID),
    ("console", "note", "conversation", ID),
    ("console", "presence", "chosen_at", (0, 2**53 - 1)),
    ("console", "read_followup", "followup", ID),
    ("console", "remove_participant", "conversation", ID),
    ("console", "remove_participant", "participant", ID),
    ("console", "seen", "conversation", ID),
    ("console", "seen", "seq", SEQ),
    ("console", "sync", "after", SEQ),
    ("console", "sync", "conversation", ID),
    ("console", "typing", "conversation", ID),
    ("dashboard", "move", "conversation", ID),
    ("dashboard", "move", "unit", ID),
    ("dashboard", "set_capacity", "capacity", (1, 10)),
    ("dashboard", "set_capacity", "worker", ID),
    ("dashboard", "set_presence", "worker", ID),
    ("dashboard", "set_priority", "conversation", ID),
    ("dashboard", "set_priority", "priority", (0, 1)),
    ("client", "leave_question", "unit", ID),
    ("client", "resume", "after", SEQ),
    ("client", "seen", "seq", SEQ),
    ("client", "start", "unit", ID),
    ("client", "survey", "rating", (1, 5)),
    ("interpreter", "resume", "after", SEQ),
]
PATHS = {
    "client": "/ws/client/",
    "console": "/ws/console/",
    "dashboard": "/ws/dashboard/",
    "interpreter": "/ws/interpreter/",
}
FIELD = re.compile(r"""frame(?:\.get\(|\[)\s*["']([a-z_]+)["']""")  # as tests/test_fuzz_frames.py
# Frame fields that are not numbers (text, tokens, flags, lists).
NOT_NUMBER_FIELDS = {
    "answer",
    "body",
    "choices",
    "client_id",
    "comment",
    "followups",
    "helped",
    "invitation",
    "language",
    "left",  # call_end: true when the client's page is closing
    "note",
    "presence",
    "reason",
    "share_history",
    "show_name",
    "status",
    "token",
    "translated_choices",
}


def test_every_number_a_frame_carries_is_in_the_table():
    """A number field added to a consumer later fails here until it is fuzzed below."""
    for endpoint in PATHS:
        source = inspect.getsource(importlib.import_module(f"chat.consumers.{endpoint}"))
        read = set(FIELD.findall(source)) - {"type"} - NOT_NUMBER_FIELDS
        fuzzed = {field for e, _t, field, _r in FRAME_NUMBERS if e == endpoint}
        assert read <= fuzzed, (endpoint, read - fuzzed)


def _setup(cast, endpoint: str, frame_type: str) -> dict[str, Any]:
    """Rows for the frames to act on, and a frame where every other field is right."""
    anna, bengt, tove = (cast.user(p) for p in ("assigned_worker", "unit_worker", "interpreter"))
    factories.accept(anna, cast.target)
    extra: dict[str, Any] = {}
    if endpoint == "interpreter":
        participant_invite(conversation=cast.target, actor=anna, user_id=tove.pk)
    if frame_type == "survey":
        _meeting, extra["token"] = ended_meeting(cast.unit, bengt)
    frame = {
        "conversation": cast.other.pk if endpoint == "dashboard" else cast.target.pk,
        "body": "Hej",
        "client_id": factories.new_client_id(),
        "note": "Hon behöver tolk.",
        "to_worker": bengt.pk,
        "user": tove.pk,
        "answer": "Hej",
        "status": "available",
        "presence": "away",
        "worker": anna.pk,
        "capacity": 3,
        "priority": 1,
        "unit": cast.third_unit.pk if endpoint == "dashboard" else cast.unit.pk,
        "token": (
            factories.new_token()
            if frame_type in {"start", "leave_question"}
            else extra.get("token", cast.other_token)
        ),
        "helped": "yes",
        "after": 0,
        "seq": 0,
    }
    if endpoint == "interpreter":
        del frame["token"]  # Tove resumes by her session
    return {"frame": frame, **extra}


@pytest.fixture
async def number_socket(request, ws, cast):
    """The socket of the case, signed in as who uses it, with something to act on: Anna's
    console with the target active and hers, Sara's dashboard with the other conversation
    waiting, a client socket (fresh for start and leave_question, else holding the other
    client's conversation, or an ended meeting for the survey), Tove's interpreter socket
    with a seat in the target."""
    endpoint, frame_type, field, bounds = request.param
    setup = await database_sync_to_async(_setup)(cast, endpoint, frame_type)
    user = {
        "client": None,
        "console": cast.user("assigned_worker"),
        "dashboard": cast.user("unit_supervisor"),
        "interpreter": cast.user("interpreter"),
    }[endpoint]
    comm = await ws.open(PATHS[endpoint], user=user)
    connected, _ = await comm.connect(timeout=3)
    assert connected
    if endpoint in {"console", "dashboard"}:
        assert (await factories.receive(comm))["type"].endswith(".snapshot")
        await factories.settle(comm)
    if endpoint == "client" and frame_type not in {"start", "leave_question"}:
        token = setup.get("token", cast.other_token)
        await comm.send_json_to({"type": "resume", "token": token, "after": 0})
        await factories.frames_until(comm, "conversation.sync")
        await factories.settle(comm)
    if endpoint == "interpreter":
        await comm.send_json_to({"type": "resume", "after": 0})
        await factories.frames_until(comm, "conversation.sync")
    return comm, frame_type, field, bounds, setup["frame"]


FRAME_CASES = [pytest.param(case, id="-".join(case[:3])) for case in FRAME_NUMBERS]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_rates")
@pytest.mark.parametrize("number_socket", FRAME_CASES, indirect=True)
@EXAMPLES
@given(data=st.data())
async def test_a_frame_number_that_is_not_one_gets_an_error_frame(number_socket, data):
    comm, frame_type, field, (minimum, maximum), frame = number_socket
    value = data.draw(bad_json(minimum, maximum), label=field)
    before = await database_sync_to_async(stored)()

    replies, closed = await reply_or_close(comm, {**frame, field: value, "type": frame_type})

    assert closed is None, f"the socket closed ({closed})"
    answers = [r for r in replies if r["type"] not in factories.BACKGROUND]
    if frame_type == "typing" and not answers:
        return  # a typing notice within two seconds of the last is dropped unread
    assert [r["type"] for r in answers] == ["error"], answers
    assert answers[0]["code"] in {"invalid", "not_found"}
    assert f"`{field}`" in answers[0]["message"]  # refused for this field, not another
    assert await database_sync_to_async(stored)() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_rates")
async def test_a_bad_after_is_refused_before_a_client_gets_their_place_back(ws, ekonomi):
    """A client whose place was given up for silence resumes with an `after` that is not a
    number: the refusal comes before the rejoin, so nothing is written."""

    def abandoned() -> tuple[int, str]:
        conversation, token = factories.start_conversation(ekonomi)
        Conversation.objects.filter(pk=conversation.pk).update(
            state=Conversation.State.ABANDONED,
            ended_by=Conversation.EndedBy.SYSTEM,
            ended_at=timezone.now(),
        )
        return conversation.pk, token

    conversation_id, token = await database_sync_to_async(abandoned)()
    comm = await ws.client()
    before = await database_sync_to_async(stored)()

    replies, closed = await reply_or_close(comm, {"type": "resume", "token": token, "after": "²"})

    assert closed is None
    assert [r["code"] for r in replies if r["type"] == "error"] == ["invalid"]
    assert await database_sync_to_async(stored)() == before
    state = await database_sync_to_async(
        lambda: Conversation.objects.get(pk=conversation_id).state
    )()
    assert state == Conversation.State.ABANDONED
