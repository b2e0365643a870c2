"""Risk rules over the sockets: a client's live message that a rule finds reaches the
worker's console and the supervisor's dashboard as `risk.flagged`; a worker lowers it with
`lower_risk` and hears `risk.lowered`. The real ASGI application, the in-memory layer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from chat.models import Conversation, RiskOverride, RiskRule
from tests import factories
from tests.factories import accepted, frames_until, next_frame, send_message, waiting_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("memory_layer")]
pytest_plugins = ["tests.queue_personas"]


@pytest.fixture
def rules(ekonomi):
    RiskRule.objects.create(
        unit=ekonomi, label="Suicide risk", phrases="självmord*\nvill ... dö", action="urgent"
    )
    RiskRule.objects.create(unit=ekonomi, label="Violence", phrases="slår mig", action="alert")


@pytest.fixture
def sara(ekonomi):
    return factories.make_user("sara", role=User.Role.SUPERVISOR, units=[ekonomi])


@database_sync_to_async
def priority_of(conversation_id: int) -> int:
    return Conversation.objects.get(pk=conversation_id).priority


async def test_a_live_message_that_a_rule_finds_reaches_console_and_dashboard(
    ws, staff_ws, ekonomi, anna, sara, rules
):
    client, console, conversation_id = await accepted(ws, anna, ekonomi)
    dashboard = await staff_ws.open("/ws/dashboard/", sara)
    assert (await dashboard.connect(timeout=3))[0] is True
    await next_frame(dashboard, "dashboard.snapshot")

    await send_message(client, "Ibland vill jag bara dö")

    on_console = await next_frame(
        console, "risk.flagged", skip=frozenset({"conversation.message", "queue.updated"})
    )
    assert on_console["conversation"] == conversation_id
    assert on_console["raised"] is True
    assert on_console["priority"] == Conversation.Priority.URGENT
    risk = on_console["risk"]
    assert (risk["rule"], risk["effect"], risk["matched"]) == (
        "Suicide risk",
        "urgent",
        "vill jag bara dö",
    )
    assert (risk["before"], risk["after"]) == ("Ibland ", "")
    frames = await frames_until(dashboard, "risk.flagged")
    assert frames[-1]["risk"] == risk
    # The client hears nothing of it.
    client_frames = await frames_until(client, "ack")
    assert all(frame["type"] != "risk.flagged" for frame in client_frames)
    assert "risk" not in str([f for f in client_frames if f["type"] != "conversation.message"])


async def test_a_worker_lowers_a_waiting_client_by_socket_and_hears_it_done(
    ws, ekonomi, anna, rules
):
    console, _snapshot = await ws.console(anna)
    _client, conversation_id = await waiting_client(ws, ekonomi, "Jag tänker på självmord")
    assert await priority_of(conversation_id) == Conversation.Priority.URGENT
    queue = await next_frame(console, "queue.updated", where=lambda f: f["waiting"])
    assert queue["waiting"][0]["risk"]["matched"] == "självmord"

    await console.send_json_to(
        {"type": "lower_risk", "conversation": conversation_id, "reason": ""}
    )
    refused = await next_frame(console, "error", skip=frozenset({"queue.updated"}))
    assert (refused["code"], refused["in_reply_to"]) == ("risk_reason", "lower_risk")

    await console.send_json_to(
        {"type": "lower_risk", "conversation": conversation_id, "reason": "Ett boknamn"}
    )
    done = await next_frame(console, "risk.lowered", skip=frozenset({"queue.updated"}))
    assert done["conversation"] == conversation_id
    assert done["risk"]["lowered"]["reason"] == "Ett boknamn"
    assert await priority_of(conversation_id) == Conversation.Priority.NORMAL
    assert await database_sync_to_async(RiskOverride.objects.count)() == 1
    queue = await next_frame(console, "queue.updated", where=lambda f: f["waiting"])
    assert queue["waiting"][0]["priority"] == Conversation.Priority.NORMAL
    assert queue["waiting"][0]["risk"]["lowered"]["by"] == anna.pk


async def test_a_worker_of_another_unit_cannot_lower_it(ws, ekonomi, cecilia, rules):
    console, _snapshot = await ws.console(cecilia)
    _client, conversation_id = await waiting_client(ws, ekonomi, "självmord")
    await console.send_json_to(
        {"type": "lower_risk", "conversation": conversation_id, "reason": "nej"}
    )
    refused = await next_frame(console, "error")
    assert refused["code"] == "not_found"
    assert await priority_of(conversation_id) == Conversation.Priority.URGENT


async def test_a_dashboard_that_connects_later_finds_the_open_risk_alerts(
    ws, staff_ws, ekonomi, sara, rules
):
    _client, raised = await waiting_client(ws, ekonomi, "Jag tänker på självmord")
    _other, alerted = await waiting_client(ws, ekonomi, "Han slår mig")
    _third, _plain = await waiting_client(ws, ekonomi, "Hej, en fråga om hyran")
    dashboard = await staff_ws.open("/ws/dashboard/", sara)
    assert (await dashboard.connect(timeout=3))[0] is True
    snapshot = await next_frame(dashboard, "dashboard.snapshot")
    alerts = snapshot["risk_alerts"]
    assert [a["conversation"] for a in alerts] == [alerted, raised]
    assert [a["risk"]["effect"] for a in alerts] == ["alert", "urgent"]
