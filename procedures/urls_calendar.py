from django.urls import path, re_path

from procedures.views import calendar

urlpatterns = [
    path("appointments/<int:appointment_id>/calendar.ics", calendar.appointment_ics, name="appointment-ics"),
    # Tokens are secrets.token_urlsafe(32): 43 characters of [A-Za-z0-9_-].
    re_path(
        r"^calendar/feed/(?P<token>[A-Za-z0-9_-]{16,64})\.ics$",
        calendar.physician_feed,
        name="physician-feed",
    ),
    path("calendar/my-feed/", calendar.my_feed, name="calendar-my-feed"),
]
