"""Stepping up inside a chat (issue 13, point 3): an anonymous client identifies with e-ID
mid-conversation and, only after consenting, the same conversation is linked to their
identified client record; the worker hears it live. Declining or failing at the provider
leaves the same anonymous chat."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async

from chat import eid, realtime
from chat.errors import Conflict
from chat.models import Case, ClientRecord, Conversation, Message
from chat.services.clients import conversation_identify
from chat.services.conversations import conversation_end
from tests import factories
from tests.oidc import NO_NUMBER, TOLVAN, sign_in_at_provider
from tests.test_eid_chat import start, tolvan

pytest_plugins = ["tests.case_personas"]


# --- the service ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_consented_chat_moves_onto_the_clients_case_with_nothing_lost(
    ekonomi, anna, django_capture_on_commit_callbacks, published
):
    record = tolvan()
    earlier = start(ekonomi, client=record)
    anonymous = start(ekonomi, body="Hej, jag är anonym än så länge.")
    factories.accept(anna, anonymous)
    before = list(anonymous.messages.order_by("seq").values_list("seq", "body"))

    with django_capture_on_commit_callbacks(execute=True):
        linked = conversation_identify(conversation_id=anonymous.pk, client=record)

    assert (linked.case_id, linked.identified) == (earlier.case_id, True)
    assert list(linked.messages.order_by("seq").values_list("seq", "body")) == before
    assert (realtime.conversation_staff_group(anonymous.pk), realtime.identified_event(linked)) in (
        published
    )
    event = realtime.identified_event(linked)
    assert event == {
        "type": "conversation.identified",
        "conversation": anonymous.pk,
        "case": earlier.case_id,
        "identified": True,
    }


@pytest.mark.django_db
def test_without_a_case_with_the_unit_the_anonymous_case_becomes_theirs(ekonomi):
    record = tolvan()
    anonymous = start(ekonomi)
    linked = conversation_identify(conversation_id=anonymous.pk, client=record)
    assert linked.case_id == anonymous.case_id
    assert Case.objects.get(pk=anonymous.case_id).client_id == record.pk


@pytest.mark.django_db
def test_a_second_consent_changes_nothing_and_another_person_cannot_take_it(ekonomi):
    record = tolvan()
    anonymous = start(ekonomi)
    conversation_identify(conversation_id=anonymous.pk, client=record)
    again = conversation_identify(conversation_id=anonymous.pk, client=record)
    assert again.identified
    other = ClientRecord.objects.create(issuer="https://e-id.example.se", subject="other")
    with pytest.raises(Conflict):
        conversation_identify(conversation_id=anonymous.pk, client=other)


@pytest.mark.django_db
def test_an_ended_chat_is_not_linked(ekonomi, anna):
    anonymous = start(ekonomi)
    factories.accept(anna, anonymous)
    conversation_end(conversation=anonymous, actor=anna)
    with pytest.raises(Conflict):
        conversation_identify(conversation_id=anonymous.pk, client=tolvan())
    assert not Conversation.objects.get(pk=anonymous.pk).identified


# --- through the provider, with Django's test client as the browser -------------------------
def step_up(client, token: str, account: str | None = TOLVAN):
    response = client.post("/eid/step-up/", {"token": token})
    assert response.status_code == 302
    back = urlsplit(sign_in_at_provider(response["Location"], account=account))
    return client.get(f"{back.path}?{back.query}")


@pytest.fixture
def anonymous_chat(ekonomi):
    conversation, token = factories.start_conversation(ekonomi, "Hej, jag vill fråga en sak.")
    return conversation, token


@pytest.mark.django_db
def test_consent_links_the_chat_and_signs_the_client_in(client, eid_settings, anonymous_chat):
    conversation, token = anonymous_chat
    response = step_up(client, token)
    assert response["Location"] == "/eid/consent/"
    # Identified at the provider, but nothing is linked and nobody signed in before consent.
    assert eid.SESSION_CLIENT not in client.session
    assert not Conversation.objects.get(pk=conversation.pk).identified
    page = client.get("/eid/consent/").content.decode()
    assert "Tolvan Tolvansson" in page
    assert client.post("/eid/consent/", {"action": "link"})["Location"] == "/"
    conversation.refresh_from_db()
    assert conversation.identified
    assert conversation.case.client.subject == TOLVAN
    assert client.session[eid.SESSION_CLIENT]["client"] == conversation.case.client_id
    assert "eid_consent" not in client.session


@pytest.mark.django_db
def test_declining_keeps_the_same_anonymous_chat(client, eid_settings, anonymous_chat):
    conversation, token = anonymous_chat
    step_up(client, token)
    assert client.post("/eid/consent/", {"action": "decline"})["Location"] == "/"
    conversation.refresh_from_db()
    assert not conversation.identified
    assert not conversation.case.client.is_identified
    assert eid.SESSION_CLIENT not in client.session
    assert client.get("/eid/consent/")["Location"] == "/"  # nothing waits for consent


@pytest.mark.django_db
def test_cancelling_at_the_provider_goes_straight_back_to_the_chat(
    client, eid_settings, anonymous_chat
):
    conversation, token = anonymous_chat
    response = step_up(client, token, account=None)
    assert response["Location"] == "/"
    conversation.refresh_from_db()
    assert not conversation.identified
    assert not ClientRecord.objects.exclude(subject="").exists()


@pytest.mark.django_db
def test_failing_at_the_provider_offers_the_way_back_to_the_chat(
    client, eid_settings, anonymous_chat
):
    conversation, token = anonymous_chat
    response = step_up(client, token, account=NO_NUMBER)
    assert response.status_code == 400
    assert 'id="back-to-chat"' in response.content.decode()
    conversation.refresh_from_db()
    assert not conversation.identified


@pytest.mark.django_db
def test_step_up_needs_the_chats_own_token(client, eid_settings, anonymous_chat):
    assert client.post("/eid/step-up/", {"token": factories.new_token()}).status_code == 404
    assert client.post("/eid/step-up/", {"token": "x"}).status_code == 404
    assert client.get("/eid/step-up/").status_code == 405


@pytest.mark.django_db
def test_a_chat_that_ended_at_the_provider_is_not_linked(
    client, eid_settings, anonymous_chat, anna
):
    conversation, token = anonymous_chat
    step_up(client, token)
    factories.accept(anna, conversation)
    conversation_end(conversation=conversation, actor=anna)
    response = client.post("/eid/consent/", {"action": "link"})
    assert response.status_code == 409
    assert not Conversation.objects.get(pk=conversation.pk).identified


# --- sockets: the worker hears it live, the client's resume says it ---------------------------
@pytest.mark.django_db(transaction=True)
async def test_the_worker_sees_the_step_up_live_and_the_client_resumes_identified(
    ws, case_layer, ekonomi, anna
):
    console, _snapshot = await ws.console(anna)
    client = await ws.client()
    sync, token = await factories.client_start(client, ekonomi, "Hej.")
    conversation_id = sync["conversation"]
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await factories.next_frame(console, "conversation.assigned", conversation=conversation_id)
    record = await database_sync_to_async(tolvan)()

    await database_sync_to_async(conversation_identify)(
        conversation_id=conversation_id, client=record
    )

    frame = await factories.next_frame(console, "conversation.identified")
    assert frame["conversation"] == conversation_id
    assert frame["identified"] is True
    case = await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation_id).case)()
    assert frame["case"] == case.pk
    assert case.client_id == record.pk
    # The client's tab comes back from the provider: its resume says it, with every message.
    again = await ws.client()
    await again.send_json_to({"type": "resume", "token": token, "after": 0})
    sync = await factories.next_frame(again, "conversation.sync")
    assert sync["identified"] is True
    count = await database_sync_to_async(
        Message.objects.filter(conversation_id=conversation_id).count
    )()
    assert len(sync["messages"]) == count
