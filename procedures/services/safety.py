"""Pre-procedure safety writes: hold plans (proposed from the protocol, confirmed or changed by a
physician), prescriber clearances, the checklist, and the gate before "in procedure".

The app proposes; clinicians decide. Every physician decision records who and why (audited)."""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import (
    Appointment,
    AppointmentStatus,
    ChecklistItem,
    ChecklistKind,
    ClearanceStatus,
    HoldKind,
    HoldPlan,
    HoldPlanLine,
    ItemState,
    PlanStatus,
    SafetyOverride,
)
from procedures.selectors.eligibility import eligibility_warnings
from procedures.selectors.safety import (
    checklist_overrides_in_force,
    effective_risk,
    hold_rule_for,
    hold_times,
    rule_hold_value,
    safety_settings,
)
from procedures.services.appointments import TransitionError

CONFIRM_PERMISSION = "procedures.confirm_hold_plan"
OVERRIDE_PERMISSION = "procedures.override_safety"

NOT_A_PHYSICIAN = "Only a physician can {action}."
REASON_NEEDED = "Give a reason to {action}."
UNSET_LINES = "Decide a hold for {names} first: the clinic has no rule for {them}."
HOLD_HOURS_RANGE = "A hold must be between 0 and 720 hours (30 days)."
INR_NEEDS_VALUE = "Enter the INR result."
INR_ABOVE_LIMIT = "INR {value} is above the clinic's limit of {limit}: the item stays open."
INR_NO_LIMIT = "The clinic has not set an INR limit, so a physician must accept this INR."
GLUCOSE_NEEDS_VALUE = "Enter the blood glucose in mg/dL (20–800)."
GATE_OPEN = "Before the procedure can start: {items}."
NOTHING_TO_OVERRIDE = "Nothing is open: no override is needed."
NO_SUCH_ITEM = "This appointment has no “{kind}” item."
DERIVED_NOT_BY_HAND = "“{item}” is ticked from the hold plan and reviews, not by hand."
NOT_A_CLEARANCE_ANSWER = "“{status}” is not a clearance answer (cleared, refused or pending)."
NO_CLEARANCE_NEEDED = "This medication does not need the prescriber's clearance."
UNKNOWN_SCOPE = "“{scope}” is not something a physician can override (checklist or eligibility)."

# Appointments whose safety plan can still change: before the procedure starts.
OPEN_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN)
CLOSED_APPOINTMENT = "This appointment is {status}; its safety plan can no longer change."

# Items the app ticks itself from the plan's state; staff do not tick them by hand.
DERIVED = {
    ChecklistKind.HOLD_PLAN,
    ChecklistKind.HOLDS_CONFIRMED,
    ChecklistKind.CLEARANCES,
    ChecklistKind.ELIGIBILITY,
}


class SafetyError(Exception):
    """A safety action refused; the message says why."""


def _require(actor: AbstractBaseUser | None, perm: str, action: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise SafetyError(NOT_A_PHYSICIAN.format(action=action))


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "D j M H:i")


# --- hold plans -----------------------------------------------------------------------------------------


def _line_times(line: HoldPlanLine, appointment: Appointment) -> None:
    if line.override_hold_hours is not None:
        hours = line.override_hold_hours
        # A physician's whole number of days means calendar days, as in the protocol, unless the drug's
        # rule counts hours (heparins).
        if line.hold_kind != HoldKind.HOURS and hours % 24 == 0:
            times = hold_times(
                kind=HoldKind.DAYS,
                value=hours // 24,
                start=appointment.start,
                end=appointment.end,
                restart_hours=line.restart_hours,
            )
        else:
            times = hold_times(
                kind=HoldKind.HOURS,
                value=hours,
                start=appointment.start,
                end=appointment.end,
                restart_hours=line.restart_hours,
            )
    else:
        value = (
            line.proposed_hold_hours // 24 if line.hold_kind == HoldKind.DAYS else line.proposed_hold_hours
        )
        times = hold_times(
            kind=line.hold_kind,
            value=value,
            start=appointment.start,
            end=appointment.end,
            restart_hours=line.restart_hours,
        )
    line.last_dose_by = times.last_dose_by
    line.last_dose_day = times.last_dose_day
    line.resume_after = times.resume_after


def _snapshot(line: HoldPlanLine) -> tuple:
    return (
        line.hold_hours,
        line.last_dose_by,
        line.resume_after,
        line.needs_prescriber_clearance,
        line.rule_version,
    )


@transaction.atomic
def hold_plan_refresh(*, appointment_id: int, now: datetime | None = None) -> HoldPlan | None:
    """(Re)compute the appointment's hold plan from the patient's current medications and the protocol.

    Physician overrides, clearances and the patient's confirmations are kept for medications still on the
    list. If anything the patient must do changed, a confirmed plan goes back to proposed."""
    now = now or timezone.now()
    appointment = (
        # Not the procedure type's row: every booking of that procedure would queue behind this one.
        Appointment.objects.select_for_update(of=("self", "patient"))
        .select_related("patient", "procedure_type")
        .get(pk=appointment_id)
    )
    if appointment.status not in OPEN_STATUSES:
        return getattr(appointment, "hold_plan", None)
    patient = appointment.patient
    base, risk, reasons = effective_risk(
        procedure_type=appointment.procedure_type,
        patient=patient,
        on=timezone.localdate(appointment.start),
        prior_surgery_at_site=appointment.prior_surgery_at_site,
    )
    # The appointment's row is locked: no other refresh can create its plan meanwhile.
    plan = HoldPlan.objects.filter(appointment=appointment).first()
    created = plan is None
    if created:
        plan = HoldPlan.objects.create(
            appointment=appointment, base_risk_class=base, risk_class=risk, computed_at=now
        )
    existing = (
        {} if created else {line.patient_medication_id: line for line in plan.lines.select_for_update()}
    )
    changed = plan.risk_class != risk
    plan.base_risk_class, plan.risk_class = base, risk
    plan.risk_raised_because = ", ".join(reasons)
    plan.computed_at = now

    active = list(patient.medications.filter(stopped_at__isnull=True).select_related("medication"))
    for pm in active:
        rule = hold_rule_for(patient_medication=pm, risk_class=risk)
        line = existing.pop(pm.pk, None)
        before = _snapshot(line) if line else None
        if line is None:
            line = HoldPlanLine(plan=plan, patient_medication=pm, medication=pm.medication)
        kind = rule.hold_kind if rule else HoldKind.UNSET
        value = rule_hold_value(rule, patient) if rule else None
        line.rule = rule
        line.rule_version = rule.version if rule else None
        line.hold_kind = kind
        line.proposed_hold_hours = (value or 0) * (24 if kind == HoldKind.DAYS else 1)
        line.requires_normal_inr = bool(rule and rule.requires_normal_inr)
        line.restart_hours = rule.restart_hours if rule else None
        line.source = rule.source if rule else "No protocol row for this drug — clinic setting"
        line.evidence = rule.evidence if rule else "-"
        line.needs_prescriber_clearance = kind == HoldKind.SHARED
        if line.needs_prescriber_clearance and line.clearance_status == ClearanceStatus.NOT_NEEDED:
            line.clearance_status = ClearanceStatus.PENDING
        elif not line.needs_prescriber_clearance:
            line.clearance_status = ClearanceStatus.NOT_NEEDED
        _line_times(line, appointment)
        if before != _snapshot(line):
            changed = True
            line.patient_confirmed_at = None
        line.save()
    for gone in existing.values():
        gone.delete()
        changed = True
    if changed and plan.status == PlanStatus.CONFIRMED:
        plan.status, plan.confirmed_by, plan.confirmed_at = PlanStatus.PROPOSED, None, None
    # A plan created above already holds all of this but the reasons (every booking creates one).
    if not created or plan.risk_raised_because:
        plan.save()
    checklist_refresh(appointment=appointment, now=now)
    _plan_changed(appointment.pk)
    return plan


# Hooks told when a plan's lines (and so the patient's stop days) may have changed: the message plan.
_PLAN_CHANGED: list[Callable[..., None]] = []


def hold_plan_changed_register(hook: Callable[..., None]) -> None:
    if hook not in _PLAN_CHANGED:
        _PLAN_CHANGED.append(hook)


def _plan_changed(appointment_id: int) -> None:
    for hook in _PLAN_CHANGED:
        hook(appointment_id=appointment_id)


def hold_plans_refresh_for_patient(*, patient_id: int, now: datetime | None = None) -> int:
    """After a medication change: every upcoming appointment's plan follows."""
    ids = list(
        Appointment.objects.filter(
            patient_id=patient_id,
            status__in=OPEN_STATUSES,
        ).values_list("pk", flat=True)
    )
    for appointment_id in ids:
        hold_plan_refresh(appointment_id=appointment_id, now=now)
    return len(ids)


def hold_plan_after_booking(*, appointment: Appointment, change: str) -> None:
    """Booking hook: a new or moved appointment gets its plan (and checklist) at once."""
    if change in ("booked", "rescheduled"):
        hold_plan_refresh(appointment_id=appointment.pk)


def _open_plan(appointment_id: int) -> HoldPlan:
    plan = (
        HoldPlan.objects.select_for_update().select_related("appointment").get(appointment_id=appointment_id)
    )
    if plan.appointment.status not in OPEN_STATUSES:
        raise SafetyError(CLOSED_APPOINTMENT.format(status=plan.appointment.get_status_display().lower()))
    return plan


@transaction.atomic
def hold_plan_confirm(
    *, appointment_id: int, actor: AbstractBaseUser | None, now: datetime | None = None
) -> HoldPlan:
    _require(actor, CONFIRM_PERMISSION, "confirm a hold plan")
    plan = _open_plan(appointment_id)
    undecided = [
        line.medication.generic_name
        for line in plan.lines.select_related("medication")
        if line.hold_kind == HoldKind.UNSET and line.override_hold_hours is None
    ]
    if undecided:
        raise SafetyError(
            UNSET_LINES.format(names=", ".join(undecided), them="it" if len(undecided) == 1 else "them")
        )
    plan.status, plan.confirmed_by, plan.confirmed_at = PlanStatus.CONFIRMED, actor, now or timezone.now()
    plan.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    checklist_refresh(appointment=plan.appointment)
    return plan


@transaction.atomic
def hold_line_override(
    *, line_id: int, hold_hours: int, reason: str, actor: AbstractBaseUser | None, now: datetime | None = None
) -> HoldPlanLine:
    """A physician changes one drug's hold (0 = keep taking it), with a reason."""
    _require(actor, CONFIRM_PERMISSION, "change a hold")
    if not reason.strip():
        raise SafetyError(REASON_NEEDED.format(action="change the proposed hold"))
    if not 0 <= hold_hours <= 720:
        raise SafetyError(HOLD_HOURS_RANGE)
    line = HoldPlanLine.objects.select_related("plan").get(pk=line_id)
    plan = _open_plan(line.plan.appointment_id)
    line = HoldPlanLine.objects.select_for_update().get(pk=line_id)
    line.override_hold_hours = hold_hours
    line.override_reason = reason.strip()
    line.overridden_by = actor
    line.overridden_at = now or timezone.now()
    line.patient_confirmed_at = None
    _line_times(line, plan.appointment)
    line.save()
    checklist_refresh(appointment=plan.appointment)
    _plan_changed(plan.appointment_id)
    return line


@transaction.atomic
def clearance_record(
    *, line_id: int, status: str, actor: AbstractBaseUser | None, note: str = ""
) -> HoldPlanLine:
    """The prescriber's answer to a shared decision, as relayed by staff."""
    if status not in (ClearanceStatus.CLEARED, ClearanceStatus.REFUSED, ClearanceStatus.PENDING):
        raise SafetyError(NOT_A_CLEARANCE_ANSWER.format(status=status))
    plan_line = HoldPlanLine.objects.select_related("plan").get(pk=line_id)
    _open_plan(plan_line.plan.appointment_id)
    line = HoldPlanLine.objects.select_for_update().select_related("plan__appointment").get(pk=line_id)
    if not line.needs_prescriber_clearance:
        raise SafetyError(NO_CLEARANCE_NEEDED)
    line.clearance_status = status
    line.clearance_note = note.strip()
    line.save(update_fields=["clearance_status", "clearance_note"])
    checklist_refresh(appointment=line.plan.appointment)
    return line


@transaction.atomic
def holds_patient_confirm(
    *, appointment_id: int, actor: AbstractBaseUser | None, now: datetime | None = None
) -> int:
    """Staff record that the patient understood and will follow every hold (e.g. on the phone)."""
    now = now or timezone.now()
    plan = _open_plan(appointment_id)
    updated = plan.lines.filter(patient_confirmed_at__isnull=True).update(patient_confirmed_at=now)
    checklist_refresh(appointment=plan.appointment, now=now)
    return updated


# --- checklist --------------------------------------------------------------------------------------------


def _required_items(appointment: Appointment, warning_codes: set[str]) -> dict[str, str]:
    """kind → why, for this appointment and patient."""
    patient, ptype = appointment.patient, appointment.procedure_type
    plan = getattr(appointment, "hold_plan", None)
    lines = list(plan.lines.select_related("medication")) if plan else []
    items = {
        ChecklistKind.CONSENT: "",
        ChecklistKind.ALLERGIES: "contrast allergy and a contrast procedure"
        if patient.allergy_contrast and ptype.uses_contrast
        else ", ".join(patient.allergy_labels),
        ChecklistKind.NO_INFECTION: "fever or active infection blocks the procedure",
    }
    if lines:
        items[ChecklistKind.HOLD_PLAN] = ", ".join(line.medication.generic_name for line in lines)
    held = [line.medication.generic_name for line in lines if line.hold_hours > 0]
    if held:
        items[ChecklistKind.HOLDS_CONFIRMED] = ", ".join(held)
    clearances = [line.medication.generic_name for line in lines if line.needs_prescriber_clearance]
    if clearances:
        items[ChecklistKind.CLEARANCES] = ", ".join(clearances)
    if appointment.sedation_planned:
        items[ChecklistKind.FASTING] = "sedation planned"
        items[ChecklistKind.ESCORT] = "sedation planned: a responsible adult takes the patient home"
    inr_drugs = [line.medication.generic_name for line in lines if line.medication.needs_inr]
    if inr_drugs:
        items[ChecklistKind.INR] = ", ".join(inr_drugs)
    if patient.diabetes and ptype.uses_steroid:
        items[ChecklistKind.GLUCOSE] = "diabetes and a steroid injection"
    if patient.possible_pregnancy and ptype.imaging == "fluoroscopy":
        items[ChecklistKind.PREGNANCY] = "possible pregnancy and fluoroscopy"
    if warning_codes:
        items[ChecklistKind.ELIGIBILITY] = "; ".join(sorted(warning_codes))
    return items


def _warning_codes(appointment: Appointment) -> set[str]:
    return {
        w.code
        for w in eligibility_warnings(
            patient=appointment.patient,
            procedure_type=appointment.procedure_type,
            start=appointment.start,
            exclude_appointment_id=appointment.pk,
        )
    }


def _derived_done(kind: str, appointment: Appointment, warning_codes: set[str]) -> bool:
    plan = getattr(appointment, "hold_plan", None)
    if kind == ChecklistKind.HOLD_PLAN:
        return plan is not None and plan.status == PlanStatus.CONFIRMED
    if kind == ChecklistKind.HOLDS_CONFIRMED:
        return (
            plan is not None
            and not plan.lines.filter(patient_confirmed_at__isnull=True)
            .exclude(override_hold_hours=0)
            .exclude(override_hold_hours__isnull=True, proposed_hold_hours=0)
            .exists()
        )
    if kind == ChecklistKind.CLEARANCES:
        return (
            plan is not None
            and not plan.lines.filter(needs_prescriber_clearance=True)
            .exclude(clearance_status=ClearanceStatus.CLEARED)
            .exists()
        )
    if kind == ChecklistKind.ELIGIBILITY:
        codes = warning_codes  # this appointment's warnings, read once per refresh
        overridden = set(
            appointment.safety_overrides.filter(scope=SafetyOverride.Scope.ELIGIBILITY).values_list(
                "code", flat=True
            )
        )
        return codes <= overridden
    return False


def checklist_refresh(*, appointment: Appointment, now: datetime | None = None) -> list[ChecklistItem]:
    """Bring the checklist in line with the patient, the procedure and the plan: add what now applies,
    drop open items that no longer apply, and tick or untick the items the app derives itself."""
    now = now or timezone.now()
    appointment = Appointment.objects.select_related("patient", "procedure_type").get(pk=appointment.pk)
    warning_codes = _warning_codes(appointment)
    required = _required_items(appointment, warning_codes)
    existing = {item.kind: item for item in appointment.checklist.all()}
    for kind, item in existing.items():
        if kind not in required and item.state == ItemState.OPEN:
            item.delete()
    for kind, why in required.items():
        item = existing.get(kind) or ChecklistItem(appointment=appointment, kind=kind)
        item.why = why[:200]
        item.required = True
        if kind in DERIVED:
            done = _derived_done(kind, appointment, warning_codes)
            if done and item.state != ItemState.DONE:
                item.state, item.done_at, item.done_by = ItemState.DONE, now, None
            elif not done:
                item.state, item.done_at, item.done_by = ItemState.OPEN, None, None
        item.save()
    return list(appointment.checklist.all())


def checklist_mark(
    *,
    appointment_id: int,
    kind: str,
    actor: AbstractBaseUser | None,
    done: bool = True,
    value: Decimal | None = None,
    note: str = "",
    now: datetime | None = None,
) -> ChecklistItem:
    """Tick (or untick) a checklist item. INR and glucose take a value. An INR above the clinic's limit (or,
    without a limit, entered by someone who may not accept it) is recorded with the item kept open, and then
    refused: the measurement is clinical data and must not be lost with the refusal."""
    now = now or timezone.now()
    with transaction.atomic():
        item, refusal = _checklist_mark(
            appointment_id=appointment_id, kind=kind, actor=actor, done=done, value=value, note=note, now=now
        )
    if refusal:
        raise SafetyError(refusal)
    return item


def _revoke_checklist_overrides(appointment: Appointment, kind: str, now: datetime) -> None:
    """An item reopened after a physician went ahead despite it needs a fresh decision."""
    checklist_overrides_in_force().filter(appointment=appointment, code=kind).update(revoked_at=now)


def _checklist_mark(*, appointment_id, kind, actor, done, value, note, now) -> tuple[ChecklistItem, str]:
    appointment = Appointment.objects.select_for_update().get(pk=appointment_id)
    if appointment.status not in OPEN_STATUSES:
        raise SafetyError(CLOSED_APPOINTMENT.format(status=appointment.get_status_display().lower()))
    try:
        item = appointment.checklist.select_for_update().get(kind=kind)
    except ChecklistItem.DoesNotExist as exc:
        label = ChecklistKind(kind).label if kind in ChecklistKind.values else kind
        raise SafetyError(NO_SUCH_ITEM.format(kind=label)) from exc
    if kind in DERIVED:
        raise SafetyError(DERIVED_NOT_BY_HAND.format(item=item.get_kind_display()))
    item.note = note.strip()
    if not done:
        item.state, item.done_at, item.done_by = ItemState.OPEN, None, None
        item.save()
        _revoke_checklist_overrides(appointment, kind, now)
        return item, ""
    if kind == ChecklistKind.INR:
        if value is None:
            raise SafetyError(INR_NEEDS_VALUE)
        item.value = value
        limit = safety_settings().inr_limit
        refusal = ""
        if limit is None and not (actor and actor.has_perm(CONFIRM_PERMISSION)):
            refusal = INR_NO_LIMIT
        elif limit is not None and value > limit:
            refusal = INR_ABOVE_LIMIT.format(value=value, limit=limit)
        if refusal:
            item.state, item.done_at, item.done_by = ItemState.OPEN, None, None
            item.save()
            _revoke_checklist_overrides(appointment, kind, now)
            return item, refusal
    if kind == ChecklistKind.GLUCOSE:
        if value is None or not Decimal(20) <= value <= Decimal(800):
            raise SafetyError(GLUCOSE_NEEDS_VALUE)
        item.value = value
    item.state, item.done_at, item.done_by = ItemState.DONE, now, actor
    item.save()
    return item, ""


def checklist_open_items(*, appointment: Appointment) -> list[ChecklistItem]:
    return [
        item
        for item in checklist_refresh(appointment=appointment)
        if item.required and item.state == ItemState.OPEN
    ]


@transaction.atomic
def safety_override(
    *,
    appointment_id: int,
    scope: str,
    actor: AbstractBaseUser | None,
    reason: str,
    now: datetime | None = None,
) -> list[SafetyOverride]:
    """A physician goes ahead despite what is open, with a reason: for the checklist gate, every open item;
    for eligibility, every current warning. Each is recorded (who, when, what they were shown, why)."""
    _require(actor, OVERRIDE_PERMISSION, "override a safety check")
    if scope not in SafetyOverride.Scope.values:
        raise SafetyError(UNKNOWN_SCOPE.format(scope=scope))
    if not reason.strip():
        raise SafetyError(REASON_NEEDED.format(action="go ahead"))
    now = now or timezone.now()
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("patient", "procedure_type")
        .get(pk=appointment_id)
    )
    if scope == SafetyOverride.Scope.ELIGIBILITY:
        shown = [
            (w.code, w.text)
            for w in eligibility_warnings(
                patient=appointment.patient,
                procedure_type=appointment.procedure_type,
                start=appointment.start,
                exclude_appointment_id=appointment.pk,
            )
        ]
    else:
        shown = [
            (item.kind, item.get_kind_display()) for item in checklist_open_items(appointment=appointment)
        ]
    if not shown:
        raise SafetyError(NOTHING_TO_OVERRIDE)
    overrides = [
        SafetyOverride.objects.create(
            appointment=appointment,
            scope=scope,
            code=code,
            text=text[:400],
            reason=reason.strip(),
            by=actor,
            at=now,
        )
        for code, text in shown
    ]
    checklist_refresh(appointment=appointment, now=now)
    return overrides


def checklist_gate(*, appointment: Appointment, actor, reason: str, at: datetime) -> None:
    """Transition guard before "in procedure": every required item done, or each open one overridden by a
    physician since it was last reopened (reopening revokes an earlier override)."""
    open_items = checklist_open_items(appointment=appointment)
    if not open_items:
        return
    overridden = set(
        checklist_overrides_in_force().filter(appointment=appointment).values_list("code", flat=True)
    )
    still_open = [item for item in open_items if item.kind not in overridden]
    if still_open:
        raise TransitionError(
            GATE_OPEN.format(items="; ".join(item.get_kind_display().lower() for item in still_open))
        )
