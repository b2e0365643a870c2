"""Demo units and staff for `make demo`, a demo pharmacy and library with partner logins,
and a few weeks of finished conversations so that
wait estimates and the dashboard have numbers. Safe to run again: it updates what exists
and adds no history twice."""

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.management.commands._demo_unit_texts import DEMO_UNIT_TEXTS
from accounts.models import (
    OpeningHours,
    PartnerOrganisation,
    PartnerPlace,
    Unit,
    UnitTranslation,
    User,
)
from chat.models import (
    Case,
    ClientRecord,
    Conversation,
    FollowUp,
    RiskRule,
    StaffingLender,
    StaffingMinimum,
    StaffingSample,
    SurveyAnswer,
)
from chat.risk_defaults import DEFAULT_RULES
from chat.services.risk import risk_rules_changed_on_commit
from chat.services.statistics import STAFFING_SAMPLE_MINUTES, statistics_roll_up

DEMO_PASSWORD = "demo-password"  # noqa: S105 - a published demo password, never for production


@dataclass(frozen=True)
class DemoUnit:
    slug: str
    name: str
    description: str
    # (first weekday, last weekday, opens, closes); none at all is open around the clock.
    hours: tuple[tuple[int, int, time, time], ...] = ()
    auto_assign: bool = False
    referral_order: int | None = None


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
        referral_order=1,  # urgent referrals from the demo pharmacy and library come here
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

# The finished conversations: this many days back, this many a day in each unit, each
# handled for a number of minutes in this range (fixed by a seed, the same on every run).
HISTORY_DAYS = 63  # nine weeks: four to show, four before them to compare, and the demand
HISTORY_PER_DAY = (3, 9)  # chats a day in each unit, fixed per unit and day
HISTORY_MINUTES = (6, 35)
# A unit open around the clock is shown busy in these hours.
AROUND_THE_CLOCK = (time(9, 0), time(21, 0))

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


@dataclass(frozen=True)
class DemoPartner:
    name: str
    kind: str
    places: tuple[str, ...]
    username: str
    first_name: str
    last_name: str


PARTNERS = [
    DemoPartner(
        "Apoteket Hjärtat",
        PartnerOrganisation.Kind.PHARMACY,
        ("Storgatan 12",),
        "apotek",
        "Pia",
        "Ek",
    ),
    DemoPartner(
        "Stadsbiblioteket",
        PartnerOrganisation.Kind.LIBRARY,
        ("Huvudbiblioteket", "Bokbussen, hållplats Torget"),
        "bibliotek",
        "Lars",
        "Bok",
    ),
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
            users += self._seed_partners()
            added = self._seed_history(units, users)
            rules = self._seed_risk_rules(units)
            self._seed_staffing(units)
            # The history's closed days, rolled up as the nightly rule would have done.
            rolled = statistics_roll_up()
        self.stdout.write(f"risk rules added: {rules}")
        self.stdout.write(f"statistics days rolled up: {rolled}")
        self.stdout.write(f"finished conversations added: {added}")

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
                    "referral_order": demo.referral_order,
                },
            )
            unit.opening_hours.all().delete()
            OpeningHours.objects.bulk_create(
                OpeningHours(unit=unit, weekday=day, opens=opens, closes=closes)
                for first, last, opens, closes in demo.hours
                for day in range(first, last + 1)
            )
            for language, (name, description) in DEMO_UNIT_TEXTS.get(demo.slug, {}).items():
                UnitTranslation.objects.update_or_create(
                    unit=unit,
                    language=language,
                    defaults={"name": name, "description": description},
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

    def _seed_risk_rules(self, units: dict[str, Unit]) -> int:
        """The project's default risk rules (chat/risk_defaults.py) in every demo unit,
        each once: a rule a supervisor changed or removed is left as they left it, unless
        its name is gone (then it comes back)."""
        added = 0
        for unit in units.values():
            for default in DEFAULT_RULES:
                _rule, created = RiskRule.objects.get_or_create(
                    unit=unit,
                    label=default.label,
                    defaults={"phrases": "\n".join(default.phrases), "action": default.action},
                )
                added += created
        for unit in units.values():
            risk_rules_changed_on_commit(unit_id=unit.pk)
        return added

    def _seed_partners(self) -> list[User]:
        users: list[User] = []
        for demo in PARTNERS:
            organisation, _created = PartnerOrganisation.objects.update_or_create(
                name=demo.name, defaults={"kind": demo.kind, "is_active": True}
            )
            for place in demo.places:
                PartnerPlace.objects.update_or_create(
                    organisation=organisation, name=place, defaults={"is_active": True}
                )
            user, created = User.objects.update_or_create(
                username=demo.username,
                defaults={
                    "first_name": demo.first_name,
                    "last_name": demo.last_name,
                    "role": User.Role.PARTNER,
                    "partner_organisation": organisation,
                    "is_active": True,
                    "is_staff": False,
                    "is_superuser": False,
                },
            )
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            user.units.clear()
            users.append(user)
            self.stdout.write(f"{'created' if created else 'updated'} partner: {user.username}")
        return users

    def _seed_history(self, units: dict[str, Unit], users: list[User]) -> int:
        """Finished conversations over the last `HISTORY_DAYS` days, in each unit's opening
        hours, each known by a token hash made from its place in the history: a rerun finds
        them and adds only what is missing (none, unless the days moved on)."""
        today = timezone.localdate()
        rng = random.Random(2024)  # noqa: S311 - demo data, not a secret
        planned: list[tuple[str, Unit, User, datetime, datetime]] = []
        for demo in UNITS:
            unit = units[demo.slug]
            workers = [u for u in users if u.role == User.Role.WORKER and unit in u.units.all()]
            if not workers:
                continue
            for days_ago in range(HISTORY_DAYS, 0, -1):
                day = today - timedelta(days=days_ago)
                periods = [
                    (opens, closes)
                    for first, last, opens, closes in demo.hours
                    if first <= day.weekday() <= last
                ]
                if not demo.hours:
                    periods = [AROUND_THE_CLOCK]
                if not periods:
                    continue
                opens, closes = periods[0]
                start = timezone.make_aware(datetime.combine(day, opens))
                span = (datetime.combine(day, closes) - datetime.combine(day, opens)).seconds
                # Fixed per unit and day, so a rerun plans the same day the same way.
                day_rng = random.Random(f"{demo.slug}:{day.isoformat()}")  # noqa: S311
                per_day = day_rng.randint(*HISTORY_PER_DAY) + (2 if day.weekday() == 0 else 0)
                for n in range(per_day):
                    minutes = rng.uniform(*HISTORY_MINUTES)
                    accepted = start + timedelta(seconds=span * (n + rng.random()) / (per_day + 1))
                    key = f"demo-history:{demo.slug}:{day.isoformat()}:{n}"
                    planned.append(
                        (
                            hashlib.sha256(key.encode()).hexdigest(),
                            unit,
                            workers[n % len(workers)],
                            accepted,
                            accepted + timedelta(minutes=minutes),
                        )
                    )
        existing = set(
            Conversation.objects.filter(token_hash__in=[p[0] for p in planned]).values_list(
                "token_hash", flat=True
            )
        )
        missing = [p for p in planned if p[0] not in existing]
        if not missing:
            return 0
        clients = ClientRecord.objects.bulk_create(ClientRecord() for _ in missing)
        cases = Case.objects.bulk_create(
            Case(
                client=client,
                unit=unit,
                status=Case.Status.CLOSED,
                closed_at=ended,
            )
            for client, (_hash, unit, _worker, _accepted, ended) in zip(
                clients, missing, strict=True
            )
        )
        Conversation.objects.bulk_create(
            Conversation(
                unit=unit,
                case=case,
                worker=worker,
                state=Conversation.State.ENDED,
                token_hash=token,
                queued_at=accepted - timedelta(minutes=rng.uniform(0.5, 8)),
                accepted_at=accepted,
                ended_at=ended,
                ended_by=Conversation.EndedBy.WORKER,
            )
            for case, (token, unit, worker, accepted, ended) in zip(cases, missing, strict=True)
        )
        # created_at is stamped on insert; the history began when the client came.
        added = Conversation.objects.filter(token_hash__in=[p[0] for p in missing])
        added.update(created_at=F("queued_at"), first_accepted_at=F("accepted_at"))
        self._seed_history_extras(list(added))
        return len(missing)

    def _seed_history_extras(self, conversations: list[Conversation]) -> None:
        """What the statistics show beside plain chats: some clients left the queue, some
        answered the survey, some got follow-up questions and answered them. Each choice
        is fixed by the conversation's token hash, so a rerun makes the same."""
        surveys, followups, left = [], [], []
        for c in conversations:
            pick = random.Random(c.token_hash)  # noqa: S311 - demo data
            roll = pick.random()
            if roll < 0.1:
                left.append(c.pk)
                continue
            if roll < 0.45:
                surveys.append(
                    SurveyAnswer(
                        conversation=c,
                        helped=pick.choice(["yes", "yes", "yes", "partly", "no"]),
                        rating=pick.choice([3, 4, 4, 5, 5]),
                    )
                )
            if pick.random() < 0.2 and c.ended_at is not None:
                answered = pick.random() < 0.6
                followups.append(
                    (
                        FollowUp(
                            case_id=c.case_id,
                            conversation=c,
                            kind=FollowUp.Kind.TO_CLIENT,
                            body="Hur har det gått sedan vi hördes?",
                            asked_by_id=c.worker_id,
                            answer="Bättre, tack." if answered else "",
                            answered_at=c.ended_at + timedelta(hours=pick.uniform(2, 48))
                            if answered
                            else None,
                        ),
                        c.ended_at,
                    )
                )
        # Left the queue after a few minutes: no worker, no answer.
        for pk in left:
            c = next(c for c in conversations if c.pk == pk)
            Conversation.objects.filter(pk=pk).update(
                state=Conversation.State.ABANDONED,
                worker=None,
                accepted_at=None,
                first_accepted_at=None,
                ended_at=c.queued_at + timedelta(minutes=random.Random(pk).uniform(1, 9)),  # noqa: S311
                ended_by=Conversation.EndedBy.CLIENT,
            )
        SurveyAnswer.objects.bulk_create(surveys)
        for answer in surveys:
            SurveyAnswer.objects.filter(pk=answer.pk).update(
                created_at=answer.conversation.ended_at
            )
        created = FollowUp.objects.bulk_create(f for f, _at in followups)
        for followup, (_f, asked_at) in zip(created, followups, strict=True):
            FollowUp.objects.filter(pk=followup.pk).update(created_at=asked_at)

    def _seed_staffing(self, units: dict[str, Unit]) -> None:
        """Staffing samples over the history (two or three online in opening hours), and
        a minimum with a priority list for Ekonomiskt bistånd: at least two serving on
        weekdays 08-16, borrowing from Barn och familj, then Våld i nära relationer."""
        today = timezone.localdate()
        samples = []
        for demo in UNITS:
            unit = units[demo.slug]
            for days_ago in range(HISTORY_DAYS, 0, -1):
                day = today - timedelta(days=days_ago)
                periods = [
                    (opens, closes)
                    for first, last, opens, closes in demo.hours
                    if first <= day.weekday() <= last
                ] or ([AROUND_THE_CLOCK] if not demo.hours else [])
                for opens, closes in periods:
                    at = timezone.make_aware(datetime.combine(day, opens))
                    end = timezone.make_aware(datetime.combine(day, closes))
                    pick = random.Random(f"{demo.slug}:{day.isoformat()}:staff")  # noqa: S311
                    while at < end:
                        online = pick.choice([1, 2, 2, 3])
                        samples.append(
                            StaffingSample(
                                unit=unit,
                                at=at,
                                staff_online=online,
                                staff_serving=max(0, online - pick.choice([0, 0, 1])),
                                waiting=pick.choice([0, 0, 0, 1, 1, 2]),
                            )
                        )
                        at += timedelta(minutes=STAFFING_SAMPLE_MINUTES)
        StaffingSample.objects.bulk_create(samples, ignore_conflicts=True)
        ekonomi = units["ekonomiskt-bistand"]
        if not StaffingMinimum.objects.filter(unit=ekonomi).exists():
            StaffingMinimum.objects.bulk_create(
                StaffingMinimum(unit=ekonomi, weekday=day, hour=hour, minimum=2)
                for day in range(5)
                for hour in range(8, 17)
            )
        if not StaffingLender.objects.filter(unit=ekonomi).exists():
            StaffingLender.objects.bulk_create(
                [
                    StaffingLender(unit=ekonomi, lender=units["barn-och-familj"], rank=1),
                    StaffingLender(unit=ekonomi, lender=units["vald-i-nara-relationer"], rank=2),
                ]
            )

    def _print_table(self, users: list[User]) -> None:
        rows = [("username", "role", "units (partners: organisation)", "password")]
        for user in users:
            unit_names = ", ".join(unit.name for unit in user.units.order_by("name")) or (
                str(user.partner_organisation or "-")
            )
            rows.append((user.username, str(user.get_role_display()), unit_names, DEMO_PASSWORD))
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
