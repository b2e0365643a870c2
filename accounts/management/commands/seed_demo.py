"""Demo units and staff for `make demo`. Safe to run again: it updates what exists."""

from dataclasses import dataclass
from datetime import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import OpeningHours, Unit, User

DEMO_PASSWORD = "demo-password"  # noqa: S105 - a published demo password, never for production


@dataclass(frozen=True)
class DemoUnit:
    slug: str
    name: str
    description: str
    # (first weekday, last weekday, opens, closes); none at all is open around the clock.
    hours: tuple[tuple[int, int, time, time], ...] = ()
    auto_assign: bool = False


@dataclass(frozen=True)
class DemoStaff:
    username: str
    first_name: str
    last_name: str
    role: str
    unit_slugs: tuple[str, ...]


UNITS = [
    DemoUnit(
        slug="ekonomiskt-bistand",
        name="Ekonomiskt bistånd",
        description=(
            "Vi svarar på frågor om försörjningsstöd och annat ekonomiskt bistånd, "
            "till exempel hur du ansöker och vad som händer med din ansökan."
        ),
        hours=((0, 4, time(8, 0), time(16, 30)),),
    ),
    DemoUnit(
        slug="vald-i-nara-relationer",
        name="Våld i nära relationer",
        description=(
            "Stöd till dig som utsätts eller har utsatts för våld eller hot av någon "
            "som står dig nära. Du kan vara anonym. Chatten är öppen dygnet runt."
        ),
        auto_assign=True,
    ),
    DemoUnit(
        slug="barn-och-familj",
        name="Barn och familj",
        description=(
            "Råd och stöd till barn, unga och föräldrar, till exempel när du är orolig "
            "för ett barn eller när det är svårt i familjen."
        ),
        hours=((0, 4, time(9, 0), time(15, 0)), (5, 5, time(10, 0), time(13, 0))),
    ),
]

ALL_UNITS = tuple(unit.slug for unit in UNITS)

STAFF = [
    DemoStaff("anna", "Anna", "Lindqvist", User.Role.WORKER, ("ekonomiskt-bistand",)),
    DemoStaff("bengt", "Bengt", "Holm", User.Role.WORKER, ("ekonomiskt-bistand",)),
    DemoStaff("cecilia", "Cecilia", "Nyström", User.Role.WORKER, ("vald-i-nara-relationer",)),
    DemoStaff("david", "David", "Ekberg", User.Role.WORKER, ("vald-i-nara-relationer",)),
    DemoStaff("eva", "Eva", "Sandberg", User.Role.WORKER, ("barn-och-familj",)),
    DemoStaff("fredrik", "Fredrik", "Lund", User.Role.WORKER, ("barn-och-familj",)),
    DemoStaff("sara", "Sara", "Berglund", User.Role.SUPERVISOR, ALL_UNITS),
    DemoStaff("admin", "Karin", "Öberg", User.Role.ADMIN, ()),
]


class Command(BaseCommand):
    help = (
        "Create or update the demo units and staff logins (password 'demo-password'). "
        "Runs only with DEBUG on, unless --force is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off. Never use this on a production database.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates logins with a published password, so it runs only with "
                "DEBUG on. Use --force if this really is a demo database."
            )

        with transaction.atomic():
            units = self._seed_units()
            users = self._seed_staff(units)

        self._print_table(users)

    def _seed_units(self) -> dict[str, Unit]:
        units: dict[str, Unit] = {}
        for demo in UNITS:
            unit, created = Unit.objects.update_or_create(
                slug=demo.slug,
                defaults={
                    "name": demo.name,
                    "description": demo.description,
                    "default_capacity": 3,
                    "is_active": True,
                    "auto_assign": demo.auto_assign,
                },
            )
            unit.opening_hours.all().delete()
            OpeningHours.objects.bulk_create(
                OpeningHours(unit=unit, weekday=day, opens=opens, closes=closes)
                for first, last, opens, closes in demo.hours
                for day in range(first, last + 1)
            )
            units[demo.slug] = unit
            self.stdout.write(f"{'created' if created else 'updated'} unit: {unit.name}")
        return units

    def _seed_staff(self, units: dict[str, Unit]) -> list[User]:
        users: list[User] = []
        for demo in STAFF:
            is_admin = demo.role == User.Role.ADMIN
            user, created = User.objects.update_or_create(
                username=demo.username,
                defaults={
                    "first_name": demo.first_name,
                    "last_name": demo.last_name,
                    "role": demo.role,
                    "is_active": True,
                    "is_staff": is_admin,
                    "is_superuser": is_admin,
                },
            )
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            user.units.set([units[slug] for slug in demo.unit_slugs])
            users.append(user)
            self.stdout.write(f"{'created' if created else 'updated'} user: {user.username}")
        return users

    def _print_table(self, users: list[User]) -> None:
        rows = [("username", "role", "units", "password")]
        for user in users:
            unit_names = ", ".join(unit.name for unit in user.units.order_by("name")) or "-"
            rows.append((user.username, user.role, unit_names, DEMO_PASSWORD))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        self.stdout.write("")
        self.stdout.write("Demo logins:")
        for line in lines:
            self.stdout.write(line.rstrip())
