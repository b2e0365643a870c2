"""Marks silent waiting clients as gone and refreshes every unit's numbers.

Each server process does this on its own when a socket closes; the sweep is the safety net
for a process that died before its timers ran. `--every N` repeats it every N seconds.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chat.services.queue import queue_sweep


class Command(BaseCommand):
    help = "Abandon waiting conversations whose client has gone silent; refresh unit numbers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            left = queue_sweep()
            if left:
                self.stdout.write(f"{left} waiting client(s) had left the queue")
            if options["every"] <= 0:
                return
            time.sleep(options["every"])
