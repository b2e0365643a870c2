"""Presence (chat/services/presence.py and selectors.presence_shown/unit_staff_load): what
others see of a worker, heartbeats, and who may set status and capacity."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import ConsoleConnection, Presence
from chat import realtime
from chat.consumers.console import console_presence
from chat.consumers.dashboard import dashboard_set_capacity, dashboard_set_presence
from chat.errors import InvalidInput, NotAllowed
from chat.selectors import presence_shown, unit_staff_load
from chat.services.presence import (
    presence_check_offline,
    presence_console_opened,
    presence_set_capacity,
    presence_set_status,
    presence_touch,
)
from tests.factories import accept, make_unit, make_user, start_conversation
from tests.queue_personas import set_presence

# The personas and socket fixtures of tests/queue_personas.py (vera, gunnar, staff_ws, ...).
pytest_plugins = ["tests.queue_personas"]

pytestmark = pytest.mark.django_db


def shown(worker) -> str:
    return presence_shown(
        presence=Presence.objects.filter(user=worker).first(),
        active=0,
        connected=ConsoleConnection.objects.filter(user=worker).exists(),
    )


def loads_by_name(unit) -> dict[str, tuple[str, int, int]]:
    return {s.user.username: (s.shown, s.active, s.capacity) for s in unit_staff_load(unit=unit)}


def types_to(published, group) -> list[str]:
    return [event["type"] for g, event in published if g == group]


# --- what others see ------------------------------------------------------------------------
def test_it_shows_a_worker_without_a_presence_row_offline(anna):
    assert presence_shown(presence=None, active=0, connected=True) == Presence.Shown.OFFLINE


def test_it_shows_a_worker_with_no_console_open_offline_at_once(anna):
    """A fresh heartbeat is not enough: the console that sent it has closed (signed out)."""
    presence = set_presence(anna, status=Presence.Status.AVAILABLE, console=False)

    assert presence.last_seen is not None
    assert shown(anna) == Presence.Shown.OFFLINE
    assert presence_shown(presence=presence, active=0, connected=False) == (Presence.Shown.OFFLINE)


def test_it_shows_a_worker_whose_console_never_spoke_offline(anna):
    set_presence(anna, status=Presence.Status.AVAILABLE, seen_ago=None)

    assert shown(anna) == Presence.Shown.OFFLINE


def test_it_shows_a_worker_offline_once_the_heartbeat_is_older_than_the_grace(anna, settings):
    settings.PRESENCE_GRACE_SECONDS = 5
    presence = set_presence(anna, status=Presence.Status.AVAILABLE, seen_ago=timedelta(0))
    now = presence.last_seen

    assert presence_shown(
        presence=presence, active=0, connected=True, at=now + timedelta(seconds=5)
    ) == (Presence.Shown.AVAILABLE)
    assert presence_shown(
        presence=presence, active=0, connected=True, at=now + timedelta(seconds=6)
    ) == (Presence.Shown.OFFLINE)


def test_it_shows_a_stale_worker_offline_even_when_they_chose_available(anna, settings):
    settings.PRESENCE_GRACE_SECONDS = 5
    set_presence(anna, status=Presence.Status.AVAILABLE, seen_ago=timedelta(seconds=30))

    assert shown(anna) == Presence.Shown.OFFLINE


def test_it_shows_an_online_worker_who_chose_away_as_away(anna):
    set_presence(anna, status=Presence.Status.AWAY)

    assert shown(anna) == Presence.Shown.AWAY


def test_it_shows_a_worker_at_capacity_as_busy(anna):
    presence = set_presence(anna, capacity=2)

    assert presence_shown(presence=presence, active=1, connected=True) == Presence.Shown.AVAILABLE
    assert presence_shown(presence=presence, active=2, connected=True) == Presence.Shown.BUSY


def test_it_shows_away_before_busy(anna):
    presence = set_presence(anna, status=Presence.Status.AWAY, capacity=1)

    assert presence_shown(presence=presence, active=1, connected=True) == Presence.Shown.AWAY


def test_it_counts_active_conversations_in_the_staff_load(ekonomi, anna, bengt, sara, pelle):
    set_presence(anna, capacity=2)
    set_presence(bengt, status=Presence.Status.AWAY)
    for _ in range(2):
        conversation, _token = start_conversation(ekonomi)
        accept(anna, conversation)

    assert loads_by_name(ekonomi) == {
        "anna": (Presence.Shown.BUSY, 2, 2),
        "bengt": (Presence.Shown.AWAY, 0, 3),
        "sara": (Presence.Shown.OFFLINE, 0, ekonomi.default_capacity),  # supervisors chat too
    }  # pelle, partner staff, is never listed


# --- heartbeats -------------------------------------------------------------------------------
def test_it_announces_a_worker_coming_back_from_offline(
    ekonomi, vald, anna, published, django_capture_on_commit_callbacks
):
    anna.units.add(vald)

    with django_capture_on_commit_callbacks(execute=True):
        presence = presence_touch(worker=anna)

    assert presence.last_seen is not None
    worker_events = [e for g, e in published if g == realtime.worker_group(anna.pk)]
    assert worker_events == [
        {
            "type": "presence.updated",
            "status": "available",
            "capacity": ekonomi.default_capacity,
            "chosen_at": None,  # nothing chosen yet: available is how a console starts
        }
    ]
    for unit in (ekonomi, vald):
        assert types_to(published, realtime.unit_staff_group(unit.pk)) == ["queue.updated"]
        assert types_to(published, realtime.unit_supervisors_group(unit.pk)) == ["dashboard.unit"]


def test_it_publishes_nothing_for_a_heartbeat_that_changes_nothing(
    anna, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        presence_console_opened(worker=anna, channel_name="console.1", session_key="s")
    published.clear()
    first_seen = Presence.objects.get(user=anna).last_seen

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        presence_touch(worker=anna)

    assert published == []
    assert callbacks == []
    assert Presence.objects.get(user=anna).last_seen >= first_seen


def test_it_announces_again_after_the_console_went_stale(
    anna, published, settings, django_capture_on_commit_callbacks
):
    settings.PRESENCE_GRACE_SECONDS = 5
    set_presence(anna, seen_ago=timedelta(seconds=10))

    with django_capture_on_commit_callbacks(execute=True):
        presence_touch(worker=anna)

    assert "presence.updated" in types_to(published, realtime.worker_group(anna.pk))


def test_it_starts_a_new_worker_available_with_the_smallest_capacity_of_their_units(ekonomi, anna):
    small = make_unit("Familjerätt", "familjeratt", default_capacity=2)
    anna.units.add(small)

    presence = presence_touch(worker=anna)

    # Opening the console is being there to answer; "away" is the worker's own choice.
    assert (presence.status, presence.capacity) == (Presence.Status.AVAILABLE, 2)


def test_it_announces_to_the_units_when_a_closed_console_stays_silent(
    ekonomi, anna, published, settings, django_capture_on_commit_callbacks
):
    settings.PRESENCE_GRACE_SECONDS = 5
    set_presence(anna, seen_ago=timedelta(seconds=10))

    with django_capture_on_commit_callbacks(execute=True):
        presence_check_offline(worker=anna)

    [stats] = [e["unit"] for g, e in published if e["type"] == "dashboard.unit"]
    assert stats["workers"][0]["presence"] == Presence.Shown.OFFLINE


def test_it_says_nothing_when_another_console_is_still_alive(
    anna, published, django_capture_on_commit_callbacks
):
    set_presence(anna)

    with django_capture_on_commit_callbacks(execute=True):
        presence_check_offline(worker=anna)

    assert published == []


# --- status -------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [Presence.Status.AVAILABLE, Presence.Status.AWAY])
def test_it_lets_a_worker_set_their_own_status(anna, status, published):
    presence = presence_set_status(worker=anna, status=status, actor=anna)

    assert Presence.objects.get(user=anna).status == presence.status == status


def test_it_lets_a_supervisor_set_the_status_of_a_worker_of_their_unit(
    anna, sara, published, django_capture_on_commit_callbacks
):
    set_presence(anna, status=Presence.Status.AVAILABLE)

    with django_capture_on_commit_callbacks(execute=True):
        presence_set_status(worker=anna, status="away", actor=sara)

    assert Presence.objects.get(user=anna).status == Presence.Status.AWAY
    assert (
        realtime.worker_group(anna.pk),
        {"type": "presence.updated", "status": "away", "capacity": 3, "chosen_at": mock.ANY},
    ) in published


def test_it_refuses_a_supervisor_of_another_unit(anna, vera, published):
    with pytest.raises(NotAllowed):
        presence_set_status(worker=anna, status="available", actor=vera)

    assert not Presence.objects.filter(user=anna).exists()


def test_it_refuses_a_worker_setting_a_colleagues_status(anna, bengt, published):
    set_presence(bengt, status=Presence.Status.AVAILABLE)

    with pytest.raises(NotAllowed):
        presence_set_status(worker=bengt, status="away", actor=anna)

    assert Presence.objects.get(user=bengt).status == Presence.Status.AVAILABLE


def test_it_refuses_a_former_supervisor(anna, sara, published):
    sara.is_active = False
    sara.save()

    with pytest.raises(NotAllowed):
        presence_set_status(worker=anna, status="available", actor=sara)


@pytest.mark.parametrize("status", ["busy", "offline", "", None, 1, ["available"], "AWAY"])
def test_it_refuses_a_status_a_worker_cannot_choose(anna, sara, status, published):
    """Refused where the console's and the dashboard's frames are read: the service takes
    a Presence.Status."""
    set_presence(anna, status=Presence.Status.AWAY)

    with pytest.raises(InvalidInput, match="`status`"):
        console_presence(anna, {"status": status})
    with pytest.raises(InvalidInput, match="`presence`"):
        dashboard_set_presence(sara, {"worker": anna.pk, "presence": status})

    assert Presence.objects.get(user=anna).status == Presence.Status.AWAY


# --- capacity -----------------------------------------------------------------------------------
@pytest.mark.parametrize("capacity", [1, 5, 10])
def test_it_lets_a_supervisor_set_a_workers_capacity(anna, sara, capacity, published):
    presence = presence_set_capacity(worker=anna, capacity=capacity, actor=sara)

    assert Presence.objects.get(user=anna).capacity == presence.capacity == capacity


def test_it_lets_an_area_manager_set_capacity_in_any_of_their_units(cecilia, gunnar, published):
    presence_set_capacity(worker=cecilia, capacity=4, actor=gunnar)

    assert Presence.objects.get(user=cecilia).capacity == 4


def test_it_refuses_a_worker_setting_their_own_capacity(anna, published):
    set_presence(anna, capacity=3)

    with pytest.raises(NotAllowed):
        presence_set_capacity(worker=anna, capacity=5, actor=anna)

    assert Presence.objects.get(user=anna).capacity == 3


def test_it_refuses_capacity_from_a_supervisor_of_another_unit(anna, vera, published):
    with pytest.raises(NotAllowed):
        presence_set_capacity(worker=anna, capacity=5, actor=vera)


def test_it_refuses_capacity_from_a_colleague(anna, bengt, published):
    with pytest.raises(NotAllowed):
        presence_set_capacity(worker=anna, capacity=5, actor=bengt)


@pytest.mark.parametrize("capacity", [0, 11, -1])
def test_it_refuses_a_capacity_that_is_not_a_whole_number_from_1_to_10(
    anna, sara, capacity, published
):
    set_presence(anna, capacity=3)

    with pytest.raises(InvalidInput, match="`capacity` must be a whole number from 1 to 10"):
        presence_set_capacity(worker=anna, capacity=capacity, actor=sara)

    assert Presence.objects.get(user=anna).capacity == 3


@pytest.mark.parametrize("capacity", [0, 11, -1, "3", 3.0, None, True, [3]], ids=repr)
def test_a_dashboard_frame_sets_capacity_only_to_a_whole_number_from_1_to_10(
    anna, sara, capacity, published
):
    set_presence(anna, capacity=3)

    with pytest.raises(InvalidInput, match="`capacity` must be a whole number from 1 to 10"):
        dashboard_set_capacity(sara, {"worker": anna.pk, "capacity": capacity})

    assert Presence.objects.get(user=anna).capacity == 3


def test_it_announces_a_capacity_change_to_the_worker_and_the_unit(
    ekonomi, anna, sara, published, django_capture_on_commit_callbacks
):
    set_presence(anna, capacity=3)

    with django_capture_on_commit_callbacks(execute=True):
        presence_set_capacity(worker=anna, capacity=6, actor=sara)

    assert (
        realtime.worker_group(anna.pk),
        {"type": "presence.updated", "status": "available", "capacity": 6, "chosen_at": None},
    ) in published
    [stats] = [
        e["unit"]
        for g, e in published
        if g == realtime.unit_supervisors_group(ekonomi.pk) and e["type"] == "dashboard.unit"
    ]
    assert {w["id"]: w["capacity"] for w in stats["workers"]}[anna.pk] == 6


def test_it_makes_nobody_offline_by_a_capacity_change(anna, sara, published):
    presence_set_capacity(worker=anna, capacity=2, actor=sara)

    assert Presence.objects.get(user=anna).last_seen is None
    assert shown(anna) == Presence.Shown.OFFLINE


def test_it_keeps_a_worker_in_two_units_one_presence(ekonomi, vald, published):
    both = make_user("dora", units=[ekonomi, vald])
    set_presence(both, capacity=2)

    assert loads_by_name(ekonomi)["dora"] == loads_by_name(vald)["dora"]
    assert loads_by_name(vald)["dora"] == (Presence.Shown.AVAILABLE, 0, 2)
    assert timezone.now() - Presence.objects.get(user=both).last_seen < timedelta(minutes=1)


# --- the last choice wins ---------------------------------------------------------------------
def test_an_older_choice_that_arrives_later_does_not_undo_a_newer_one(
    anna, published, django_capture_on_commit_callbacks
):
    now = timezone.now()
    presence_set_status(worker=anna, status="away", actor=anna, chosen_at=now)
    published.clear()

    # A tab that was offline sends what the worker chose there a minute earlier.
    with django_capture_on_commit_callbacks(execute=True):
        kept = presence_set_status(
            worker=anna, status="available", actor=anna, chosen_at=now - timedelta(minutes=1)
        )

    assert Presence.objects.get(user=anna).status == Presence.Status.AWAY
    assert kept.status == Presence.Status.AWAY
    # That tab is told what is in force, so it stops showing its stale choice.
    assert [e for g, e in published if g == f"worker.{anna.pk}"] == [
        {
            "type": "presence.updated",
            "status": "away",
            "capacity": kept.capacity,
            "chosen_at": int(now.timestamp() * 1000),
        }
    ]


def test_a_later_choice_wins_over_an_earlier_one(anna):
    now = timezone.now()
    presence_set_status(
        worker=anna, status="away", actor=anna, chosen_at=now - timedelta(seconds=30)
    )
    presence_set_status(worker=anna, status="available", actor=anna, chosen_at=now)

    assert Presence.objects.get(user=anna).status == Presence.Status.AVAILABLE


def test_a_choice_from_a_clock_that_runs_ahead_counts_as_made_now(anna, sara):
    ahead = timezone.now() + timedelta(hours=1)
    presence_set_status(worker=anna, status="away", actor=anna, chosen_at=ahead)

    assert Presence.objects.get(user=anna).status_chosen_at <= timezone.now()
    # ... so a supervisor's choice a moment later still counts.
    presence_set_status(worker=anna, status="available", actor=sara)
    assert Presence.objects.get(user=anna).status == Presence.Status.AVAILABLE
