"""Reads for pre-procedure safety: which protocol row applies, the effective bleeding-risk class, hold
times, fasting times, and the earliest date a patient can be ready."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from procedures.models import (
    Appointment,
    BleedingRisk,
    HoldKind,
    HoldRule,
    Patient,
    PatientMedication,
    ProcedureType,
    SafetyOverride,
    SafetySettings,
)
from procedures.selectors.intervals import fetch_instances

RISK_ORDER = [BleedingRisk.LOW, BleedingRisk.INTERMEDIATE, BleedingRisk.HIGH]


def checklist_overrides_in_force() -> QuerySet[SafetyOverride]:
    """Physicians' go-aheads past open checklist items that still count: one is revoked when its item is
    reopened. The gate, the check-in list and the appointment page all read them here."""
    return SafetyOverride.objects.filter(scope=SafetyOverride.Scope.CHECKLIST, revoked_at__isnull=True)


def _patient_medications(*, patient_id: int) -> QuerySet[PatientMedication]:
    return PatientMedication.objects.filter(patient_id=patient_id).select_related(
        "medication", "added_by", "stopped_by"
    )


def patient_medication_list(*, patient_id: int) -> list[PatientMedication]:
    """The patient's medications, current and stopped, by drug name, with who added and stopped them: the
    patient page's card, read through a query built once per process."""
    return fetch_instances(PatientMedication, _patient_medications, patient_id=patient_id)


def safety_settings() -> SafetySettings:
    settings_row, _ = SafetySettings.objects.get_or_create(pk=1)
    return settings_row


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def effective_risk(
    *,
    procedure_type: ProcedureType,
    patient: Patient,
    on: date,
    prior_surgery_at_site: bool = False,
    settings_row: SafetySettings | None = None,
) -> tuple[str, str, list[str]]:
    """(base class, effective class, reasons): patient factors raise the procedure's class one step."""
    settings_row = settings_row or safety_settings()
    reasons = []
    if patient.bleeding_disorder:
        reasons.append("bleeding disorder")
    if patient.severe_liver_disease:
        reasons.append("severe liver disease")
    if patient.severe_kidney_disease:
        reasons.append("severe kidney disease")
    if settings_row.older_age_years and _age_on(patient.date_of_birth, on) >= settings_row.older_age_years:
        reasons.append(f"age {settings_row.older_age_years} or over")
    if prior_surgery_at_site:
        reasons.append("previous surgery or radiation at the site")
    base = procedure_type.bleeding_risk
    effective = base
    if reasons:
        effective = RISK_ORDER[min(RISK_ORDER.index(base) + 1, len(RISK_ORDER) - 1)]
    return base, effective, reasons


def hold_rule_for(*, patient_medication: PatientMedication, risk_class: str) -> HoldRule | None:
    """The protocol row for this drug, its indication/dose where they matter, and the risk class.
    A row naming the indication or dose wins over a row that leaves it empty."""
    candidates = HoldRule.objects.filter(
        medication_id=patient_medication.medication_id,
        risk_class=risk_class,
        indication__in=[patient_medication.indication, ""],
        dose_intent__in=[patient_medication.dose_intent, ""],
    )
    return max(candidates, key=lambda r: (bool(r.indication), bool(r.dose_intent)), default=None)


def rule_hold_value(rule: HoldRule, patient: Patient) -> int | None:
    if rule.hold_value_renal is not None and patient.severe_kidney_disease:
        return rule.hold_value_renal
    return rule.hold_value


@dataclass(frozen=True)
class HoldTimes:
    hold_hours: int
    last_dose_day: date | None
    last_dose_by: datetime | None
    resume_after: datetime | None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def hold_times(
    *, kind: str, value: int | None, start: datetime, end: datetime, restart_hours: int | None
) -> HoldTimes:
    """When the last dose may be taken and when to resume.

    Days: a hold of N days means no dose on the N calendar days before the procedure day, so the last dose
    is on day -(N+1), and must be taken before local midnight at the start of day -N (DST-safe: computed on
    local dates). Hours: counted back from the scheduled start in absolute time. Restart: counted from the
    end of the procedure."""
    # Arithmetic on a zoned datetime is wall-clock arithmetic; in UTC it is elapsed time, which holds need.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if kind == HoldKind.DAYS and value:
        procedure_day = timezone.localdate(start)
        first_free_day = procedure_day - timedelta(days=value)
        last_dose_by = _local_midnight(first_free_day)
        hours = value * 24
        last_dose_day = first_free_day - timedelta(days=1)
    elif kind == HoldKind.HOURS and value:
        last_dose_by = start - timedelta(hours=value)
        hours = value
        last_dose_day = timezone.localdate(last_dose_by)
    else:
        return HoldTimes(0, None, None, None)
    resume = end + timedelta(hours=restart_hours) if restart_hours is not None else None
    return HoldTimes(hours, last_dose_day, last_dose_by, resume)


def earliest_start_for_holds(*, patient: Patient, procedure_type: ProcedureType, now: datetime):
    """Readiness rule: a drug that must be held N days (or hours) cannot be stopped in the past, so the
    procedure can be no sooner than N full days (hours) from now. Shared and unset rows set no date; they
    raise a clearance or a physician decision instead."""
    medications = list(patient.medications.filter(stopped_at__isnull=True).select_related("medication"))
    if not medications:
        return None
    _, risk, _ = effective_risk(procedure_type=procedure_type, patient=patient, on=timezone.localdate(now))
    latest: datetime | None = None
    reason = ""
    for pm in medications:
        rule = hold_rule_for(patient_medication=pm, risk_class=risk)
        if rule is None:
            continue
        value = rule_hold_value(rule, patient)
        if rule.hold_kind == HoldKind.DAYS and value:
            # Taking today's dose is assumed; the N dose-free days start tomorrow.
            limit = _local_midnight(timezone.localdate(now) + timedelta(days=value + 1))
            why = f"{pm.medication} must be stopped {value} days before"
        elif rule.hold_kind == HoldKind.HOURS and value:
            limit = now + timedelta(hours=value)
            why = f"{pm.medication} must be stopped {value} hours before"
        else:
            continue
        if latest is None or limit > latest:
            latest, reason = limit, why
    return (latest, reason) if latest else None


@dataclass(frozen=True)
class Fasting:
    solids_until: datetime
    fatty_food_until: datetime
    clear_liquids_until: datetime
    escort_required: bool
    no_driving_until: datetime
    source: str


def fasting_for(*, appointment: Appointment, settings_row: SafetySettings | None = None) -> Fasting | None:
    """ASA fasting applies only when sedation is planned; without sedation there is no fasting rule."""
    if not appointment.sedation_planned:
        return None
    s = settings_row or safety_settings()
    start, end = appointment.start.astimezone(UTC), appointment.end.astimezone(UTC)
    return Fasting(
        solids_until=start - timedelta(hours=s.light_meal_hours),
        fatty_food_until=start - timedelta(hours=s.fatty_meal_hours),
        clear_liquids_until=start - timedelta(hours=s.clear_liquids_hours),
        escort_required=True,
        no_driving_until=end + timedelta(hours=s.no_driving_hours),
        source=s.fasting_source,
    )
