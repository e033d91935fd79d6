"""The front desk's calendars: the clinic's day as a grid, the week at a glance, and a physician's own list.

The day and week grids are the heaviest pages the front desk opens, and every desk opens the same few days
all day long. So the drawn grid is kept in the cache under a fingerprint of everything it shows (one query:
see schedule_day_fingerprint): any booking, move, cancellation, check-in, patient rename, change of hours or
leave gives a new fingerprint and so a fresh grid at once, whoever or whatever wrote it."""

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache as once
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from procedures.access import physician_profile_of
from procedures.forms.schedule import ScheduleDateForm
from procedures.models import AppointmentStatus
from procedures.selectors import availability, intervals
from procedures.selectors import schedule as schedule_selectors
from procedures.selectors.schedule import (
    BY_ROOM,
    appointment_list_for_day,
    physician_hours_label,
    schedule_day_fingerprint,
    schedule_day_grid,
    schedule_week_fingerprint,
    schedule_week_grid,
    week_start_of,
)

DAY_GRID_TEMPLATE = "procedures/schedule/_day_grid.html"
WEEK_GRID_TEMPLATE = "procedures/schedule/_week_grid.html"
# The templates a kept grid was drawn with (the grid templates and what they include).
GRID_TEMPLATES = (DAY_GRID_TEMPLATE, WEEK_GRID_TEMPLATE, "procedures/schedule/_status_legend.html")
# Long enough that a busy day is drawn once per change rather than once per request; a fingerprint that
# stops matching leaves its entry unread until it expires.
GRID_CACHE_SECONDS = 15 * 60


def _date_form(request: HttpRequest) -> ScheduleDateForm:
    form = ScheduleDateForm(request.GET)
    if problem := form.problem():
        messages.error(request, problem)
    return form


@once
def _drawing_code() -> str:
    """A digest of the code and templates that draw a grid, so a deploy never serves grids kept by the
    previous release."""
    modules = (schedule_selectors, availability, intervals)
    parts = [Path(module.__file__).read_bytes() for module in modules] + [Path(__file__).read_bytes()]
    parts += [get_template(name).template.source.encode() for name in GRID_TEMPLATES]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def _kept_grid(
    *,
    parts: tuple,
    fingerprint: Callable[[], str],
    now: datetime,
    draw: Callable[[], tuple[str, datetime | None]],
) -> SafeString:
    """The grid's HTML: the kept one while its fingerprint matches and time has not changed it (stale_at),
    else drawn afresh by `draw` (which gives the HTML and its stale_at) and kept."""
    version = fingerprint()
    # The database's name keeps two data sets sharing one cache (the benchmark's, parallel test runs) apart.
    identity = (_drawing_code(), connection.settings_dict["NAME"], *parts, version)
    key = "schedule-grid:" + hashlib.sha256(repr(identity).encode()).hexdigest()
    kept = cache.get(key)
    if kept is not None:
        html, stale_at = kept
        if stale_at is None or now < stale_at:
            # Our own template's output, escaped when it was drawn.
            return mark_safe(html)
    html, stale_at = draw()
    # A write that landed while the grid was drawn may or may not be in it: keep it only when nothing moved.
    if fingerprint() == version:
        cache.set(key, (str(html), stale_at), GRID_CACHE_SECONDS)
    return mark_safe(html)


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def schedule_day(request: HttpRequest) -> HttpResponse:
    form = _date_form(request)
    day = form.day()
    by = form.by_value()
    can_book = request.user.has_perm("procedures.add_appointment")
    now = timezone.now()

    def draw() -> tuple[str, datetime | None]:
        grid = schedule_day_grid(day=day, by=by, now=now)
        context = {"grid": grid, "day": day, "can_book": can_book, "statuses": AppointmentStatus.choices}
        return render_to_string(DAY_GRID_TEMPLATE, context), grid.stale_at

    grid_html = _kept_grid(
        parts=("day", day, by, can_book),
        fingerprint=lambda: schedule_day_fingerprint(day=day),
        now=now,
        draw=draw,
    )
    return render(
        request,
        "procedures/schedule/day.html",
        {
            "grid_html": grid_html,
            "day": day,
            "by": by,
            "today": timezone.localdate(),
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "is_current": day == timezone.localdate(),
            "extra_query": f"&by={by}" if by == BY_ROOM else "",
        },
    )


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def schedule_week(request: HttpRequest) -> HttpResponse:
    form = _date_form(request)
    day = form.day()
    week_start = week_start_of(day=day)
    week_end = week_start + timedelta(days=6)
    today = timezone.localdate()
    can_book = request.user.has_perm("procedures.add_appointment")
    now = timezone.now()

    def draw() -> tuple[str, datetime | None]:
        week = schedule_week_grid(day=day, now=now)
        context = {
            "week": week,
            "week_end": week_end,
            "today": today,
            "can_book": can_book,
            "statuses": AppointmentStatus.choices,
        }
        return render_to_string(WEEK_GRID_TEMPLATE, context), week.stale_at

    grid_html = _kept_grid(
        parts=("week", week_start, can_book, today),
        fingerprint=lambda: schedule_week_fingerprint(day=day),
        now=now,
        draw=draw,
    )
    return render(
        request,
        "procedures/schedule/week.html",
        {
            "grid_html": grid_html,
            "week_start": week_start,
            "day": day,
            "today": today,
            "previous": week_start - timedelta(days=7),
            "next": week_start + timedelta(days=7),
            "is_current": week_start == week_start_of(day=today),
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
