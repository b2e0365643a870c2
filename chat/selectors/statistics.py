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

import statistics as pystats
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Unit, User
from chat.models import Conversation, FollowUp, Handover, StaffingSample, SurveyAnswer
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


def _median(values: Sequence[float]) -> Figure:
    return Figure(pystats.median(values) if values else None, len(values))


def _percentile(values: Sequence[float], share: float) -> Figure:
    """Nearest-rank percentile."""
    if not values:
        return Figure(None, 0)
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats drifting
    return Figure(ordered[int(rank) - 1], len(ordered))


def _share(part: int, whole: int) -> Figure:
    """`part` of `whole` clients as a share 0..1, built from both groups: hidden when either
    the part or the whole is a small group."""
    if whole == 0:
        return Figure(None, 0)
    clients = min(part, whole) if part else whole
    return Figure(part / whole, clients)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# --- who sees which units -------------------------------------------------------------------
def statistics_units_for(*, user: User) -> QuerySet[Unit]:
    """Supervisors see their own units, administrators every unit, others none."""
    if not can(user, "chat.view_statistics"):
        return Unit.objects.none()
    if user.role == User.Role.ADMIN:
        return Unit.objects.order_by("name")
    return user.units.order_by("name")


# --- the hooks for figures that other features provide --------------------------------------
def referral_figures(*, units: Sequence[Unit], period: Period) -> dict[str, Figure] | None:
    """Partner referrals (code-word contacts reported by pharmacies and libraries) and risk
    flags in the period: None, "no data", until the referral and risk models exist. When
    they do, this returns {"referrals": count(...), "urgent": count(...)} read by
    (unit, created_at) like the rest; the page, CSV and tests already show what it gives."""
    return None


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

    # One pass over the answered chats' times (never their messages).
    waits: list[float] = []
    by_hour: dict[int, list[float]] = defaultdict(list)
    per_week: Counter[date] = Counter()
    lengths: list[float] = []
    seqs: list[float] = []
    answered_rows = conversations.filter(first_accepted_at__isnull=False).values_list(
        "created_at", "first_accepted_at", "ended_at", "state", "last_seq"
    )
    for created, first, ended, state, last_seq in answered_rows.iterator(chunk_size=5000):
        wait = _minutes(first - created)
        local = timezone.localtime(created)
        waits.append(wait)
        by_hour[local.hour].append(wait)
        per_week[local.date() - timedelta(days=local.weekday())] += 1
        if state == Conversation.State.ENDED and ended is not None:
            lengths.append(_minutes(ended - first))
            seqs.append(last_seq)

    abandoned_after = [
        _minutes(ended - created)
        for created, ended in conversations.filter(
            state=Conversation.State.ABANDONED, ended_at__isnull=False
        ).values_list("created_at", "ended_at")
    ]

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
    answer_hours = [
        (answered - created).total_seconds() / 3600
        for created, answered in asked.filter(answered_at__isnull=False).values_list(
            "created_at", "answered_at"
        )
        if answered is not None
    ]
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
        wait_median=_median(waits),
        wait_p90=_percentile(waits, 0.9),
        wait_by_hour=[
            (hour, _median(by_hour[hour]), _percentile(by_hour[hour], 0.9)) for hour in range(24)
        ],
        abandoned=count(totals["abandoned"]),
        abandoned_share=_share(totals["abandoned"], totals["chats"]),
        abandoned_after_median=_median(abandoned_after),
        length_median=_median(lengths),
        messages_median=_median(seqs),
        handovers=count(handovers.count()),
        handovers_to=handovers_to,
        followups_asked=count(asked.count()),
        followups_answered=count(len(answer_hours)),
        followup_answer_hours_median=_median(answer_hours),
        reminders=reminder_figures(units=units, period=period),
        survey_answers=survey_clients,
        survey_helped=survey_helped,
        survey_rating=Figure(
            float(survey["rating"]) if survey["rating"] is not None else None,
            survey_clients if survey["rated"] else 0,
        ),
        staffing_by_hour=_staffing_by_hour(units, period, conversations),
    )


def _staffing_by_hour(
    units: Sequence[Unit], period: Period, conversations: QuerySet
) -> list[dict[str, Any]]:
    """Per hour of the day: staff online and serving (mean of the samples, summed over the
    units) against clients arriving to chat and waiting (per day of the period)."""
    start, end = period.bounds()
    samples = StaffingSample.objects.filter(unit__in=units, at__gte=start, at__lt=end)
    online: dict[int, list[int]] = defaultdict(list)
    serving: dict[int, list[int]] = defaultdict(list)
    waiting: dict[int, list[int]] = defaultdict(list)
    # Samples of several units at one moment add up; moments average within the hour.
    moments: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0])
    for at, on, serve, wait in samples.values_list(
        "at", "staff_online", "staff_serving", "waiting"
    ).iterator(chunk_size=5000):
        moment = moments[at]
        moment[0] += on
        moment[1] += serve
        moment[2] += wait
    for at, (on, serve, wait) in moments.items():
        hour = timezone.localtime(at).hour
        online[hour].append(on)
        serving[hour].append(serve)
        waiting[hour].append(wait)
    arrivals: Counter[int] = Counter()
    for created in (
        conversations.exclude(state=Conversation.State.OFFLINE)
        .values_list("created_at", flat=True)
        .iterator(chunk_size=5000)
    ):
        arrivals[timezone.localtime(created).hour] += 1
    rows = []
    for hour in range(24):
        rows.append(
            {
                "hour": hour,
                "staff_online": _mean(online[hour]),
                "staff_serving": _mean(serving[hour]),
                # Clients: hidden like any other cell built from fewer than MIN_CLIENTS.
                "arrivals": Figure(arrivals[hour] / period.days, arrivals[hour]),
                "waiting": Figure(_mean(waiting[hour]), arrivals[hour]),
            }
        )
    return rows


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 1) if values else None


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
    lengths: dict[int, list[float]] = defaultdict(list)
    for worker_id, first, ended in (
        _conversations(units, start, end)
        .filter(state=Conversation.State.ENDED, first_accepted_at__isnull=False, worker__in=workers)
        .values_list("worker_id", "first_accepted_at", "ended_at")
    ):
        if ended is not None:
            lengths[worker_id].append(_minutes(ended - first))
    rows = []
    for worker in workers.filter(role__in=[User.Role.WORKER, User.Role.SUPERVISOR]).order_by(
        "first_name", "last_name", "username"
    ):
        handled = lengths.get(worker.pk, [])
        rows.append(
            {
                "id": worker.pk,
                "name": worker.display_name,
                "chats": count(len(handled)),
                "length_median": _median(handled),
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
