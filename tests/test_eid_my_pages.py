"""The identified client's own pages (issue 13, point 4): their cases, questions waiting,
transcripts they may read, a new chat on a case, and nothing of anyone else's."""

from __future__ import annotations

import pytest

from chat import eid
from chat.models import ClientRecord
from chat.services.cases import followup_ask
from chat.services.conversations import conversation_end
from tests import factories
from tests.oidc import LOA3
from tests.test_eid_chat import start, tolvan

pytestmark = pytest.mark.django_db


def signed_in(client, record: ClientRecord) -> None:
    session = client.session
    session[eid.SESSION_CLIENT] = {"client": record.pk, "acr": LOA3}
    session.save()


@pytest.fixture
def tolvans_meeting(ekonomi, anna):
    record = tolvan()
    conversation = start(ekonomi, client=record, body="Hej, det gäller hyran.")
    factories.accept(anna, conversation)
    conversation_end(conversation=conversation, actor=anna)
    followup_ask(case=conversation.case, actor=anna, body="Har hyran betalats?", choices=[])
    return record, conversation


@pytest.fixture
def someone_elses_meeting(vald, cecilia):
    other = ClientRecord.objects.create(issuer="https://e-id.example.se", subject="other")
    conversation = start(vald, client=other, body="Något helt annat.")
    factories.accept(cecilia, conversation)
    conversation_end(conversation=conversation, actor=cecilia)
    return conversation


def test_my_pages_list_the_clients_cases_and_what_waits_for_them(
    client, tolvans_meeting, someone_elses_meeting
):
    record, conversation = tolvans_meeting
    signed_in(client, record)
    page = client.get("/me/").content.decode()
    assert "Ekonomiskt bistånd" in page
    assert f'id="case-{conversation.case_id}"' in page
    assert "1 fråga väntar på ditt svar" in page
    assert f"/me/conversations/{conversation.pk}/transcript/" in page
    assert f'id="case-{someone_elses_meeting.case_id}"' not in page
    assert "Våld i nära relationer" not in page


def test_the_client_reads_their_own_transcript_only(client, tolvans_meeting, someone_elses_meeting):
    record, conversation = tolvans_meeting
    signed_in(client, record)
    mine = client.get(f"/me/conversations/{conversation.pk}/transcript/")
    assert mine.status_code == 200
    assert "Hej, det gäller hyran." in mine.content.decode()
    assert "Anna" not in mine.content.decode()  # no staff names in the client's transcript
    other = client.get(f"/me/conversations/{someone_elses_meeting.pk}/transcript/")
    assert other.status_code == 404


def test_an_open_conversation_has_no_transcript_here(client, ekonomi):
    record = tolvan()
    conversation = start(ekonomi, client=record)
    signed_in(client, record)
    assert client.get(f"/me/conversations/{conversation.pk}/transcript/").status_code == 404


def test_opening_a_case_leads_to_its_questions_and_a_new_chat_on_it(
    client, tolvans_meeting, someone_elses_meeting
):
    record, conversation = tolvans_meeting
    signed_in(client, record)
    assert client.post(f"/me/cases/{someone_elses_meeting.case_id}/").status_code == 404
    response = client.post(f"/me/cases/{conversation.case_id}/")
    assert response["Location"] == "/return/case/"
    page = client.get("/return/case/").content.decode()
    assert "Har hyran betalats?" in page
    assert "/me/" in page  # the way back to My pages
    # The client page now starts the chat on this case.
    assert f'data-returning-unit="{conversation.unit_id}"' in client.get("/").content.decode()


def test_without_a_sign_in_my_pages_show_nothing_of_anyone(client, tolvans_meeting):
    _record, conversation = tolvans_meeting
    assert "Ekonomiskt bistånd" not in client.get("/me/").content.decode()
    assert client.post(f"/me/cases/{conversation.case_id}/")["Location"] == "/me/"
    response = client.get(f"/me/conversations/{conversation.pk}/transcript/")
    assert response["Location"] == "/me/"


def test_a_staff_sign_in_is_no_client_sign_in(client, tolvans_meeting, anna):
    _record, conversation = tolvans_meeting
    client.force_login(anna)
    assert client.get(f"/me/conversations/{conversation.pk}/transcript/").status_code == 302
