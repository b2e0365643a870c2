"""Queue announcements (chat/announce.py): one event per change for all of a unit's waiting
clients, coalesced per process, each client's socket sending its own place only when it
changed. The coalescer runs on a fake clock; nothing here sleeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import announce, realtime, selectors
from chat.announce import Coalescer
from chat.models import Conversation
from chat.services.conversations import conversation_accept, conversation_move
from tests import factories
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


def test_only_this_processs_own_starts_may_be_new_at_the_back_unannounced():
    """Two processes' starts can race: ours may land ahead of a client who joined through
    the other process and read their place before ours existed. Both are new at the back
    of our next read, but only our own joiner's place is known to be right."""
    loop = asyncio.new_event_loop()
    try:
        news = announce.Announcer(loop, every=0.25)
        news.coalescer.clock = FakeClock()
        places = {
            "type": "queue.places",
            "unit": 7,
            "order": ",3,5,",
            "waiting": 2,
            "estimate": None,
            "unit_open": True,
            "staff_available": 1,
            "staff_serving": 1,
        }
        assert news.places_news(places)  # the first read of a unit always goes out

        news.joins_seen[7] = {8}
        assert not news.places_news({**places, "order": ",3,5,8,", "waiting": 3})

        news.joins_seen[7] = {9}  # ours; 4 started through the other process
        assert news.places_news({**places, "order": ",3,5,8,9,4,", "waiting": 5})
        assert not news.places_news({**places, "order": ",3,5,8,9,4,"})  # nothing new
    finally:
        loop.close()


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


# --- joins at the back: announced without reading the whole queue ---------------------------
# A start marks its unit with the conversation that joined (`Announcer.mark(joined=...)`).
# When the joins are all that changed and they wait at the very back, nobody else's place
# moved: the announcement reads the head and the counts only and sends no `queue.places`.
# Whatever else happened, the whole queue is read. The tests below would fail if the cheap
# read trusted the mark instead of checking where the joins stand.
def whole_places(unit) -> dict[int, int]:
    """Every waiting conversation's place, from the whole queue."""
    return {p["conversation"]: p["position"] for p in selectors.queue_positions(unit=unit)}


def started_urgent(unit) -> int:
    """A start the risk rules lift to the front in its own transaction: announced as a
    join (the risk rules' own announcement is left out here, so the check must catch it)."""
    with transaction.atomic():
        conversation, _token = start_conversation(unit)
        conversation.priority = Conversation.Priority.URGENT
        conversation.save(update_fields=["priority"])
    return conversation.pk


def started_ahead_of(unit, behind: int) -> int:
    """A start that committed after `behind`'s but queued earlier (two processes starting
    at once): it lands ahead of `behind`, though it is announced as a join."""
    conversation, _token = start_conversation(unit)
    earlier = Conversation.objects.get(pk=behind).queued_at - timedelta(microseconds=1)
    Conversation.objects.filter(pk=conversation.pk).update(queued_at=earlier)
    return conversation.pk


@pytest.mark.django_db
def test_a_join_at_the_back_is_announced_as_the_whole_queue_would_be(ekonomi, anna, settings):
    settings.CONSOLE_QUEUE_ROWS = 3  # the joins land behind the rows staff see
    waiting = [start_conversation(ekonomi)[0] for _ in range(4)]
    waiting[3].priority = Conversation.Priority.URGENT  # first, and shown
    waiting[3].save(update_fields=["priority"])
    waiting[2].transferred = True  # handed over: ahead of normal priority
    waiting[2].save(update_fields=["transferred"])
    joined = {start_conversation(ekonomi)[0].pk, start_conversation(ekonomi)[0].pk}
    at = timezone.now()

    state = selectors.queue_state_after_joins(unit=ekonomi, joined=joined, at=at)
    whole = selectors.queue_snapshot(unit=ekonomi, at=at)

    assert state is not None
    assert state.head == whole.head
    assert (state.head.total, len(state.head.rows)) == (6, 3)
    assert selectors.unit_stats(unit=ekonomi, snapshot=state) == selectors.unit_stats(
        unit=ekonomi, snapshot=whole
    )
    cheap = announce.announcements([ekonomi.pk], joined={ekonomi.pk: joined})
    full = dict(announce.announcements([ekonomi.pk]))
    assert [g for g, _e in cheap] == [
        realtime.unit_staff_group(ekonomi.pk),
        realtime.unit_supervisors_group(ekonomi.pk),
    ]
    assert cheap[0][1] == full[realtime.unit_staff_group(ekonomi.pk)]


@pytest.mark.django_db
def test_a_short_queue_joined_at_the_back_shows_the_joiner_to_staff(ekonomi, anna):
    first = start_conversation(ekonomi)[0].pk
    joined = start_conversation(ekonomi)[0].pk

    state = selectors.queue_state_after_joins(unit=ekonomi, joined={joined})

    assert state is not None
    assert [row.pk for row in state.head.rows] == [first, joined]
    assert (state.head.total, state.head.urgent_beyond) == (2, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["urgent", "ahead of someone", "gone", "behind another join"])
def test_a_join_that_moved_someone_is_read_whole(ekonomi, anna, how):
    waiting = [start_conversation(ekonomi)[0].pk for _ in range(3)]
    before = whole_places(ekonomi)
    if how == "urgent":
        joined = started_urgent(ekonomi)
    elif how == "ahead of someone":
        joined = started_ahead_of(ekonomi, behind=waiting[-1])
    elif how == "gone":  # taken before its announcement was read
        joined = start_conversation(ekonomi)[0].pk
        factories.accept(anna, Conversation.objects.get(pk=joined))
    else:  # someone else's join came in behind it, unannounced here
        joined = start_conversation(ekonomi)[0].pk
        start_conversation(ekonomi)

    assert selectors.queue_state_after_joins(unit=ekonomi, joined={joined}) is None
    if how in ("urgent", "ahead of someone"):
        after = whole_places(ekonomi)
        assert [pk for pk in waiting if after[pk] != before[pk]]  # a place did move


@pytest.mark.django_db
def test_joins_are_checked_against_their_own_units_queue(ekonomi, vald, anna):
    start_conversation(ekonomi)
    joined = start_conversation(ekonomi)[0].pk
    start_conversation(vald)  # later, but in another queue: not behind the join

    assert selectors.queue_state_after_joins(unit=ekonomi, joined={joined}) is not None
    assert selectors.queue_state_after_joins(unit=vald, joined={joined}) is None


# --- the same, as the announcer does it, over websockets --------------------------------
@pytest.fixture
def whole_reads(monkeypatch) -> list[int]:
    """The units whose whole queue an announcement read."""
    reads: list[int] = []
    snapshot = selectors.queue_snapshot

    def counting(*, unit, **kwargs):
        reads.append(unit.pk)
        return snapshot(unit=unit, **kwargs)

    monkeypatch.setattr(selectors, "queue_snapshot", counting)
    return reads


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_join_at_the_back_is_read_without_the_whole_queue_until_places_are_due(
    ws, ekonomi, monkeypatch, whole_reads
):
    clock = FakeClock()
    monkeypatch.setattr(announce, "monotonic", clock)
    await waiting_client(ws, ekonomi)
    news = announce.announcer()
    await news.flush_now()  # the places are sent: the next join may go without them
    whole_reads.clear()

    joiner, _joiner_id = await waiting_client(ws, ekonomi)
    await news.flush_now()
    assert whole_reads == []

    clock.now += announce.PLACES_RESEND_SECONDS  # a lost `queue.places` heals
    await waiting_client(ws, ekonomi)
    await news.flush_now()
    assert whole_reads == [ekonomi.pk]
    assert positions(await settle(joiner)) == []  # the place it shows did not change


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_an_urgent_client_arriving_moves_every_waiting_client_back_a_place(
    ws, ekonomi, monkeypatch
):
    monkeypatch.setattr(announce, "monotonic", FakeClock())
    clients = [await waiting_client(ws, ekonomi) for _ in range(3)]
    news = announce.announcer()
    await news.flush_now()
    for client, _id in clients:
        await settle(client)

    await database_sync_to_async(started_urgent)(ekonomi)
    await news.flush_now()

    for place, (client, conversation_id) in enumerate(clients, start=2):
        assert positions(await settle(client)) == [(conversation_id, place)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_join_landing_ahead_of_someone_tells_them_their_new_place(ws, ekonomi, monkeypatch):
    monkeypatch.setattr(announce, "monotonic", FakeClock())
    first, _first_id = await waiting_client(ws, ekonomi)
    last, last_id = await waiting_client(ws, ekonomi)
    news = announce.announcer()
    await news.flush_now()
    await settle(first), await settle(last)

    await database_sync_to_async(started_ahead_of)(ekonomi, behind=last_id)
    await news.flush_now()

    assert positions(await settle(first)) == []
    assert positions(await settle(last)) == [(last_id, 3)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_someone_leaving_mid_queue_as_another_joins_moves_those_behind(
    ws, ekonomi, monkeypatch
):
    monkeypatch.setattr(announce, "monotonic", FakeClock())  # one announcement for both
    clients = [await waiting_client(ws, ekonomi) for _ in range(3)]
    news = announce.announcer()
    await news.flush_now()
    for client, _id in clients:
        await settle(client)
    (first, _first_id), (leaver, _leaver_id), (last, last_id) = clients

    await leaver.send_json_to({"type": "end"})
    await settle(leaver)
    joiner, _joiner_id = await waiting_client(ws, ekonomi)
    await news.flush_now()

    assert positions(await settle(first)) == []
    assert positions(await settle(last)) == [(last_id, 2)]
    assert positions(await settle(joiner)) == []  # it read place 3 when it joined


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_cache", "memory_layer")
async def test_a_join_in_one_unit_and_an_accept_in_another_are_each_announced_right(
    ws, ekonomi, vald, anna, cecilia, monkeypatch, whole_reads
):
    monkeypatch.setattr(announce, "monotonic", FakeClock())
    console, _snapshot = await ws.console(anna)
    here = [await waiting_client(ws, ekonomi) for _ in range(2)]
    there = [await waiting_client(ws, vald) for _ in range(2)]
    news = announce.announcer()
    await news.flush_now()
    for client, _id in here + there:
        await settle(client)
    await settle(console)
    whole_reads.clear()

    _joiner, joiner_id = await waiting_client(ws, ekonomi)
    await accept_next(worker=cecilia)  # the first in vald
    await news.flush_now()

    assert whole_reads == [vald.pk]  # ekonomi's join was read from its head
    for client, _id in here:
        assert positions(await settle(client)) == []
    (_gone, _gone_id), (stays, stays_id) = there
    assert positions(await settle(stays)) == [(stays_id, 1)]
    [update] = [f for f in await settle(console) if f["type"] == "queue.updated"]
    assert update["unit"] == ekonomi.pk
    assert update["waiting_total"] == 3
    assert [row["id"] for row in update["waiting"]][-1] == joiner_id
