"""The front desk's calendars: the clinic's day as a grid, the week at a glance, and a physician's own list."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from procedures.access import physician_profile_of
from procedures.forms.schedule import ScheduleDateForm
from procedures.models import AppointmentStatus
from procedures.selectors.schedule import (
    BY_ROOM,
    appointment_list_for_day,
    physician_hours_label,
    schedule_day_grid,
    schedule_week_grid,
    week_start_of,
)


def _date_form(request: HttpRequest) -> ScheduleDateForm:
    form = ScheduleDateForm(request.GET)
    if problem := form.problem():
        messages.error(request, problem)
    return form


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def schedule_day(request: HttpRequest) -> HttpResponse:
    form = _date_form(request)
    day = form.day()
    grid = schedule_day_grid(day=day, by=form.by_value())
    return render(
        request,
        "procedures/schedule/day.html",
        {
            "grid": grid,
            "day": day,
            "today": timezone.localdate(),
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "is_current": day == timezone.localdate(),
            "statuses": AppointmentStatus.choices,
            "extra_query": f"&by={grid.by}" if grid.by == BY_ROOM else "",
        },
    )


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def schedule_week(request: HttpRequest) -> HttpResponse:
    form = _date_form(request)
    day = form.day()
    week = schedule_week_grid(day=day)
    return render(
        request,
        "procedures/schedule/week.html",
        {
            "week": week,
            "day": day,
            "today": timezone.localdate(),
            "previous": week.week_start - timedelta(days=7),
            "next": week.week_start + timedelta(days=7),
            "week_end": week.week_start + timedelta(days=6),
            "is_current": week.week_start == week_start_of(day=timezone.localdate()),
            "statuses": AppointmentStatus.choices,
        },
    )


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def schedule_mine(request: HttpRequest) -> HttpResponse:
    form = _date_form(request)
    day = form.day()
    physician = physician_profile_of(user=request.user)
    appointments = list(appointment_list_for_day(day=day, physician=physician)) if physician else []
    return render(
        request,
        "procedures/schedule/mine.html",
        {
            "physician": physician,
            "hours": physician_hours_label(physician=physician, day=day) if physician else "",
            "appointments": appointments,
            "day": day,
            "today": timezone.localdate(),
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "is_current": day == timezone.localdate(),
        },
    )
