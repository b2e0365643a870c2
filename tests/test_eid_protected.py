"""Protected identities (issue 13, point 5): a case marked protected opens only to the staff
named on it, its client's name is in no list, dashboard or export, and every read is
flagged in the access log."""

from __future__ import annotations

import pytest

from chat.errors import InvalidInput
from chat.models import AccessLog, Case
from chat.services.cases import case_protect
from chat.services.conversations import conversation_end
from tests import factories
from tests.security_personas import http_client
from tests.test_eid_chat import start, tolvan

pytestmark = pytest.mark.django_db

NAME = "Tolvan Tolvansson"


@pytest.fixture
def protected_case(ekonomi, anna):
    conversation = start(ekonomi, client=tolvan(), body="Jag har skyddad identitet.")
    factories.accept(anna, conversation)
    conversation_end(conversation=conversation, actor=anna)
    case = Case.objects.get(pk=conversation.case_id)
    case_protect(case=case, actor=anna)
    return case, conversation


def test_marking_names_the_marker_and_the_owner(protected_case, anna):
    case, _conversation = protected_case
    assert case.protected
    assert list(case.named_staff.all()) == [anna]


def test_an_unnamed_colleague_cannot_open_the_case_or_its_history(protected_case, bengt):
    case, conversation = protected_case
    colleague = http_client(bengt)
    assert colleague.get(f"/console/cases/{case.pk}/").status_code == 404
    transcript = f"/console/conversations/{conversation.pk}/transcript/"
    assert colleague.get(transcript).status_code == 404
    assert not AccessLog.objects.filter(actor=bengt).exists()


def test_named_staff_open_it_and_every_read_is_flagged(protected_case, anna, bengt):
    case, conversation = protected_case
    case_protect(case=case, actor=anna, named=[bengt])
    colleague = http_client(bengt)
    page = colleague.get(f"/console/cases/{case.pk}/")
    assert page.status_code == 200
    assert 'id="protected-mark"' in page.content.decode()
    assert colleague.get(f"/console/conversations/{conversation.pk}/transcript/").status_code == 200
    rows = AccessLog.objects.filter(actor=bengt)
    assert rows.count() == 2
    assert all(row.flagged for row in rows)


def test_only_staff_of_the_unit_can_be_named(protected_case, anna, cecilia):
    case, _conversation = protected_case
    with pytest.raises(InvalidInput):
        case_protect(case=case, actor=anna, named=[cecilia])


def test_the_case_page_marks_and_names_by_form(ekonomi, anna, bengt):
    conversation = start(ekonomi, client=tolvan())
    worker = http_client(anna)
    response = worker.post(
        f"/console/cases/{conversation.case_id}/", {"action": "protect", "named": [bengt.pk]}
    )
    assert response.status_code == 302
    case = Case.objects.get(pk=conversation.case_id)
    assert case.protected
    assert set(case.named_staff.all()) == {anna, bengt}


def test_the_name_is_in_no_list_dashboard_or_export(protected_case, anna, sara):
    case, _conversation = protected_case
    http_client(anna).get(f"/console/cases/{case.pk}/")  # a flagged read for the log
    supervisor = http_client(sara)
    for path in (
        "/dashboard/",
        "/dashboard/access-log/",
        "/dashboard/access-log.csv",
        "/console/inbox/",
        "/console/",
    ):
        response = supervisor.get(path)
        assert response.status_code == 200, path
        assert NAME not in response.content.decode(), path
    log = supervisor.get("/dashboard/access-log/").content.decode()
    assert "protected identity: review" in log or "skyddad identitet: granska" in log
    assert (
        supervisor.get("/dashboard/access-log.csv")
        .content.decode()
        .splitlines()[1]
        .endswith(",yes")
    )
