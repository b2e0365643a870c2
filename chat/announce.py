"""Queue announcements, coalesced: a change to a unit's queue or staffing marks the unit
(after commit), and each process's event loop sends at most one announcement per
`QUEUE_ANNOUNCE_MS` (a setting, 250 by default), for every unit marked meanwhile. An
announcement is three events, whatever the length of the queue: `queue.updated` to the
unit's staff, `queue.places` to its waiting clients (each socket reads its own place) and
`dashboard.unit` to its supervisors, made from one read of the queue
(`selectors.queue_snapshot`). Staff's events carry the front of the queue only
(`selectors.QueueHead`), so their size does not grow with it.

The read takes one crossing into the database thread; the events leave from the event
loop, so the thread that committed the change never waits for the channel layer. Where no
event loop runs (the scheduler process, a management command, a service test), the
announcement is made and sent at once, in the calling thread.

Each process announces the changes it made; with several processes a unit may be
announced by more than one, which is harmless: every announcement is the whole state.

The common change, a `start` that lands at the back of the queue, is read cheaper: the
start marks the unit with the conversation that joined, and when joins are all that
changed, the read checks in the database that they are the queue's last rows
(`selectors.queue_state_after_joins`). Then the staff's and supervisors' events are still
the whole state (the head and counts are read, not every waiting row) and only
`queue.places` is left out: it would move nobody, and each joiner read their own place.
Anything else, or joins that did not land at the back, reads the whole queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import os
import time
import weakref
from collections.abc import Callable, Collection, Mapping

from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.conf import settings

from chat import realtime, selectors

log = logging.getLogger(__name__)

# A unit's `queue.places` that changes nobody's place (someone queued at the back) is not
# sent, unless this process last sent the unit's places this long ago: a lost event heals.
PLACES_RESEND_SECONDS = 10.0


def monotonic() -> float:
    """The clock the coalescer reads; tests replace it (a machine's uptime is no input)."""
    return time.monotonic()


# --- what an announcement is --------------------------------------------------------------
def announcements(
    unit_ids: list[int], *, joined: Mapping[int, Collection[int]] | None = None
) -> list[tuple[str, realtime.Event]]:
    """The events that announce the units' queues, read in one pass per unit: the same
    number of statements for 5 or 500 waiting. A unit that is gone is left out.

    `joined`: per unit, conversations that joined its queue and are all that changed in it
    since its places were last sent. If they wait at its very back, nobody else's place
    changed (each joiner read their own), so the waiting clients get no event and only the
    head of the queue is read, not every waiting row; else the whole queue is read."""
    joined = joined or {}
    events: list[tuple[str, realtime.Event]] = []
    for unit in selectors.unit_list_by_ids(unit_ids=unit_ids):
        state: selectors.QueueState | None = None
        places: dict[str, object] | None = None
        if joined.get(unit.pk):
            state = selectors.queue_state_after_joins(unit=unit, joined=joined[unit.pk])
        if state is None:
            snapshot = selectors.queue_snapshot(unit=unit)
            state, places = snapshot, selectors.queue_places(snapshot)
        previews = selectors.queue_head_previews(state.head)
        events.append(
            (
                realtime.unit_staff_group(unit.pk),
                realtime.queue_event(unit.pk, state.head, previews),
            )
        )
        if places is not None:
            events.append(
                (realtime.unit_waiting_group(unit.pk), realtime.queue_places_event(unit.pk, places))
            )
        events.append(
            (
                realtime.unit_supervisors_group(unit.pk),
                realtime.dashboard_unit_event(selectors.unit_stats(unit=unit, snapshot=state)),
            )
        )
    return events


def announce_now(unit_ids: list[int]) -> None:
    """Read and send the announcements from this (synchronous) thread."""
    for group, event in announcements(unit_ids):
        realtime.publish(group, event)


# --- coalescing -------------------------------------------------------------------------
class Coalescer:
    """Which units wait to be announced, and when the next announcement may go: at once
    after a quiet spell, else `every` seconds after the last. No clock of its own beyond
    `clock`, no timers: `Announcer` drives it."""

    def __init__(self, every: float, clock: Callable[[], float] | None = None) -> None:
        self.every = every
        self.clock = clock or (lambda: monotonic())  # looked up each time: tests replace it
        self.dirty: set[int] = set()
        self.last = -math.inf  # the first announcement never waits, however fresh the clock

    def mark(self, unit_id: int) -> None:
        self.dirty.add(unit_id)

    def wait(self) -> float | None:
        """Seconds until the marked units may be announced; None when none is marked."""
        if not self.dirty:
            return None
        return max(0.0, self.last + self.every - self.clock())

    def take(self) -> list[int]:
        """The marked units, now being announced; the next may go `every` seconds on."""
        units = sorted(self.dirty)
        self.dirty.clear()
        self.last = self.clock()
        return units


class Announcer:
    """The coalesced announcements of one event loop: `mark` from the loop's thread, and
    the loop reads (one crossing) and sends them when the coalescer says they may go."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, every: float | None = None) -> None:
        self.loop = loop
        # With the default, each unit is announced at most 4 times a second: a burst of a
        # hundred starts costs a handful of reads, and a quiet queue's change goes at once.
        self.coalescer = Coalescer(settings.QUEUE_ANNOUNCE_MS / 1000 if every is None else every)
        self.timer: asyncio.TimerHandle | None = None
        self.sending: asyncio.Task[None] | None = None
        self.reads = 0  # announcement reads made: how well a burst was coalesced
        # Per unit, the last `queue.places` this loop read, and when it last sent one.
        self.places_sent: dict[int, tuple[realtime.Event, float]] = {}
        self.places_due: set[int] = set()  # units whose next places go out in any case
        # Per unit marked, the conversations that joined its queue; and the units where
        # something else changed too. A unit with joins only may be read without its
        # whole waiting list (`announcements`).
        self.joined: dict[int, set[int]] = {}
        self.changed: set[int] = set()
        # Per unit, the conversations that joined through this loop since its last places
        # were read: the only ones that may stand new at the back of the next read without
        # waking anyone. Another process's join there may have come before one of ours
        # (their starts raced): its client's place is then one too small.
        self.joins_seen: dict[int, set[int]] = {}

    def mark(self, unit_id: int, *, places: bool = False, joined: int | None = None) -> None:
        """Announce the unit; `places`: send its waiting clients' event even if nobody's
        place changed (a socket joined the group after reading its place); `joined`: the
        change was only this conversation joining the queue."""
        if places:
            self.places_due.add(unit_id)
        if joined is None:
            self.changed.add(unit_id)
        else:
            self.joined.setdefault(unit_id, set()).add(joined)
        self.coalescer.mark(unit_id)
        self.schedule()

    def schedule(self) -> None:
        if self.sending is not None or self.timer is not None:
            return  # the running send or the timer looks again when it is done
        wait = self.coalescer.wait()
        if wait is None:
            return
        # A context of its own: the announcement belongs to no request, and a mark made
        # from the database thread carries that thread's (asgiref's deadlock guard).
        if wait > 0:
            self.timer = self.loop.call_later(wait, self.due, context=contextvars.Context())
        else:
            self.sending = self.loop.create_task(self.send_due(), context=contextvars.Context())

    def due(self) -> None:
        self.timer = None
        self.schedule()

    async def send_due(self) -> None:
        try:
            await self.flush()
        finally:
            self.sending = None
            self.schedule()

    async def flush_now(self) -> None:
        """Announce every marked unit now, after any announcement already under way, and
        return once they are sent: for tests (with a clock that stands still, nothing
        else goes) and for anyone who must know the announcements are out."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        while self.sending is not None:
            await asyncio.wait([self.sending])
        await self.flush()

    async def flush(self) -> None:
        units = self.coalescer.take()
        if not units:
            return
        # Read from here on: the joins that asked for it happened before.
        forced = self.places_due.intersection(units)
        self.places_due -= forced
        joined = {}
        for unit in units:
            joins = self.joined.pop(unit, set())
            self.joins_seen.setdefault(unit, set()).update(joins)
            if (
                joins
                and unit not in self.changed
                and unit not in forced
                and self.places_fresh(unit)
            ):
                joined[unit] = joins
        self.changed.difference_update(units)
        self.reads += 1
        try:
            events = await database_sync_to_async(announcements)(units, joined=joined)
        except Exception:
            # The next change announces the whole state again.
            log.exception("reading the queue announcements of units %s failed", units)
            return
        # Units read from their head only (the joins were at the back): their clients'
        # places stand, with the joiners behind them.
        places_read = {event["unit"] for _group, event in events if event["type"] == "queue.places"}
        for unit, joins in joined.items():
            if unit not in places_read:
                self.places_joined(unit, joins)
        for group, event in events:
            if event["type"] == "queue.places" and not self.places_news(
                event, forced=event["unit"] in forced
            ):
                continue
            await realtime.relay(group, event)

    def places_fresh(self, unit_id: int) -> bool:
        """Whether this loop sent the unit's places recently: only then may an announcement
        of joins at the back leave them out (and a lost event still heals)."""
        before = self.places_sent.get(unit_id)
        return before is not None and self.coalescer.clock() - before[1] < PLACES_RESEND_SECONDS

    def places_joined(self, unit_id: int, joins: set[int]) -> None:
        """The unit was announced without its places: `joins` queued at its back, and each
        read their own place. The next read is compared with the last places and them
        behind, so a later join that lands ahead of one of them is news. (They go in by
        id, the order they joined in: another order only makes the next places go out.)"""
        event, sent_at = self.places_sent[unit_id]
        order = event["order"] + "".join(f"{pk}," for pk in sorted(joins))
        self.places_sent[unit_id] = ({**event, "order": order}, sent_at)
        self.joins_seen.pop(unit_id, None)

    def places_news(self, event: realtime.Event, *, forced: bool = False) -> bool:
        """Whether a unit's `queue.places` is worth waking every waiting client's socket
        for: not when, since this loop's last read of the unit, clients who started
        through this loop only joined (or someone left) the back of the queue, and this
        loop sent the unit's places recently. Another process's change is its own
        announcement's news."""
        now = self.coalescer.clock()
        before = self.places_sent.get(event["unit"])
        ours = self.joins_seen.pop(event["unit"], set())
        if (
            not forced
            and before is not None
            and now - before[1] < PLACES_RESEND_SECONDS
            and selectors.queue_places_unchanged(before[0], event)
            and selectors.queue_places_joined(before[0], event) <= ours
        ):
            # The next read is compared with this one: a client who joined at the back
            # has the place they read when they joined, not the one sent before.
            self.places_sent[event["unit"]] = (event, before[1])
            return False
        self.places_sent[event["unit"]] = (event, now)
        return True


_announcers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Announcer] = (
    weakref.WeakKeyDictionary()
)


def announcer(loop: asyncio.AbstractEventLoop | None = None) -> Announcer:
    """The announcer of `loop` (by default the running one): one per event loop, so one
    per server process."""
    loop = loop or asyncio.get_running_loop()
    found = _announcers.get(loop)
    if found is None:
        found = _announcers[loop] = Announcer(loop)
    return found


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    """The event loop this thread's work came from: the running loop, or, in the database
    thread of `database_sync_to_async`, the loop that called into it (asgiref notes it
    for its own `async_to_sync`). None in a plain thread."""
    with contextlib.suppress(RuntimeError):
        return asyncio.get_running_loop()
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if (
        loop is None
        or getattr(local, "main_event_loop_pid", None) != os.getpid()
        or loop.is_closed()
        or not loop.is_running()
    ):
        return None
    return loop


def unit_changed(unit_id: int, joined: int | None = None) -> None:
    """After commit: the unit's queue or staffing changed (`joined`: only by this
    conversation joining its queue). From the database thread of a server, mark it in the
    loop's announcer (no waiting for anything); elsewhere announce at once."""
    loop = _loop_of_this_thread()
    if loop is not None:
        try:
            loop.call_soon_threadsafe(
                lambda: announcer(loop).mark(unit_id, joined=joined),
                context=contextvars.Context(),
            )
        except RuntimeError:  # the loop closed meanwhile (a server shutting down)
            loop = None
        else:
            return
    announce_now([unit_id])
