"""Questions left outside opening hours (chat/services/cases.conversation_leave_question and
the client socket's `leave_question`): stored as an offline conversation with the message,
a question in the unit's follow-up inbox, and a case code to come back with for the answer."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import realtime
from chat.consumers.client import first_message
from chat.errors import InvalidInput, NotFound, TooLong
from chat.models import Case, ClientRecord, Conversation, FollowUp, Message
from chat.selectors import followup_inbox, token_hash
from chat.services.cases import (
    case_open_by_code,
    conversation_leave_question,
    followup_worker_answer,
)
from chat.services.retention import retention_purge
from tests import factories
from tests.case_personas import returning_browser, returning_cookie, returning_socket
from tests.security_personas import error_code, reply_to

pytest_plugins = ["tests.case_personas"]

QUESTION = "Jag behöver hjälp med hyran, kan någon ringa mig?"
transactional = pytest.mark.django_db(transaction=True)


def leave(unit, body=QUESTION, *, token=None, case=None):
    return conversation_leave_question(
        unit_id=unit.pk,
        token=token or factories.new_token(),
        body=body,
        client_id=uuid.uuid4(),
        case=case,
    )


# --- the service -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_stores_the_question_as_an_offline_conversation_with_a_question_in_the_inbox(
    closed, anna, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        conversation, created = leave(closed)

    assert created
    assert conversation.state == Conversation.State.OFFLINE
    assert conversation.worker is None
    assert conversation.ended_at is not None
    assert list(conversation.messages.values_list("seq", "sender", "body")) == [
        (1, Message.Sender.CLIENT, QUESTION)
    ]
    question = FollowUp.objects.get()
    assert (question.case, question.kind, question.body) == (
        conversation.case,
        FollowUp.Kind.FROM_CLIENT,
        QUESTION,
    )
    assert question.conversation == conversation
    assert list(followup_inbox(user=anna)) == [question]
    events = [e for g, e in published if e["type"] == "followup.updated"]
    assert [e["followup"]["id"] for e in events] == [question.pk]
    assert {g for g, e in published if e["type"] == "followup.updated"} == {
        realtime.unit_staff_group(closed.pk)
    }


@pytest.mark.django_db
def test_the_same_token_twice_stores_one_question(closed):
    token = factories.new_token()

    first, created = leave(closed, token=token)
    again, created_again = leave(closed, "Andra försöket.", token=token)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Conversation.objects.count() == FollowUp.objects.count() == Message.objects.count() == 1


def new_case(unit):
    """A case of an anonymous client in `unit`, as an earlier chat left it."""
    return Case.objects.create(client=ClientRecord.objects.create(), unit=unit)


@pytest.mark.django_db
def test_a_returning_client_leaves_the_question_on_their_case(closed):
    case = new_case(closed)

    conversation, _created = leave(closed, case=case)

    assert conversation.case == case
    assert FollowUp.objects.get().case == case
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_a_returning_client_of_another_unit_is_refused(closed, vald):
    with pytest.raises(InvalidInput):
        leave(closed, case=new_case(vald))
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes,error",
    [
        ({"token": "short"}, InvalidInput),
        ({"body": ""}, InvalidInput),
        ({"body": "   "}, InvalidInput),
        ({"body": "x" * 100_000}, TooLong),
        ({"unit_id": 999_999}, NotFound),
    ],
    ids=repr,
)
def test_it_refuses_bad_input_and_stores_nothing(closed, changes, error):
    arguments = {
        "unit_id": closed.pk,
        "token": factories.new_token(),
        "body": QUESTION,
        "client_id": uuid.uuid4(),
        **changes,
    }

    with pytest.raises(error):
        conversation_leave_question(**arguments)

    assert not Conversation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [{"token": None}, {"body": None}, {"client_id": "not-a-uuid"}, {"unit": "1"}, {"unit": True}],
    ids=repr,
)
def test_a_leave_question_frame_that_is_not_text_uuid_and_id_is_refused(closed, changes):
    """Refused where the frame is read (chat/consumers/client.py), as `start` is."""
    frame = {
        "type": "leave_question",
        "unit": closed.pk,
        "token": factories.new_token(),
        "body": QUESTION,
        "client_id": factories.new_client_id(),
        **changes,
    }

    with pytest.raises(InvalidInput, match=f"`{next(iter(changes))}`"):
        first = first_message(frame)
        conversation_leave_question(
            unit_id=first.unit_id, token=first.token, body=first.body, client_id=first.client_id
        )

    assert not Conversation.objects.exists()
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_an_inactive_unit_takes_no_questions(closed):
    closed.is_active = False
    closed.save()

    with pytest.raises(NotFound):
        leave(closed)
    assert not FollowUp.objects.exists()


# --- coming back with the code ------------------------------------------------------------------
@pytest.mark.django_db
def test_the_client_comes_back_sees_the_question_then_the_answer_marked_new_once(
    closed, bengt, code_tries
):
    conversation, _created = leave(closed)
    question = FollowUp.objects.get()
    visitor = returning_browser(conversation.case, HTTP_ACCEPT_LANGUAGE="en")

    before = visitor.get("/return/case/").content.decode()
    assert QUESTION in before
    assert "Not answered yet" in before
    assert "Start a chat about my case" not in before  # the unit is closed

    followup_worker_answer(followup=question, actor=bengt, answer="Vi ringer på måndag.")
    first = visitor.get("/return/case/").content.decode()
    second = visitor.get("/return/case/").content.decode()

    assert "Vi ringer på måndag." in first and "Vi ringer på måndag." in second
    assert '<span class="badge">new</span>' in first
    assert '<span class="badge">' not in second
    assert not re.search(r"\bbengt\b", first, re.I)  # no staff names


@pytest.mark.django_db
def test_an_offline_question_is_forgotten_after_its_retention_period(settings, closed):
    conversation, _created = leave(closed)
    days = settings.RETENTION_DAYS["offline_questions"]
    long_ago = timezone.now() - timedelta(days=days + 1)
    Conversation.objects.filter(pk=conversation.pk).update(ended_at=long_ago, created_at=long_ago)
    FollowUp.objects.update(created_at=long_ago)

    retention_purge()

    assert not Message.objects.filter(body=QUESTION).exists()
    assert not FollowUp.objects.filter(body=QUESTION).exists()


# --- the client socket -------------------------------------------------------------------------
@transactional
async def test_the_socket_leaves_a_question_and_gets_the_conversation_then_a_case_code(
    ws, case_layer, closed, anna, code_tries
):
    console, _snapshot = await ws.console(anna)
    client = await ws.client()
    token = factories.new_token()
    refused = await reply_to(
        client,
        {
            "type": "start",
            "unit": closed.pk,
            "token": token,
            "body": QUESTION,
            "client_id": factories.new_client_id(),
        },
    )
    assert error_code(refused) == "error:unit_closed"

    await client.send_json_to(
        {
            "type": "leave_question",
            "unit": closed.pk,
            "token": token,
            "body": QUESTION,
            "client_id": factories.new_client_id(),
        }
    )
    sync = await factories.receive_type(client, "conversation.sync")
    code_frame = await factories.receive_type(client, "case.code")

    assert sync["state"] == "offline"
    assert [m["body"] for m in sync["messages"]] == [QUESTION]
    update = await factories.next_frame(console, "followup.updated")
    assert update["followup"]["kind"] == "from_client"
    assert "body" not in update["followup"]  # the text is a logged read away
    await console.send_json_to({"type": "read_followup", "followup": update["followup"]["id"]})
    read = await factories.next_frame(console, "followup.read")
    assert read["followup"]["body"] == QUESTION

    @database_sync_to_async
    def opened():
        case = case_open_by_code(code=code_frame["code"], address=factories.new_address())
        conversation = Conversation.objects.get(token_hash=token_hash(token))
        return case.pk, conversation.case_id, conversation.state

    case_id, conversation_case_id, state = await opened()
    assert case_id == conversation_case_id
    assert state == Conversation.State.OFFLINE


@transactional
async def test_the_same_token_on_two_sockets_leaves_one_question(ws, case_layer, closed):
    token = factories.new_token()
    frame = {
        "type": "leave_question",
        "unit": closed.pk,
        "token": token,
        "body": QUESTION,
        "client_id": factories.new_client_id(),
    }
    codes = []
    for _attempt in range(2):
        client = await ws.client()
        await client.send_json_to(frame)
        sync = await factories.receive_type(client, "conversation.sync")
        codes.append((await factories.receive_type(client, "case.code"))["code"])
        await ws.disconnect(client)

    @database_sync_to_async
    def stored():
        return Conversation.objects.count(), FollowUp.objects.count(), Case.objects.count()

    assert await stored() == (1, 1, 1)
    assert sync["conversation"] is not None
    assert codes[0] != codes[1]  # the latest code is the one that works


@transactional
async def test_a_returning_clients_socket_leaves_the_question_on_their_case(ws, case_layer, closed):
    @database_sync_to_async
    def returning():
        case = new_case(closed)
        return case, returning_cookie(case)

    case, cookie = await returning()
    client = await returning_socket(ws, cookie)
    await client.send_json_to(
        {
            "type": "leave_question",
            "unit": closed.pk,
            "token": factories.new_token(),
            "body": QUESTION,
            "client_id": factories.new_client_id(),
        }
    )
    await factories.receive_type(client, "conversation.sync")
    await factories.receive_type(client, "case.code")

    @database_sync_to_async
    def cases_of_questions():
        return list(FollowUp.objects.values_list("case_id", flat=True))

    assert await cases_of_questions() == [case.pk]


@transactional
@pytest.mark.parametrize(
    "changes,code",
    [
        ({"token": "short"}, "invalid"),
        ({"body": ""}, "invalid"),
        ({"unit": "ekonomi"}, "invalid"),
        ({"unit": 999_999}, "not_found"),
        ({"client_id": 7}, "invalid"),
    ],
    ids=repr,
)
async def test_a_bad_leave_question_gets_an_error_and_the_socket_stays_open(
    ws, case_layer, closed, changes, code
):
    client = await ws.client()
    frame = {
        "type": "leave_question",
        "unit": closed.pk,
        "token": factories.new_token(),
        "body": QUESTION,
        "client_id": factories.new_client_id(),
        **changes,
    }

    frames = await reply_to(client, frame)  # fails if the socket closes

    assert error_code(frames) == f"error:{code}"
    assert not [f for f in frames if f["type"] in ("conversation.sync", "case.code")]
    assert await database_sync_to_async(Conversation.objects.count)() == 0
