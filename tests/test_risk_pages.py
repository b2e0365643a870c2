"""The risk rules page (/dashboard/risk-rules/) and the risk audit trail on the case page:
supervisors keep their own units' rules only; nothing of another unit shows or changes."""

from __future__ import annotations

import pytest

from accounts.models import User
from chat.models import RiskRule
from chat.selectors import case_timeline
from chat.services.risk import risk_lower
from tests import factories
from tests.factories import start_conversation
from tests.security_personas import http_client

pytest_plugins = ["tests.queue_personas"]
pytestmark = pytest.mark.django_db

URL = "/dashboard/risk-rules/"


@pytest.fixture
def sara(ekonomi):
    return factories.make_user("sara", role=User.Role.SUPERVISOR, units=[ekonomi])


@pytest.fixture
def valds_rule(vald):
    return RiskRule.objects.create(
        unit=vald, label="Hot om våld", phrases="döda mig", action="urgent"
    )


def test_only_supervisors_open_it(anna, sara):
    assert http_client(None).get(URL).status_code == 302
    assert http_client(anna).get(URL).status_code == 403
    assert http_client(sara).get(URL).status_code == 200


def test_a_supervisor_adds_a_rule_to_their_unit_and_sees_only_their_units_rules(
    sara, ekonomi, valds_rule
):
    client = http_client(sara)
    response = client.post(
        URL,
        {
            "save": "1",
            "unit": str(ekonomi.pk),
            "label": "Skulder",
            "phrases": "kronofogde*\nskuld|skulder",
            "action": "mark",
            "active": "on",
        },
    )
    assert response.status_code == 302
    rule = RiskRule.objects.get(unit=ekonomi)
    assert (rule.label, rule.phrases, rule.action, rule.active) == (
        "Skulder",
        "kronofogde*\nskuld|skulder",
        "mark",
        True,
    )
    page = client.get(URL).content.decode()
    assert "Skulder" in page
    assert "Hot om våld" not in page


def test_a_bad_phrase_is_refused_on_the_form_and_the_text_is_kept(sara, ekonomi):
    response = http_client(sara).post(
        URL,
        {"save": "1", "unit": str(ekonomi.pk), "label": "x", "phrases": "dö*", "action": "urgent"},
    )
    assert response.status_code == 200
    assert "phrases" in response.context["form"].errors
    assert "dö*" in response.content.decode()
    assert not RiskRule.objects.exists()


def test_another_units_rule_can_be_neither_changed_nor_removed(sara, vald, valds_rule):
    client = http_client(sara)
    client.post(URL, {"delete": str(valds_rule.pk)})
    response = client.post(
        URL,
        {
            "save": "1",
            "rule": str(valds_rule.pk),
            "unit": str(vald.pk),
            "label": "x",
            "phrases": "y",
            "action": "mark",
        },
    )
    assert response.status_code == 200  # vald is not a choice of hers: a form error
    valds_rule.refresh_from_db()
    assert (valds_rule.label, valds_rule.phrases) == ("Hot om våld", "döda mig")


def test_trying_a_message_shows_the_hits_and_stores_nothing(sara, ekonomi):
    RiskRule.objects.create(unit=ekonomi, label="Suicide", phrases="självmord*", action="urgent")
    response = http_client(sara).post(
        URL, {"try": "1", "unit": str(ekonomi.pk), "text": "Jag har <b>självmordstankar</b>"}
    )
    page = response.content.decode()
    assert "<mark>självmordstankar</mark>" in page
    assert "&lt;b&gt;" in page  # the message is text, never HTML
    assert RiskRule.objects.count() == 1


def test_the_case_timeline_holds_the_risk_audit_trail(ekonomi, anna):
    RiskRule.objects.create(unit=ekonomi, label="Suicide", phrases="självmord*", action="urgent")
    conversation, _ = start_conversation(ekonomi, "självmord")
    risk_lower(conversation_id=conversation.pk, actor=anna, reason="Läste en bok")
    timeline = case_timeline(user=anna, case=conversation.case)
    assert [entry["kind"] for entry in timeline] == ["conversation", "risk_flag", "risk_lowered"]
    page = http_client(anna).get(f"/console/cases/{conversation.case_id}/").content.decode()
    assert "Läste en bok" in page
    assert "<mark>självmord</mark>" in page
