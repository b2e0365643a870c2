"""HTTP pages. Each renders the first state; the page's ES module takes over over the socket."""

import csv
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.gzip import gzip_page

from chat import eid, selectors
from chat.errors import ChatError, InvalidInput
from chat.models import CannedReply
from chat.parsing import parse_id, session_id
from chat.permissions import can
from chat.selectors.units import AROUND_THE_CLOCK
from chat.services.conversations import conversation_quick_exit
from chat.services.replies import canned_reply_delete, canned_reply_save
from chatcounsel.middleware import calls_allowed
from frontend.decorators import staff_page
from frontend.eid_views import allow_sign_in_form, identified_client
from frontend.forms import AccessLogFilter, CannedReplyForm
from frontend.languages import client_language_names, client_languages_in_text


def _socket_settings() -> dict[str, int]:
    return {
        "maxLength": settings.CHAT_MESSAGE_MAX_LENGTH,
        "heartbeatSeconds": settings.CHAT_HEARTBEAT_SECONDS,
    }


# The chat pages go out gzipped: a client on prepaid data loads a third of the bytes. They
# carry no secret but the CSRF token, which Django masks anew in every response, and its
# gzip adds random padding (both against BREACH); the conversation comes over the socket.
@gzip_page
@never_cache
@calls_allowed
def client_page(request: HttpRequest) -> HttpResponse:
    """The anonymous client's chat page: choose a unit, write, wait, talk; or leave a
    question when the unit is closed. A client who came back with their case code
    (`/return/`) continues that case, with that unit only."""

    def hours_text(week: list[tuple[str, str]]) -> str:
        # Days in a row with the same hours as one range ("Monday–Friday 08:00–16:30"),
        # easier to read than seven lines. The week starts today, and its last day is the
        # day before today: a range that runs over that seam is joined back together.
        runs: list[list[str]] = []  # [first day, last day, hours]
        for day, hours in week:
            if runs and runs[-1][2] == hours:
                runs[-1][1] = day
            else:
                runs.append([day, day, hours])
        if len(runs) > 1 and runs[0][2] == runs[-1][2]:
            runs[0][0] = runs.pop()[0]
        if len(runs) == 1 and runs[0][2]:  # the same hours all week
            return _("Every day, %(hours)s") % {"hours": runs[0][2]}
        return "; ".join(
            f"{first}–{last} {hours}" if first != last else f"{first} {hours}"
            for first, last, hours in runs
            if hours
        )

    units: list[dict[str, Any]] = []
    # For client.js: names and hours for "your question has been left for ...".
    unit_info: dict[str, dict[str, Any]] = {}
    open_units = list(selectors.unit_list_open())
    # Names and descriptions in the page's language, or the Swedish (marked lang="sv").
    texts = selectors.unit_texts(units=open_units, language=get_language())
    for unit in open_units:
        week = selectors.unit_week_hours(unit=unit)
        is_open = selectors.unit_is_open(unit=unit)
        hours = hours_text(week)
        text = texts[unit.pk]
        units.append({"unit": unit, "text": text, "is_open": is_open, "week": week, "hours": hours})
        # A unit open around the clock has no hours worth repeating in the queue.
        always = all(day_hours == AROUND_THE_CLOCK for _day, day_hours in week)
        unit_info[str(unit.pk)] = {
            "name": text.name,
            "open": is_open,
            "hours": "" if always else hours,
        }
    # Units open now first (the ones a client can chat with), then by name.
    units.sort(key=lambda entry: (not entry["is_open"], entry["text"].name))
    # The page's "Identify with e-ID" form may lead to the provider (stepping up).
    return allow_sign_in_form(
        render(
            request,
            "frontend/client.html",
            {
                "units": units,
                "unit_info": unit_info,
                "returning_case": selectors.case_get_returning(
                    case_id=session_id(request.session.get("case_id"))
                ),
                "identified_client": identified_client(request),
                "eid_available": eid.is_configured(),
                "socket_settings": _socket_settings(),
                "quick_exit_url": settings.QUICK_EXIT_URL,
            },
        )
    )


@never_cache
@calls_allowed
@staff_page("chat.use_console")
def console_page(request: HttpRequest) -> HttpResponse:
    """The social worker's console."""
    user = request.user
    units = selectors.unit_list_for_staff(user=user)  # type: ignore[arg-type]
    colleagues = selectors.colleague_list(user=user)  # type: ignore[arg-type]
    return render(
        request,
        "frontend/console.html",
        {
            "unit_names": {unit.pk: unit.name for unit in selectors.unit_list_all()},
            # A client's language other than the default, named in the worker's language:
            # on its own ("Språk: Arabiska"), and inside a sentence ("på arabiska").
            "client_language_names": client_language_names(),
            "client_languages_in_text": client_languages_in_text(),
            "my_units": [unit.pk for unit in units],
            "colleagues": [
                {
                    "id": c.pk,
                    "name": c.display_name,
                    "units": [u.pk for u in c.units.all()],
                }
                for c in colleagues
            ],
            "interpreters": [
                {"id": i.pk, "name": i.display_name} for i in selectors.interpreter_list()
            ],
            "canned_replies": [
                {
                    "title": r.title,
                    "body": r.body,
                    "language": r.language,
                    "unit": r.unit_id,
                }
                for r in selectors.canned_reply_list(user=user)  # type: ignore[arg-type]
            ],
            "socket_settings": _socket_settings(),
        },
    )


@never_cache
@staff_page("chat.use_console")
def canned_replies_page(request: HttpRequest) -> HttpResponse:
    """A worker's own snippets, and for supervisors those of their units."""
    user = request.user
    managed = [
        unit
        for unit in selectors.unit_list_for_staff(user=user)  # type: ignore[arg-type]
        if can(user, "chat.manage_unit_replies", unit)
    ]
    form = CannedReplyForm(request.POST or None, units=managed)
    if request.method == "POST" and "delete" in request.POST:
        try:
            reply_id = parse_id(request.POST["delete"], name="delete")
        except InvalidInput:
            return HttpResponseBadRequest()
        reply = selectors.canned_reply_get_for(user=user, reply_id=reply_id)  # type: ignore[arg-type]
        if reply is not None:
            try:
                canned_reply_delete(actor=user, reply=reply)  # type: ignore[arg-type]
            except ChatError:
                raise PermissionDenied from None
        return redirect("canned-replies")
    if request.method == "POST" and form.is_valid():
        scope = form.cleaned_data["scope"]
        unit = next((u for u in managed if str(u.pk) == scope), None)
        canned_reply_save(
            actor=user,  # type: ignore[arg-type]
            unit=unit,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            language=CannedReply.Language(form.cleaned_data["language"]),
        )
        return redirect("canned-replies")
    replies = selectors.canned_reply_list(user=user).select_related("unit")  # type: ignore[arg-type]
    return render(
        request,
        "frontend/canned_replies.html",
        {
            "form": form,
            "replies": [
                {
                    "reply": r,
                    "editable": r.owner_id == user.pk
                    or (r.unit is not None and can(user, "chat.manage_unit_replies", r.unit)),
                }
                for r in replies
            ],
        },
    )


@gzip_page
@never_cache
@calls_allowed
def interpreter_page(request: HttpRequest) -> HttpResponse:
    """An interpreter's limited view of one conversation. An external interpreter's link
    carries its secret after #, which the browser never sends here."""
    return render(request, "frontend/interpreter.html", {"socket_settings": _socket_settings()})


@never_cache
@staff_page("chat.view_dashboard")
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The supervisor's live view of their units."""
    return render(request, "frontend/dashboard.html", {"socket_settings": _socket_settings()})


def _access_log_rows(request: HttpRequest) -> tuple[AccessLogFilter, Any]:
    user = request.user
    form = AccessLogFilter(
        request.GET or None,
        staff=selectors.staff_list_supervised(supervisor=user),  # type: ignore[arg-type]
    )
    filters = form.cleaned_data if form.is_valid() else {}
    actor = filters.get("actor")
    rows = selectors.access_log_list(
        supervisor=user,  # type: ignore[arg-type]
        actor_id=actor.pk if actor else None,
        conversation_id=filters.get("conversation"),
        since=filters.get("since"),
        until=filters.get("until"),
        standing_out=bool(filters.get("standing_out")),
    )
    return form, rows


@never_cache
@staff_page("chat.review_access_log")
def access_log_page(request: HttpRequest) -> HttpResponse:
    """Supervisors review who read what in their units; reads by staff who did not take
    part in the conversation stand out."""
    form, rows = _access_log_rows(request)
    return render(
        request,
        "frontend/access_log.html",
        {"form": form, "rows": rows[:500], "total": rows.count()},
        status=400 if form.errors else 200,
    )


def _csv_cell(value: object) -> str:
    """No spreadsheet formulas from a cell (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@never_cache
@staff_page("chat.review_access_log")
def access_log_csv(request: HttpRequest) -> HttpResponse:
    form, rows = _access_log_rows(request)
    if form.errors:  # a filter that is not one exports nothing rather than everything
        return HttpResponseBadRequest(content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-log.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "time",
            "staff",
            "unit",
            "conversation",
            "case",
            "action",
            "took_part",
            "request_id",
            "flagged",
        ]
    )
    for row in rows.iterator():
        writer.writerow(
            [
                _csv_cell(value)
                for value in (
                    row.at.isoformat(),
                    row.actor_name,
                    row.unit_name,
                    row.conversation_id,
                    row.case_id,
                    row.action,
                    "yes" if row.took_part else "no",
                    row.request_id,
                    "yes" if row.flagged else "no",
                )
            ]
        )
    return response


@csrf_protect
def quick_exit(request: HttpRequest) -> HttpResponse:
    """Quick exit. The page's beacon (POST with the CSRF token, and the chat's token if
    there is one) ends the conversation, ends this browser's session (a case opened with a
    code too) and asks the browser to clear the site's data. The navigation (GET) only goes
    on to the neutral page: any other site can link here, so it changes nothing."""
    if request.method != "POST":
        return HttpResponseRedirect(settings.QUICK_EXIT_URL)
    conversation_quick_exit(token=request.POST.get("token", ""))
    request.session.flush()
    response = HttpResponse(status=204)
    # Honoured on any response of the site, a beacon's too (measured in Chromium).
    response["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


@never_cache
@staff_page("chat.view_dashboard")
def survey_page(request: HttpRequest) -> HttpResponse:
    """What clients said after their meetings, per unit, in aggregate only."""
    return render(
        request,
        "frontend/surveys.html",
        {"rows": selectors.survey_summary(supervisor=request.user)},  # type: ignore[arg-type]
    )


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
