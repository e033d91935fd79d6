"""The patient page's appointment table. Each row's date, link and status are worked out here once: through
the template, the date filter and the url tag cost more than the rest of the row together, on a page drawn
for every patient looked up.

    {% load patients %}{% appointment_rows appointments as rows %}{% for row in rows %}…{% endfor %}
"""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR

from procedures.models import Appointment

register = template.Library()

STATUS_LABELS = dict(Appointment._meta.get_field("status").flatchoices)


@register.simple_tag(takes_context=True)
def appointment_rows(context, appointments: list[Appointment]) -> list[dict]:
    """Per appointment: `appt`, `when` as the date filter's "D Y-m-d H:i" in the current zone, `url` of
    its page (None for a user who may not open it) and `status_label` (get_status_display)."""
    zone = timezone.get_current_timezone()
    can_open = context["request"].user.has_perm("procedures.view_appointment")
    rows = []
    for appt in appointments:
        local = timezone.localtime(appt.start, zone)
        rows.append(
            {
                "appt": appt,
                "when": f"{WEEKDAYS_ABBR[local.weekday()]} {local:%Y-%m-%d %H:%M}",
                "url": reverse("appointment-detail", args=[appt.pk]) if can_open else None,
                "status_label": str(STATUS_LABELS.get(appt.status, appt.status)),
            }
        )
    return rows
