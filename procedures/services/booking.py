"""Booking, rescheduling, cancelling: the only writers of appointment times.

No double booking, ever: each write locks the rows it depends on (physician, patient, candidate rooms,
recovery bays) in one fixed order, re-checks every conflict inside the transaction, and PostgreSQL's
exclusion constraints (migration 0004) refuse anything that slips past. On SQLite the IMMEDIATE
transaction holds the database's single write lock for the same purpose."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import (
    ACTIVE_STATUSES,
    RESCHEDULABLE_STATUSES,
    Appointment,
    AppointmentStatus,
    Patient,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    Side,
)
from procedures.selectors.availability import exception_intervals, working_windows
from procedures.selectors.intervals import Timeline
from procedures.selectors.readiness import patient_earliest_safe_start
from procedures.services.appointments import TransitionError, appointment_transition

START_IN_PAST = "The start {start} is in the past. Choose a time from now on."
NOT_WORKING = "{physician} does not work at {start}. {hours}"
PHYSICIAN_AWAY = "{physician} is not available at {start}: {label}."
PHYSICIAN_BUSY = "{physician} is already booked {range}."
ROOM_BUSY = "{room} is in use {range}."
NO_ROOM = "No room with {imaging} is free {range}."
ROOM_UNFIT = "{room} has no {imaging}, which this procedure needs."
NO_BAY = "Every recovery bay is taken {range}."
PATIENT_BUSY = "{patient} already has an appointment {range} ({procedure})."
NOT_READY = "{patient} cannot safely have this procedure before {when}: {reason}."
SEDATION_NOT_ALLOWED = "Sedation is not offered for {procedure}."
INACTIVE = "{thing} is no longer in use; choose another."
OVERBOOK_NOT_ALLOWED = "Only a physician can book over an existing booking."
OVERBOOK_NEEDS_REASON = "Give a reason to double-book {physician} on purpose."
CANNOT_RESCHEDULE = "An appointment that is {status} cannot be moved."
CONFLICT_RACE = "Someone else just booked that time. Search again for a free slot."


class BookingConflict(Exception):
    """The requested time collides with another booking or a rule; nothing was changed."""


class BookingInvalid(Exception):
    """The request itself is not acceptable (past time, unfit room…); nothing was changed.
    `field` names the request field the message is about, for forms and the API."""

    def __init__(self, message: str, *, field: str = "start") -> None:
        super().__init__(message)
        self.field = field


def _clock(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "H:i")


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "D j M Y H:i")


def _range(start: datetime, end: datetime) -> str:
    if timezone.localdate(start) == timezone.localdate(timezone.now()):
        return f"{_clock(start)}–{_clock(end)}"
    return f"{date_format(timezone.localtime(start), 'D j M')} {_clock(start)}–{_clock(end)}"


@dataclass(frozen=True)
class BookingRequest:
    patient: Patient
    procedure_type: ProcedureType
    physician: PhysicianProfile
    start: datetime
    room: ProcedureRoom | None = None
    sedated: bool = False
    side: str = Side.MIDLINE
    levels: str = ""
    notes: str = ""
    overbook_reason: str = ""


# Hooks run after a booking's time is written (message plans, hold plans); each gets the appointment.
AfterBookingHook = Callable[..., None]
_AFTER_BOOKING: list[AfterBookingHook] = []


def after_booking_register(hook: AfterBookingHook) -> None:
    if hook not in _AFTER_BOOKING:
        _AFTER_BOOKING.append(hook)


def _lock_resources(*, physician_id: int, patient_id: int, room_ids: list[int]) -> list[RecoveryBay]:
    """Lock in one fixed order (physician, patient, rooms, bays) so concurrent bookings queue, never deadlock."""
    PhysicianProfile.objects.select_for_update().filter(pk=physician_id).values_list("pk").get()
    Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk").get()
    list(ProcedureRoom.objects.select_for_update().filter(pk__in=room_ids).order_by("pk").values_list("pk"))
    return list(RecoveryBay.objects.select_for_update().filter(active=True).order_by("pk"))


def _check_working_time(physician: PhysicianProfile, start: datetime, end: datetime) -> None:
    day = timezone.localdate(start)
    windows = working_windows(physician_ids=[physician.pk], date_from=day, date_to=day)[physician.pk]
    if not Timeline(windows).within(start, end):
        hours = (
            "Hours that day: " + ", ".join(f"{_clock(s)}–{_clock(e)}" for s, e in windows) + "."
            if windows
            else "No working hours that day."
        )
        raise BookingInvalid(NOT_WORKING.format(physician=physician, start=_when(start), hours=hours))
    away = exception_intervals(physician_ids=[physician.pk], start=start, end=end)[physician.pk]
    if away:
        raise BookingInvalid(PHYSICIAN_AWAY.format(physician=physician, start=_when(start), label=away[0][2]))


def _overlapping(qs, start_field: str, end_field: str, start: datetime, end: datetime):
    return qs.filter(status__in=ACTIVE_STATUSES, **{f"{start_field}__lt": end, f"{end_field}__gt": start})


def _place(
    request: BookingRequest, *, actor: AbstractBaseUser | None, now: datetime, ignore_id: int | None
) -> dict:
    """Validate a request and choose its room and bay; returns the fields to write. Runs under the locks."""
    ptype, physician, patient = request.procedure_type, request.physician, request.patient
    # Elapsed-time arithmetic (a zoned datetime would add wall-clock time across a clock change).
    start = request.start.astimezone(UTC)
    if start < now:
        raise BookingInvalid(START_IN_PAST.format(start=_when(start)))
    if not ptype.active:
        raise BookingInvalid(INACTIVE.format(thing=ptype), field="procedure_type")
    if not physician.active:
        raise BookingInvalid(INACTIVE.format(thing=physician), field="physician")
    if request.sedated and not ptype.sedation_allowed:
        raise BookingInvalid(SEDATION_NOT_ALLOWED.format(procedure=ptype), field="sedation_planned")
    end = start + timedelta(minutes=ptype.procedure_minutes)
    monitoring_until = end + timedelta(minutes=ptype.monitoring_for(sedated=request.sedated))
    _check_working_time(physician, start, end)

    earliest, reason = patient_earliest_safe_start(patient=patient, procedure_type=ptype, now=now)
    if earliest is not None and start < earliest:
        raise BookingConflict(
            NOT_READY.format(patient=patient.full_name, when=_when(earliest), reason=reason)
        )

    others = Appointment.objects.exclude(pk=ignore_id).select_related("procedure_type")
    clash = _overlapping(
        others.filter(patient=patient), "start", "monitoring_until", start, monitoring_until
    ).first()
    if clash:
        raise BookingConflict(
            PATIENT_BUSY.format(
                patient=patient.full_name,
                range=_range(clash.start, clash.monitoring_until),
                procedure=clash.procedure_type.name,
            )
        )

    overbooked = False
    clash = _overlapping(others.filter(physician=physician), "start", "end", start, end).first()
    if clash:
        if not request.overbook_reason.strip():
            raise BookingConflict(
                PHYSICIAN_BUSY.format(physician=physician, range=_range(clash.start, clash.end))
            )
        if actor is None or not actor.has_perm("procedures.overbook_physician"):
            raise BookingConflict(OVERBOOK_NOT_ALLOWED)
        overbooked = True

    if request.room is not None:
        if not request.room.fits(ptype.imaging):
            raise BookingInvalid(
                ROOM_UNFIT.format(room=request.room, imaging=ptype.get_imaging_display().lower()),
                field="room",
            )
        if not request.room.active:
            raise BookingInvalid(INACTIVE.format(thing=request.room), field="room")
        candidates = [request.room]
    else:
        candidates = [r for r in ProcedureRoom.objects.filter(active=True) if r.fits(ptype.imaging)]
    room = None
    for candidate in candidates:
        room_until = end + timedelta(minutes=candidate.turnover_minutes)
        clash = _overlapping(others.filter(room=candidate), "start", "room_until", start, room_until).first()
        if clash is None:
            room = candidate
            break
        if request.room is not None:
            raise BookingConflict(
                ROOM_BUSY.format(room=candidate, range=_range(clash.start, clash.room_until))
            )
    if room is None:
        raise BookingConflict(
            NO_ROOM.format(imaging=ptype.get_imaging_display().lower(), range=_range(start, end))
        )

    taken = set(
        _overlapping(
            others.filter(recovery_bay__isnull=False), "end", "monitoring_until", end, monitoring_until
        ).values_list("recovery_bay_id", flat=True)
    )
    bay = next((b for b in RecoveryBay.objects.filter(active=True).order_by("pk") if b.pk not in taken), None)
    if bay is None:
        raise BookingConflict(NO_BAY.format(range=_range(end, monitoring_until)))

    return {
        "start": start,
        "end": end,
        "room": room,
        "room_until": end + timedelta(minutes=room.turnover_minutes),
        "recovery_bay": bay,
        "monitoring_until": monitoring_until,
        "physician": physician,
        "physician_overbooked": overbooked,
        "overbook_reason": request.overbook_reason.strip() if overbooked else "",
        "sedation_planned": request.sedated,
    }


def _room_ids_for(request: BookingRequest) -> list[int]:
    if request.room is not None:
        return [request.room.pk]
    return [r.pk for r in ProcedureRoom.objects.filter(active=True) if r.fits(request.procedure_type.imaging)]


def appointment_book(
    *, request: BookingRequest, actor: AbstractBaseUser | None, now: datetime | None = None
) -> Appointment:
    """Book a procedure, or raise BookingConflict / BookingInvalid with a message for the clerk."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            _lock_resources(
                physician_id=request.physician.pk,
                patient_id=request.patient.pk,
                room_ids=_room_ids_for(request),
            )
            fields = _place(request, actor=actor, now=now, ignore_id=None)
            appointment = Appointment.objects.create(
                patient=request.patient,
                procedure_type=request.procedure_type,
                side=request.side,
                levels=request.levels.strip(),
                notes=request.notes.strip(),
                status=AppointmentStatus.SCHEDULED,
                status_changed_at=now,
                created_by=actor if actor is not None and actor.is_authenticated else None,
                **fields,
            )
            for hook in _AFTER_BOOKING:
                hook(appointment=appointment, change="booked")
    except IntegrityError as exc:
        # The database's exclusion constraints caught a collision the checks above could not see.
        raise BookingConflict(CONFLICT_RACE) from exc
    return appointment


def appointment_reschedule(
    *,
    appointment_id: int,
    start: datetime,
    actor: AbstractBaseUser | None,
    physician: PhysicianProfile | None = None,
    room: ProcedureRoom | None = None,
    overbook_reason: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Move a booking to a new start (and optionally another physician or room). A confirmed booking
    goes back to scheduled: the patient confirms the new time."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            current = Appointment.objects.select_related("patient", "procedure_type", "physician").get(
                pk=appointment_id
            )
            request = BookingRequest(
                patient=current.patient,
                procedure_type=current.procedure_type,
                physician=physician or current.physician,
                start=start,
                room=room,
                sedated=current.sedation_planned,
                overbook_reason=overbook_reason,
            )
            _lock_resources(
                physician_id=request.physician.pk,
                patient_id=current.patient_id,
                room_ids=_room_ids_for(request),
            )
            appointment = Appointment.objects.select_for_update().get(pk=appointment_id)
            if appointment.status not in RESCHEDULABLE_STATUSES:
                raise TransitionError(
                    CANNOT_RESCHEDULE.format(status=appointment.get_status_display().lower())
                )
            fields = _place(request, actor=actor, now=now, ignore_id=appointment.pk)
            if appointment.status == AppointmentStatus.CONFIRMED:
                appointment = appointment_transition(
                    appointment_id=appointment.pk,
                    to_status=AppointmentStatus.SCHEDULED,
                    actor=actor,
                    reason=f"Moved from {_when(appointment.start)}",
                    at=now,
                )
            for name, value in fields.items():
                setattr(appointment, name, value)
            appointment.save()
            for hook in _AFTER_BOOKING:
                hook(appointment=appointment, change="rescheduled")
    except IntegrityError as exc:
        raise BookingConflict(CONFLICT_RACE) from exc
    return appointment


def appointment_cancel(*, appointment_id: int, actor: AbstractBaseUser | None, reason: str) -> Appointment:
    """Cancel with a reason; the freed time is offered to waiting patients who can be ready for it."""
    from procedures.services.waitlist import waitlist_offer_freed_slot

    with transaction.atomic():
        appointment = appointment_transition(
            appointment_id=appointment_id, to_status=AppointmentStatus.CANCELLED, actor=actor, reason=reason
        )
        for hook in _AFTER_BOOKING:
            hook(appointment=appointment, change="cancelled")
        waitlist_offer_freed_slot(appointment=appointment)
    return appointment


__all__ = [
    "BookingConflict",
    "BookingInvalid",
    "BookingRequest",
    "TransitionError",
    "after_booking_register",
    "appointment_book",
    "appointment_cancel",
    "appointment_reschedule",
]
