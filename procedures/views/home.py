from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from procedures.models import AppointmentStatus
from procedures.selectors.schedule import appointment_list_for_day


def _physician_of(user):
    return getattr(user, "physician_profile", None)


def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on today's work: physicians see their own list, everyone else the clinic's day."""
    today: date = timezone.localdate()
    appointments = []
    physician = _physician_of(request.user)
    if request.user.has_perm("procedures.view_appointment"):
        appointments = list(appointment_list_for_day(day=today, physician=physician))
    counts = {status.label: 0 for status in AppointmentStatus}
    for appointment in appointments:
        counts[appointment.get_status_display()] += 1
    return render(
        request,
        "procedures/home.html",
        {
            "today": today,
            "appointments": appointments,
            "counts": {label: n for label, n in counts.items() if n},
            "own_list": physician is not None,
        },
    )
