"""Calendar files: an appointment's .ics, a physician's private feed (read by calendar apps with no log-in,
only the secret token in the URL), and the page where a physician finds and replaces that URL."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from procedures.access import appointment_get_for_user
from procedures.models import PhysicianProfile
from procedures.services.calendar import (
    FEED_AHEAD,
    FEED_PAST,
    appointment_calendar,
    physician_feed_calendar,
    physician_feed_token_rotate,
    physician_for_feed_token,
)

NO_FEED = "Only physicians have a calendar feed."
FEED_NOT_FOUND = "No calendar feed at this address. The link may have been replaced."
FEED_ROTATED = "The old link no longer works. Subscribe your calendar to the new link below."


def _calendar_response(body: bytes, *, filename: str, attachment: bool) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def appointment_ics(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    return _calendar_response(
        appointment_calendar(appointment=appointment),
        filename=f"appointment-{appointment.pk}.ics",
        attachment=True,
    )


@login_not_required
@require_safe
def physician_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The token is the only credential: unknown and revoked tokens (and inactive physicians) get 404."""
    physician = physician_for_feed_token(token=token)
    if physician is None:
        raise Http404(FEED_NOT_FOUND)
    response = _calendar_response(
        physician_feed_calendar(physician=physician), filename="spinedesk.ics", attachment=False
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _own_profile(request: HttpRequest) -> PhysicianProfile:
    physician = getattr(request.user, "physician_profile", None)
    if physician is None or not physician.active:
        raise PermissionDenied(NO_FEED)
    return physician


@never_cache
@require_http_methods(["GET", "POST"])
def my_feed(request: HttpRequest) -> HttpResponse:
    """A physician's feed URL, and a button that revokes it and issues a new one."""
    physician = _own_profile(request)
    if request.method == "POST":
        physician_feed_token_rotate(physician=physician)
        messages.success(request, FEED_ROTATED)
        return redirect("calendar-my-feed")
    feed_url = request.build_absolute_uri(
        reverse("physician-feed", kwargs={"token": physician.calendar_feed_token})
    )
    return render(
        request,
        "procedures/calendar/feed.html",
        {
            "physician": physician,
            "feed_url": feed_url,
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1],
            "days_past": FEED_PAST.days,
            "days_ahead": FEED_AHEAD.days,
        },
    )
