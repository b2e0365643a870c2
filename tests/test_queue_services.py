"""The queue (chat/services/queue.py and the queue parts of conversations.py): order,
capacity, auto-assign, clients who leave, supervisors' actions and the unit's numbers."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ConsoleConnection, Presence
from chat import realtime
from chat.consumers.dashboard import dashboard_move, dashboard_set_priority
from chat.errors import Conflict, InvalidInput, NotFound, NothingWaiting
from chat.models import Conversation, Message
from chat.selectors import queue_positions, token_hash, unit_stats
from chat.services.conversations import (
    conversation_abandon_if_silent,
    conversation_accept,
    conversation_end,
    conversation_move,
    conversation_rejoin,
    conversation_set_priority,
)
from chat.services.presence import (
    presence_console_opened,
    presence_set_capacity,
    presence_set_status,
    presence_touch,
)
from chat.services.queue import queue_dispatch
from chat.services.timed import timed_sweep
from tests.factories import accept, new_case, start_conversation, system_events
from tests.queue_personas import (
    active_of,
    client_silent_for,
    queue_of,
    set_presence,
    stockholm,
    utc,
    waited,
)

# The personas and socket fixtures of tests/queue_personas.py (vera, gunnar, staff_ws, ...).
pytest_plugins = ["tests.queue_personas"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def commit(django_capture_on_commit_callbacks, published):
    """Run a block as if its transaction committed: its broadcasts are recorded in
    `published` and the dispatches it schedules run."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def start(unit, commit) -> Conversation:
    with commit():
        conversation, _token = start_conversation(unit)
    conversation.refresh_from_db()
    return conversation


def open_console(worker) -> None:
    presence_console_opened(worker=worker, channel_name=f"console.{worker.pk}", session_key="s")


def go_available(worker, commit) -> None:
    """The worker opens the console and chooses "available", as in the browser."""
    with commit():
        open_console(worker)
    with commit():
        presence_set_status(worker=worker, status="available", actor=worker)


@pytest.fixture
def auto_ekonomi(ekonomi):
    ekonomi.auto_assign = True
    ekonomi.save()
    return ekonomi


# --- order ------------------------------------------------------------------------------------
def test_it_puts_urgent_conversations_first_then_the_longest_waiting(ekonomi, published):
    old, _ = start_conversation(ekonomi)
    newer, _ = start_conversation(ekonomi)
    newest_urgent, _ = start_conversation(ekonomi)
    oldest_urgent, _ = start_conversation(ekonomi)
    for conversation, seconds in (
        (old, 300),
        (newer, 200),
        (newest_urgent, 10),
        (oldest_urgent, 50),
    ):
        waited(conversation, seconds)
    Conversation.objects.filter(pk__in=[newest_urgent.pk, oldest_urgent.pk]).update(
        priority=Conversation.Priority.URGENT
    )

    assert queue_of(ekonomi) == [oldest_urgent.pk, newest_urgent.pk, old.pk, newer.pk]


def test_it_numbers_positions_from_one_within_the_unit_only(ekonomi, vald, published):
    first, _ = start_conversation(ekonomi)
    elsewhere, _ = start_conversation(vald)
    second, _ = start_conversation(ekonomi)
    third, _ = start_conversation(ekonomi)
    waited(first, 30)
    waited(second, 20)
    waited(third, 10)

    entries = queue_positions(unit=ekonomi)

    assert [(e["conversation"], e["position"], e["waiting"]) for e in entries] == [
        (first.pk, 1, 3),
        (second.pk, 2, 3),
        (third.pk, 3, 3),
    ]
    assert [(e["conversation"], e["position"]) for e in queue_positions(unit=vald)] == [
        (elsewhere.pk, 1)
    ]


def test_it_leaves_accepted_and_ended_conversations_out_of_the_positions(ekonomi, anna, published):
    taken, _ = start_conversation(ekonomi)
    waiting, _ = start_conversation(ekonomi)
    accept(anna, taken)

    assert [(e["conversation"], e["position"]) for e in queue_positions(unit=ekonomi)] == [
        (waiting.pk, 1)
    ]


def test_it_gives_the_next_accept_the_head_of_the_queue(ekonomi, anna, published):
    normal, _ = start_conversation(ekonomi)
    urgent, _ = start_conversation(ekonomi)
    Conversation.objects.filter(pk=urgent.pk).update(priority=Conversation.Priority.URGENT)

    assert conversation_accept(worker=anna).pk == urgent.pk
    assert conversation_accept(worker=anna).pk == normal.pk


# --- capacity ---------------------------------------------------------------------------------
def test_it_refuses_an_accept_at_capacity(ekonomi, anna, published):
    set_presence(anna, capacity=2)
    for _ in range(2):
        conversation_accept(worker=anna, conversation_id=start_conversation(ekonomi)[0].pk)
    third, _ = start_conversation(ekonomi)

    with pytest.raises(Conflict) as error:
        conversation_accept(worker=anna)

    assert error.value.code == "at_capacity"
    third.refresh_from_db()
    assert (third.state, third.worker) == (Conversation.State.QUEUED, None)
    assert system_events(third) == []
    assert len(active_of(anna)) == 2


def test_it_refuses_a_named_conversation_at_capacity(ekonomi, anna, published):
    set_presence(anna, capacity=1)
    accept(anna, start_conversation(ekonomi)[0])
    second, _ = start_conversation(ekonomi)

    with pytest.raises(Conflict) as error:
        accept(anna, second)

    assert error.value.code == "at_capacity"


def test_it_lets_a_worker_accept_again_after_ending_one(ekonomi, anna, published):
    set_presence(anna, capacity=1)
    first, _ = start_conversation(ekonomi)
    second, _ = start_conversation(ekonomi)
    accept(anna, first)
    with pytest.raises(Conflict):
        conversation_accept(worker=anna)

    conversation_end(conversation=first, actor=anna)

    assert conversation_accept(worker=anna).pk == second.pk
    assert active_of(anna) == [second.pk]


def test_it_counts_a_supervisors_own_conversations_against_their_capacity(ekonomi, sara, published):
    set_presence(sara, capacity=1)
    accept(sara, start_conversation(ekonomi)[0])
    start_conversation(ekonomi)

    with pytest.raises(Conflict) as error:
        conversation_accept(worker=sara)

    assert error.value.code == "at_capacity"


def test_it_says_nothing_is_waiting_rather_than_at_capacity(ekonomi, anna, published):
    with pytest.raises(NothingWaiting):
        conversation_accept(worker=anna)


# --- auto-assign ------------------------------------------------------------------------------
def test_it_spreads_clients_evenly_over_available_workers(auto_ekonomi, anna, bengt, commit):
    go_available(anna, commit)
    go_available(bengt, commit)

    conversations = [start(auto_ekonomi, commit) for _ in range(4)]

    assert all(c.state == Conversation.State.ACTIVE for c in conversations)
    assert len(active_of(anna)) == len(active_of(bengt)) == 2
    # With equal loads the one idle longest gets the next client: they alternate.
    workers = [c.worker for c in conversations]
    assert workers[0] != workers[1]
    assert workers[2] == workers[0]
    assert workers[3] == workers[1]
    for conversation in conversations:
        assert system_events(conversation) == [Message.Event.ACCEPTED]


def test_it_gives_the_next_client_to_the_worker_with_fewest_active(
    auto_ekonomi, anna, bengt, commit, published
):
    set_presence(anna, idle_since=timezone.now() - timedelta(hours=3))
    set_presence(bengt, idle_since=timezone.now() - timedelta(minutes=1))
    accept(anna, start_conversation(auto_ekonomi)[0])  # anna has one, bengt none

    conversation = start(auto_ekonomi, commit)

    assert conversation.worker == bengt


def test_it_breaks_a_tie_by_who_has_been_idle_longest(auto_ekonomi, anna, bengt, commit, published):
    set_presence(anna, idle_since=timezone.now() - timedelta(minutes=5))
    set_presence(bengt, idle_since=timezone.now() - timedelta(minutes=50))

    conversation = start(auto_ekonomi, commit)

    assert conversation.worker == bengt
    (told,) = [e for g, e in published if g == realtime.worker_group(bengt.pk)]
    assert (told["type"], told["detail"]) == (
        "conversation.assigned",
        realtime.conversation_payload(conversation),
    )
    assert told["sync"]["conversation"] == conversation.pk  # ready to show, no sync asked


def test_it_never_assigns_above_capacity_and_fills_a_place_that_frees(
    auto_ekonomi, anna, bengt, commit
):
    set_presence(anna, capacity=1)
    set_presence(bengt, capacity=1)

    first, second, third = (start(auto_ekonomi, commit) for _ in range(3))

    assert {first.worker, second.worker} == {anna, bengt}
    assert (third.state, third.worker) == (Conversation.State.QUEUED, None)
    assert queue_of(auto_ekonomi) == [third.pk]

    ender = first.worker
    with commit():
        conversation_end(conversation=first, actor=ender)

    third.refresh_from_db()
    assert (third.state, third.worker) == (Conversation.State.ACTIVE, ender)
    assert len(active_of(anna)) == len(active_of(bengt)) == 1


def test_it_gives_nothing_to_a_worker_who_is_away(auto_ekonomi, anna, bengt, commit):
    go_available(anna, commit)
    with commit():
        open_console(bengt)
        presence_set_status(worker=bengt, status="away", actor=bengt)  # online, but away

    conversations = [start(auto_ekonomi, commit) for _ in range(3)]

    assert {c.worker for c in conversations} == {anna}
    assert active_of(bengt) == []


def test_it_gives_nothing_to_a_worker_whose_console_went_silent(
    auto_ekonomi, anna, bengt, commit, settings
):
    settings.PRESENCE_GRACE_SECONDS = 5
    set_presence(anna, seen_ago=timedelta(seconds=30))  # available, but gone
    set_presence(bengt)

    conversations = [start(auto_ekonomi, commit) for _ in range(2)]

    assert {c.worker for c in conversations} == {bengt}


def test_it_keeps_clients_waiting_when_nobody_is_available(auto_ekonomi, anna, commit):
    set_presence(anna, status=Presence.Status.AWAY)

    conversation = start(auto_ekonomi, commit)

    assert conversation.state == Conversation.State.QUEUED
    assert queue_dispatch(unit_id=auto_ekonomi.pk) == 0


def test_it_assigns_nothing_in_a_unit_without_auto_assign(ekonomi, anna, bengt, commit):
    go_available(anna, commit)
    go_available(bengt, commit)

    conversations = [start(ekonomi, commit) for _ in range(2)]

    assert all(c.state == Conversation.State.QUEUED for c in conversations)
    assert queue_dispatch(unit_id=ekonomi.pk) == 0


def test_it_assigns_waiting_clients_when_a_supervisor_raises_capacity(
    auto_ekonomi, anna, sara, commit
):
    set_presence(anna, capacity=1)
    first, second = start(auto_ekonomi, commit), start(auto_ekonomi, commit)
    assert (first.worker, second.worker) == (anna, None)

    with commit():
        presence_set_capacity(worker=anna, capacity=2, actor=sara)

    second.refresh_from_db()
    assert (second.state, second.worker) == (Conversation.State.ACTIVE, anna)


def test_it_assigns_waiting_clients_when_a_worker_becomes_available(auto_ekonomi, anna, commit):
    set_presence(anna, status=Presence.Status.AWAY)
    waiting = [start(auto_ekonomi, commit) for _ in range(2)]

    with commit():
        presence_set_status(worker=anna, status="available", actor=anna)

    assert active_of(anna) == [c.pk for c in waiting]


def test_it_assigns_waiting_clients_when_a_worker_comes_back_online(
    auto_ekonomi, anna, commit, settings
):
    settings.PRESENCE_GRACE_SECONDS = 5
    set_presence(anna, seen_ago=timedelta(minutes=5))
    waiting = start(auto_ekonomi, commit)

    with commit():
        presence_touch(worker=anna)

    waiting.refresh_from_db()
    assert waiting.worker == anna


def test_it_counts_conversations_of_all_units_against_capacity(
    auto_ekonomi, vald, anna, commit, published
):
    anna.units.add(vald)
    set_presence(anna, capacity=2)
    accept(anna, start_conversation(vald)[0])
    accept(anna, start_conversation(vald)[0])

    conversation = start(auto_ekonomi, commit)

    assert conversation.state == Conversation.State.QUEUED


def test_it_hands_out_waiting_clients_in_queue_order(auto_ekonomi, anna, commit, published):
    set_presence(anna, status=Presence.Status.AWAY)
    normal, _ = start_conversation(auto_ekonomi)
    urgent, _ = start_conversation(auto_ekonomi)
    Conversation.objects.filter(pk=urgent.pk).update(priority=Conversation.Priority.URGENT)
    set_presence(anna, capacity=1)

    assert queue_dispatch(unit_id=auto_ekonomi.pk) == 1

    assert active_of(anna) == [urgent.pk]
    assert queue_of(auto_ekonomi) == [normal.pk]


# --- clients who leave ------------------------------------------------------------------------
def test_it_lets_a_silent_waiting_client_leave_the_queue(ekonomi, settings, commit, published):
    settings.QUEUE_GRACE_SECONDS = 30
    conversation = start(ekonomi, commit)
    client_silent_for(conversation, 31)

    with commit():
        left = conversation_abandon_if_silent(conversation_id=conversation.pk)

    assert left is True
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ABANDONED
    # Given up by the system, not the client's own choice (so a rejoin may restore it).
    assert conversation.ended_by == Conversation.EndedBy.SYSTEM
    assert conversation.ended_at is not None
    assert system_events(conversation) == [Message.Event.ABANDONED]
    assert queue_of(ekonomi) == []
    staff_queues = [
        e["waiting"] for g, e in published if g == realtime.unit_staff_group(ekonomi.pk)
    ]
    assert staff_queues[-1] == []


def test_it_keeps_the_place_of_a_client_heard_within_the_grace(ekonomi, settings, commit):
    settings.QUEUE_GRACE_SECONDS = 30
    conversation = start(ekonomi, commit)
    client_silent_for(conversation, 10)

    assert conversation_abandon_if_silent(conversation_id=conversation.pk) is False

    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.QUEUED
    assert system_events(conversation) == []


def test_it_never_abandons_an_active_conversation(ekonomi, anna, settings, published):
    settings.QUEUE_GRACE_SECONDS = 30
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)
    client_silent_for(conversation, 3600)

    assert conversation_abandon_if_silent(conversation_id=conversation.pk) is False

    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE


def test_it_ignores_a_conversation_that_does_not_exist(published):
    assert conversation_abandon_if_silent(conversation_id=987654) is False


def test_it_gives_a_client_back_their_place_when_they_return_within_the_rejoin_window(
    ekonomi, settings, commit
):
    settings.QUEUE_GRACE_SECONDS = 30
    settings.QUEUE_REJOIN_SECONDS = 600
    returning, later = start(ekonomi, commit), start(ekonomi, commit)
    waited(returning, 300)
    waited(later, 100)
    client_silent_for(returning, 120)
    conversation_abandon_if_silent(conversation_id=returning.pk)
    queued_at = Conversation.objects.get(pk=returning.pk).queued_at

    with commit():
        assert conversation_rejoin(conversation=returning) is True

    returning.refresh_from_db()
    assert (returning.state, returning.ended_by, returning.ended_at) == (
        Conversation.State.QUEUED,
        "",
        None,
    )
    assert returning.queued_at == queued_at
    assert queue_of(ekonomi) == [returning.pk, later.pk]
    assert system_events(returning) == [Message.Event.ABANDONED, Message.Event.REJOINED]


def test_it_does_not_rejoin_a_client_after_the_rejoin_window(ekonomi, settings, published):
    settings.QUEUE_REJOIN_SECONDS = 600
    conversation, _ = start_conversation(ekonomi)
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.ABANDONED,
        ended_by=Conversation.EndedBy.SYSTEM,
        ended_at=timezone.now() - timedelta(seconds=601),
    )

    assert conversation_rejoin(conversation=conversation) is False
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ABANDONED


def test_it_does_not_rejoin_a_client_who_left_the_queue_themselves(ekonomi, published):
    conversation, _ = start_conversation(ekonomi)
    conversation_end(conversation=conversation, actor=None)

    assert conversation_rejoin(conversation=conversation) is False
    conversation.refresh_from_db()
    assert (conversation.state, conversation.ended_by) == (
        Conversation.State.ABANDONED,
        Conversation.EndedBy.CLIENT,
    )


def test_it_sweeps_every_silent_waiting_client_and_counts_them(
    ekonomi, vald, anna, settings, commit
):
    settings.QUEUE_GRACE_SECONDS = 30
    gone_a, gone_b, here, taken = (
        start(ekonomi, commit),
        start(vald, commit),
        start(ekonomi, commit),
        start(ekonomi, commit),
    )
    with commit():
        accept(anna, taken)
    for conversation in (gone_a, gone_b, taken):
        client_silent_for(conversation, 120)
    client_silent_for(here, 5)

    with commit():
        assert timed_sweep() == 2

    states = dict(Conversation.objects.values_list("pk", "state"))
    assert states == {
        gone_a.pk: Conversation.State.ABANDONED,
        gone_b.pk: Conversation.State.ABANDONED,
        here.pk: Conversation.State.QUEUED,
        taken.pk: Conversation.State.ACTIVE,
    }
    with commit():
        assert timed_sweep() == 0


def test_it_refreshes_every_units_numbers_on_a_sweep(ekonomi, vald, commit, published):
    with commit():
        timed_sweep()

    supervisors = {g for g, e in published if e["type"] == "dashboard.unit"}
    assert supervisors == {
        realtime.unit_supervisors_group(ekonomi.pk),
        realtime.unit_supervisors_group(vald.pk),
    }


def test_it_sweeps_from_the_management_command(ekonomi, settings, commit):
    settings.QUEUE_GRACE_SECONDS = 30
    gone = start(ekonomi, commit)
    client_silent_for(gone, 120)
    out = StringIO()

    with commit():
        call_command("sweep", stdout=out)

    assert out.getvalue().strip() == "1 waiting client(s) had left the queue"
    gone.refresh_from_db()
    assert gone.state == Conversation.State.ABANDONED

    quiet = StringIO()
    with commit():
        call_command("sweep", stdout=quiet)
    assert quiet.getvalue() == ""


# --- supervisors: priority --------------------------------------------------------------------
def test_it_moves_an_urgent_conversation_to_the_front(ekonomi, sara, commit, published):
    first, second, third = (start(ekonomi, commit) for _ in range(3))
    for conversation, seconds in ((first, 30), (second, 20), (third, 10)):
        waited(conversation, seconds)

    with commit():
        conversation_set_priority(conversation_id=third.pk, priority=1, actor=sara)

    assert queue_of(ekonomi) == [third.pk, first.pk, second.pk]
    positions = [
        e["waiting"]
        for g, e in published
        if g == realtime.unit_staff_group(ekonomi.pk) and e["type"] == "queue.updated"
    ][-1]
    assert [c["id"] for c in positions] == [third.pk, first.pk, second.pk]
    assert positions[0]["priority"] == Conversation.Priority.URGENT

    conversation_set_priority(conversation_id=third.pk, priority=0, actor=sara)
    assert queue_of(ekonomi) == [first.pk, second.pk, third.pk]


@pytest.mark.parametrize("priority", [2, -1, "1", None, True, [1], 1.0])
def test_it_refuses_a_priority_that_is_neither_normal_nor_urgent(
    ekonomi, sara, priority, published
):
    """Refused where the dashboard's frame is read: the service takes a Priority."""
    conversation, _ = start_conversation(ekonomi)
    frame = {"conversation": conversation.pk, "priority": priority}

    with pytest.raises(InvalidInput, match="`priority`"):
        dashboard_set_priority(sara, frame)

    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL


def test_it_hides_another_units_conversation_from_a_supervisor(ekonomi, vera, published):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(NotFound):
        conversation_set_priority(conversation_id=conversation.pk, priority=1, actor=vera)

    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL


def test_it_gives_a_worker_no_supervisor_actions(ekonomi, vald, anna, published):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(NotFound):
        conversation_set_priority(conversation_id=conversation.pk, priority=1, actor=anna)
    with pytest.raises(NotFound):
        conversation_move(conversation_id=conversation.pk, unit_id=vald.pk, actor=anna)


def test_it_cannot_prioritise_a_conversation_that_is_no_longer_waiting(
    ekonomi, anna, sara, published
):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)

    with pytest.raises(Conflict):
        conversation_set_priority(conversation_id=conversation.pk, priority=1, actor=sara)


# --- supervisors: move ------------------------------------------------------------------------
def test_it_moves_a_waiting_conversation_keeping_its_waiting_time(
    ekonomi, vald, gunnar, commit, published
):
    moving = start(ekonomi, commit)
    already_there = start(vald, commit)
    waited(moving, 600)
    waited(already_there, 60)
    queued_at = Conversation.objects.get(pk=moving.pk).queued_at

    with commit():
        conversation_move(conversation_id=moving.pk, unit_id=vald.pk, actor=gunnar)

    moving.refresh_from_db()
    assert moving.unit == vald
    assert moving.queued_at == queued_at
    assert moving.state == Conversation.State.QUEUED
    assert queue_of(vald) == [moving.pk, already_there.pk]  # it waited longer
    assert queue_of(ekonomi) == []
    moved = moving.messages.get(event=Message.Event.MOVED)
    assert (moved.sender, moved.author, moved.seq) == (Message.Sender.SYSTEM, gunnar, 2)
    staff_queues = {
        g: [c["id"] for c in e["waiting"]] for g, e in published if e["type"] == "queue.updated"
    }
    assert staff_queues[realtime.unit_staff_group(ekonomi.pk)] == []
    assert staff_queues[realtime.unit_staff_group(vald.pk)] == [moving.pk, already_there.pk]


def test_it_moves_nothing_to_the_unit_it_is_already_in(ekonomi, gunnar, published):
    conversation, _ = start_conversation(ekonomi)

    conversation_move(conversation_id=conversation.pk, unit_id=ekonomi.pk, actor=gunnar)

    assert system_events(conversation) == []


def test_it_refuses_a_move_to_a_unit_the_supervisor_does_not_supervise(
    ekonomi, vald, sara, published
):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(NotFound):
        conversation_move(conversation_id=conversation.pk, unit_id=vald.pk, actor=sara)

    conversation.refresh_from_db()
    assert conversation.unit == ekonomi
    assert system_events(conversation) == []


def test_it_refuses_a_move_by_a_supervisor_of_another_unit(ekonomi, vald, vera, published):
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(NotFound):
        conversation_move(conversation_id=conversation.pk, unit_id=vald.pk, actor=vera)

    conversation.refresh_from_db()
    assert conversation.unit == ekonomi


def test_it_cannot_move_an_active_conversation(ekonomi, vald, anna, gunnar, published):
    conversation, _ = start_conversation(ekonomi)
    accept(anna, conversation)

    with pytest.raises(Conflict):
        conversation_move(conversation_id=conversation.pk, unit_id=vald.pk, actor=gunnar)

    conversation.refresh_from_db()
    assert (conversation.unit, conversation.worker) == (ekonomi, anna)


@pytest.mark.parametrize("unit_id", [None, "2", True, 2.0])
def test_it_refuses_a_unit_that_is_not_an_id(ekonomi, gunnar, unit_id, published):
    """Refused where the dashboard's frame is read: the service takes an id."""
    conversation, _ = start_conversation(ekonomi)

    with pytest.raises(InvalidInput, match="`unit`"):
        dashboard_move(gunnar, {"conversation": conversation.pk, "unit": unit_id})

    conversation.refresh_from_db()
    assert conversation.unit == ekonomi


def test_it_auto_assigns_a_conversation_moved_into_an_auto_assign_unit(
    ekonomi, vald, cecilia, gunnar, commit
):
    vald.auto_assign = True
    vald.save()
    set_presence(cecilia)
    moving = start(ekonomi, commit)

    with commit():
        conversation_move(conversation_id=moving.pk, unit_id=vald.pk, actor=gunnar)

    moving.refresh_from_db()
    assert (moving.state, moving.worker) == (Conversation.State.ACTIVE, cecilia)
    assert system_events(moving) == [Message.Event.MOVED, Message.Event.ACCEPTED]


# --- the unit's numbers -----------------------------------------------------------------------
AT = stockholm(2025, 6, 2, 12, 0)  # Monday noon


def conversation_at(unit, *, created, state=Conversation.State.QUEUED, worker=None, **times):
    """A conversation with every timestamp given in seconds before AT."""
    conversation = Conversation.objects.create(
        unit=unit,
        case=new_case(unit),
        state=state,
        worker=worker,
        token_hash=token_hash(secrets.token_urlsafe(32)),
        queued_at=AT - timedelta(seconds=times.pop("queued")),
        **{name: AT - timedelta(seconds=value) for name, value in times.items()},
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=AT - timedelta(seconds=created)
    )
    return conversation


@pytest.fixture
def busy_monday(ekonomi, vald, anna, bengt, sara):
    """Ekonomiskt bistånd at noon: two waiting, two being served, one done, one gone."""
    Presence.objects.create(user=anna, status="available", capacity=3, last_seen=AT)
    Presence.objects.create(user=bengt, status="away", capacity=2, last_seen=AT)
    for worker in (anna, bengt):  # both have a console open
        ConsoleConnection.objects.create(user=worker, channel_name=f"c.{worker.pk}")
    yesterday = 24 * 3600
    active, ended, abandoned = (
        Conversation.State.ACTIVE,
        Conversation.State.ENDED,
        Conversation.State.ABANDONED,
    )
    return {
        "waiting": [
            conversation_at(ekonomi, created=600, queued=600),
            conversation_at(ekonomi, created=120, queued=120),
        ],
        "served": [
            # waited 60 s and 180 s
            conversation_at(
                ekonomi, created=900, queued=900, accepted_at=840, state=active, worker=anna
            ),
            conversation_at(
                ekonomi, created=400, queued=400, accepted_at=220, state=active, worker=bengt
            ),
            # waited 300 s, then finished
            conversation_at(
                ekonomi,
                created=3600,
                queued=3600,
                accepted_at=3300,
                ended_at=1800,
                state=ended,
                worker=anna,
            ),
        ],
        "abandoned": conversation_at(
            ekonomi, created=1000, queued=1000, ended_at=700, state=abandoned
        ),
        "not_today": [
            conversation_at(
                ekonomi,
                created=yesterday + 9000,
                queued=yesterday + 9000,
                accepted_at=yesterday,
                ended_at=yesterday - 600,
                state=ended,
                worker=bengt,
            ),
            conversation_at(
                ekonomi, created=yesterday, queued=yesterday, ended_at=yesterday, state=abandoned
            ),
        ],
        "elsewhere": conversation_at(vald, created=5000, queued=5000),
    }


def pick(row: dict, *keys: str) -> dict:
    """The fields a test is about: the dashboard may carry more."""
    return {key: row[key] for key in keys}


def test_it_sums_up_a_unit_for_the_dashboard(ekonomi, anna, bengt, sara, busy_monday):
    stats = unit_stats(unit=ekonomi, at=AT)

    first, second = busy_monday["waiting"]
    assert pick(
        stats,
        "id",
        "name",
        "is_open",
        "hours_today",
        "auto_assign",
        "waiting_count",
        "longest_wait_seconds",
        "average_wait_today_seconds",
        "abandoned_today",
        "active_count",
    ) == {
        "id": ekonomi.pk,
        "name": "Ekonomiskt bistånd",
        "is_open": True,
        "hours_today": "00:00–24:00",
        "auto_assign": False,
        "waiting_count": 2,
        "longest_wait_seconds": 600,
        "average_wait_today_seconds": 180,  # (60 + 180 + 300) / 3
        "abandoned_today": 1,
        "active_count": 2,
    }
    assert [pick(w, "id", "name", "presence", "active", "capacity") for w in stats["workers"]] == [
        {"id": anna.pk, "name": "Anna", "presence": "available", "active": 1, "capacity": 3},
        {"id": bengt.pk, "name": "Bengt", "presence": "away", "active": 1, "capacity": 2},
        {
            "id": sara.pk,
            "name": "Sara",
            "presence": "offline",
            "active": 0,
            "capacity": ekonomi.default_capacity,
        },
    ]
    assert [
        {
            **pick(entry, "id", "priority", "position"),
            "queued_at": datetime.fromisoformat(entry["queued_at"]),
        }
        for entry in stats["waiting"]
    ] == [
        {"id": first.pk, "priority": 0, "queued_at": AT - timedelta(seconds=600), "position": 1},
        {"id": second.pk, "priority": 0, "queued_at": AT - timedelta(seconds=120), "position": 2},
    ]


def test_it_makes_the_units_numbers_plain_json(ekonomi, busy_monday):
    stats = unit_stats(unit=ekonomi, at=AT)

    assert json.loads(json.dumps(stats)) == stats


@pytest.mark.parametrize(
    ("noon", "midnight"),
    [
        (utc(2025, 3, 30, 10, 0), utc(2025, 3, 29, 23, 0)),  # clocks forward: 00:00 is UTC+1
        (utc(2025, 10, 26, 11, 0), utc(2025, 10, 25, 22, 0)),  # clocks back: 00:00 is UTC+2
    ],
)
def test_it_starts_today_at_stockholm_midnight_on_the_days_the_clocks_change(
    ekonomi, noon, midnight
):
    def gone(created: datetime) -> None:
        conversation = Conversation.objects.create(
            unit=ekonomi,
            case=new_case(ekonomi),
            state=Conversation.State.ABANDONED,
            token_hash=token_hash(secrets.token_urlsafe(32)),
            queued_at=created,
            ended_at=created,
        )
        Conversation.objects.filter(pk=conversation.pk).update(created_at=created)

    gone(midnight - timedelta(minutes=1))  # yesterday, by a minute
    gone(midnight)
    gone(midnight + timedelta(minutes=1))

    assert unit_stats(unit=ekonomi, at=noon)["abandoned_today"] == 2


def test_it_shows_an_empty_unit_with_no_waits(vald, busy_monday):
    Conversation.objects.filter(unit=vald).delete()

    stats = unit_stats(unit=vald, at=AT)

    assert stats["waiting_count"] == 0
    assert stats["longest_wait_seconds"] is None
    assert stats["average_wait_today_seconds"] is None
    assert stats["abandoned_today"] == stats["active_count"] == 0


def test_it_reports_the_longest_wait_even_when_an_urgent_client_is_first(ekonomi, busy_monday):
    urgent = conversation_at(ekonomi, created=30, queued=30)
    Conversation.objects.filter(pk=urgent.pk).update(priority=Conversation.Priority.URGENT)

    stats = unit_stats(unit=ekonomi, at=AT)

    assert stats["waiting"][0]["id"] == urgent.pk
    assert stats["longest_wait_seconds"] == 600
