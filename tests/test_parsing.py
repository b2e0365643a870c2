"""Values from outside other than numbers (chat/parsing.py; numbers: test_parse_numbers.py).

A frame's text, UUIDs, true/false, choices and lists are parsed once, where the frame is
read, so that services take `str`, `uuid.UUID`, `bool`, enums and small typed structures.
What a service used to refuse for its type is refused here, with the same error: invalid
input, or "not found" where a look-up by that value answered not found.
"""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from accounts.models import Presence
from chat.errors import InvalidInput, NotFound
from chat.models import CannedReply, Conversation, SurveyAnswer
from chat.parsing import (
    ID_MAX,
    frame_bool,
    frame_choice,
    frame_list,
    frame_object,
    frame_text,
    frame_texts,
    frame_uuid,
    in_range,
    session_id,
)
from tests import factories
from tests.security_personas import error_code, reply_to

pytest_plugins = ["tests.case_personas", "tests.security_personas"]

NOT_TEXT = [None, 3, 1.5, True, ["Ja"], {"body": "Ja"}]


# --- text -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["", "   ", "Hej", "a\x00b", "x" * 5000])
def test_any_string_is_text_and_what_it_holds_is_the_services_rule(value):
    assert frame_text(value, name="answer") == value


@pytest.mark.parametrize("value", NOT_TEXT, ids=repr)
def test_anything_else_is_not_text(value):
    """An answer, a question, a note or a reason that is not text (the values the services
    used to refuse themselves) is refused for its field."""
    with pytest.raises(InvalidInput, match="`answer` must be text"):
        frame_text(value, name="answer")


def test_an_absent_optional_text_is_empty_and_a_present_one_must_be_text():
    assert frame_text(None, name="comment", optional=True) == ""
    with pytest.raises(InvalidInput, match="`comment`"):
        frame_text(42, name="comment", optional=True)


@pytest.mark.parametrize("value", [None, 12, ["x" * 43]], ids=repr)
def test_a_look_up_by_what_is_not_text_is_not_found(value):
    with pytest.raises(NotFound, match="`token`"):
        frame_text(value, name="token", error=NotFound)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, ()), ([], ()), (["Ja", "Nej"], ("Ja", "Nej")), ([""], ("",))]
)
def test_a_list_of_texts_is_a_tuple_of_them(value, expected):
    assert frame_texts(value, name="choices") == expected


@pytest.mark.parametrize("value", ["Ja", ["Ja", 1], [None], {"0": "Ja"}, 1, True], ids=repr)
def test_anything_else_is_no_list_of_texts(value):
    with pytest.raises(InvalidInput, match="`choices` must be a list of texts"):
        frame_texts(value, name="choices")


def test_lists_and_objects_are_what_json_calls_them():
    assert frame_list(None, name="followups") == []
    assert frame_list([1, "a"], name="followups") == [1, "a"]
    assert frame_object({"body": "Hej"}, name="followups") == {"body": "Hej"}
    for value in ("a", {"a": 1}, 1):
        with pytest.raises(InvalidInput, match="`followups` must be a list"):
            frame_list(value, name="followups")
    for value in ("a", ["a"], 1, None):
        with pytest.raises(InvalidInput, match="`followups` must be an object"):
            frame_object(value, name="followups")


# --- UUIDs, booleans, choices -----------------------------------------------------------------
def test_a_uuid_is_its_text_form():
    value = uuid.uuid4()
    assert frame_uuid(str(value)) == value
    assert frame_uuid(str(value).upper()) == value


@pytest.mark.parametrize(
    "value", [None, "", "not-a-uuid", 42, ["x"], "x" * 65, str(uuid.uuid4())[:-1]], ids=repr
)
def test_anything_else_is_no_uuid(value):
    with pytest.raises(InvalidInput, match="`client_id` must be a UUID"):
        frame_uuid(value, name="client_id")


def test_a_boolean_is_true_or_false_and_absent_is_the_default():
    assert frame_bool(True) is True and frame_bool(False) is False
    assert frame_bool(None) is False and frame_bool(None, default=True) is True
    for value in (1, 0, "true", "yes", [True]):
        with pytest.raises(InvalidInput, match="`show_name` must be true or false"):
            frame_bool(value, name="show_name")


def test_a_choice_is_one_of_its_values_and_of_their_type():
    assert frame_choice("away", Presence.Status) is Presence.Status.AWAY
    assert frame_choice(1, Conversation.Priority) is Conversation.Priority.URGENT
    assert frame_choice("partly", SurveyAnswer.Helped) is SurveyAnswer.Helped.PARTLY
    assert frame_choice("en", CannedReply.Language) is CannedReply.Language.ENGLISH


@pytest.mark.parametrize(
    ("value", "choices"),
    [
        ("AWAY", Presence.Status),
        ("busy", Presence.Status),  # shown to others, never chosen
        (None, Presence.Status),
        (["away"], Presence.Status),
        (True, Conversation.Priority),  # True == 1 to Python
        (1.0, Conversation.Priority),  # and so is 1.0
        ("1", Conversation.Priority),
        (2, Conversation.Priority),
        (0, SurveyAnswer.Helped),
    ],
    ids=repr,
)
def test_anything_else_is_not_a_choice(value, choices):
    with pytest.raises(InvalidInput, match="`field` must be one of: "):
        frame_choice(value, choices, name="field")


# --- sessions and ranges ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, "1", True, 1.0, [1], 0, -1, ID_MAX + 1], ids=repr)
def test_a_session_holds_an_id_or_nothing(value):
    assert session_id(value) is None


def test_a_sessions_id_is_itself():
    assert session_id(7) == 7 and session_id(ID_MAX) == ID_MAX


def test_a_services_range_is_worded_as_the_parsers_word_it():
    assert in_range(3, minimum=1, maximum=10, name="capacity") == 3
    for value in (0, 11):
        with pytest.raises(InvalidInput, match="`capacity` must be a whole number from 1 to 10"):
            in_range(value, minimum=1, maximum=10, name="capacity")


# --- where a frame comes in -------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("token", [None, 12, ["x"]], ids=repr)
@pytest.mark.usefixtures("case_layer", "private_rates")
async def test_a_client_resumes_only_by_a_token_that_is_text(ws, ekonomi, token):
    """Not text is no conversation's token: not found, as for an unknown token, and the
    socket stays open."""
    await database_sync_to_async(factories.start_conversation)(ekonomi)
    comm = await ws.client()

    frames = await reply_to(comm, {"type": "resume", "token": token, "after": 0})

    assert error_code(frames) == "error:not_found"
