"""Cases over the websockets (chat/consumers/client.py, chat/consumers/console.py): the
client's case_code and survey frames and a returning client's chat joining their case;
the console's end with follow-up questions, ask_followup and answer_question, and the
followup.updated relay. Bad frames get an error frame and the socket stays open."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from chat.models import AccessLog, Conversation, FollowUp, SurveyAnswer
from chat.services.cases import (
    case_open_by_code,
    followup_ask,
    followup_client_ask,
    followup_worker_answer,
)
from tests import factories
from tests.case_personas import ended_meeting, returning_cookie, returning_socket
from tests.security_personas import error_code, reply_to

pytest_plugins = ["tests.case_personas"]
pytestmark = pytest.mark.django_db(transaction=True)

QUESTIONS = [
    {"body": "Har du fått hyran betald?", "choices": ["Ja", "Nej"]},
    {"body": "Hur går det med ansökan?"},
]


@database_sync_to_async
def case_of(conversation_id: int):
    return Conversation.objects.select_related("case").get(pk=conversation_id).case


@database_sync_to_async
def open_by_code(code: str):
    return case_open_by_code(code=code, address=factories.new_address())


@database_sync_to_async
def followups():
    return list(
        FollowUp.objects.order_by("pk").values_list("kind", "body", "choices", "answer", "case")
    )


async def followup_updates(comm, count: int) -> list[dict]:
    """The next `count` followup.updated payloads on a console, passing over other news."""
    found = []
    for _ in range(count):
        frames = await factories.frames_until(comm, "followup.updated")
        found.append(frames[-1]["followup"])
    return found


async def quiet_about_followups(comm) -> None:
    frames = await factories.settle(comm)
    assert not [f for f in frames if f["type"] == "followup.updated"], frames


# --- the client's socket -----------------------------------------------------------------------
async def test_the_client_gets_a_case_code_that_opens_its_case(ws, case_layer, ekonomi, anna):
    client, _console, conversation_id = await factories.accepted(ws, anna, ekonomi)

    await client.send_json_to({"type": "case_code"})
    frame = await factories.next_frame(client, "case.code")

    assert set(frame) == {"type", "code"}
    case = await case_of(conversation_id)
    assert (await open_by_code(frame["code"])).pk == case.pk


async def test_a_new_case_code_replaces_the_one_before(ws, case_layer, ekonomi, anna):
    client, _console, _conversation_id = await factories.accepted(ws, anna, ekonomi)
    codes = []
    for _ in range(2):
        await client.send_json_to({"type": "case_code"})
        codes.append((await factories.next_frame(client, "case.code"))["code"])

    assert codes[0] != codes[1]
    await open_by_code(codes[1])
    with pytest.raises(Exception, match="could not open"):
        await open_by_code(codes[0])


async def test_case_code_and_survey_need_a_conversation_first(ws, case_layer):
    client = await ws.client()

    for frame in ({"type": "case_code"}, {"type": "survey", "helped": "yes"}):
        frames = await reply_to(client, frame)  # fails if the socket closes
        assert error_code(frames) == "error:no_conversation"


async def test_the_survey_frame_saves_the_answers_after_the_meeting(ws, case_layer, ekonomi, anna):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    early = await reply_to(client, {"type": "survey", "helped": "yes", "rating": 5})
    assert error_code(early) == "error:conflict"  # the meeting is still on

    await console.send_json_to({"type": "end", "conversation": conversation_id})
    await factories.next_frame(client, "conversation.message", where=factories.is_event("ended"))
    await client.send_json_to(
        {"type": "survey", "helped": "partly", "rating": 4, "comment": "Tack."}
    )
    await factories.next_frame(client, "survey.saved")
    await client.send_json_to({"type": "survey", "helped": "yes", "rating": 5, "comment": ""})
    await factories.next_frame(client, "survey.saved")

    @database_sync_to_async
    def stored():
        return list(SurveyAnswer.objects.values_list("conversation", "helped", "rating", "comment"))

    assert await stored() == [(conversation_id, "yes", 5, "")]


@pytest.mark.parametrize(
    "answers",
    [{"rating": 9}, {"rating": "5"}, {"helped": "kanske"}, {"comment": ["Bra"]}],
    ids=repr,
)
async def test_a_bad_survey_gets_an_error_and_the_socket_stays_open(
    ws, case_layer, ekonomi, anna, answers
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await console.send_json_to({"type": "end", "conversation": conversation_id})
    await factories.next_frame(client, "conversation.message", where=factories.is_event("ended"))

    frames = await reply_to(client, {"type": "survey", **answers})

    assert error_code(frames) == "error:invalid"
    assert await database_sync_to_async(SurveyAnswer.objects.count)() == 0


async def test_a_returning_clients_new_chat_joins_their_case(ws, case_layer, ekonomi, vald, anna):
    @database_sync_to_async
    def earlier_case():
        conversation, _token = ended_meeting(ekonomi, anna)
        return conversation.case, returning_cookie(conversation.case)

    case, cookie = await earlier_case()
    client = await returning_socket(ws, cookie)

    sync, _token = await factories.client_start(client, ekonomi, "Jag är tillbaka.")

    assert (await case_of(sync["conversation"])).pk == case.pk

    elsewhere = await returning_socket(ws, cookie)
    frames = await reply_to(
        elsewhere,
        {
            "type": "start",
            "unit": vald.pk,
            "token": factories.new_token(),
            "body": "Till en annan enhet.",
            "client_id": factories.new_client_id(),
        },
    )
    assert error_code(frames) == "error:invalid"
    assert await database_sync_to_async(Conversation.objects.count)() == 2


# --- the console ------------------------------------------------------------------------------
async def test_the_console_ends_a_meeting_with_follow_up_questions(
    ws, case_layer, ekonomi, anna, bengt, cecilia
):
    colleague, _snapshot = await ws.console(bengt)
    stranger, _snapshot = await ws.console(cecilia)
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)

    await console.send_json_to(
        {"type": "end", "conversation": conversation_id, "followups": QUESTIONS}
    )

    for staff in (console, colleague):
        updates = await followup_updates(staff, 2)
        assert len({u["id"] for u in updates}) == 2
        assert {u["kind"] for u in updates} == {"to_client"}
        assert not {"body", "choices"} & {key for u in updates for key in u}
    await factories.next_frame(client, "conversation.message", where=factories.is_event("ended"))
    await quiet_about_followups(stranger)
    case = await case_of(conversation_id)
    assert await followups() == [
        ("to_client", QUESTIONS[0]["body"], ["Ja", "Nej"], "", case.pk),
        ("to_client", QUESTIONS[1]["body"], [], "", case.pk),
    ]


async def test_the_client_learns_how_many_questions_were_left_and_nothing_more(
    ws, case_layer, ekonomi, anna
):
    console, _snapshot = await ws.console(anna)
    client = await ws.client()
    sync, token = await factories.client_start(client, ekonomi, "Hej, jag behöver hjälp.")
    await factories.settle(client)
    conversation_id = sync["conversation"]
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await factories.next_frame(client, "conversation.message", where=factories.is_event("accepted"))

    await console.send_json_to(
        {"type": "end", "conversation": conversation_id, "followups": QUESTIONS}
    )

    ended = await factories.next_frame(
        client, "conversation.message", where=factories.is_event("ended")
    )
    assert ended["state"] == "ended"
    assert ended["followups"] == 2
    # The count only: no question, no quick answer, no staff member's name or id.
    text = json.dumps(ended, ensure_ascii=False)
    for question in QUESTIONS:
        assert question["body"] not in text
    assert "Ja" not in text and anna.short_name not in text
    assert not {"author", "author_id"} & set(ended["message"])

    again = await ws.client()
    await again.send_json_to({"type": "resume", "token": token, "after": 0})
    sync = await factories.next_frame(again, "conversation.sync")
    assert sync["state"] == "ended" and sync["followups"] == 2
    assert all(not {"author", "author_id"} & set(m) for m in sync["messages"])

    # Once answered, a question no longer waits on the end screen.
    await answer_one_question(conversation_id)
    await again.send_json_to({"type": "resume", "token": token, "after": 0})
    sync = await factories.next_frame(again, "conversation.sync")
    assert sync["followups"] == 1


async def test_an_end_without_questions_tells_the_client_none_were_left(
    ws, case_layer, ekonomi, anna
):
    client, console, _conversation_id = await factories.accepted(ws, anna, ekonomi)

    await client.send_json_to({"type": "end"})

    ended = await factories.next_frame(
        client, "conversation.message", where=factories.is_event("ended")
    )
    assert ended["followups"] == 0
    # Staff see the end as before, without the client's field.
    seen = await factories.next_frame(
        console, "conversation.message", where=factories.is_event("ended")
    )
    assert "followups" not in seen


@database_sync_to_async
def answer_one_question(conversation_id: int) -> None:
    from django.utils import timezone

    first = FollowUp.objects.filter(conversation_id=conversation_id).order_by("pk").first()
    assert first is not None
    FollowUp.objects.filter(pk=first.pk).update(answer="Ja", answered_at=timezone.now())


async def test_the_console_asks_a_follow_up_question_on_a_case(ws, case_layer, ekonomi, anna):
    @database_sync_to_async
    def meeting_case():
        return ended_meeting(ekonomi, anna)[0].case

    case = await meeting_case()
    console, _snapshot = await ws.console(anna)

    await console.send_json_to(
        {"type": "ask_followup", "case": case.pk, "body": "Hur gick det?", "choices": ["Bra"]}
    )

    (update,) = await followup_updates(console, 1)
    assert (update["case"], update["kind"]) == (case.pk, "to_client")
    assert await followups() == [("to_client", "Hur gick det?", ["Bra"], "", case.pk)]


async def test_the_console_answers_a_clients_question(ws, case_layer, ekonomi, anna, bengt):
    @database_sync_to_async
    def client_question():
        case = ended_meeting(ekonomi, anna)[0].case
        return followup_client_ask(case=case, body="När kommer beslutet?")

    question = await client_question()
    console, _snapshot = await ws.console(bengt)

    await console.send_json_to(
        {"type": "answer_question", "followup": question.pk, "answer": "På fredag."}
    )

    (update,) = await followup_updates(console, 1)
    assert (update["id"], update["answered"]) == (question.pk, True)
    assert "answer" not in update  # every console of the unit hears of it, without text
    await console.send_json_to({"type": "read_followup", "followup": question.pk})
    read = await factories.next_frame(console, "followup.read")
    assert read["followup"]["answer"] == "På fredag."
    again = await reply_to(
        console, {"type": "answer_question", "followup": question.pk, "answer": "Igen."}
    )
    assert error_code(again) == "error:conflict"
    assert (await followups())[0][3] == "På fredag."


@database_sync_to_async
def case_reads():
    return list(
        AccessLog.objects.filter(action=AccessLog.Action.READ_CASE).values_list("actor", "case_id")
    )


async def test_a_followups_text_reaches_a_console_only_as_a_logged_read(
    ws, case_layer, ekonomi, anna, bengt, cecilia
):
    @database_sync_to_async
    def client_question():
        case = ended_meeting(ekonomi, anna)[0].case
        return followup_client_ask(case=case, body="Får jag behålla bilen?")

    console, _snapshot = await ws.console(bengt)
    question = await client_question()

    (update,) = await followup_updates(console, 1)
    assert "Får jag behålla bilen?" not in str(update)
    assert await case_reads() == []  # hearing of it is not reading it

    await console.send_json_to({"type": "read_followup", "followup": question.pk})
    read = await factories.next_frame(console, "followup.read")
    assert read["followup"]["body"] == "Får jag behålla bilen?"
    assert await case_reads() == [(bengt.pk, question.case_id)]

    # A worker of another unit gets the same answer as for a question that does not exist.
    other, _snapshot = await ws.console(cecilia)
    refused = await reply_to(other, {"type": "read_followup", "followup": question.pk})
    assert error_code(refused) == "error:not_found"
    assert await case_reads() == [(bengt.pk, question.case_id)]


@pytest.fixture
def on_record(ekonomi, vald, anna, cecilia):
    """What the bad frames aim at: ekonomi's case with a question each way, and a client's
    question in Våld."""
    conversation, _token = ended_meeting(ekonomi, anna)
    to_client = followup_ask(case=conversation.case, actor=anna, body="Till klienten?")
    from_client = followup_client_ask(case=conversation.case, body="Från klienten?")
    vald_conversation, _token = ended_meeting(vald, cecilia)
    vald_question = followup_client_ask(case=vald_conversation.case, body="Till Våld?")
    answered = followup_client_ask(case=conversation.case, body="Redan besvarad?")
    followup_worker_answer(followup=answered, actor=anna, answer="Ja.")
    return {
        "case": conversation.case.pk,
        "vald_case": vald_conversation.case.pk,
        "to_client": to_client.pk,
        "from_client": from_client.pk,
        "vald_question": vald_question.pk,
        "answered": answered.pk,
    }


BAD_CONSOLE_FRAMES = {
    "ask-other-units-case": (
        {"type": "ask_followup", "case": "vald_case", "body": "Hej?"},
        "not_found",
    ),
    "ask-no-case": ({"type": "ask_followup", "body": "Hej?"}, "not_found"),
    "ask-case-as-text": ({"type": "ask_followup", "case": "1", "body": "Hej?"}, "not_found"),
    "ask-empty": ({"type": "ask_followup", "case": "case", "body": "  "}, "invalid"),
    "ask-too-many-choices": (
        {"type": "ask_followup", "case": "case", "body": "Hej?", "choices": list("abcdefg")},
        "invalid",
    ),
    "answer-other-unit": (
        {"type": "answer_question", "followup": "vald_question", "answer": "Hej"},
        "not_found",
    ),
    "answer-own-question": (
        {"type": "answer_question", "followup": "to_client", "answer": "Hej"},
        "invalid",
    ),
    "answer-empty": (
        {"type": "answer_question", "followup": "from_client", "answer": ""},
        "invalid",
    ),
    "answer-twice": (
        {"type": "answer_question", "followup": "answered", "answer": "Igen"},
        "conflict",
    ),
    "answer-id-as-text": (
        {"type": "answer_question", "followup": "7", "answer": "Hej"},
        "not_found",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_CONSOLE_FRAMES))
async def test_a_bad_follow_up_frame_gets_an_error_and_the_console_stays_open(
    ws, case_layer, anna, on_record, name
):
    frame, expected = BAD_CONSOLE_FRAMES[name]
    # Names of the rows in on_record stand for their ids.
    frame = {k: on_record.get(v, v) if isinstance(v, str) else v for k, v in frame.items()}
    before = await followups()
    console, _snapshot = await ws.console(anna)

    frames = await reply_to(console, frame)  # fails if the socket closes

    assert error_code(frames) == f"error:{expected}"
    assert await followups() == before


@pytest.mark.parametrize(
    "followups_field",
    ["Hur går det?", [{"body": ""}], ["Hur går det?"], {"body": "Hur går det?"}],
    ids=repr,
)
async def test_ending_with_bad_questions_is_refused_and_the_meeting_goes_on(
    ws, case_layer, ekonomi, anna, followups_field
):
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)

    frames = await reply_to(
        console, {"type": "end", "conversation": conversation_id, "followups": followups_field}
    )

    assert error_code(frames) == "error:invalid"
    assert await followups() == []

    @database_sync_to_async
    def state():
        return Conversation.objects.get(pk=conversation_id).state

    assert await state() == Conversation.State.ACTIVE
    await factories.send_message(client, "Är du kvar?")
    await factories.next_frame(client, "ack")


@pytest.mark.redis
async def test_a_clients_question_reaches_the_units_consoles_over_redis(
    ws, redis_layer, case_layer, ekonomi, anna
):
    @database_sync_to_async
    def meeting_case():
        return ended_meeting(ekonomi, anna)[0].case

    case = await meeting_case()
    console, _snapshot = await ws.console(anna)

    question = await database_sync_to_async(followup_client_ask)(case=case, body="Via Redis?")

    update = await factories.next_frame(console, "followup.updated")
    assert update["followup"]["id"] == question.pk
    assert "body" not in update["followup"]
