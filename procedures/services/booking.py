"""Booking, rescheduling, cancelling: the only writers of appointment times.

No double booking, ever. PostgreSQL's exclusion constraints (migration 0004) refuse any overlap of a
physician (unless knowingly overbooked), a room, a recovery bay or a patient, whoever writes; the service
checks the same rules first so that a refusal says what was taken. A booking locks little, briefly:

- the patient's row, for the whole transaction: two bookings for one patient queue, so each sees the
  other's time and the hooks read the patient's history with no booking of theirs in flight;
- one room and one recovery bay, the ones it chose, skipping those another booking in flight holds: bookings
  at the same time spread over the free rooms and bays instead of queueing for the first;
- the physician's row, only at the end, to check again the one rule the constraints leave open (a knowing
  overbooking may overlap; nothing else may overlap it without a reason). Bookings for one physician do their
  work side by side and queue only for that check and the commit.

The hooks (hold plan, checklist, messages) run inside the same transaction: any refusal, however late,
changes nothing. If a booking in flight takes the time first, the insert waits for it and fails; the
request then reads again and places around it or says what was taken. On SQLite the IMMEDIATE transaction
holds the database's single write lock for the same purpose."""

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Max, Q
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


# Bookings lock rows of patients, rooms, bays and physicians only to queue for one another, so FOR NO KEY
# UPDATE (no_key=True): it excludes other bookings and every writer that locks those rows, but not the key
# checks of rows that merely point at them (a message for the patient, say), which need not wait.

# Which free room and bay a booking takes: the first in these orders.
ROOM_ORDER = ("name", "pk")
BAY_ORDER = ("pk",)
# How often a booking reads again after a booking in flight took its time, before it gives up.
PLACE_ATTEMPTS = 3


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


def _longest_stay() -> timedelta:
    """No appointment holds anything longer than this after its start: bookings that start earlier cannot
    overlap, so every overlap check reads only the start index from here (not a physician's whole history).
    Procedure, monitoring and turnover minutes are bounded by the catalogue, all but sedated monitoring well
    under a day."""
    longest = ProcedureType.objects.aggregate(
        minutes=Max(F("procedure_minutes") + F("monitoring_minutes_sedated"))
    )["minutes"]
    return max(timedelta(days=1), timedelta(minutes=longest or 0))


@dataclass(frozen=True)
class _Times:
    start: datetime
    end: datetime
    monitoring_until: datetime


@dataclass(frozen=True)
class _Busy:
    """One active appointment that may overlap the requested times."""

    id: int
    start: datetime
    end: datetime
    room_until: datetime
    monitoring_until: datetime
    patient_id: int
    physician_id: int
    room_id: int
    recovery_bay_id: int | None
    procedure_type_id: int


def _validate(request: BookingRequest, *, now: datetime) -> _Times:
    """The checks that do not depend on other bookings; returns the times to place."""
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
    return _Times(start=start, end=end, monitoring_until=monitoring_until)


def _busy(
    *,
    request: BookingRequest,
    times: _Times,
    rooms: list[ProcedureRoom],
    ignore_id: int | None,
    longest: timedelta,
) -> list[_Busy]:
    """In one query, every active appointment overlapping the patient's, the physician's, a candidate
    room's or any recovery bay's part of the requested times, in start order."""
    start, end, monitoring_until = times.start, times.end, times.monitoring_until
    room_reach = end + timedelta(minutes=max((r.turnover_minutes for r in rooms), default=0))
    rows = (
        Appointment.objects.filter(
            status__in=ACTIVE_STATUSES,
            start__gte=start - longest,
            start__lt=max(monitoring_until, room_reach),
        )
        .filter(
            Q(patient_id=request.patient.pk, start__lt=monitoring_until, monitoring_until__gt=start)
            | Q(physician_id=request.physician.pk, start__lt=end, end__gt=start)
            | Q(room_id__in=[r.pk for r in rooms], start__lt=room_reach, room_until__gt=start)
            | Q(recovery_bay__isnull=False, end__lt=monitoring_until, monitoring_until__gt=end)
        )
        .exclude(pk=ignore_id)
        .order_by("start", "id")
        .values_list(*(f.name for f in fields(_Busy)))
    )
    return [_Busy(*row) for row in rows]


@dataclass
class _Choice:
    values: dict  # the appointment's times, physician and overbooking
    rooms: list[ProcedureRoom]  # free, in the order a room is preferred
    bays: list[RecoveryBay]  # free, in the order a bay is preferred


def _overbook(request: BookingRequest, *, actor: AbstractBaseUser | None, clash: _Busy) -> None:
    """Allow a physician's overlap only knowingly: with a reason, by someone who may."""
    if not request.overbook_reason.strip():
        raise BookingConflict(
            PHYSICIAN_BUSY.format(physician=request.physician, range=_range(clash.start, clash.end))
        )
    if actor is None or not actor.has_perm("procedures.overbook_physician"):
        raise BookingConflict(OVERBOOK_NOT_ALLOWED)


def _choose(
    request: BookingRequest,
    *,
    times: _Times,
    actor: AbstractBaseUser | None,
    ignore_id: int | None,
    longest: timedelta,
) -> _Choice:
    """Check the requested times against the other bookings and list the free rooms and bays."""
    ptype, physician, patient = request.procedure_type, request.physician, request.patient
    start, end, monitoring_until = times.start, times.end, times.monitoring_until
    if request.room is not None:
        candidates = [request.room]
    else:
        candidates = [
            r
            for r in ProcedureRoom.objects.filter(active=True).order_by(*ROOM_ORDER)
            if r.fits(ptype.imaging)
        ]
    busy = _busy(request=request, times=times, rooms=candidates, ignore_id=ignore_id, longest=longest)

    clash = next(
        (
            b
            for b in busy
            if b.patient_id == patient.pk and b.start < monitoring_until and b.monitoring_until > start
        ),
        None,
    )
    if clash:
        raise BookingConflict(
            PATIENT_BUSY.format(
                patient=patient.full_name,
                range=_range(clash.start, clash.monitoring_until),
                procedure=ProcedureType.objects.get(pk=clash.procedure_type_id).name,
            )
        )

    overbooked = False
    clash = next(
        (b for b in busy if b.physician_id == physician.pk and b.start < end and b.end > start), None
    )
    if clash:
        _overbook(request, actor=actor, clash=clash)
        overbooked = True

    if request.room is not None:
        if not request.room.fits(ptype.imaging):
            raise BookingInvalid(
                ROOM_UNFIT.format(room=request.room, imaging=ptype.get_imaging_display().lower()),
                field="room",
            )
        if not request.room.active:
            raise BookingInvalid(INACTIVE.format(thing=request.room), field="room")
    free_rooms = []
    for candidate in candidates:
        room_until = end + timedelta(minutes=candidate.turnover_minutes)
        clash = next(
            (b for b in busy if b.room_id == candidate.pk and b.start < room_until and b.room_until > start),
            None,
        )
        if clash is None:
            free_rooms.append(candidate)
        elif request.room is not None:
            raise BookingConflict(
                ROOM_BUSY.format(room=candidate, range=_range(clash.start, clash.room_until))
            )
    if not free_rooms:
        raise BookingConflict(
            NO_ROOM.format(imaging=ptype.get_imaging_display().lower(), range=_range(start, end))
        )

    taken = {
        b.recovery_bay_id
        for b in busy
        if b.recovery_bay_id is not None and b.end < monitoring_until and b.monitoring_until > end
    }
    free_bays = [b for b in RecoveryBay.objects.filter(active=True).order_by(*BAY_ORDER) if b.pk not in taken]
    if not free_bays:
        raise BookingConflict(NO_BAY.format(range=_range(end, monitoring_until)))

    return _Choice(
        values={
            "start": start,
            "end": end,
            "monitoring_until": monitoring_until,
            "physician": physician,
            "physician_overbooked": overbooked,
            "overbook_reason": request.overbook_reason.strip() if overbooked else "",
            "sedation_planned": request.sedated,
        },
        rooms=free_rooms,
        bays=free_bays,
    )


def _claim(free: list, *, order: tuple[str, ...], wait: bool):
    """Lock one of the free rooms (or bays), listed in `order`: the first that no other booking in flight
    holds, else queue for the first. Another booking's lock means it may be placing into it right now; once
    the lock is ours, what it committed is visible, and the insert's constraint (then a fresh read) settles
    whether it is still free."""
    model = type(free[0])
    if not wait and len(free) > 1:
        got = (
            model.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(pk__in=[item.pk for item in free])
            .order_by(*order)
            .values_list("pk", flat=True)
            .first()
        )
        if got is not None:
            return next(item for item in free if item.pk == got)
    model.objects.select_for_update(no_key=True).filter(pk=free[0].pk).values_list("pk").get()
    return free[0]


def _place(choice: _Choice, *, room_requested: bool) -> dict:
    """Claim a room and a bay for the chosen times; returns every field to write."""
    room = _claim(choice.rooms, order=ROOM_ORDER, wait=room_requested)
    bay = _claim(choice.bays, order=BAY_ORDER, wait=False)
    return {
        **choice.values,
        "room": room,
        "room_until": choice.values["end"] + timedelta(minutes=room.turnover_minutes),
        "recovery_bay": bay,
    }


def _lock_patient(patient_id: int) -> None:
    Patient.objects.select_for_update(no_key=True).filter(pk=patient_id).values_list("pk").get()


def _confirm_physician(
    appointment: Appointment, *, request: BookingRequest, actor: AbstractBaseUser | None, longest: timedelta
) -> None:
    """Last step before commit, under the physician's lock: bookings for one physician pass here one at a
    time, each seeing those committed before it. The constraint has kept any two plain bookings apart; an
    overbooking committed meanwhile may overlap this one, which then needs a reason like any other."""
    PhysicianProfile.objects.select_for_update(no_key=True).filter(pk=request.physician.pk).values_list(
        "pk"
    ).get()
    if appointment.physician_overbooked:
        return
    clash = (
        Appointment.objects.filter(
            physician_id=request.physician.pk,
            status__in=ACTIVE_STATUSES,
            start__gte=appointment.start - longest,
            start__lt=appointment.end,
            end__gt=appointment.start,
        )
        .exclude(pk=appointment.pk)
        .order_by("start", "id")
        .values_list(*(f.name for f in fields(_Busy)))
        .first()
    )
    if clash is None:
        return
    _overbook(request, actor=actor, clash=_Busy(*clash))
    appointment.physician_overbooked = True
    appointment.overbook_reason = request.overbook_reason.strip()
    appointment.save(update_fields=["physician_overbooked", "overbook_reason", "updated_at"])


def _insert(**values) -> Appointment:
    appointment = Appointment(**values)
    # A new appointment has no hold plan, record or discharge yet. Saying so spares the audit log's snapshot
    # of the new row a query per one-to-one relation; forgotten right after, as the hooks add some of them.
    one_to_one = [rel for rel in Appointment._meta.related_objects if rel.one_to_one]
    for relation in one_to_one:
        relation.set_cached_value(appointment, None)
    appointment.save(force_insert=True)
    for relation in one_to_one:
        relation.delete_cached_value(appointment)
    return appointment


def _deadlocked(exc: OperationalError) -> bool:
    # Two bookings inserting overlapping rows at the same moment each wait, in the exclusion constraint's
    # check, for the other to commit; PostgreSQL ends one of them with deadlock_detected (40P01).
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _retrying(attempt: Callable[[], Appointment]) -> Appointment:
    """Run one booking transaction; when a booking in flight took the time first (the insert waited for its
    commit, then failed on a constraint, or both inserted at once and PostgreSQL chose this one to give way),
    run it again from the start: the fresh read places around that booking or says what it took. Nothing of
    a failed attempt remains."""
    tries = 1
    while True:
        try:
            with transaction.atomic():
                return attempt()
        except (IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and not _deadlocked(exc):
                raise
            if tries == PLACE_ATTEMPTS:
                # The database's exclusion constraints caught a collision the checks could not see.
                raise BookingConflict(CONFLICT_RACE) from exc
            tries += 1


def appointment_book(
    *, request: BookingRequest, actor: AbstractBaseUser | None, now: datetime | None = None
) -> Appointment:
    """Book a procedure, or raise BookingConflict / BookingInvalid with a message for the clerk."""
    now = now or timezone.now()

    def attempt() -> Appointment:
        _lock_patient(request.patient.pk)
        times = _validate(request, now=now)
        longest = _longest_stay()
        choice = _choose(request, times=times, actor=actor, ignore_id=None, longest=longest)
        appointment = _insert(
            patient=request.patient,
            procedure_type=request.procedure_type,
            side=request.side,
            levels=request.levels.strip(),
            notes=request.notes.strip(),
            status=AppointmentStatus.SCHEDULED,
            status_changed_at=now,
            created_by=actor if actor is not None and actor.is_authenticated else None,
            **_place(choice, room_requested=request.room is not None),
        )
        for hook in _AFTER_BOOKING:
            hook(appointment=appointment, change="booked")
        _confirm_physician(appointment, request=request, actor=actor, longest=longest)
        return appointment

    return _retrying(attempt)


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

    def attempt() -> Appointment:
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
        _lock_patient(current.patient_id)
        appointment = Appointment.objects.select_for_update().get(pk=appointment_id)
        if appointment.status not in RESCHEDULABLE_STATUSES:
            raise TransitionError(CANNOT_RESCHEDULE.format(status=appointment.get_status_display().lower()))
        times = _validate(request, now=now)
        longest = _longest_stay()
        choice = _choose(request, times=times, actor=actor, ignore_id=appointment.pk, longest=longest)
        if appointment.status == AppointmentStatus.CONFIRMED:
            appointment = appointment_transition(
                appointment_id=appointment.pk,
                to_status=AppointmentStatus.SCHEDULED,
                actor=actor,
                reason=f"Moved from {_when(appointment.start)}",
                at=now,
            )
        for name, value in _place(choice, room_requested=request.room is not None).items():
            setattr(appointment, name, value)
        appointment.save()
        for hook in _AFTER_BOOKING:
            hook(appointment=appointment, change="rescheduled")
        _confirm_physician(appointment, request=request, actor=actor, longest=longest)
        return appointment

    return _retrying(attempt)


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
