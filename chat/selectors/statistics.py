"""Statistics for the people who run the units: contacts, waits, abandonment, handling,
follow-up, quality and staffing over a period, compared with the period before.

Every figure is an aggregate of conversation, follow-up, handover, survey and staffing
metadata (times, states, counts): no message text is read, and nothing names or quotes a
client. A figure built from fewer than MIN_CLIENTS clients is hidden (`Figure.hidden`),
as the survey page does, because a small count can point at one person. Per-worker
figures go only to the worker themselves and to supervisors of their units.

Reads use the (unit, created_at) index of conversations and the staffing samples the
timed sweep takes (chat/services/statistics.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, F, FloatField, Func, Q, QuerySet
from django.db.models.functions import ExtractHour, Floor, TruncDate
from django.utils import timezone

from accounts.models import Unit, User
from chat.models import (
    Call,
    Conversation,
    FollowUp,
    Handover,
    Referral,
    RiskFlag,
    StaffingSample,
    SurveyAnswer,
)
from chat.permissions import can
from chat.selectors.cases import SURVEY_MIN_ANSWERS

# The same threshold as the survey page: fewer clients than this and a figure is hidden.
MIN_CLIENTS = SURVEY_MIN_ANSWERS
# The longest custom period: a year and a day (a leap year).
MAX_PERIOD_DAYS = 366


class PeriodKind:
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CUSTOM = "custom"
    ALL = (DAY, WEEK, MONTH, CUSTOM)


@dataclass(frozen=True)
class Period:
    """Whole local days from `start` to `end`, both included."""

    kind: str
    start: date
    end: date

    @classmethod
    def ending(cls, kind: str, anchor: date) -> Period:
        """The day, ISO week or calendar month that holds `anchor`."""
        if kind == PeriodKind.DAY:
            return cls(kind, anchor, anchor)
        if kind == PeriodKind.WEEK:
            start = anchor - timedelta(days=anchor.weekday())
            return cls(kind, start, start + timedelta(days=6))
        if kind == PeriodKind.MONTH:
            start = anchor.replace(day=1)
            following = (start + timedelta(days=32)).replace(day=1)
            return cls(kind, start, following - timedelta(days=1))
        raise ValueError(f"not a period kind: {kind}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period just before, of the same kind (a month is the calendar month before;
        a custom period the same number of days)."""
        if self.kind == PeriodKind.MONTH:
            return Period.ending(PeriodKind.MONTH, self.start - timedelta(days=1))
        return Period(self.kind, self.start - timedelta(days=self.days), self.start - timedelta(1))

    def bounds(self) -> tuple[datetime, datetime]:
        """[from, to) as aware datetimes at local midnight."""
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )


@dataclass(frozen=True)
class Figure:
    """A number and how many clients it is built from. Hidden when 0 < clients <
    MIN_CLIENTS; empty (nothing to show, nobody revealed) when no client at all."""

    value: float | None
    clients: int

    @property
    def hidden(self) -> bool:
        return 0 < self.clients < MIN_CLIENTS

    @property
    def empty(self) -> bool:
        return self.clients == 0 or self.value is None

    @property
    def shown(self) -> float | None:
        """The value when it may be shown, else None (for charts, CSV and JSON)."""
        return None if self.hidden or self.empty else self.value


def count(n: int) -> Figure:
    return Figure(float(n), n)


def _share(part: int, whole: int) -> Figure:
    """`part` of `whole` clients as a share 0..1, built from both groups: hidden when either
    the part or the whole is a small group."""
    if whole == 0:
        return Figure(None, 0)
    clients = min(part, whole) if part else whole
    return Figure(part / whole, clients)


class Seconds(Func):
    """Seconds from `start` to `end` (two datetime columns) as a number, in the database."""

    output_field = FloatField()

    def __init__(self, end: Any, start: Any) -> None:
        super().__init__(end, start)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


# Durations are counted in the database in steps of this many seconds (rounded down), so a
# year of conversations comes back as a few thousand (step, count) rows, not one row each.
STEP_SECONDS = 5


def _bucketed(queryset: QuerySet, end: str, start: str, *group: str) -> QuerySet:
    """(group..., step, n): how many rows took each STEP_SECONDS step from start to end."""
    return (
        # (+10 ms: SQLite's julianday arithmetic lands a whole minute a hair below it.)
        queryset.annotate(step=Floor((Seconds(F(end), F(start)) + 0.01) / STEP_SECONDS))
        .values(*group, "step")
        .annotate(n=Count("pk"))
        .order_by()
    )


@dataclass
class Distribution:
    """Values (minutes) with how many clients had each: medians and percentiles without a
    row per client."""

    counts: Counter[float] = field(default_factory=Counter)

    def add(self, value: float, n: int) -> None:
        self.counts[value] += n

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _at_rank(self, ordered: list[tuple[float, int]], rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if seen >= rank:
                return value
        return ordered[-1][0]

    def median(self) -> Figure:
        total = self.total
        if not total:
            return Figure(None, 0)
        ordered = sorted(self.counts.items())
        low = self._at_rank(ordered, (total + 1) // 2)
        high = self._at_rank(ordered, total // 2 + 1)
        return Figure((low + high) / 2, total)

    def percentile(self, share: float) -> Figure:
        """Nearest rank."""
        total = self.total
        if not total:
            return Figure(None, 0)
        rank = max(1, -(-total * share // 1))
        return Figure(self._at_rank(sorted(self.counts.items()), int(rank)), total)


def _steps_in_minutes(step: float | None) -> float:
    return 0.0 if step is None else max(0.0, step) * STEP_SECONDS / 60


# --- who sees which units -------------------------------------------------------------------
def statistics_units_for(*, user: User) -> QuerySet[Unit]:
    """Supervisors see their own units, administrators every unit, others none."""
    if not can(user, "chat.view_statistics"):
        return Unit.objects.none()
    if user.role == User.Role.ADMIN:
        return Unit.objects.order_by("name")
    return user.units.order_by("name")


# --- the hooks for figures that other features provide --------------------------------------
def referral_figures(*, units: Sequence[Unit], period: Period) -> dict[str, Figure]:
    """Partner referrals (code-word contacts reported by pharmacies and libraries) that
    reached these units in the period, and conversations the risk rules raised to urgent:
    counts read by (unit, created_at), each a client of its own."""
    start, end = period.bounds()
    unit_ids = [unit.pk for unit in units]
    referrals = Referral.objects.filter(
        unit_id__in=unit_ids, created_at__gte=start, created_at__lt=end
    ).count()
    raised = (
        RiskFlag.objects.filter(
            unit_id__in=unit_ids, created_at__gte=start, created_at__lt=end, raised=True
        )
        .values("conversation_id")
        .distinct()
        .count()
    )
    return {"referrals": count(referrals), "urgent": count(raised)}


def call_figures(*, units: Sequence[Unit], period: Period) -> dict[str, Figure]:
    """Personal contacts by call, beside chat: calls in these units' conversations that the
    client answered in the period, by the medium they were held in ("voice", "video"),
    read by (conversation's unit, answered_at); each call a client of its own."""
    start, end = period.bounds()
    held = Counter(
        dict(
            Call.objects.filter(
                conversation__unit__in=units, answered_at__gte=start, answered_at__lt=end
            )
            .values_list("media")
            .annotate(n=Count("pk"))
            .values_list("media", "n")
        )
    )
    return {media: count(held[media]) for media in Call.Media.values}


def reminder_figures(*, units: Sequence[Unit], period: Period) -> Figure | None:
    """Reminders sent about unanswered follow-up questions: None ("not recorded") until
    reminders are recorded."""
    return None


# --- the figures ------------------------------------------------------------------------------
@dataclass
class Figures:
    """Every figure of one period for a set of units."""

    period: Period
    chats: Figure
    answered: Figure
    offline_questions: Figure
    followup_answers: Figure
    referrals: dict[str, Figure] | None
    personal_per_week: list[tuple[date, Figure]]
    wait_median: Figure
    wait_p90: Figure
    wait_by_hour: list[tuple[int, Figure, Figure]]
    abandoned: Figure
    abandoned_share: Figure
    abandoned_after_median: Figure
    length_median: Figure
    messages_median: Figure
    handovers: Figure
    handovers_to: list[tuple[str, Figure]]
    followups_asked: Figure
    followups_answered: Figure
    followup_answer_hours_median: Figure
    reminders: Figure | None
    survey_answers: int
    survey_helped: dict[str, Figure]
    survey_rating: Figure
    staffing_by_hour: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, Figure] = field(default_factory=dict)  # call_figures

    @property
    def survey_too_few(self) -> bool:
        return self.survey_answers < MIN_CLIENTS


def _conversations(units: Sequence[Unit], start: datetime, end: datetime) -> QuerySet:
    return Conversation.objects.filter(unit__in=units, created_at__gte=start, created_at__lt=end)


def statistics_figures(*, units: Sequence[Unit], period: Period) -> Figures:
    """Every figure of `period` for `units` (already those the reader may see)."""
    start, end = period.bounds()
    conversations = _conversations(units, start, end)
    offline = Conversation.State.OFFLINE
    totals = conversations.aggregate(
        chats=Count("pk", filter=~Q(state=offline)),
        answered=Count("pk", filter=Q(first_accepted_at__isnull=False)),
        offline=Count("pk", filter=Q(state=offline)),
        abandoned=Count("pk", filter=Q(state=Conversation.State.ABANDONED)),
    )

    # Times in the database, counted per step (never the messages, never a row per client).
    answered_rows = conversations.filter(first_accepted_at__isnull=False)
    waits = Distribution()
    by_hour: dict[int, Distribution] = defaultdict(Distribution)
    for row in _bucketed(
        answered_rows.annotate(hour=ExtractHour("created_at")),
        "first_accepted_at",
        "created_at",
        "hour",
    ):
        minutes = _steps_in_minutes(row["step"])
        waits.add(minutes, row["n"])
        by_hour[row["hour"]].add(minutes, row["n"])
    ended = answered_rows.filter(state=Conversation.State.ENDED, ended_at__isnull=False)
    lengths = Distribution()
    for row in _bucketed(ended, "ended_at", "first_accepted_at"):
        lengths.add(_steps_in_minutes(row["step"]), row["n"])
    seqs = Distribution()
    for last_seq, n in ended.values_list("last_seq").annotate(n=Count("pk")).order_by():
        seqs.add(float(last_seq), n)
    abandoned_after = Distribution()
    for row in _bucketed(
        conversations.filter(state=Conversation.State.ABANDONED, ended_at__isnull=False),
        "ended_at",
        "created_at",
    ):
        abandoned_after.add(_steps_in_minutes(row["step"]), row["n"])
    per_week: Counter[date] = Counter()
    for day, n in (
        answered_rows.annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        per_week[day - timedelta(days=day.weekday())] += n

    week = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while week <= period.end:
        weeks.append((week, count(per_week.get(week, 0))))
        week += timedelta(days=7)

    handovers = Handover.objects.filter(
        from_unit__in=units, created_at__gte=start, created_at__lt=end
    )
    handovers_to = [
        (name, count(n))
        for name, n in handovers.values_list("to_unit__name")
        .annotate(n=Count("pk"))
        .order_by("to_unit__name")
    ]

    asked = FollowUp.objects.filter(
        case__unit__in=units,
        kind=FollowUp.Kind.TO_CLIENT,
        created_at__gte=start,
        created_at__lt=end,
    )
    answer_hours = Distribution()
    for row in _bucketed(asked.filter(answered_at__isnull=False), "answered_at", "created_at"):
        answer_hours.add(_steps_in_minutes(row["step"]) / 60, row["n"])
    followup_answers = FollowUp.objects.filter(
        case__unit__in=units,
        kind=FollowUp.Kind.TO_CLIENT,
        answered_at__gte=start,
        answered_at__lt=end,
    ).count()

    surveys = SurveyAnswer.objects.filter(
        conversation__unit__in=units, created_at__gte=start, created_at__lt=end
    )
    survey = surveys.aggregate(
        answers=Count("pk"),
        rated=Count("rating"),
        rating=Avg("rating"),
        **{f"helped_{h}": Count("pk", filter=Q(helped=h)) for h in SurveyAnswer.Helped.values},
    )
    # The survey's rule: below MIN_CLIENTS answers nothing at all shows, not even a share.
    survey_clients = survey["answers"]
    survey_helped = {
        h: Figure(float(survey[f"helped_{h}"]), survey_clients) for h in SurveyAnswer.Helped.values
    }

    return Figures(
        period=period,
        chats=count(totals["chats"]),
        answered=count(totals["answered"]),
        offline_questions=count(totals["offline"]),
        followup_answers=count(followup_answers),
        referrals=referral_figures(units=units, period=period),
        personal_per_week=weeks,
        wait_median=waits.median(),
        wait_p90=waits.percentile(0.9),
        wait_by_hour=[
            (hour, by_hour[hour].median(), by_hour[hour].percentile(0.9)) for hour in range(24)
        ],
        abandoned=count(totals["abandoned"]),
        abandoned_share=_share(totals["abandoned"], totals["chats"]),
        abandoned_after_median=abandoned_after.median(),
        length_median=lengths.median(),
        messages_median=seqs.median(),
        handovers=count(handovers.count()),
        handovers_to=handovers_to,
        followups_asked=count(asked.count()),
        followups_answered=count(answer_hours.total),
        followup_answer_hours_median=answer_hours.median(),
        reminders=reminder_figures(units=units, period=period),
        survey_answers=survey_clients,
        survey_helped=survey_helped,
        survey_rating=Figure(
            float(survey["rating"]) if survey["rating"] is not None else None,
            survey_clients if survey["rated"] else 0,
        ),
        staffing_by_hour=_staffing_by_hour(units, period, conversations),
        calls=call_figures(units=units, period=period),
    )


def _staffing_by_hour(
    units: Sequence[Unit], period: Period, conversations: QuerySet
) -> list[dict[str, Any]]:
    """Per hour of the day: staff online and serving (mean of the samples, summed over the
    units) against clients arriving to chat and waiting (per day of the period)."""
    start, end = period.bounds()
    samples = StaffingSample.objects.filter(unit__in=units, at__gte=start, at__lt=end)
    # Each unit's mean per hour of the day, added up over the units (every unit is sampled
    # at the same moments, so this is the mean of the moments' totals).
    online: dict[int, float] = defaultdict(float)
    serving: dict[int, float] = defaultdict(float)
    waiting: dict[int, float] = defaultdict(float)
    sampled: set[int] = set()
    for row in (
        samples.annotate(hour=ExtractHour("at"))
        .values("unit", "hour")
        .annotate(on=Avg("staff_online"), serve=Avg("staff_serving"), wait=Avg("waiting"))
        .order_by()
    ):
        hour = row["hour"]
        sampled.add(hour)
        online[hour] += row["on"]
        serving[hour] += row["serve"]
        waiting[hour] += row["wait"]
    arrivals: Counter[int] = Counter(
        dict(
            conversations.exclude(state=Conversation.State.OFFLINE)
            .annotate(hour=ExtractHour("created_at"))
            .values_list("hour")
            .annotate(n=Count("pk"))
            .order_by()
        )
    )
    rows = []
    for hour in range(24):
        rows.append(
            {
                "hour": hour,
                "staff_online": round(online[hour], 1) if hour in sampled else None,
                "staff_serving": round(serving[hour], 1) if hour in sampled else None,
                # Clients: hidden like any other cell built from fewer than MIN_CLIENTS.
                "arrivals": Figure(arrivals[hour] / period.days, arrivals[hour]),
                "waiting": Figure(
                    round(waiting[hour], 1) if hour in sampled else None, arrivals[hour]
                ),
            }
        )
    return rows


# --- per worker ------------------------------------------------------------------------------
def worker_figures(*, viewer: User, units: Sequence[Unit], period: Period) -> list[dict[str, Any]]:
    """Per worker of `units`: chats answered and median handling time. A supervisor sees the
    staff of their units; anyone else only themselves; an administrator no one (they are
    nobody's supervisor). In name order, never ranked."""
    if viewer.role == User.Role.SUPERVISOR:
        workers = User.objects.filter(units__in=units, is_active=True).distinct()
    elif viewer.works_in_console:
        workers = User.objects.filter(pk=viewer.pk)
    else:
        return []
    start, end = period.bounds()
    lengths: dict[int, Distribution] = defaultdict(Distribution)
    for row in _bucketed(
        _conversations(units, start, end).filter(
            state=Conversation.State.ENDED,
            first_accepted_at__isnull=False,
            ended_at__isnull=False,
            worker__in=workers,
        ),
        "ended_at",
        "first_accepted_at",
        "worker_id",
    ):
        lengths[row["worker_id"]].add(_steps_in_minutes(row["step"]), row["n"])
    rows = []
    for worker in workers.filter(role__in=[User.Role.WORKER, User.Role.SUPERVISOR]).order_by(
        "first_name", "last_name", "username"
    ):
        handled = lengths.get(worker.pk, Distribution())
        rows.append(
            {
                "id": worker.pk,
                "name": worker.display_name,
                "chats": count(handled.total),
                "length_median": handled.median(),
            }
        )
    return rows


# --- the page ---------------------------------------------------------------------------------
@dataclass
class Report:
    units: list[Unit]
    unit: Unit | None  # None: all the reader's units
    current: Figures
    previous: Figures
    workers: list[dict[str, Any]]


def statistics_report(*, user: User, unit: Unit | None, period: Period) -> Report:
    """The figures of `period` and of the period before, for one of the reader's units or
    all of them. `unit` must be one of statistics_units_for(user) (the caller checks)."""
    allowed = list(statistics_units_for(user=user))
    units = [unit] if unit is not None else allowed
    return Report(
        units=allowed,
        unit=unit,
        current=statistics_figures(units=units, period=period),
        previous=statistics_figures(units=units, period=period.previous()),
        workers=worker_figures(viewer=user, units=units, period=period),
    )
