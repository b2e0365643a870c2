"""The staffing plan of a unit: minimum staff serving per hour of the week and the priority
list of units to borrow from, set by the unit's supervisors (chat/services/staffing.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from accounts.models import Unit
from chat import selectors
from chat.errors import ChatError, InvalidInput
from chat.parsing import parse_id
from chat.permissions import can
from chat.selectors.demand import demand_week
from chat.selectors.staffing import staffing_lender_list, staffing_week
from chat.selectors.statistics import MIN_CLIENTS
from chat.services.staffing import staffing_lenders_set, staffing_minimum_set
from frontend.decorators import staff_page
from frontend.forms import StaffingLendersForm, StaffingMinimumForm

WEEKDAYS = dict(StaffingMinimumForm.WEEKDAYS)


def _chosen_unit(request: HttpRequest, units: list[Unit]) -> Unit | None:
    raw = request.POST.get("unit") or request.GET.get("unit")
    if not raw:
        return units[0] if units else None
    try:
        unit_id = parse_id(raw, name="unit")
    except InvalidInput:
        return None
    return next((u for u in units if u.pk == unit_id), None)


@never_cache
@staff_page("chat.view_dashboard")
def staffing_page(request: HttpRequest) -> HttpResponse:
    """One of the supervisor's units: its minimum per hour of the week, the forms that set
    it, and its priority list."""
    user = request.user
    units = list(selectors.unit_list_supervised(user=user))  # type: ignore[arg-type]
    unit = _chosen_unit(request, units)
    if units and unit is None:
        return HttpResponseBadRequest(content_type="text/plain; charset=utf-8")
    minimum_form = StaffingMinimumForm(
        request.POST if request.POST.get("form") == "minimum" else None
    )
    others = selectors.unit_list_others(unit=unit)
    lenders_form = StaffingLendersForm(
        request.POST if request.POST.get("form") == "lenders" else None,
        units=others,
        initial={
            f"lender_{n}": lender.pk
            for n, lender in enumerate(staffing_lender_list(unit=unit) if unit else [], start=1)
        },
    )
    if request.method == "POST" and unit is not None:
        if not can(user, "chat.manage_staffing", unit):
            raise PermissionDenied
        saved = None
        try:
            if request.POST.get("form") == "minimum" and minimum_form.is_valid():
                data = minimum_form.cleaned_data
                staffing_minimum_set(
                    actor=user,  # type: ignore[arg-type]
                    unit=unit,
                    weekdays=data["weekdays"],
                    first_hour=data["first_hour"],
                    last_hour=data["last_hour"],
                    minimum=data["minimum"],
                )
                saved = _("The minimum staffing is saved.")
            elif request.POST.get("form") == "lenders" and lenders_form.is_valid():
                staffing_lenders_set(
                    actor=user,  # type: ignore[arg-type]
                    unit=unit,
                    lenders=lenders_form.cleaned_data["lenders"],
                )
                saved = _("The priority list is saved.")
        except ChatError as error:
            # The form checked what a browser can get wrong; this is a crafted request.
            return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
        if saved:
            messages.success(request, saved)
            return redirect(f"{reverse('staffing')}?unit={unit.pk}")
    context: dict[str, Any] = {
        "units": units,
        "unit": unit,
        "minimum_form": minimum_form,
        "lenders_form": lenders_form,
        "lenders": staffing_lender_list(unit=unit) if unit else [],
        "min_clients": MIN_CLIENTS,
    }
    if unit is not None:
        week = staffing_week(unit=unit)
        demand = demand_week(unit=unit)
        context["demand"] = demand
        context["plan"] = [
            {
                "hour": hour,
                "days": [
                    {
                        "minimum": week[day][hour],
                        "demand": demand["plan"][day][hour]
                        if demand["plan"][day][hour].expected > 0
                        else None,
                        # The plan asks for fewer staff than the expected demand needs.
                        "short": week[day][hour] < demand["plan"][day][hour].staff,
                    }
                    for day in range(7)
                ],
            }
            for hour in range(24)
        ]
        context["weekday_names"] = [WEEKDAYS[day] for day in range(7)]
    invalid = request.method == "POST" and (minimum_form.errors or lenders_form.errors)
    return render(request, "frontend/staffing.html", context, status=400 if invalid else 200)
