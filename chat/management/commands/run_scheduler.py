"""The scheduler process (Procfile: scheduler). Run exactly one.

Every 15 seconds: the queue sweep (silent waiting clients, presence gone offline, handover
offers that expired, conversations whose worker has not answered).
Every night at 03:15 Stockholm time: the retention purge.
"""

from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from chat.services.queue import queue_sweep
from chat.services.retention import retention_purge


def _sweep() -> None:
    close_old_connections()
    queue_sweep()


def _purge() -> None:
    close_old_connections()
    report = retention_purge()
    print(f"retention purge: {report.counts}", flush=True)


class Command(BaseCommand):
    help = "Run the periodic jobs: queue sweep and nightly retention purge."

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
        common = {"max_instances": 1, "coalesce": True}
        scheduler.add_job(_sweep, "interval", seconds=15, id="sweep", **common)
        scheduler.add_job(
            _purge,
            CronTrigger(hour=3, minute=15, timezone=settings.TIME_ZONE),
            id="purge",
            **common,
        )
        self.stdout.write("scheduler: sweep every 15 s, retention purge daily at 03:15")
        scheduler.start()
