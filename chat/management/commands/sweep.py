"""Applies the timed rules once (chat/services/timed.py): by hand, or from cron where no
scheduler process runs."""

from typing import Any

from django.core.management.base import BaseCommand

from chat.services.timed import timed_sweep


class Command(BaseCommand):
    help = "Apply the timed rules once: silent clients, expired offers, unanswered, offline."

    def handle(self, *args: Any, **options: Any) -> None:
        left = timed_sweep()
        if left:
            self.stdout.write(f"{left} waiting client(s) had left the queue")
