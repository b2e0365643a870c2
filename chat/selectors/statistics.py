"""Statistics for the people who run the units: contacts, waits, abandonment, handling,
follow-up, quality and staffing over a period, compared with the period before.

Every figure is an aggregate of conversation, follow-up, handover, survey and staffing
metadata (times, states, counts): no message text is read, and nothing names or quotes a
client. A figure built from fewer than MIN_CLIENTS clients is hidden (`Figure.hidden`),
as the survey page does, because a small count can point at one person. Per-worker
figures go only to the worker themselves and to supervisors of their units.

Most figures are computed from a `Tally` of counts and step counts: for whole past days
the nightly roll-up's stored tallies (StatisticsDay, StatisticsMonth; written by
chat/services/statistics.py), for the rest the tables themselves, read by the
(unit, created_at) index of conversations and the staffing samples the timed sweep takes.
Follow-up, referral and reminder figures are always read live.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, FloatField, Func, Q, QuerySet, Sum
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
    StatisticsDay,
    StatisticsMonth,
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
    """Reminders given in the period about clients' follow-up questions unanswered for
    FOLLOWUP_REMINDER_DAYS (`FollowUp.reminded_at`, recorded by the timed rule), one per
    question, each a client of its own."""
    start, end = period.bounds()
    return count(
        FollowUp.objects.filter(
            case__unit__in=units,
            kind=FollowUp.Kind.FROM_CLIENT,
            reminded_at__gte=start,
            reminded_at__lt=end,
        ).count()
    )


# --- the tally: what the figures are computed from -------------------------------------------
def _counter() -> Counter[str]:
    return Counter()


@dataclass
class Tally:
    """The additive raw counts behind the figures of some units over some days: counts, and
    how many clients took each STEP_SECONDS step (keys are strings, as JSON stores them).

    The tallies of separate units or days add up to the tally of them together, so one
    unit's tally of one closed day is what the nightly roll-up stores (`StatisticsDay`), and
    a period's figures are the stored days added to a live tally of the rest."""

    chats: int = 0  # begun, not offline
    answered: int = 0
    offline: int = 0
    abandoned: int = 0
    handovers: int = 0
    survey_answers: int = 0
    survey_rated: int = 0
    survey_rating_sum: int = 0
    waits: dict[str, Counter[str]] = field(default_factory=dict)  # hour -> step -> clients
    lengths: Counter[str] = field(default_factory=_counter)  # step -> clients
    seqs: Counter[str] = field(default_factory=_counter)  # last_seq -> clients
    abandoned_after: Counter[str] = field(default_factory=_counter)  # step -> clients
    answered_by_day: Counter[str] = field(default_factory=_counter)  # ISO date -> clients
    arrivals: Counter[str] = field(default_factory=_counter)  # hour -> chats begun
    handovers_to: Counter[str] = field(default_factory=_counter)  # unit id -> handovers
    survey_helped: Counter[str] = field(default_factory=_counter)  # yes/partly/no -> answers
    # "unit:hour" -> [samples, staff online, staff serving, clients waiting] (sums)
    staffing: dict[str, list[int]] = field(default_factory=dict)
    worker_lengths: dict[str, Counter[str]] = field(default_factory=dict)  # worker -> step -> n

    COUNTS = (
        "chats",
        "answered",
        "offline",
        "abandoned",
        "handovers",
        "survey_answers",
        "survey_rated",
        "survey_rating_sum",
    )
    FLAT = (
        "lengths",
        "seqs",
        "abandoned_after",
        "answered_by_day",
        "arrivals",
        "handovers_to",
        "survey_helped",
    )
    NESTED = ("waits", "worker_lengths")

    def add(self, data: dict[str, Any]) -> None:
        """Add another tally in its JSON form (`as_json()` or a stored roll-up)."""
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + data.get(name, 0))
        for name in self.FLAT:
            counter = getattr(self, name)
            for key, n in data.get(name, {}).items():
                counter[key] += n
        for name in self.NESTED:
            nested = getattr(self, name)
            for outer, inner in data.get(name, {}).items():
                counter = nested.get(outer)
                if counter is None:
                    counter = nested[outer] = Counter()
                for key, n in inner.items():
                    counter[key] += n
        for key, sums in data.get("staffing", {}).items():
            mine = self.staffing.setdefault(key, [0, 0, 0, 0])
            for i, n in enumerate(sums):
                mine[i] += n

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in self.COUNTS}
        for name in self.FLAT:
            data[name] = dict(getattr(self, name))
        for name in self.NESTED:
            data[name] = {k: dict(v) for k, v in getattr(self, name).items()}
        data["staffing"] = {k: list(v) for k, v in self.staffing.items()}
        return data


def _step_key(step: float | None) -> str:
    return "0" if step is None else str(int(step))


def _distribution(counts: Counter[str], scale: float = 1.0) -> Distribution:
    """Step counts (string keys) as minutes (times `scale`)."""
    out = Distribution()
    for step, n in counts.items():
        out.add(_steps_in_minutes(float(step)) * scale, n)
    return out


# One segment: these units from one moment to another ([start, end)).
Segment = tuple[frozenset[int], datetime, datetime]


def _where(segments: Sequence[Segment], unit_field: str, time_field: str) -> Q:
    where = Q(pk__in=[])
    for unit_ids, start, end in segments:
        where |= Q(
            **{
                f"{unit_field}__in": sorted(unit_ids),
                f"{time_field}__gte": start,
                f"{time_field}__lt": end,
            }
        )
    return where


def _rows(queryset: QuerySet, group: tuple[str, ...], **aggregates: Any) -> list[dict[str, Any]]:
    if group:
        return list(queryset.values(*group).annotate(**aggregates).order_by())
    return [queryset.aggregate(**aggregates)]


def statistics_tallies(
    *, segments: Sequence[Segment], by_day: bool = False
) -> dict[tuple[int, date] | None, Tally]:
    """The tallies of `segments`, straight from the tables: one in all (key None), or with
    `by_day` one per (unit id, local day) that had anything. Reads times, states and counts,
    never message text."""
    tallies: dict[tuple[int, date] | None, Tally] = defaultdict(Tally)

    def grouped(queryset: QuerySet, unit_field: str, time_field: str) -> tuple[QuerySet, tuple]:
        queryset = queryset.filter(_where(segments, unit_field, time_field))
        if not by_day:
            return queryset, ()
        return (
            queryset.annotate(g_unit=F(unit_field), g_day=TruncDate(time_field)),
            ("g_unit", "g_day"),
        )

    def tally(row: dict[str, Any]) -> Tally:
        return tallies[(row["g_unit"], row["g_day"]) if by_day else None]

    conversations, g = grouped(Conversation.objects.all(), "unit_id", "created_at")
    offline = Conversation.State.OFFLINE
    for row in _rows(
        conversations,
        g,
        chats=Count("pk", filter=~Q(state=offline)),
        answered=Count("pk", filter=Q(first_accepted_at__isnull=False)),
        offline=Count("pk", filter=Q(state=offline)),
        abandoned=Count("pk", filter=Q(state=Conversation.State.ABANDONED)),
    ):
        t = tally(row)
        for name in ("chats", "answered", "offline", "abandoned"):
            setattr(t, name, getattr(t, name) + (row[name] or 0))

    # Times in the database, counted per step (never the messages, never a row per client).
    answered_rows = conversations.filter(first_accepted_at__isnull=False)
    for row in _bucketed(
        answered_rows.annotate(hour=ExtractHour("created_at")),
        "first_accepted_at",
        "created_at",
        "hour",
        *g,
    ):
        tally(row).waits.setdefault(str(row["hour"]), Counter())[_step_key(row["step"])] += row["n"]
    ended = answered_rows.filter(state=Conversation.State.ENDED, ended_at__isnull=False)
    for row in _bucketed(ended, "ended_at", "first_accepted_at", "worker_id", *g):
        t, step = tally(row), _step_key(row["step"])
        t.lengths[step] += row["n"]
        if row["worker_id"] is not None:
            t.worker_lengths.setdefault(str(row["worker_id"]), Counter())[step] += row["n"]
    for row in ended.values("last_seq", *g).annotate(n=Count("pk")).order_by():
        tally(row).seqs[str(row["last_seq"])] += row["n"]
    for row in _bucketed(
        conversations.filter(state=Conversation.State.ABANDONED, ended_at__isnull=False),
        "ended_at",
        "created_at",
        *g,
    ):
        tally(row).abandoned_after[_step_key(row["step"])] += row["n"]
    for row in (
        answered_rows.annotate(day=TruncDate("created_at"))
        .values("day", *g)
        .annotate(n=Count("pk"))
        .order_by()
    ):
        tally(row).answered_by_day[row["day"].isoformat()] += row["n"]
    for row in (
        conversations.exclude(state=offline)
        .annotate(hour=ExtractHour("created_at"))
        .values("hour", *g)
        .annotate(n=Count("pk"))
        .order_by()
    ):
        tally(row).arrivals[str(row["hour"])] += row["n"]

    handovers, g = grouped(Handover.objects.all(), "from_unit_id", "created_at")
    for row in handovers.values("to_unit_id", *g).annotate(n=Count("pk")).order_by():
        t = tally(row)
        t.handovers += row["n"]
        t.handovers_to[str(row["to_unit_id"])] += row["n"]

    surveys, g = grouped(SurveyAnswer.objects.all(), "conversation__unit_id", "created_at")
    for row in _rows(
        surveys,
        g,
        answers=Count("pk"),
        rated=Count("rating"),
        rating_sum=Sum("rating"),
        **{f"helped_{h}": Count("pk", filter=Q(helped=h)) for h in SurveyAnswer.Helped.values},
    ):
        if not row["answers"]:
            continue
        t = tally(row)
        t.survey_answers += row["answers"]
        t.survey_rated += row["rated"]
        t.survey_rating_sum += row["rating_sum"] or 0
        for h in SurveyAnswer.Helped.values:
            if row[f"helped_{h}"]:
                t.survey_helped[h] += row[f"helped_{h}"]

    samples, g = grouped(StaffingSample.objects.all(), "unit_id", "at")
    for row in (
        samples.annotate(hour=ExtractHour("at"))
        .values("unit_id", "hour", *g)
        .annotate(
            n=Count("pk"), on=Sum("staff_online"), serve=Sum("staff_serving"), wait=Sum("waiting")
        )
        .order_by()
    ):
        sums = tally(row).staffing.setdefault(f"{row['unit_id']}:{row['hour']}", [0, 0, 0, 0])
        for i, name in enumerate(("n", "on", "serve", "wait")):
            sums[i] += row[name]
    return dict(tallies)


def _day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return Period(PeriodKind.CUSTOM, first, last).bounds()


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def statistics_tally(*, units: Sequence[Unit], period: Period) -> Tally:
    """The tally of `period` for `units`: the roll-up for whole past days it holds (whole
    months from StatisticsMonth, other days from StatisticsDay), the tables themselves for
    the rest (today, days not rolled up yet, days still open)."""
    today = timezone.localdate()
    tally = Tally()
    rolled: dict[int, set[date]] = defaultdict(set)
    last_past = min(period.end, today - timedelta(days=1))
    if period.start <= last_past:
        # Whole calendar months inside the period.
        first_month = period.start.replace(day=1)
        if first_month < period.start:
            first_month = _month_end(first_month) + timedelta(days=1)
        months_by_unit: dict[date, set[int]] = defaultdict(set)
        for unit_id, month, data in StatisticsMonth.objects.filter(
            unit__in=units, month__gte=first_month, month__lte=last_past
        ).values_list("unit_id", "month", "tally"):
            if _month_end(month) > last_past:
                continue
            tally.add(data)
            months_by_unit[month].add(unit_id)
            day = month
            while day <= _month_end(month):
                rolled[unit_id].add(day)
                day += timedelta(days=1)
        covered = Q(pk__in=[])
        for month, unit_ids in months_by_unit.items():
            covered |= Q(unit_id__in=sorted(unit_ids), day__gte=month, day__lte=_month_end(month))
        for unit_id, day, data in (
            StatisticsDay.objects.filter(unit__in=units, day__gte=period.start, day__lte=last_past)
            .exclude(covered)
            .values_list("unit_id", "day", "tally")
        ):
            tally.add(data)
            rolled[unit_id].add(day)
    # The days left, as runs of days, one segment per run shared by the same units.
    runs: dict[tuple[date, date], set[int]] = defaultdict(set)
    for unit in units:
        run_start: date | None = None
        day = period.start
        while day <= period.end + timedelta(days=1):
            missing = day <= period.end and day not in rolled[unit.pk]
            if missing and run_start is None:
                run_start = day
            elif not missing and run_start is not None:
                runs[(run_start, day - timedelta(days=1))].add(unit.pk)
                run_start = None
            day += timedelta(days=1)
    if runs:
        segments = [
            (frozenset(unit_ids), *_day_bounds(first, last))
            for (first, last), unit_ids in sorted(runs.items())
        ]
        live = statistics_tallies(segments=segments).get(None)
        if live is not None:
            tally.add(live.as_json())
    return tally


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
    tally: Tally | None = field(default=None, repr=False, compare=False)
    calls: dict[str, Figure] = field(default_factory=dict)  # call_figures

    @property
    def survey_too_few(self) -> bool:
        return self.survey_answers < MIN_CLIENTS


def _followup_figures(units: Sequence[Unit], period: Period) -> dict[str, Figure]:
    """Follow-up questions to clients asked in the period, how many are answered by now and
    how long that took, and the answers that came in the period. Always live: a question
    asked on a closed day can still be answered, so a day's roll-up would go stale. One
    query: the questions asked or answered in the period, counted per step of answer time."""
    start, end = period.bounds()
    asked_in = Q(created_at__gte=start, created_at__lt=end)
    answered_in = Q(answered_at__gte=start, answered_at__lt=end)
    rows = (
        FollowUp.objects.filter(case__unit__in=units, kind=FollowUp.Kind.TO_CLIENT)
        .filter(asked_in | answered_in)
        .annotate(
            # (+10 ms, as in _bucketed; no step when not answered.)
            step=Floor((Seconds(F("answered_at"), F("created_at")) + 0.01) / STEP_SECONDS)
        )
        .values("step")
        .annotate(asked=Count("pk", filter=asked_in), answers=Count("pk", filter=answered_in))
        .order_by()
    )
    asked = answers = 0
    answer_hours = Distribution()
    for row in rows:
        asked += row["asked"]
        answers += row["answers"]
        if row["step"] is not None and row["asked"]:
            answer_hours.add(_steps_in_minutes(row["step"]) / 60, row["asked"])
    return {
        "asked": count(asked),
        "answered": count(answer_hours.total),
        "answer_hours_median": answer_hours.median(),
        "answers": count(answers),
    }


def statistics_figures(*, units: Sequence[Unit], period: Period) -> Figures:
    """Every figure of `period` for `units` (already those the reader may see)."""
    tally = statistics_tally(units=units, period=period)
    followups = _followup_figures(units, period)

    by_hour = {hour: _distribution(tally.waits.get(str(hour), Counter())) for hour in range(24)}
    waits = Distribution()
    for distribution in by_hour.values():
        for value, n in distribution.counts.items():
            waits.add(value, n)
    seqs = Distribution()
    for last_seq, n in tally.seqs.items():
        seqs.add(float(last_seq), n)

    per_week: Counter[date] = Counter()
    for day, n in tally.answered_by_day.items():
        d = date.fromisoformat(day)
        per_week[d - timedelta(days=d.weekday())] += n
    week = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while week <= period.end:
        weeks.append((week, count(per_week.get(week, 0))))
        week += timedelta(days=7)

    names = dict(
        Unit.objects.filter(pk__in=[int(k) for k in tally.handovers_to]).values_list("pk", "name")
    )
    to_by_name: Counter[str] = Counter()
    for unit_id, n in tally.handovers_to.items():
        to_by_name[names.get(int(unit_id), "?")] += n
    handovers_to = [(name, count(n)) for name, n in sorted(to_by_name.items()) if n]

    # The survey's rule: below MIN_CLIENTS answers nothing at all shows, not even a share.
    survey_clients = tally.survey_answers
    survey_helped = {
        h: Figure(float(tally.survey_helped.get(h, 0)), survey_clients)
        for h in SurveyAnswer.Helped.values
    }

    return Figures(
        period=period,
        chats=count(tally.chats),
        answered=count(tally.answered),
        offline_questions=count(tally.offline),
        followup_answers=followups["answers"],
        referrals=referral_figures(units=units, period=period),
        personal_per_week=weeks,
        wait_median=waits.median(),
        wait_p90=waits.percentile(0.9),
        wait_by_hour=[
            (hour, by_hour[hour].median(), by_hour[hour].percentile(0.9)) for hour in range(24)
        ],
        abandoned=count(tally.abandoned),
        abandoned_share=_share(tally.abandoned, tally.chats),
        abandoned_after_median=_distribution(tally.abandoned_after).median(),
        length_median=_distribution(tally.lengths).median(),
        messages_median=seqs.median(),
        handovers=count(tally.handovers),
        handovers_to=handovers_to,
        followups_asked=followups["asked"],
        followups_answered=followups["answered"],
        followup_answer_hours_median=followups["answer_hours_median"],
        reminders=reminder_figures(units=units, period=period),
        survey_answers=survey_clients,
        survey_helped=survey_helped,
        survey_rating=Figure(
            tally.survey_rating_sum / tally.survey_rated if tally.survey_rated else None,
            survey_clients if tally.survey_rated else 0,
        ),
        staffing_by_hour=_staffing_by_hour(tally, period),
        tally=tally,
        calls=call_figures(units=units, period=period),
    )


def _staffing_by_hour(tally: Tally, period: Period) -> list[dict[str, Any]]:
    """Per hour of the day: staff online and serving (mean of the samples, summed over the
    units) against clients arriving to chat and waiting (per day of the period)."""
    # Each unit's mean per hour of the day, added up over the units (every unit is sampled
    # at the same moments, so this is the mean of the moments' totals).
    online: dict[int, float] = defaultdict(float)
    serving: dict[int, float] = defaultdict(float)
    waiting: dict[int, float] = defaultdict(float)
    sampled: set[int] = set()
    for key, (n, on, serve, wait) in tally.staffing.items():
        if not n:
            continue
        hour = int(key.split(":")[1])
        sampled.add(hour)
        online[hour] += on / n
        serving[hour] += serve / n
        waiting[hour] += wait / n
    rows = []
    for hour in range(24):
        arrivals = tally.arrivals.get(str(hour), 0)
        rows.append(
            {
                "hour": hour,
                "staff_online": round(online[hour], 1) if hour in sampled else None,
                "staff_serving": round(serving[hour], 1) if hour in sampled else None,
                # Clients: hidden like any other cell built from fewer than MIN_CLIENTS.
                "arrivals": Figure(arrivals / period.days, arrivals),
                "waiting": Figure(round(waiting[hour], 1) if hour in sampled else None, arrivals),
            }
        )
    return rows


# --- per worker ------------------------------------------------------------------------------
def worker_figures(
    *, viewer: User, units: Sequence[Unit], period: Period, tally: Tally | None = None
) -> list[dict[str, Any]]:
    """Per worker of `units`: chats answered and median handling time. A supervisor sees the
    staff of their units; anyone else only themselves; an administrator no one (they are
    nobody's supervisor). In name order, never ranked. `tally`: the period's, if the caller
    has it already."""
    if viewer.role == User.Role.SUPERVISOR:
        workers = User.objects.filter(units__in=units, is_active=True).distinct()
    elif viewer.works_in_console:
        workers = User.objects.filter(pk=viewer.pk)
    else:
        return []
    if tally is None:
        tally = statistics_tally(units=units, period=period)
    rows = []
    for worker in workers.filter(role__in=[User.Role.WORKER, User.Role.SUPERVISOR]).order_by(
        "first_name", "last_name", "username"
    ):
        handled = _distribution(tally.worker_lengths.get(str(worker.pk), Counter()))
        rows.append(
            {
                "id": worker.pk,
                "name": worker.display_name,
                "chats": count(handled.total),
                "length_median": handled.median(),
            }
        )
    return rows


def worker_own_figures(*, worker: User, period: Period) -> dict[str, Figure]:
    """A worker's own figures for `period`, for their own page only (never another's, never
    ranked): the chats they ended as the conversation's worker with how long they took, the
    handovers they made, the follow-up questions they asked and clients' answers to them,
    and their chats' survey results, where nothing shows below MIN_CLIENTS answers (the
    survey page's rule). Any figure from fewer than MIN_CLIENTS clients is hidden as
    everywhere. Live reads by the worker's own rows; no message text."""
    start, end = period.bounds()
    own = Conversation.objects.filter(worker=worker, created_at__gte=start, created_at__lt=end)
    ended = own.filter(
        state=Conversation.State.ENDED, first_accepted_at__isnull=False, ended_at__isnull=False
    )
    lengths = Distribution()
    for row in _bucketed(ended, "ended_at", "first_accepted_at"):
        lengths.add(_steps_in_minutes(row["step"]), row["n"])
    seqs = Distribution()
    for last_seq, n in ended.values_list("last_seq").annotate(n=Count("pk")).order_by():
        seqs.add(float(last_seq), n)
    handovers = Handover.objects.filter(
        from_worker=worker, created_at__gte=start, created_at__lt=end
    ).count()
    asked = FollowUp.objects.filter(
        asked_by=worker, kind=FollowUp.Kind.TO_CLIENT, created_at__gte=start, created_at__lt=end
    )
    answer_hours = Distribution()
    for row in _bucketed(asked.filter(answered_at__isnull=False), "answered_at", "created_at"):
        answer_hours.add(_steps_in_minutes(row["step"]) / 60, row["n"])
    survey = SurveyAnswer.objects.filter(
        conversation__worker=worker, created_at__gte=start, created_at__lt=end
    ).aggregate(
        answers=Count("pk"),
        rated=Count("rating"),
        rating_sum=Sum("rating"),
        helped=Count("pk", filter=Q(helped=SurveyAnswer.Helped.YES)),
    )
    answers = survey["answers"]
    # The survey's rule: below MIN_CLIENTS answers nothing at all shows.
    surveyed = answers
    return {
        "chats": count(lengths.total),
        "length_median": lengths.median(),
        "length_p90": lengths.percentile(0.9),
        "messages_median": seqs.median(),
        "handovers": count(handovers),
        "followups_asked": count(asked.count()),
        "followups_answered": count(answer_hours.total),
        "followup_answer_hours_median": answer_hours.median(),
        "survey_answers": count(answers),
        "survey_helped": Figure(float(survey["helped"]), surveyed),
        "survey_rating": Figure(
            survey["rating_sum"] / survey["rated"] if survey["rated"] else None,
            surveyed if survey["rated"] else 0,
        ),
    }


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
    current = statistics_figures(units=units, period=period)
    return Report(
        units=allowed,
        unit=unit,
        current=current,
        previous=statistics_figures(units=units, period=period.previous()),
        workers=worker_figures(viewer=user, units=units, period=period, tally=current.tally),
    )
