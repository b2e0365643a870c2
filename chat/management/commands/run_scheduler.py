"""The scheduler process (Procfile: scheduler), the trigger for the timed rules where
several server processes share Redis (`TIMED_RULES=scheduler`). Run exactly one.

Every 15 seconds: chat/services/timed.py `timed_sweep`. Every night at 03:15 Stockholm
time: `timed_nightly`, the retention purge and the statistics' roll-up of closed days.
"""

from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from chat.services.timed import SWEEP_SECONDS, timed_nightly, timed_sweep
from chat.timers import PURGE_AT


def _sweep() -> None:
    close_old_connections()
    timed_sweep()


def _nightly() -> None:
    close_old_connections()
    report = timed_nightly()
    print(f"retention purge: {report.counts}", flush=True)


class Command(BaseCommand):
    help = (
        "Run the timed rules every 15 seconds, and the retention purge and the statistics'"
        " roll-up every night."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
        common = {"max_instances": 1, "coalesce": True}
        scheduler.add_job(_sweep, "interval", seconds=SWEEP_SECONDS, id="sweep", **common)
        scheduler.add_job(
            _nightly,
            CronTrigger(hour=PURGE_AT.hour, minute=PURGE_AT.minute, timezone=settings.TIME_ZONE),
            id="purge",
            **common,
        )
        self.stdout.write(
            f"scheduler: timed rules every {SWEEP_SECONDS} s, retention purge and statistics "
            f"roll-up daily at {PURGE_AT:%H:%M}"
        )
        scheduler.start()
