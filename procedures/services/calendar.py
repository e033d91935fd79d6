"""Calendar files (RFC 5545): one appointment as an .ics for the patient, and each physician's private feed.

Every time is written in UTC (DTSTART:20260302T140000Z), which every calendar client shows in its own zone,
so no VTIMEZONE block is needed. One VEVENT per appointment, with a UID that never changes, so a client
that imports the file again (or re-reads the feed) updates the event instead of adding a second one."""

from datetime import UTC, datetime, timedelta

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from icalendar import Calendar, Event, vDuration

from procedures.models import Appointment, AppointmentStatus, PhysicianProfile
from procedures.models.staff import new_feed_token

PRODID = "-//SpineDesk//Scheduling//EN"
# The physician feed covers this window around now (by appointment start).
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=90)
# How often subscribed clients should poll (clients may poll less often; Google decides for itself).
FEED_REFRESH = timedelta(minutes=30)
# Cancelled and no-show bookings leave the feed, so a client that re-reads it removes them. Past
# appointments that took place (discharged) stay, so the last 30 days show what was done.
FEED_HIDDEN_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
FEED_TOKEN_ROTATED = {"calendar_feed_token": ["(revoked)", "(new private link issued)"]}

S = AppointmentStatus
_ICS_STATUS = {
    # Booked but not yet confirmed by the patient.
    S.SCHEDULED: "TENTATIVE",
    S.CONFIRMED: "CONFIRMED",
    S.CHECKED_IN: "CONFIRMED",
    S.IN_PROCEDURE: "CONFIRMED",
    S.IN_RECOVERY: "CONFIRMED",
    S.DISCHARGED: "CONFIRMED",
    S.CANCELLED: "CANCELLED",
    S.NO_SHOW: "CANCELLED",
}


def appointment_uid(appointment: Appointment) -> str:
    return f"appointment-{appointment.pk}@spinedesk"


def appointment_sequence(appointment: Appointment) -> int:
    """RFC 5545 SEQUENCE: must grow whenever the event is revised (a reschedule above all), so that a
    client holding an older copy replaces it. Derived without a counter column: the whole seconds from
    creation to the last save. updated_at moves on every save (a reschedule, a status change) and never
    back, so the number never decreases; it stays below 2**31 for 68 years."""
    return max(0, int((appointment.updated_at - appointment.created_at).total_seconds()))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _initials(first_name: str, last_name: str) -> str:
    return "".join(f"{part.strip()[:1].upper()}." for part in (first_name, last_name) if part.strip())


def _calendar(*, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("x-wr-calname", name)
    return cal


def _event(
    appointment: Appointment, *, summary: str, location: str, description: str, end: datetime
) -> Event:
    event = Event()
    event.add("uid", appointment_uid(appointment))
    # Without a METHOD, DTSTAMP is when the event was last revised in the calendar store (RFC 5545 3.8.7.2).
    event.add("dtstamp", _utc(appointment.updated_at))
    event.add("created", _utc(appointment.created_at))
    event.add("last-modified", _utc(appointment.updated_at))
    event.add("sequence", appointment_sequence(appointment))
    event.add("dtstart", _utc(appointment.start))
    event.add("dtend", _utc(end))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("status", _ICS_STATUS[appointment.status])
    event.add("class", "PRIVATE")
    event.add("transp", "OPAQUE")
    return event


def appointment_calendar(*, appointment: Appointment) -> bytes:
    """The patient's own .ics for one appointment (download, and the confirmation email's attachment).

    It covers the patient's whole stay, from the start to the end of observation in the recovery bay."""
    clinic = settings.CLINIC_NAME
    procedure = appointment.procedure_type
    observation = int((appointment.monitoring_until - appointment.end).total_seconds() // 60)
    description = (
        f"{procedure.name} with {appointment.physician.display_name} at {clinic}.\n"
        f"After the procedure you will be observed for about {observation} minutes before going home.\n"
        f"To change or cancel, call {settings.CLINIC_PHONE}."
    )
    if appointment.status in FEED_HIDDEN_STATUSES:
        description = f"Cancelled. Call {settings.CLINIC_PHONE} to book a new time."
    cal = _calendar()
    cal.add_component(
        _event(
            appointment,
            summary=f"{procedure.name} – {clinic}",
            location=f"{appointment.room.name}, {clinic}",
            description=description,
            end=appointment.monitoring_until,
        )
    )
    return cal.to_ical()


def physician_feed_appointments(*, physician: PhysicianProfile, now: datetime) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(
            physician=physician, start__gte=now - FEED_PAST, start__lt=now + FEED_AHEAD
        )
        .exclude(status__in=FEED_HIDDEN_STATUSES)
        .select_related("patient", "procedure_type", "room")
        .order_by("start", "id")
    )


def physician_feed_calendar(*, physician: PhysicianProfile, now: datetime | None = None) -> bytes:
    """A physician's private feed: their appointments from 30 days ago to 90 days ahead.

    Minimum necessary PHI: the feed is read with nothing but a secret URL, is copied into third-party
    calendar services (Google, iCloud, Exchange) and shows on phone lock screens and shared-screen
    reminders. So each event names the patient by initials only, with the procedure and room: enough to
    recognise the case in the day's list. No full name, MRN, birth date, side, levels or clinical flags;
    those stay in SpineDesk behind a log-in and the audit trail."""
    now = now or timezone.now()
    cal = _calendar(name=f"{settings.CLINIC_NAME} – {physician.display_name}")
    cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(FEED_REFRESH))
    for appointment in physician_feed_appointments(physician=physician, now=now):
        patient = appointment.patient
        cal.add_component(
            _event(
                appointment,
                summary=f"{_initials(patient.first_name, patient.last_name)} · {appointment.procedure_type.name}",
                location=appointment.room.name,
                description=f"{appointment.get_status_display()}. Details in SpineDesk.",
                end=appointment.end,
            )
        )
    return cal.to_ical()


def physician_for_feed_token(*, token: str) -> PhysicianProfile | None:
    """The active physician whose private feed URL carries this token, or None (unknown or revoked)."""
    if not token:
        return None
    return PhysicianProfile.objects.filter(calendar_feed_token=token, active=True).first()


def physician_feed_token_rotate(*, physician: PhysicianProfile) -> PhysicianProfile:
    """Revoke the physician's feed URL by issuing a new token; the old URL answers 404 from now on.

    The audit trail records that the link was replaced, and by whom, but never the token itself: a token
    in the log would let anyone who can read the log subscribe to the physician's calendar."""
    with transaction.atomic():
        profile = PhysicianProfile.objects.select_for_update().get(pk=physician.pk)
        profile.calendar_feed_token = new_feed_token()
        with disable_auditlog():
            profile.save(update_fields=["calendar_feed_token"])
        LogEntry.objects.log_create(
            profile,
            action=LogEntry.Action.UPDATE,
            changes=FEED_TOKEN_ROTATED,
            changes_text="Private calendar feed link replaced",
        )
    physician.calendar_feed_token = profile.calendar_feed_token
    return profile
