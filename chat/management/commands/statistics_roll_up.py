"""Fill the statistics' roll-up (chat.StatisticsDay) for closed days, e.g. after an upgrade
or an import of history; the nightly rule does the same for the days that close."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chat.services.statistics import statistics_roll_up, statistics_roll_up_discard


class Command(BaseCommand):
    help = "Roll up the statistics of every closed day that has no roll-up yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument("--through", type=date.fromisoformat, help="last day (YYYY-MM-DD)")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="discard the stored days in the range first and roll them up again",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since, through = options["since"], options["through"]
        if options["rebuild"]:
            discarded = statistics_roll_up_discard(since=since, through=through)
            self.stdout.write(f"statistics roll-up: {discarded} stored days discarded")
        written = statistics_roll_up(since=since, through=through)
        self.stdout.write(f"statistics roll-up: {written} unit days written")
