from typing import Any

from django.core.management.base import BaseCommand

from chat.services.retention import retention_purge


class Command(BaseCommand):
    help = "Run the retention purge once now and print its report."

    def handle(self, *args: Any, **options: Any) -> None:
        report = retention_purge()
        self.stdout.write(f"retention purge: {report.counts}")
