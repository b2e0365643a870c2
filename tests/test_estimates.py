"""The waiting client's estimate (chat/selectors/queue.py: handling_minutes, queue_estimate,
queue_positions): a range in minutes, or None when there is nothing honest to say."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from accounts.models import Presence
from chat.models import Conversation
from chat.selectors import (
    StaffLoad,
    handling_minutes,
    queue_estimate,
    queue_place_in,
    queue_places,
    queue_position_for,
    queue_positions,
    queue_snapshot,
)
from tests.factories import accept, start_conversation
from tests.queue_personas import finished_conversation, set_presence

pytestmark = pytest.mark.django_db

EIGHT = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]  # q1 = 30, q3 = 70


def own(low: int, high: int) -> dict[str, object]:
    """A range from the unit's own recent conversations."""
    return {"low": low, "high": high, "based_on": "unit"}


def load(user, shown: str, *, active: int = 0, capacity: int = 3) -> StaffLoad:
    return StaffLoad(user=user, shown=shown, active=active, capacity=capacity, idle_since=None)


@pytest.fixture
def samples(settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    return EIGHT


# --- queue_estimate -----------------------------------------------------------------------------
def test_it_falls_back_to_a_typical_conversation_with_too_few_finished(ekonomi, anna, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    settings.QUEUE_TYPICAL_MINUTES = 20
    staff = [load(anna, Presence.Shown.BUSY, active=2, capacity=2)]

    # Half to one and a half of 20 minutes, two places: 5-15 minutes for the first.
    for durations in ([], EIGHT[:4]):
        assert queue_estimate(unit=ekonomi, position=1, staff=staff, durations=durations) == {
            "low": 5,
            "high": 15,
            "based_on": "typical",
            "typical": 20,
        }


def test_it_uses_the_units_own_conversations_from_the_fifth_on(ekonomi, anna, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    settings.QUEUE_TYPICAL_MINUTES = 20
    staff = [load(anna, Presence.Shown.BUSY, active=3, capacity=3)]

    before = queue_estimate(unit=ekonomi, position=1, staff=staff, durations=EIGHT[:4])
    after = queue_estimate(unit=ekonomi, position=1, staff=staff, durations=EIGHT[:5])

    assert before is not None and before["based_on"] == "typical"
    assert after == own(6, 14)  # q1 20 and q3 40 of the five, three places


def test_it_says_nothing_with_too_few_finished_when_the_fallback_is_off(ekonomi, anna, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    settings.QUEUE_TYPICAL_MINUTES = 0
    staff = [load(anna, Presence.Shown.BUSY, active=3, capacity=3)]

    assert queue_estimate(unit=ekonomi, position=1, staff=staff, durations=EIGHT[:4]) is None
    assert queue_estimate(unit=ekonomi, position=1, staff=staff, durations=EIGHT[:5]) is not None


@pytest.mark.parametrize("shown", [Presence.Shown.AWAY, Presence.Shown.OFFLINE])
def test_it_says_nothing_when_nobody_is_serving(ekonomi, anna, bengt, samples, shown):
    staff = [load(anna, shown), load(bengt, Presence.Shown.OFFLINE)]

    assert queue_estimate(unit=ekonomi, position=1, staff=staff, durations=samples) is None


def test_it_says_nothing_for_a_unit_without_staff(ekonomi, samples):
    assert queue_estimate(unit=ekonomi, position=1, staff=[], durations=samples) is None


def test_it_gives_a_range_from_the_quartiles_of_handling_times(ekonomi, anna, samples):
    staff = [load(anna, Presence.Shown.BUSY, active=2, capacity=2)]

    # One place frees up every (handling time / 2) minutes: q1 30 -> 15, q3 70 -> 35.
    assert queue_estimate(unit=ekonomi, position=1, staff=staff, durations=samples) == own(15, 35)
    assert queue_estimate(unit=ekonomi, position=3, staff=staff, durations=samples) == own(45, 105)


def test_it_promises_a_short_wait_to_a_client_within_the_free_places(ekonomi, anna, bengt, samples):
    staff = [
        load(anna, Presence.Shown.AVAILABLE, active=1, capacity=3),  # two free places
        load(bengt, Presence.Shown.BUSY, active=2, capacity=2),
    ]

    for position in (1, 2):
        assert queue_estimate(
            unit=ekonomi, position=position, staff=staff, durations=samples
        ) == own(0, 2)
    third = queue_estimate(unit=ekonomi, position=3, staff=staff, durations=samples)
    assert third == own(6, 14)  # one ahead, five places: 30/5 and 70/5


def test_it_counts_no_free_places_of_a_worker_who_is_away(ekonomi, anna, bengt, samples):
    staff = [
        load(anna, Presence.Shown.AWAY, active=0, capacity=3),
        load(bengt, Presence.Shown.BUSY, active=2, capacity=2),
    ]

    assert queue_estimate(unit=ekonomi, position=1, staff=staff, durations=samples) == own(15, 35)


def test_it_widens_the_range_as_the_position_grows(ekonomi, anna, bengt, samples):
    staff = [
        load(anna, Presence.Shown.BUSY, active=3, capacity=3),
        load(bengt, Presence.Shown.AVAILABLE, active=1, capacity=2),
    ]

    ranges = [
        queue_estimate(unit=ekonomi, position=position, staff=staff, durations=samples)
        for position in range(1, 12)
    ]

    assert ranges[0] == own(0, 2)
    later = ranges[1:]
    assert all(r["low"] < r["high"] for r in later)
    assert all(a["low"] <= b["low"] and a["high"] <= b["high"] for a, b in pairwise(later))
    assert later[-1]["high"] - later[-1]["low"] > later[0]["high"] - later[0]["low"]


def test_it_never_gives_an_empty_range(ekonomi, anna, samples):
    staff = [load(anna, Presence.Shown.BUSY, active=10, capacity=10)]

    estimate = queue_estimate(unit=ekonomi, position=1, staff=staff, durations=[0.5] * 8)

    assert estimate == own(0, 1)


# --- handling_minutes ---------------------------------------------------------------------------
def test_it_measures_handling_from_accept_to_end_shortest_first(ekonomi, anna):
    for minutes in (25, 5, 15):
        finished_conversation(ekonomi, anna, minutes=minutes)

    assert handling_minutes(unit=ekonomi) == [5.0, 15.0, 25.0]


def test_it_only_learns_from_recent_ended_conversations_of_the_unit(
    ekonomi, vald, anna, cecilia, settings
):
    settings.ESTIMATE_DAYS = 14
    now = timezone.now()
    finished_conversation(ekonomi, anna, minutes=10)
    finished_conversation(ekonomi, anna, minutes=20, ended_at=now - timedelta(days=13))
    finished_conversation(ekonomi, anna, minutes=99, ended_at=now - timedelta(days=15))
    finished_conversation(vald, cecilia, minutes=77)
    finished_conversation(ekonomi, anna, minutes=55, state=Conversation.State.ABANDONED)

    assert handling_minutes(unit=ekonomi, at=now) == [10.0, 20.0]


# --- queue_positions: what the client sees ------------------------------------------------------
def test_it_tells_a_waiting_client_their_place_and_a_range(ekonomi, anna, bengt, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    for minutes in EIGHT:
        finished_conversation(ekonomi, anna, minutes=minutes)
    set_presence(anna, capacity=1)
    set_presence(bengt, status=Presence.Status.AWAY)
    accept(anna, start_conversation(ekonomi)[0])  # anna is busy now
    first, _ = start_conversation(ekonomi)
    second, _ = start_conversation(ekonomi)

    entries = queue_positions(unit=ekonomi)

    assert entries == [
        {
            "conversation": first.pk,
            "position": 1,
            "waiting": 2,
            "estimate": own(30, 70),
            "unit_open": True,
            "staff_available": 0,
            "staff_serving": 1,
        },
        {
            "conversation": second.pk,
            "position": 2,
            "waiting": 2,
            "estimate": own(60, 140),
            "unit_open": True,
            "staff_available": 0,
            "staff_serving": 1,
        },
    ]


def test_it_tells_a_client_of_a_learning_unit_the_typical_basis(ekonomi, anna, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    settings.QUEUE_TYPICAL_MINUTES = 30
    for minutes in EIGHT[:4]:
        finished_conversation(ekonomi, anna, minutes=minutes)
    set_presence(anna, capacity=1)
    accept(anna, start_conversation(ekonomi)[0])  # anna is busy now
    start_conversation(ekonomi)

    [entry] = queue_positions(unit=ekonomi)

    assert entry["estimate"] == {"low": 15, "high": 45, "based_on": "typical", "typical": 30}
    assert (entry["staff_available"], entry["staff_serving"]) == (0, 1)


def test_the_announced_basis_carries_what_the_estimate_is_based_on(ekonomi, anna, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    settings.QUEUE_TYPICAL_MINUTES = 20
    set_presence(anna)
    waiting, _ = start_conversation(ekonomi)

    places = queue_places(queue_snapshot(unit=ekonomi))
    assert places["estimate"]["based_on"] == "typical"
    place = queue_place_in(places, conversation_id=waiting.pk)
    assert place is not None and place["estimate"]["based_on"] == "typical"

    for minutes in EIGHT:
        finished_conversation(ekonomi, anna, minutes=minutes)
    places = queue_places(queue_snapshot(unit=ekonomi))
    assert places["estimate"]["based_on"] == "unit"
    position = queue_position_for(conversation=waiting)
    assert position is not None and position["estimate"] == own(0, 2)  # a free place


def test_it_gives_no_estimate_when_everybody_is_away(ekonomi, anna, settings):
    settings.ESTIMATE_MIN_SAMPLES = 5
    for minutes in EIGHT:
        finished_conversation(ekonomi, anna, minutes=minutes)
    set_presence(anna, status=Presence.Status.AWAY)
    start_conversation(ekonomi)

    [entry] = queue_positions(unit=ekonomi)

    assert entry["estimate"] is None
    assert (entry["staff_available"], entry["staff_serving"]) == (0, 0)


def test_it_lists_no_positions_for_an_empty_queue(ekonomi):
    assert queue_positions(unit=ekonomi) == []
