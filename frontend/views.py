"""HTTP pages. Each renders the first state; the page's ES module takes over over the socket."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from chat import selectors


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
@login_required
def console_page(request: HttpRequest) -> HttpResponse:
    """The social worker's console."""
    if not request.user.works_in_console:  # type: ignore[union-attr]
        raise PermissionDenied
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
@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The supervisor's live view of their units."""
    if not request.user.is_supervisor:  # type: ignore[union-attr]
        raise PermissionDenied
    return render(request, "frontend/dashboard.html", {"socket_settings": _socket_settings()})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
