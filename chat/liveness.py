"""Signs of life from open sockets, kept in this process's memory and written in batches.

A heartbeat (`ping`) must not cost a database statement (thousands of sockets ping every
CHAT_HEARTBEAT_SECONDS). So a ping only notes here "the client of conversation X was seen
now" or "worker Y was seen now", and every LIVENESS_FLUSH_SECONDS the flusher writes what
was noted in one UPDATE per table (chat/services/conversations.py `conversation_touch_clients`,
chat/services/presence.py `presence_touch_many`). The timed rules read those columns from
the database, so a scheduler process sees what every server process flushed.

The flush runs in every server process, whatever TIMED_RULES says (`LivenessFlusher`, an
ASGI wrapper like chat/timers.py's), and once more when the process exits. What a process
noted and had not flushed when it died is lost: at most one flush interval, well inside
the grace periods (docs/realtime.md, "Heartbeat").
"""

from __future__ import annotations

import asyncio
import atexit
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.services.conversations import conversation_touch_clients
from chat.services.presence import presence_touch_many

log = logging.getLogger(__name__)


@dataclass
class Seen:
    """When each client (by conversation id) and each worker (by user id) was last seen."""

    clients: dict[int, datetime] = field(default_factory=dict)
    workers: dict[int, datetime] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.clients or self.workers)

    def merge(self, older: Seen) -> None:
        """Take back a batch that could not be written; the later time of each wins."""
        for mine, theirs in ((self.clients, older.clients), (self.workers, older.workers)):
            for key, moment in theirs.items():
                if key not in mine or mine[key] < moment:
                    mine[key] = moment


# This process's notes since the last flush. Only the event loop's thread touches it: the
# flush takes the whole batch there before it crosses into sync code.
pending = Seen()


def client_seen(conversation_id: int) -> None:
    """The client's socket of `conversation_id` spoke now (a heartbeat)."""
    pending.clients[conversation_id] = timezone.now()


def worker_seen(user_id: int) -> None:
    """A console of the worker spoke now (a heartbeat)."""
    pending.workers[user_id] = timezone.now()


def take() -> Seen:
    """What was noted since the last flush; the notes start empty again."""
    global pending
    batch, pending = pending, Seen()
    return batch


def liveness_write(batch: Seen) -> None:
    """Write one batch: one UPDATE per table (more only past a few hundred rows)."""
    conversation_touch_clients(seen=batch.clients)
    presence_touch_many(seen=batch.workers)


async def flush() -> int:
    """Write what was noted since the last flush; a batch that fails is kept for the next
    try. Returns how many signs of life were written."""
    batch = take()
    if not batch:
        return 0
    try:
        await database_sync_to_async(liveness_write)(batch)
    except BaseException:
        pending.merge(batch)
        raise
    return len(batch.clients) + len(batch.workers)


def flush_at_exit() -> None:
    """The last notes of a process that stops (daphne on SIGTERM), written from the main
    thread once its event loop has ended."""
    batch = take()
    if not batch:
        return
    try:
        liveness_write(batch)
    except Exception:
        log.exception("the last signs of life could not be written")


class LivenessFlusher:
    """ASGI middleware that flushes the heartbeats' notes every LIVENESS_FLUSH_SECONDS in
    this process, from the first connection on, and once more at exit. A setting of 0 (the
    tests, which flush themselves) starts nothing."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if self.task is None and settings.LIVENESS_FLUSH_SECONDS > 0:
            self.task = asyncio.get_running_loop().create_task(
                self.run(settings.LIVENESS_FLUSH_SECONDS)
            )
            atexit.register(flush_at_exit)
        return await self.app(scope, receive, send)

    async def run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await flush()
            except Exception:
                # The database may be away for a while; the notes wait for the next try.
                log.exception("writing the signs of life failed; trying again in %s s", every)
