"""The day of the procedure: check-in, start, finish, recovery observations, discharge and the post-block
diary. Times are what the nurse or physician charts; impossible sequences are refused with a message."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import (
    Appointment,
    AppointmentStatus,
    BlockDiaryEntry,
    Discharge,
    PainScore,
    PainSource,
    ProcedureRecord,
    RecoveryBay,
    SteroidDose,
    SteroidProduct,
    VitalsEntry,
)
from procedures.services.appointments import appointment_transition
from procedures.services.outcomes import pain_score_record

# Charting a few seconds ahead of the server clock is a clock difference, not the future.
CLOCK_SLACK = timedelta(minutes=1)

IDENTITY_MISMATCH = "The date of birth given does not match this patient: check who is checking in."
NAME_NOT_CONFIRMED = "Ask the patient to say their full name, and tick that it matches."
IN_THE_FUTURE = "{what} {when} is in the future."
BEFORE = "{what} {when} is before {other} {other_when}."
NOT_STATUS = "This patient is {status}: {action} is not possible now."
NO_FREE_BAY = "Every recovery bay is occupied: free a bay (discharge a patient) before finishing."
NO_VITALS = "Chart at least one set of observations before discharge."
CRITERIA_UNMET = "Not ready for discharge: {items}."
TOO_EARLY = "The minimum observation time ends at {when}. Discharging earlier needs a reason."
NOT_A_TIMEPOINT = "{minutes} minutes is not one of this procedure's diary times ({times})."
NOT_DIAGNOSTIC = "This procedure has no post-block diary."
STEROID_CEILING = "{steroid} {dose} mg is above the per-session ceiling of {ceiling} mg ({source})."
PAIN_RANGE = "Pain is a whole number from 0 to 10."
DIARY_BEFORE_END = "The diary starts when the procedure has ended."
DIARY_NOT_DUE = "The {minutes}-minute entry is not due yet: it opens at {when}."
# A diary point may be charted a little before it is due (the nurse's round), not earlier.
DIARY_EARLY = timedelta(minutes=10)
OUT_OF_RANGE = "{label} {value} is outside {low}–{high}: check the reading."
BP_ORDER = "Blood pressure {systolic}/{diastolic}: the lower number must be below the upper one."

# Plausibility bounds for charted observations (typing errors), the same as the database's constraints.
VITALS_RANGES = {
    "systolic": ("Systolic pressure", 40, 300),
    "diastolic": ("Diastolic pressure", 20, 200),
    "heart_rate": ("Heart rate", 20, 250),
    "spo2": ("SpO₂", 50, 100),
}


class DayOfError(Exception):
    """A day-of step refused; nothing was changed."""


AfterDischargeHook = Callable[..., None]
_AFTER_DISCHARGE: list[AfterDischargeHook] = []


def after_discharge_register(hook: AfterDischargeHook) -> None:
    """Later capabilities (follow-up reminders) start from a discharge."""
    if hook not in _AFTER_DISCHARGE:
        _AFTER_DISCHARGE.append(hook)


def _mg(amount: Decimal) -> str:
    return format(Decimal(amount).normalize(), "f")


def _clock(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "H:i")


def _not_future(what: str, moment: datetime, now: datetime) -> None:
    if moment > now + CLOCK_SLACK:
        raise DayOfError(IN_THE_FUTURE.format(what=what, when=_clock(moment)))


def _not_before(what: str, moment: datetime, other: str, other_moment: datetime) -> None:
    if moment < other_moment:
        raise DayOfError(_before(what, moment, other, other_moment))


def _before(what: str, moment: datetime, other: str, other_moment: datetime) -> str:
    # Within the same minute the clock times alone would read "10:15 is before 10:15": show seconds.
    same_minute = timezone.localtime(moment).replace(second=0, microsecond=0) == timezone.localtime(
        other_moment
    ).replace(second=0, microsecond=0)
    fmt = "H:i:s" if same_minute else "H:i"
    return BEFORE.format(
        what=what,
        when=date_format(timezone.localtime(moment), fmt),
        other=other,
        other_when=date_format(timezone.localtime(other_moment), fmt),
    )


def _locked(appointment_id: int, *statuses: str, action: str) -> Appointment:
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "procedure_type", "recovery_bay")
        .get(pk=appointment_id)
    )
    if statuses and appointment.status not in statuses:
        raise DayOfError(NOT_STATUS.format(status=appointment.get_status_display().lower(), action=action))
    return appointment


def _pain(value: int | None) -> None:
    if value is not None and not 0 <= value <= 10:
        raise DayOfError(PAIN_RANGE)


@transaction.atomic
def appointment_check_in(
    *,
    appointment_id: int,
    actor: AbstractBaseUser | None,
    name_confirmed: bool,
    date_of_birth: date,
    at: datetime | None = None,
) -> Appointment:
    """Check-in confirms identity two ways: the patient says their name, and gives a date of birth that must
    match the record."""
    now = timezone.now()
    at = at or now
    appointment = _locked(
        appointment_id, AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, action="checking in"
    )
    if not name_confirmed:
        raise DayOfError(NAME_NOT_CONFIRMED)
    if date_of_birth != appointment.patient.date_of_birth:
        raise DayOfError(IDENTITY_MISMATCH)
    _not_future("Check-in at", at, now)
    return appointment_transition(
        appointment_id=appointment.pk, to_status=AppointmentStatus.CHECKED_IN, actor=actor, at=at
    )


@transaction.atomic
def procedure_start(
    *,
    appointment_id: int,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    baseline_pain: int | None = None,
) -> ProcedureRecord:
    """The patient goes into the room: the checklist gate applies (appointment_transition refuses)."""
    now = timezone.now()
    at = at or now
    _pain(baseline_pain)
    appointment = _locked(appointment_id, AppointmentStatus.CHECKED_IN, action="starting the procedure")
    _not_future("The start", at, now)
    checked_in = (
        appointment.transitions.filter(to_status=AppointmentStatus.CHECKED_IN).order_by("-at").first()
    )
    if checked_in:
        _not_before("The start", at, "check-in at", checked_in.at)
    appointment_transition(
        appointment_id=appointment.pk, to_status=AppointmentStatus.IN_PROCEDURE, actor=actor, at=at
    )
    record, _ = ProcedureRecord.objects.update_or_create(
        appointment=appointment,
        defaults={"started_at": at, "baseline_pain": baseline_pain, "recorded_by": actor},
    )
    if baseline_pain is not None:
        pain_score_record(
            patient=appointment.patient,
            appointment=appointment,
            score=baseline_pain,
            recorded_at=at,
            source=PainSource.DAY_OF,
            actor=actor,
        )
    return record


def _free_bay_for(appointment: Appointment) -> RecoveryBay:
    """The booked bay if nobody is still in it, else any active bay nobody is in."""
    occupied = set(
        Appointment.objects.filter(status=AppointmentStatus.IN_RECOVERY, recovery_bay__isnull=False)
        .exclude(pk=appointment.pk)
        .values_list("recovery_bay_id", flat=True)
    )
    bays = list(RecoveryBay.objects.select_for_update().filter(active=True).order_by("pk"))
    if appointment.recovery_bay_id and appointment.recovery_bay_id not in occupied:
        return appointment.recovery_bay
    for bay in bays:
        if bay.pk not in occupied:
            return bay
    raise DayOfError(NO_FREE_BAY)


@transaction.atomic
def procedure_finish(
    *,
    appointment_id: int,
    actor: AbstractBaseUser | None,
    ended_at: datetime | None = None,
    details: dict | None = None,
    steroids: list[tuple[SteroidProduct, Decimal]] = (),
) -> tuple[ProcedureRecord, list[str]]:
    """The physician charts what was done; the patient moves to a recovery bay. Returns the record and any
    warnings (a steroid dose above its per-session ceiling is charted, and flagged)."""
    now = timezone.now()
    ended_at = ended_at or now
    appointment = _locked(appointment_id, AppointmentStatus.IN_PROCEDURE, action="finishing the procedure")
    record = ProcedureRecord.objects.select_for_update().get(appointment=appointment)
    _not_future("The end", ended_at, now)
    if ended_at <= record.started_at:
        raise DayOfError(_before("The end", ended_at, "the start", record.started_at))
    details = details or {}
    _pain(details.get("baseline_pain"))
    for field, value in details.items():
        setattr(record, field, value)
    record.ended_at = ended_at
    record.recorded_by = actor
    record.save()
    warnings = []
    for steroid, dose in steroids:
        if dose is None or dose <= 0:
            raise DayOfError(f"Give the {steroid} dose in mg.")
        SteroidDose.objects.create(
            appointment=appointment, steroid=steroid, dose_mg=dose, given_at=ended_at, recorded_by=actor
        )
        if steroid.session_ceiling_mg is not None and dose > steroid.session_ceiling_mg:
            warnings.append(
                STEROID_CEILING.format(
                    steroid=steroid,
                    dose=_mg(dose),
                    ceiling=_mg(steroid.session_ceiling_mg),
                    source=steroid.ceiling_source,
                )
            )
    bay = _free_bay_for(appointment)
    if bay.pk != appointment.recovery_bay_id:
        appointment.recovery_bay = bay
        appointment.save(update_fields=["recovery_bay", "updated_at"])
    appointment_transition(
        appointment_id=appointment.pk, to_status=AppointmentStatus.IN_RECOVERY, actor=actor, at=ended_at
    )
    return record, warnings


def earliest_discharge(*, appointment: Appointment, record: ProcedureRecord) -> datetime:
    sedated = record.sedation_given or appointment.sedation_planned
    return record.ended_at + timedelta(minutes=appointment.procedure_type.monitoring_for(sedated=sedated))


@transaction.atomic
def vitals_record(
    *,
    appointment_id: int,
    actor: AbstractBaseUser | None,
    taken_at: datetime,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    pain: int,
    leg_strength: str = "normal",
    numbness: str = "none",
    note: str = "",
) -> VitalsEntry:
    now = timezone.now()
    appointment = _locked(
        appointment_id, AppointmentStatus.IN_RECOVERY, action="charting recovery observations"
    )
    record = ProcedureRecord.objects.get(appointment=appointment)
    _not_future("Observations at", taken_at, now)
    _not_before("Observations at", taken_at, "the end of the procedure at", record.ended_at)
    _pain(pain)
    readings = {"systolic": systolic, "diastolic": diastolic, "heart_rate": heart_rate, "spo2": spo2}
    for name, (label, low, high) in VITALS_RANGES.items():
        if not low <= readings[name] <= high:
            raise DayOfError(OUT_OF_RANGE.format(label=label, value=readings[name], low=low, high=high))
    if diastolic >= systolic:
        raise DayOfError(BP_ORDER.format(systolic=systolic, diastolic=diastolic))
    entry = VitalsEntry(
        appointment=appointment,
        taken_at=taken_at,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        pain=pain,
        leg_strength=leg_strength,
        numbness=numbness,
        note=note.strip(),
        recorded_by=actor,
    )
    try:
        entry.full_clean(exclude=["appointment", "recorded_by"])
    except Exception as exc:  # a ValidationError from the field limits, shown as one sentence
        messages = getattr(exc, "message_dict", {"": [str(exc)]})
        raise DayOfError(
            "; ".join(f"{field}: {' '.join(errors)}" for field, errors in messages.items())
        ) from exc
    entry.save()
    return entry


@transaction.atomic
def patient_discharge(
    *,
    appointment_id: int,
    actor: AbstractBaseUser,
    at: datetime | None = None,
    vitals_stable: bool,
    walks_safely: bool,
    pain_controlled: bool,
    escort_present: bool | None = None,
    early_reason: str = "",
) -> Discharge:
    """Discharge after the minimum observation time with every criterion met; earlier only with a reason.
    The criteria themselves are never waived."""
    now = timezone.now()
    at = at or now
    appointment = _locked(appointment_id, AppointmentStatus.IN_RECOVERY, action="discharge")
    record = ProcedureRecord.objects.get(appointment=appointment)
    _not_future("Discharge at", at, now)
    _not_before("Discharge at", at, "the end of the procedure at", record.ended_at)
    if not appointment.vitals.exists():
        raise DayOfError(NO_VITALS)
    sedated = record.sedation_given or appointment.sedation_planned
    unmet = [
        label
        for label, met in (
            ("vitals not stable", vitals_stable),
            ("not walking safely", walks_safely),
            ("pain not controlled", pain_controlled),
            ("no escort after sedation", escort_present if sedated else True),
        )
        if not met
    ]
    if unmet:
        raise DayOfError(CRITERIA_UNMET.format(items=", ".join(unmet)))
    earliest = earliest_discharge(appointment=appointment, record=record)
    if at < earliest and not early_reason.strip():
        raise DayOfError(TOO_EARLY.format(when=_clock(earliest)))
    discharge = Discharge.objects.create(
        appointment=appointment,
        discharged_at=at,
        vitals_stable=vitals_stable,
        walks_safely=walks_safely,
        pain_controlled=pain_controlled,
        escort_present=escort_present if sedated else None,
        early_reason=early_reason.strip() if at < earliest else "",
        by=actor,
    )
    appointment_transition(
        appointment_id=appointment.pk, to_status=AppointmentStatus.DISCHARGED, actor=actor, at=at
    )
    for hook in _AFTER_DISCHARGE:
        hook(appointment=appointment, discharge=discharge)
    return discharge


@transaction.atomic
def diary_record(
    *,
    appointment_id: int,
    minutes_after: int,
    pain: int,
    relief_percent: int,
    actor: AbstractBaseUser | None,
    source: str = "nurse",
    at: datetime | None = None,
) -> BlockDiaryEntry:
    """One diary point after a diagnostic block; the block's peak relief follows (it feeds RFA eligibility)."""
    now = timezone.now()
    at = at or now
    appointment = _locked(appointment_id, action="charting the diary")
    times = appointment.procedure_type.diary_timepoints_minutes or []
    if not times:
        raise DayOfError(NOT_DIAGNOSTIC)
    if minutes_after not in times:
        raise DayOfError(NOT_A_TIMEPOINT.format(minutes=minutes_after, times=", ".join(map(str, times))))
    _pain(pain)
    if not 0 <= relief_percent <= 100:
        raise DayOfError("Relief is a percentage from 0 to 100.")
    record = ProcedureRecord.objects.filter(appointment=appointment).first()
    if record is None or record.ended_at is None:
        raise DayOfError(DIARY_BEFORE_END)
    _not_future("The diary entry at", at, now)
    opens = record.ended_at + timedelta(minutes=minutes_after) - DIARY_EARLY
    if at < opens:
        raise DayOfError(DIARY_NOT_DUE.format(minutes=minutes_after, when=_clock(opens)))
    entry, _ = BlockDiaryEntry.objects.update_or_create(
        appointment=appointment,
        minutes_after=minutes_after,
        defaults={
            "pain": pain,
            "relief_percent": relief_percent,
            "recorded_at": at,
            "source": source,
            "recorded_by": actor,
        },
    )
    # On the pain timeline at the diary point's own time, so re-charting a point replaces its score.
    PainScore.objects.update_or_create(
        appointment=appointment,
        source=PainSource.DIARY,
        recorded_at=record.ended_at + timedelta(minutes=minutes_after),
        defaults={
            "patient": appointment.patient,
            "score": pain,
            "percent_relief": relief_percent,
            "entered_by": actor,
        },
    )
    peak = max(appointment.diary.values_list("relief_percent", flat=True))
    Appointment.objects.filter(pk=appointment.pk).update(block_peak_relief_percent=peak)
    return entry
