"""The statistics page, its CSV and its printable form: supervisors (their units) and
administrators (every unit). The figures come from chat/selectors/statistics.py; this
module only parses the choices and lays the figures out, once, for the page and the CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from chat.selectors.statistics import (
    MIN_CLIENTS,
    Figure,
    Figures,
    Report,
    statistics_report,
    statistics_units_for,
    worker_own_figures,
)
from frontend.decorators import staff_page
from frontend.forms import OwnStatisticsFilter, StatisticsFilter
from frontend.views import _csv_cell


@dataclass(frozen=True)
class Row:
    """One line of the summary: a figure of the period and of the period before."""

    key: str
    label: Any
    unit: str  # count, minutes, hours, share, number
    get: Callable[[Any], Figure | None]  # reads Figures, or a worker's own figures (a dict)


def _referrals(f: Figures) -> Figure | None:
    return None if f.referrals is None else f.referrals.get("referrals")


def _raised(f: Figures) -> Figure | None:
    return None if f.referrals is None else f.referrals.get("urgent")


SUMMARY: list[tuple[Any, list[Row]]] = [
    (
        gettext_lazy("Contacts"),
        [
            Row("chats", gettext_lazy("Chats started"), "count", lambda f: f.chats),
            Row(
                "answered",
                gettext_lazy("Personal contacts (chats a social worker answered)"),
                "count",
                lambda f: f.answered,
            ),
            Row(
                "calls_voice",
                gettext_lazy("Personal contacts by voice call"),
                "count",
                lambda f: f.calls.get("voice"),
            ),
            Row(
                "calls_video",
                gettext_lazy("Personal contacts by video call"),
                "count",
                lambda f: f.calls.get("video"),
            ),
            Row(
                "followup_answers",
                gettext_lazy("Answers from clients to follow-up questions"),
                "count",
                lambda f: f.followup_answers,
            ),
            Row(
                "offline_questions",
                gettext_lazy("Questions left outside opening hours"),
                "count",
                lambda f: f.offline_questions,
            ),
            Row("referrals", gettext_lazy("Partner referrals"), "count", _referrals),
            Row(
                "risk_raised",
                gettext_lazy("Chats the risk rules raised to urgent"),
                "count",
                _raised,
            ),
        ],
    ),
    (
        gettext_lazy("Waits"),
        [
            Row(
                "wait_median",
                gettext_lazy("Time to first answer, median"),
                "minutes",
                lambda f: f.wait_median,
            ),
            Row(
                "wait_p90",
                gettext_lazy("Time to first answer, 9 in 10 within"),
                "minutes",
                lambda f: f.wait_p90,
            ),
        ],
    ),
    (
        gettext_lazy("Left the queue"),
        [
            Row("abandoned", gettext_lazy("Left the queue"), "count", lambda f: f.abandoned),
            Row(
                "abandoned_share",
                gettext_lazy("Share of chats that left the queue"),
                "share",
                lambda f: f.abandoned_share,
            ),
            Row(
                "abandoned_after",
                gettext_lazy("Left after, median"),
                "minutes",
                lambda f: f.abandoned_after_median,
            ),
        ],
    ),
    (
        gettext_lazy("Handling"),
        [
            Row(
                "length_median",
                gettext_lazy("Conversation length, median"),
                "minutes",
                lambda f: f.length_median,
            ),
            Row(
                "messages_median",
                gettext_lazy("Messages and events per conversation, median"),
                "number",
                lambda f: f.messages_median,
            ),
            Row("handovers", gettext_lazy("Handovers"), "count", lambda f: f.handovers),
        ],
    ),
    (
        gettext_lazy("Follow-up"),
        [
            Row(
                "followups_asked",
                gettext_lazy("Questions asked to clients"),
                "count",
                lambda f: f.followups_asked,
            ),
            Row(
                "followups_answered",
                gettext_lazy("Of those, answered by the client"),
                "count",
                lambda f: f.followups_answered,
            ),
            Row(
                "followup_answer_time",
                gettext_lazy("Time for the client to answer, median"),
                "hours",
                lambda f: f.followup_answer_hours_median,
            ),
            Row(
                "reminders",
                gettext_lazy("Reminders about clients' questions waiting long"),
                "count",
                lambda f: f.reminders,
            ),
        ],
    ),
    (
        gettext_lazy("Quality"),
        [
            Row(
                "survey_answers",
                gettext_lazy("Survey answers"),
                "count",
                lambda f: Figure(float(f.survey_answers), f.survey_answers),
            ),
            Row(
                "survey_helped",
                gettext_lazy("Got the help they needed"),
                "count",
                lambda f: f.survey_helped["yes"],
            ),
            Row(
                "survey_rating",
                gettext_lazy("Average rating (1–5)"),
                "number",
                lambda f: f.survey_rating,
            ),
        ],
    ),
]


def format_value(value: float | None, unit: str) -> str:
    """A shown value as the page and the CSV write it ('' when there is none)."""
    if value is None:
        return ""
    if unit == "count":
        return str(round(value))
    if unit == "share":
        return f"{round(value * 100)} %"
    return number_format(value, decimal_pos=1)


def cell(figure: Figure | None, unit: str) -> dict[str, Any]:
    """What one cell shows: the value, 'fewer than 5', 'no data' or a dash."""
    if figure is None:
        return {"state": "no_data", "text": _("no data")}
    if figure.hidden:
        return {"state": "hidden", "text": _("fewer than %(n)s") % {"n": MIN_CLIENTS}}
    if figure.empty:
        return {"state": "empty", "text": "–"}
    return {"state": "value", "text": format_value(figure.value, unit)}


def sections_of(spec: list[tuple[Any, list[Row]]], now: Any, before: Any) -> list[dict[str, Any]]:
    """A summary table's sections: each row's figure of `now` and of `before` (whatever the
    rows' getters read: the unit figures or a worker's own), with the change."""
    sections = []
    for title, rows in spec:
        lines = []
        for row in rows:
            fig_now, fig_before = row.get(now), row.get(before)
            change = ""
            if (
                fig_now is not None
                and fig_before is not None
                and fig_now.shown is not None
                and fig_before.shown is not None
            ):
                diff = fig_now.shown - fig_before.shown
                if abs(diff) < 0.05:  # no "-0,0": unchanged at the precision shown
                    diff = 0.0
                change = ("+" if diff > 0 else "") + format_value(diff, row.unit)
            lines.append(
                {
                    "key": row.key,
                    "label": row.label,
                    "unit": row.unit,
                    "now": cell(fig_now, row.unit),
                    "before": cell(fig_before, row.unit),
                    "change": change,
                }
            )
        sections.append({"title": title, "rows": lines})
    return sections


def summary_sections(report: Report) -> list[dict[str, Any]]:
    return sections_of(SUMMARY, report.current, report.previous)


def _cells(*pairs: tuple[Figure | None, str]) -> list[dict[str, Any]]:
    """Table cells for figures; a hidden first figure hides the row's cells after it as one
    'fewer than 5' (they are about the same clients)."""
    first = pairs[0][0]
    if first is not None and first.hidden:
        return [{**cell(first, pairs[0][1]), "colspan": len(pairs)}]
    return [{**cell(fig, unit), "colspan": 1} for fig, unit in pairs]


def _plain(value: float | None) -> dict[str, Any]:
    """A cell that is not about clients (staff counts): the value or a dash."""
    text = "–" if value is None else format_value(value, "number")
    return {"state": "value" if value is not None else "empty", "text": text, "colspan": 1}


def chart_tables(report: Report) -> list[dict[str, Any]]:
    """The charts' sections, each a chart and the data table beside it with the same figures:
    one template include renders them all (frontend/statistics_chart.html). `key` names the
    chart's element (`chart-<key>`), its table (`table-<key>`) and its series in
    chart_data()."""
    f = report.current
    hour = "{:02d}:00".format
    return [
        {
            "key": "weeks",
            "title": _("Personal contacts per week"),
            "chart_label": _(
                "Personal contacts per week; the table beside it has the same figures. "
                "Arrow keys move between the weeks."
            ),
            "caption": _("Personal contacts per week"),
            "columns": [_("Week starting"), _("Personal contacts")],
            "rows": [
                {
                    "label": date_filter(week, "j M"),
                    "datetime": week.isoformat(),
                    "cells": _cells((fig, "count")),
                }
                for week, fig in f.personal_per_week
            ],
        },
        {
            "key": "waits",
            "title": _("Time to first answer by hour of day"),
            "chart_label": _(
                "Time to first answer by hour of day, median and 9 in 10 within, in minutes; "
                "the table beside it has the same figures. Arrow keys move between the hours."
            ),
            "caption": _("Time to first answer by hour of day, in minutes"),
            "columns": [_("Hour"), _("Median"), _("9 in 10 within")],
            "rows": [
                {"label": hour(h), "cells": _cells((median, "minutes"), (p90, "minutes"))}
                for h, median, p90 in f.wait_by_hour
                if median.clients
            ],
        },
        {
            "key": "staffing",
            "title": _("Staffing and clients by hour of day"),
            "intro": _(
                "Staff online and serving (available or busy) on average in each hour, beside "
                "the chats that began in that hour per day and the clients waiting on average."
            ),
            "chart_label": _(
                "Staffing and clients by hour of day; the table beside it has the same "
                "figures. Arrow keys move between the hours."
            ),
            "caption": _("Staffing and clients by hour of day"),
            "columns": [
                _("Hour"),
                _("Staff online"),
                _("Staff serving"),
                _("Chats per day"),
                _("Clients waiting"),
            ],
            "rows": [
                {
                    "label": hour(row["hour"]),
                    "cells": [
                        _plain(row["staff_online"]),
                        _plain(row["staff_serving"]),
                        *_cells((row["arrivals"], "number"), (row["waiting"], "number")),
                    ],
                }
                for row in f.staffing_by_hour
                if row["staff_online"] is not None or row["arrivals"].clients
            ],
        },
    ]


def chart_data(report: Report) -> dict[str, Any]:
    """The charts' series (hidden cells are null: a gap, never a value)."""
    f = report.current
    return {
        "weeks": {
            "labels": [week.isoformat() for week, _fig in f.personal_per_week],
            "personal": [fig.shown for _week, fig in f.personal_per_week],
        },
        "waits": {
            "hours": [hour for hour, _m, _p in f.wait_by_hour],
            "median": [m.shown for _h, m, _p in f.wait_by_hour],
            "p90": [p.shown for _h, _m, p in f.wait_by_hour],
        },
        "staffing": {
            "hours": [row["hour"] for row in f.staffing_by_hour],
            "online": [row["staff_online"] for row in f.staffing_by_hour],
            "serving": [row["staff_serving"] for row in f.staffing_by_hour],
            "arrivals": [row["arrivals"].shown for row in f.staffing_by_hour],
            "waiting": [row["waiting"].shown for row in f.staffing_by_hour],
        },
    }


def _report(request: HttpRequest) -> tuple[StatisticsFilter, Report | None]:
    user = request.user
    form = StatisticsFilter(
        request.GET or None,
        units=statistics_units_for(user=user),  # type: ignore[arg-type]
    )
    if request.GET and not form.is_valid():
        return form, None
    period = form.to_period(timezone.localdate())
    unit = form.cleaned_data.get("unit") if form.is_bound else None
    return form, statistics_report(user=user, unit=unit, period=period)  # type: ignore[arg-type]


@never_cache
@staff_page("chat.view_statistics")
def statistics_page(request: HttpRequest) -> HttpResponse:
    """Figures of a period per unit or for all the reader's units, beside the period before,
    with charts, their data tables, a CSV and a printable form."""
    form, report = _report(request)
    context: dict[str, Any] = {"form": form, "report": report, "min_clients": MIN_CLIENTS}
    if report is not None:
        context.update(
            sections=summary_sections(report),
            charts=chart_data(report),
            chart_tables=chart_tables(report),
            query=request.GET.urlencode(),
            printing=request.GET.get("print") == "1",
        )
    return render(
        request, "frontend/statistics.html", context, status=400 if report is None else 200
    )


@never_cache
@staff_page("chat.view_statistics")
def statistics_csv(request: HttpRequest) -> HttpResponse:
    """The summary and the tables of the page as CSV, hidden cells as on the page."""
    _form, report = _report(request)
    if report is None:  # a choice that is not one exports nothing
        return HttpResponseBadRequest(content_type="text/plain; charset=utf-8")
    period = report.current.period
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statistics-{period.start.isoformat()}-{period.end.isoformat()}.csv"'
    )
    writer = csv.writer(response)

    def row(*values: object) -> None:
        writer.writerow([_csv_cell(value) for value in values])

    unit_name = report.unit.name if report.unit is not None else _("All my units")
    row(_("Unit"), unit_name)
    row(_("Period"), period.start.isoformat(), period.end.isoformat())
    previous = report.previous.period
    row(_("Period before"), previous.start.isoformat(), previous.end.isoformat())
    row()
    row(_("Section"), _("Figure"), _("This period"), _("Period before"), _("Change"))
    for section in summary_sections(report):
        for line in section["rows"]:
            row(
                section["title"],
                line["label"],
                line["now"]["text"],
                line["before"]["text"],
                line["change"],
            )
    row()
    row(_("Week starting"), _("Personal contacts"))
    for week, fig in report.current.personal_per_week:
        row(week.isoformat(), cell(fig, "count")["text"])
    row()
    row(_("Hour"), _("Wait, median (minutes)"), _("Wait, 9 in 10 within (minutes)"))
    for hour, median, p90 in report.current.wait_by_hour:
        row(f"{hour:02d}", cell(median, "minutes")["text"], cell(p90, "minutes")["text"])
    row()
    row(
        _("Hour"),
        _("Staff online"),
        _("Staff serving"),
        _("Chats per day"),
        _("Clients waiting"),
    )
    for line in report.current.staffing_by_hour:
        row(
            f"{line['hour']:02d}",
            format_value(line["staff_online"], "number"),
            format_value(line["staff_serving"], "number"),
            cell(line["arrivals"], "number")["text"],
            cell(line["waiting"], "number")["text"],
        )
    row()
    row(_("Handed over to"), _("Handovers"))
    for name, fig in report.current.handovers_to:
        row(name, cell(fig, "count")["text"])
    if report.workers:
        row()
        row(_("Staff member"), _("Chats"), _("Conversation length, median"))
        for worker in report.workers:
            row(
                worker["name"],
                cell(worker["chats"], "count")["text"],
                cell(worker["length_median"], "minutes")["text"],
            )
    return response


# --- a worker's own figures -------------------------------------------------------------------
def _own(key: str) -> Callable[[dict[str, Figure]], Figure]:
    return lambda figures: figures[key]


OWN_SUMMARY: list[tuple[Any, list[Row]]] = [
    (
        gettext_lazy("Your chats"),
        [
            Row("chats", gettext_lazy("Chats you ended"), "count", _own("chats")),
            Row(
                "length_median",
                gettext_lazy("Conversation length, median"),
                "minutes",
                _own("length_median"),
            ),
            Row(
                "length_p90",
                gettext_lazy("Conversation length, 9 in 10 within"),
                "minutes",
                _own("length_p90"),
            ),
            Row(
                "messages_median",
                gettext_lazy("Messages and events per conversation, median"),
                "number",
                _own("messages_median"),
            ),
            Row("handovers", gettext_lazy("Handovers you made"), "count", _own("handovers")),
        ],
    ),
    (
        gettext_lazy("Follow-up"),
        [
            Row(
                "followups_asked",
                gettext_lazy("Questions you asked clients"),
                "count",
                _own("followups_asked"),
            ),
            Row(
                "followups_answered",
                gettext_lazy("Of those, answered by the client"),
                "count",
                _own("followups_answered"),
            ),
            Row(
                "followup_answer_time",
                gettext_lazy("Time for the client to answer, median"),
                "hours",
                _own("followup_answer_hours_median"),
            ),
        ],
    ),
    (
        gettext_lazy("Quality"),
        [
            Row(
                "survey_answers",
                gettext_lazy("Survey answers about your chats"),
                "count",
                _own("survey_answers"),
            ),
            Row(
                "survey_helped",
                gettext_lazy("Got the help they needed"),
                "count",
                _own("survey_helped"),
            ),
            Row(
                "survey_rating",
                gettext_lazy("Average rating (1–5)"),
                "number",
                _own("survey_rating"),
            ),
        ],
    ),
]


@never_cache
@staff_page("chat.view_own_statistics")
def own_statistics_page(request: HttpRequest) -> HttpResponse:
    """The signed-in worker's own figures for a period beside the period before: theirs
    only, never another worker's, never ranked."""
    form = OwnStatisticsFilter(request.GET or None)
    context: dict[str, Any] = {"form": form, "min_clients": MIN_CLIENTS}
    if request.GET and not form.is_valid():
        return render(request, "frontend/own_statistics.html", context, status=400)
    period = form.to_period(timezone.localdate())
    previous = period.previous()
    context.update(
        period=period,
        previous=previous,
        sections=sections_of(
            OWN_SUMMARY,
            worker_own_figures(worker=request.user, period=period),  # type: ignore[arg-type]
            worker_own_figures(worker=request.user, period=previous),  # type: ignore[arg-type]
        ),
    )
    return render(request, "frontend/own_statistics.html", context)
