"""Identified chat (issue 13, point 2): an identified client's conversations land on their
case with the unit, staff see the mark, and the claim mapping's units."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore

from chat import eid
from chat.eid import EidIdentity, EidRefused, identity_from_claims
from chat.models import Case, ClientRecord, Conversation
from chat.services.clients import client_record_identify
from chat.services.conversations import conversation_end, conversation_start
from tests import factories
from tests.case_personas import returning_socket
from tests.oidc import LOA3, PNR_CLAIM

pytest_plugins = ["tests.case_personas"]

ISSUER = "https://e-id.example.se"


def tolvan() -> ClientRecord:
    return client_record_identify(
        identity=EidIdentity(
            issuer=ISSUER,
            subject="tolvan",
            acr=LOA3,
            name="Tolvan Tolvansson",
            personal_number="191212121212",
        )
    )


def start(unit, *, client=None, body="Hej.") -> Conversation:
    conversation, _created = conversation_start(
        unit_id=unit.pk,
        token=factories.new_token(),
        body=body,
        client_id=uuid.uuid4(),
        client=client,
    )
    return conversation


# --- services ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_identified_clients_chats_land_on_their_case_with_the_unit(ekonomi, vald, anna):
    client = tolvan()
    first = start(ekonomi, client=client)
    assert first.identified
    factories.accept(anna, first)
    conversation_end(conversation=first, actor=anna)
    Case.objects.filter(pk=first.case_id).update(status=Case.Status.CLOSED)

    again = start(ekonomi, client=client)
    elsewhere = start(vald, client=client)

    assert again.case_id == first.case_id
    again.case.refresh_from_db()
    assert again.case.status == Case.Status.OPEN  # opened again
    assert elsewhere.case_id != first.case_id
    assert elsewhere.case.client_id == client.pk
    assert Case.objects.filter(client=client).count() == 2


@pytest.mark.django_db
def test_anonymous_chats_each_get_a_new_anonymous_case(ekonomi):
    one, two = start(ekonomi), start(ekonomi)
    assert not one.identified
    assert one.case_id != two.case_id
    assert not one.case.client.is_identified


@pytest.mark.django_db
def test_the_same_identity_is_the_same_record_and_the_name_follows_the_provider():
    first = tolvan()
    renamed = client_record_identify(
        identity=EidIdentity(ISSUER, "tolvan", LOA3, "Tolvan Nyman", "191212121212")
    )
    other_issuer = client_record_identify(
        identity=EidIdentity("https://other.example.se", "tolvan", LOA3, "T", "191212121212")
    )
    assert renamed.pk == first.pk
    assert ClientRecord.objects.get(pk=first.pk).name == "Tolvan Nyman"
    assert other_issuer.pk != first.pk


# --- the claim mapping -----------------------------------------------------------------------
CLAIMS = {"iss": ISSUER, "sub": "s-1", "acr": LOA3, PNR_CLAIM: "191212121212", "name": "T T"}


def test_the_claim_mapping_reads_the_configured_claims(settings):
    identity = identity_from_claims(CLAIMS)
    assert identity == EidIdentity(ISSUER, "s-1", LOA3, "T T", "191212121212")

    settings.EID_PERSONAL_NUMBER_CLAIM = "ssn"
    broker = {**CLAIMS, "ssn": "19121212-1212", "name": "", "given_name": "A", "family_name": "B"}
    identity = identity_from_claims(broker)
    assert (identity.personal_number, identity.name) == ("191212121212", "A B")


def test_without_a_number_claim_none_is_asked_for(settings):
    settings.EID_PERSONAL_NUMBER_CLAIM = ""
    claims = {k: v for k, v in CLAIMS.items() if k != PNR_CLAIM}
    assert identity_from_claims(claims).personal_number == ""


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sub": ""}, "claims"),
        ({"sub": 17}, "claims"),
        ({PNR_CLAIM: None}, "claims"),
        ({PNR_CLAIM: 191212121212}, "claims"),
        ({PNR_CLAIM: "1912121212"}, "claims"),
        ({PNR_CLAIM: "19121212121X"}, "claims"),
        ({"acr": None}, "loa"),
        ({"acr": "http://id.elegnamnden.se/loa/1.0/loa2"}, "loa"),
        ({"sub": "x" * 201}, "claims"),
    ],
)
def test_the_claim_mapping_refuses_what_it_cannot_use(change, reason):
    with pytest.raises(EidRefused) as refused:
        identity_from_claims({**CLAIMS, **change})
    assert refused.value.reason == reason
    # The refusal names the claim, never a value.
    assert "1912" not in str(refused.value) + refused.value.detail


def test_several_levels_may_be_accepted(settings):
    settings.EID_REQUIRED_ACR = [LOA3, "http://id.elegnamnden.se/loa/1.0/loa4"]
    loa4 = identity_from_claims({**CLAIMS, "acr": "http://id.elegnamnden.se/loa/1.0/loa4"})
    assert loa4.acr.endswith("loa4")


# --- the client's socket ---------------------------------------------------------------------
def identified_cookie(record: ClientRecord) -> bytes:
    session = SessionStore()
    session[eid.SESSION_CLIENT] = {"client": record.pk, "acr": LOA3}
    session.create()
    return f"{django_settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


@pytest.mark.django_db(transaction=True)
async def test_a_signed_in_clients_chat_is_identified_on_their_case(ws, case_layer, ekonomi, anna):
    @database_sync_to_async
    def earlier():
        record = tolvan()
        conversation = start(ekonomi, client=record)
        factories.accept(anna, conversation)
        conversation_end(conversation=conversation, actor=anna)
        return record, conversation.case_id, identified_cookie(record)

    _record, case_id, cookie = await earlier()
    console, _snapshot = await ws.console(anna)
    client = await returning_socket(ws, cookie)

    sync, _token = await factories.client_start(client, ekonomi, "Jag är tillbaka.")

    assert sync["identified"] is True
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=sync["conversation"])
    assert (conversation.case_id, conversation.identified) == (case_id, True)
    queue = await factories.next_frame(
        console,
        "queue.updated",
        where=lambda f: any(c["id"] == conversation.pk for c in f.get("waiting", [])),
    )
    row = next(c for c in queue["waiting"] if c["id"] == conversation.pk)
    assert row["identified"] is True
    assert "Tolvan" not in str(queue)


@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_clients_chat_is_not_identified(ws, case_layer, ekonomi):
    client = await ws.client()
    sync, _token = await factories.client_start(client, ekonomi)
    assert sync["identified"] is False
