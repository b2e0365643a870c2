"""HTTP pages. Each renders the first state; the page's ES module takes over over the socket."""

import csv
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts.decorators import staff_page
from chat import selectors
from chat.services.conversations import conversation_quick_exit
from frontend.forms import AccessLogFilter


def _socket_settings() -> dict[str, int]:
    return {
        "maxLength": settings.CHAT_MESSAGE_MAX_LENGTH,
        "heartbeatSeconds": settings.CHAT_HEARTBEAT_SECONDS,
    }


@never_cache
def client_page(request: HttpRequest) -> HttpResponse:
    """The anonymous client's chat page: choose a unit, write, wait, talk."""
    return render(
        request,
        "frontend/client.html",
        {
            "units": [
                {
                    "unit": unit,
                    "is_open": selectors.unit_is_open(unit=unit),
                    "week": selectors.unit_week_hours(unit=unit),
                }
                for unit in selectors.unit_list_open()
            ],
            "socket_settings": _socket_settings(),
            "quick_exit_url": settings.QUICK_EXIT_URL,
        },
    )


@never_cache
@staff_page("chat.use_console")
def console_page(request: HttpRequest) -> HttpResponse:
    """The social worker's console."""
    units = selectors.unit_list_for_staff(user=request.user)  # type: ignore[arg-type]
    return render(
        request,
        "frontend/console.html",
        {
            "unit_names": {unit.pk: unit.name for unit in units},
            "socket_settings": _socket_settings(),
        },
    )


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
    )


def _csv_cell(value: object) -> str:
    """No spreadsheet formulas from a cell (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@never_cache
@staff_page("chat.review_access_log")
def access_log_csv(request: HttpRequest) -> HttpResponse:
    _form, rows = _access_log_rows(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-log.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["time", "staff", "unit", "conversation", "case", "action", "took_part", "request_id"]
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
                )
            ]
        )
    return response


@csrf_protect
def quick_exit(request: HttpRequest) -> HttpResponse:
    """Quick exit. The page's beacon (POST, token in the body) ends the conversation; the
    navigation (GET) ends the session, asks the browser to clear this site's data, and goes
    on to the neutral page."""
    if request.method == "POST":
        conversation_quick_exit(token=request.POST.get("token"))
        return HttpResponse(status=204)
    request.session.flush()
    response = HttpResponseRedirect(settings.QUICK_EXIT_URL)
    response["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
