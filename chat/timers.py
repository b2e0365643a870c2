"""The embedded default's one trigger for the timed rules (chat/services/timed.py): a timer
in the server process's event loop, started by the first connection. Where several
processes share Redis the scheduler process runs the rules instead
(`manage.py run_scheduler`), and `TIMED_RULES` says which of the two a deployment uses."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.services.timed import SWEEP_SECONDS, timed_nightly, timed_sweep

log = logging.getLogger(__name__)

PURGE_AT = time(3, 15)  # local time, as the scheduler process does it


def next_purge_after(moment: datetime) -> datetime:
    """The next PURGE_AT in Stockholm time after `moment`."""
    local = timezone.localtime(moment)
    candidate = local.replace(hour=PURGE_AT.hour, minute=PURGE_AT.minute, second=0, microsecond=0)
    return candidate if candidate > local else candidate + timedelta(days=1)


class TimedRulesInProcess:
    """ASGI middleware that runs the timed rules every SWEEP_SECONDS, and the nightly rules
    (purge, statistics roll-up) each night, in this process, when `TIMED_RULES` is `process`."""

    def __init__(self, app: Any, *, every: float = SWEEP_SECONDS) -> None:
        self.app = app
        self.every = every
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if self.task is None and settings.TIMED_RULES == "process":
            self.task = asyncio.get_running_loop().create_task(self.run())
        return await self.app(scope, receive, send)

    async def run(self) -> None:
        next_purge = next_purge_after(timezone.now())
        while True:
            await asyncio.sleep(self.every)
            try:
                await database_sync_to_async(timed_sweep)()
                if timezone.now() >= next_purge:
                    next_purge = next_purge_after(timezone.now())
                    report = await database_sync_to_async(timed_nightly)()
                    log.info("retention purge: %s", report.counts)
            except Exception:
                # One bad run must not stop the timer: the next run tries again.
                log.exception("the timed rules failed; trying again in %s s", self.every)
