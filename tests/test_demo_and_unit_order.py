"""The demo's data (accounts/management/commands/seed_demo.py: finished conversations for
the estimates, safe to run again, roles shown by their names) and the client's unit list
(frontend/views.py client_page: open units first)."""

from __future__ import annotations

from datetime import time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import OpeningHours, Unit, User
from chat.models import Conversation
from chat.selectors import handling_minutes
from tests import factories

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_gives_every_unit_enough_finished_conversations_for_its_own_estimate(settings):
    settings.DEBUG = True
    seed()

    for unit in Unit.objects.filter(is_active=True):
        assert len(handling_minutes(unit=unit)) >= settings.ESTIMATE_MIN_SAMPLES, unit.name
    # History only: finished chats and some clients who left the queue, nobody waiting.
    assert not Conversation.objects.filter(state__in=Conversation.OPEN_STATES).exists()
    assert Conversation.objects.filter(state=Conversation.State.ABANDONED).exists()


def test_running_the_demo_again_adds_no_conversations(settings):
    settings.DEBUG = True
    first = seed()
    count = Conversation.objects.count()

    again = seed()

    assert count > 0 and f"finished conversations added: {count}" in first
    assert Conversation.objects.count() == count
    assert "finished conversations added: 0" in again


def test_the_demo_table_names_each_role_by_its_label(settings):
    settings.DEBUG = True
    lines = seed().splitlines()

    [sara] = [line for line in lines if line.startswith("sara ")]
    [anna] = [line for line in lines if line.startswith("anna ")]
    assert str(User.Role.SUPERVISOR.label) in sara
    assert str(User.Role.WORKER.label) not in sara
    assert str(User.Role.WORKER.label) in anna


def test_the_client_sees_units_open_now_first_then_by_name(client):
    closed = factories.make_unit("Aaa stängd", "aaa-stangd")
    tomorrow = (timezone.localdate() + timedelta(days=1)).weekday()
    OpeningHours.objects.create(unit=closed, weekday=tomorrow, opens=time(8), closes=time(16))
    factories.make_unit("Zzz öppen", "zzz-oppen")
    factories.make_unit("Mmm öppen", "mmm-oppen")

    response = client.get(reverse("client"))

    listed = [(entry["unit"].name, entry["is_open"]) for entry in response.context["units"]]
    assert listed == [("Mmm öppen", True), ("Zzz öppen", True), ("Aaa stängd", False)]
