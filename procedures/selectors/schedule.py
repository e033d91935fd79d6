from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from procedures.models import Appointment, PhysicianProfile


def day_bounds(*, day: date) -> tuple[datetime, datetime]:
    """The start and end of a calendar day in the clinic's zone, as aware datetimes."""
    tz = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def appointment_list_for_day(
    *, day: date, physician: PhysicianProfile | None = None
) -> QuerySet[Appointment]:
    start, end = day_bounds(day=day)
    qs = Appointment.objects.filter(start__gte=start, start__lt=end).select_related(
        "patient", "procedure_type", "physician", "room", "recovery_bay"
    )
    if physician is not None:
        qs = qs.filter(physician=physician)
    return qs.order_by("start", "id")


def appointment_list_for_patient(*, patient_id: int) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(patient_id=patient_id)
        .select_related("procedure_type", "physician", "room")
        .order_by("-start", "-id")
    )
