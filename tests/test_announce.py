"""Queue announcements (chat/announce.py): one event per change for all of a unit's waiting
clients, coalesced per process, each client's socket sending its own place only when it
changed. The coalescer runs on a fake clock; nothing here sleeps."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import announce, realtime, selectors
from chat.announce import Coalescer
from chat.services.conversations import conversation_accept, conversation_move
from tests.factories import (
    client_start,
    frames_until,
    next_frame,
    receive_type,
    settle,
    start_conversation,
    waiting_client,
)

# The personas and socket fixtures of tests/queue_personas.py (vera, gunnar, staff_ws, ...).
pytest_plugins = ["tests.queue_personas"]

accept_next = database_sync_to_async(conversation_accept)
move = database_sync_to_async(conversation_move)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def positions(frames: list[dict]) -> list[tuple[int, int]]:
    return [(f["conversation"], f["position"]) for f in frames if f["type"] == "queue.position"]


# --- the coalescer --------------------------------------------------------------------------
def test_the_first_change_after_a_quiet_spell_goes_at_once():
    coalescer = Coalescer(0.25, clock=FakeClock())
    assert coalescer.wait() is None  # nothing marked

    coalescer.mark(7)

    assert coalescer.wait() == 0
    assert coalescer.take() == [7]
    assert coalescer.wait() is None


def test_a_burst_of_changes_is_announced_once_per_interval():
    clock = FakeClock()
    coalescer = Coalescer(0.25, clock=clock)
    coalescer.mark(7)
    assert coalescer.take() == [7]

    for step in range(100):  # a hundred starts within a tenth of a second, in two units
        clock.now += 0.001
        coalescer.mark(7 if step % 3 else 9)

    assert coalescer.wait() == pytest.approx(0.15)
    clock.now = 1000.25  # the interval since the last announcement has passed
    assert coalescer.wait() == 0
    assert coalescer.take() == [7, 9]  # one announcement each for the whole burst
    assert coalescer.wait() is None


def test_a_change_after_the_interval_waits_for_nothing():
    clock = FakeClock()
    coalescer = Coalescer(0.25, clock=clock)
    coalescer.mark(7)
    coalescer.take()

    clock.now += 10
    coalescer.mark(7)

    assert coalescer.wait() == 0


# --- one event for every waiting client -----------------------------------------------------
def test_a_place_is_read_from_the_order_without_mixing_up_ids():
    places = {
        "order": ",12,1,112,",
        "waiting": 3,
        "estimate": {"capacity": 2, "free": 0, "q1": 10.0, "q3": 20.0},
        "unit_open": True,
        "staff_available": 1,
        "staff_serving": 2,
    }

    assert selectors.queue_place_in(places, conversation_id=1) == {
        "conversation": 1,
        "position": 2,
        "waiting": 3,
        "estimate": {"low": 10, "high": 20, "based_on": "unit"},
        "unit_open": True,
        "staff_available": 1,
        "staff_serving": 2,
    }
    assert selectors.queue_place_in(places, conversation_id=112)["position"] == 3
    assert selectors.queue_place_in(places, conversation_id=2) is None
    assert selectors.queue_place_in(places, conversation_id=11) is None


def test_someone_queueing_at_the_back_changes_nobodys_place():
    before = {
        "order": ",3,5,",
        "waiting": 2,
        "estimate": None,
        "unit_open": True,
        "staff_available": 1,
        "staff_serving": 1,
    }

    assert selectors.queue_places_unchanged(before, {**before, "order": ",3,5,8,", "waiting": 3})
    assert selectors.queue_places_unchanged(before, {**before, "order": ",3,", "waiting": 1})
    assert not selectors.queue_places_unchanged(before, {**before, "order": ",5,", "waiting": 1})
    assert not selectors.queue_places_unchanged(before, {**before, "order": ",8,3,5,"})
    assert not selectors.queue_places_unchanged(before, {**before, "staff_available": 0})
    assert not selectors.queue_places_unchanged(
        before, {**before, "estimate": {"capacity": 3, "free": 0, "q1": 5.0, "q3": 9.0}}
    )


@pytest.mark.django_db
def test_a_change_is_three_events_however_many_wait(
    ekonomi, anna, published, django_capture_on_commit_callbacks
):
    waiting = [start_conversation(ekonomi)[0] for _ in range(4)]
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        conversation_accept(worker=anna)

    queue_news = [(g, e) for g, e in published if e["type"] != "conversation.message"]
    queue_news = [(g, e) for g, e in queue_news if e["type"] != "conversation.assigned"]
    assert [(g, e["type"]) for g, e in queue_news] == [
        (realtime.unit_staff_group(ekonomi.pk), "queue.updated"),
        (realtime.unit_waiting_group(ekonomi.pk), "queue.places"),
        (realtime.unit_supervisors_group(ekonomi.pk), "dashboard.unit"),
    ]
    places = queue_news[1][1]
    assert places["order"] == "," + "".join(f"{c.pk}," for c in waiting[1:])
    assert [
        selectors.queue_place_in(places, conversation_id=c.pk)["position"] for c in waiting[1:]
    ] == [1, 2, 3]
    assert not [e for _g, e in published if e["type"] == "queue.position"]


@pytest.mark.django_db
def test_an_announcement_reads_the_same_statements_for_few_or_many_waiting(ekonomi, anna):
    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            announce.announcements([ekonomi.pk])
        return len(queries)

    for _ in range(2):
        start_conversation(ekonomi)
    few = statements()
    for _ in range(20):
        start_conversation(ekonomi)

    assert statements() == few


@pytest.mark.django_db
def test_a_place_read_alone_matches_the_whole_queue(ekonomi, anna):
    from tests.queue_personas import set_presence

    set_presence(anna)
    conversations = [start_conversation(ekonomi)[0] for _ in range(4)]
    conversations[2].priority = 1  # urgent: goes first
    conversations[2].save(update_fields=["priority"])
    conversations[3].transferred = True  # handed over: ahead of normal priority
    conversations[3].save(update_fields=["transferred"])

    whole = {e["conversation"]: e for e in selectors.queue_positions(unit=ekonomi)}

    for conversation in conversations:
        conversation.refresh_from_db()
        assert selectors.queue_position_for(conversation=conversation) == whole[conversation.pk]
    assert [whole[c.pk]["position"] for c in conversations] == [3, 4, 1, 2]


# --- over websockets ------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_burst_of_accepts_reaches_each_waiting_client_as_one_new_place(
    ws, ekonomi, anna, monkeypatch, settings
):
    settings.QUEUE_ANNOUNCE_MS = 250  # coalesced, as in production
    monkeypatch.setattr(announce, "monotonic", FakeClock())  # nothing goes by itself
    clients = [await waiting_client(ws, ekonomi) for _ in range(5)]
    news = announce.announcer()
    await news.flush_now()  # what the starts marked
    for client, _conversation_id in clients:
        await settle(client)
    reads = news.reads

    for _ in range(3):
        await accept_next(worker=anna)

    # The clock stands still: the announcement waits, so the waiting clients heard nothing.
    for client, _conversation_id in clients[3:]:
        assert positions(await settle(client)) == []
    await news.flush_now()

    assert news.reads == reads + 1  # three accepts, one read
    for place, (client, conversation_id) in enumerate(clients[3:], start=1):
        assert positions(await settle(client)) == [(conversation_id, place)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_moved_client_hears_the_places_of_their_new_queue(
    ws, ekonomi, vald, gunnar, anna, cecilia
):
    ahead, _ahead_id = await waiting_client(ws, vald)
    mover, mover_id = await waiting_client(ws, ekonomi)
    stays, stays_id = await waiting_client(ws, ekonomi)
    news = announce.announcer()

    await move(conversation_id=mover_id, unit_id=vald.pk, actor=gunnar)

    moved = (await frames_until(mover, "queue.position", conversation=mover_id))[-1]
    assert (moved["position"], moved["waiting"]) == (2, 2)
    await news.flush_now()
    assert positions(await settle(stays)) == [(stays_id, 1)]
    assert positions(await settle(ahead)) == []  # nothing it shows changed

    await accept_next(worker=cecilia)  # the client ahead in vald
    await news.flush_now()
    assert positions(await settle(mover)) == [(mover_id, 1)]

    await accept_next(worker=anna)  # in ekonomi: no news to the mover any more
    await news.flush_now()
    assert positions(await settle(mover)) == []
    joined = await next_frame(stays, "conversation.message", state="active")
    assert joined["message"]["event"] == "accepted"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_client_never_hears_another_clients_conversation_id(ws, ekonomi, anna):
    first = await ws.client()
    first_sync, _ = await client_start(first, ekonomi)
    await receive_type(first, "queue.position")
    second, second_id = await waiting_client(ws, ekonomi)
    news = announce.announcer()

    await accept_next(worker=anna)
    await news.flush_now()

    frames = await settle(second)
    assert positions(frames) == [(second_id, 1)]
    [place] = [f for f in frames if f["type"] == "queue.position"]
    assert set(place) == {
        "type",
        "conversation",
        "position",
        "waiting",
        "estimate",
        "unit_open",
        "staff_available",
        "staff_serving",
    }
    assert first_sync["conversation"] != second_id
    assert all(f["type"] != "queue.places" for f in frames)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_socket_sends_its_place_only_when_what_the_page_shows_changed(ws, ekonomi):
    client, conversation_id = await waiting_client(ws, ekonomi)
    places = {
        "order": f",{conversation_id},",
        "waiting": 1,
        "estimate": None,
        "unit_open": True,
        "staff_available": 0,
        "staff_serving": 0,
    }
    group = realtime.unit_waiting_group(ekonomi.pk)

    await realtime.relay(group, realtime.queue_places_event(ekonomi.pk, places))
    await realtime.relay(
        group, realtime.queue_places_event(ekonomi.pk, {**places, "order": ",1,2,3,"})
    )
    assert positions(await settle(client)) == []  # the same place; and not in that list

    basis = {"capacity": 2, "free": 0, "q1": 10.0, "q3": 20.0}
    await realtime.relay(
        group, realtime.queue_places_event(ekonomi.pk, {**places, "estimate": basis})
    )
    [frame] = [f for f in await settle(client) if f["type"] == "queue.position"]
    assert (frame["position"], frame["estimate"]) == (1, {"low": 5, "high": 10, "based_on": "unit"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_start_at_the_back_wakes_no_waiting_client_but_an_accept_does(
    ws, ekonomi, anna, monkeypatch
):
    sent: list[tuple[str, str]] = []
    relay = realtime.relay

    async def recording(group: str, event: dict) -> None:
        sent.append((group, event["type"]))
        await relay(group, event)

    monkeypatch.setattr(realtime, "relay", recording)
    places = (realtime.unit_waiting_group(ekonomi.pk), "queue.places")
    staff = (realtime.unit_staff_group(ekonomi.pk), "queue.updated")
    await waiting_client(ws, ekonomi)
    news = announce.announcer()
    await news.flush_now()
    assert places in sent
    sent.clear()

    await waiting_client(ws, ekonomi)
    await news.flush_now()
    assert staff in sent
    assert places not in sent

    await accept_next(worker=anna)
    await news.flush_now()
    assert places in sent
