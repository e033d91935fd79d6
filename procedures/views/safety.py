"""Pre-procedure safety pages: the patient's medication list, the appointment's Safety section (hold plan,
prescriber clearances, eligibility warnings, fasting, the checklist and whether the procedure can start),
the patient's instruction sheet (page and PDF) and the safety worklist.

Thin: the medication and safety services decide and explain. A refusal is shown as a message naming the
problem, and the service has changed nothing. Missing permissions answer 403, as on the other pages."""

from dataclasses import dataclass, field
from datetime import time

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AbstractBaseUser
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from procedures.access import (
    appointment_get_for_user,
    hold_line_get_for_user,
    patient_get_for_user,
    patient_medication_get_for_user,
)
from procedures.documents.instructions_pdf import instructions_pdf
from procedures.forms.safety import (
    DAYS,
    HOURS,
    ChecklistMarkForm,
    ClearanceForm,
    HoldOverrideForm,
    MedicationAddForm,
    OverrideReasonForm,
)
from procedures.models import (
    Appointment,
    ChecklistItem,
    ChecklistKind,
    ClearanceStatus,
    Evidence,
    HoldKind,
    HoldPlan,
    HoldPlanLine,
    ItemState,
    Patient,
    PlanStatus,
    SafetyOverride,
)
from procedures.selectors.eligibility import eligibility_warnings
from procedures.selectors.instructions import instruction_sheet
from procedures.selectors.safety import (
    checklist_overrides_in_force,
    fasting_for,
    patient_medication_list,
    safety_settings,
)
from procedures.selectors.schedule import appointment_list_for_patient
from procedures.selectors.worklist import safety_worklist
from procedures.services.medications import MedicationError, patient_medication_add, patient_medication_stop
from procedures.services.safety import (
    CLOSED_APPOINTMENT,
    DERIVED,
    OPEN_STATUSES,
    SafetyError,
    checklist_mark,
    clearance_record,
    hold_line_override,
    hold_plan_confirm,
    hold_plan_refresh,
    holds_patient_confirm,
    safety_override,
)

NO_PLAN = "This appointment has no hold plan yet: use “Recompute the plan” first."
EVIDENCE_MARKS = {Evidence.VERIFIED: "V", Evidence.SECONDARY: "S", Evidence.NONE: "—"}
DERIVED_FROM = {
    ChecklistKind.HOLD_PLAN: "Ticked when a physician confirms the hold plan.",
    ChecklistKind.HOLDS_CONFIRMED: "Ticked with “Patient confirmed the holds”.",
    ChecklistKind.CLEARANCES: "Ticked when every prescriber has agreed.",
    ChecklistKind.ELIGIBILITY: "Ticked when a physician has reviewed the eligibility warnings.",
}
VALUE_LABELS = {ChecklistKind.INR: "INR", ChecklistKind.GLUCOSE: "Glucose (mg/dL)"}


def _moment(value) -> str:
    return date_format(timezone.localtime(value), "D j M H:i")


def _day(value) -> str:
    return date_format(value, "D j M")


def _first_error(form: Form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return ""


def _back(appointment: Appointment, anchor: str = "safety") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("appointment-detail", args=[appointment.pk]) + f"#{anchor}")


# --- The hold plan, as the appointment page shows it ---------------------------------------------------


def _days(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


def _hours(hours: int) -> str:
    return f"{hours} hour" if hours == 1 else f"{hours} hours"


def _proposed_label(line: HoldPlanLine) -> str:
    labels = {
        HoldKind.DAYS: _days(line.proposed_hold_hours // 24),
        HoldKind.HOURS: _hours(line.proposed_hold_hours),
        HoldKind.NONE: "No hold",
        HoldKind.SHARED: "Ask the prescriber (shared decision)",
        HoldKind.UNSET: "No clinic rule: a physician decides",
    }
    text = labels.get(line.hold_kind, line.get_hold_kind_display())
    return f"{text} + normal INR" if line.requires_normal_inr else text


def _effective_label(line: HoldPlanLine) -> str:
    if line.override_hold_hours is None:
        if line.hold_kind == HoldKind.UNSET:
            return "Not decided yet"
        if line.hold_kind == HoldKind.SHARED:
            if line.clearance_status == ClearanceStatus.PENDING:
                return "Keep taking until the prescriber answers"
            return "Keep taking (no hold set)"
        if line.hold_hours == 0:
            return "Keep taking"
    hours = line.hold_hours
    if hours == 0:
        return "Keep taking"
    text = _days(hours // 24) if line.hold_kind == HoldKind.DAYS and hours % 24 == 0 else _hours(hours)
    return f"{text} + normal INR" if line.requires_normal_inr else text


def _day_based(line: HoldPlanLine) -> bool:
    """A day hold ends at local midnight: the patient is told a day, not a clock time."""
    if line.last_dose_by is None or line.last_dose_day is None:
        return False
    return timezone.localtime(line.last_dose_by).time() == time.min


@dataclass
class HoldLineView:
    line: HoldPlanLine
    proposed: str
    effective: str
    last_dose: str
    resume: str
    restart_note: str
    evidence_mark: str
    evidence_help: str
    override_amount: int | None
    override_unit: str
    held: bool


def _line_view(line: HoldPlanLine) -> HoldLineView:
    if line.last_dose_by is None:
        last_dose = "—"
    elif _day_based(line):
        last_dose = f"on {_day(line.last_dose_day)}"
    else:
        last_dose = f"by {_moment(line.last_dose_by)}"
    held = line.hold_hours > 0
    # The form offers the unit the protocol row thinks in; a physician's odd number of hours stays hours.
    unit = DAYS if line.hold_kind in (HoldKind.DAYS, HoldKind.SHARED) and line.hold_hours % 24 == 0 else HOURS
    amount = line.hold_hours // 24 if unit == DAYS else line.hold_hours
    return HoldLineView(
        line=line,
        proposed=_proposed_label(line),
        effective=_effective_label(line),
        last_dose=last_dose,
        resume=f"after {_moment(line.resume_after)}" if held and line.resume_after else "—",
        restart_note=line.rule.restart_note if line.rule else "",
        evidence_mark=EVIDENCE_MARKS.get(line.evidence, line.evidence),
        evidence_help=line.get_evidence_display(),
        override_amount=amount if line.override_hold_hours is not None or held else None,
        override_unit=unit,
        held=held,
    )


@dataclass
class ChecklistRow:
    item: ChecklistItem
    derived_from: str
    value_label: str
    override: SafetyOverride | None


@dataclass
class Gate:
    """Whether the procedure can start, judged from the stored checklist as the transition guard judges it.
    The guard refreshes the checklist first, so something new since the last action (a new eligibility
    warning, say) can still add an item at that moment; the page never writes on a view."""

    state: str  # "missing" (no checklist yet), "blocked" or "ready"
    blocking: list[ChecklistItem] = field(default_factory=list)
    went_ahead: list[ChecklistItem] = field(default_factory=list)


def safety_section_context(*, appointment: Appointment, user: AbstractBaseUser) -> dict:
    """Everything the appointment page's Safety section shows, read once (no writes on a page view)."""
    plan = HoldPlan.objects.filter(appointment=appointment).select_related("confirmed_by").first()
    lines = (
        list(
            plan.lines.select_related("medication", "patient_medication", "rule", "overridden_by").order_by(
                "medication__generic_name"
            )
        )
        if plan
        else []
    )
    items = list(appointment.checklist.select_related("done_by").order_by("id"))
    overrides = list(appointment.safety_overrides.select_related("by").order_by("at"))
    checklist_overrides = {
        o.code: o for o in checklist_overrides_in_force().filter(appointment=appointment).select_related("by")
    }
    eligibility_overrides = {o.code: o for o in overrides if o.scope == SafetyOverride.Scope.ELIGIBILITY}
    warnings = eligibility_warnings(
        patient=appointment.patient,
        procedure_type=appointment.procedure_type,
        start=appointment.start,
        exclude_appointment_id=appointment.pk,
    )
    open_required = [i for i in items if i.required and i.state == ItemState.OPEN]
    gate = Gate(
        state="missing" if not items else "ready",
        blocking=[i for i in open_required if i.kind not in checklist_overrides],
        went_ahead=[i for i in open_required if i.kind in checklist_overrides],
    )
    if gate.blocking:
        gate.state = "blocked"
    line_views = [_line_view(line) for line in lines]
    return {
        "plan": plan,
        "plan_confirmed": plan is not None and plan.status == PlanStatus.CONFIRMED,
        "lines": line_views,
        "patient_to_confirm": [v.line for v in line_views if v.held and v.line.patient_confirmed_at is None],
        "editable": appointment.status in OPEN_STATUSES,
        "fasting": fasting_for(appointment=appointment),
        "warnings": [(w, eligibility_overrides.get(w.code)) for w in warnings],
        "warnings_unreviewed": [w for w in warnings if w.code not in eligibility_overrides],
        "checklist": [
            ChecklistRow(
                item=item,
                derived_from=DERIVED_FROM.get(item.kind, "") if item.kind in DERIVED else "",
                value_label=VALUE_LABELS.get(item.kind, ""),
                override=checklist_overrides.get(item.kind) if item.state == ItemState.OPEN else None,
            )
            for item in items
        ],
        "gate": gate,
        "inr_limit": safety_settings().inr_limit,
        "can": {
            "confirm": user.has_perm("procedures.confirm_hold_plan"),
            "override": user.has_perm("procedures.override_safety"),
            "tick": user.has_perm("procedures.change_checklistitem"),
        },
    }


def medications_card_context(*, patient: Patient, form: MedicationAddForm | None = None) -> dict:
    entries = patient_medication_list(patient_id=patient.pk)
    return {
        "patient": patient,
        "active": [e for e in entries if e.stopped_at is None],
        "stopped": sorted(
            (e for e in entries if e.stopped_at is not None), key=lambda e: e.stopped_at, reverse=True
        ),
        "form": form or MedicationAddForm(),
    }


# --- The patient's medication list ---------------------------------------------------------------------


def _patient_page(request: HttpRequest, patient: Patient, form: MedicationAddForm) -> HttpResponse:
    """The patient page again, with the refused form as it was typed and the service's message."""
    return render(
        request,
        "procedures/patients/detail.html",
        {
            "patient": patient,
            "appointments": appointment_list_for_patient(patient_id=patient.pk),
            "medication_form": form,
        },
    )


def _medications_url(patient_id: int) -> str:
    return reverse("patient-detail", args=[patient_id]) + "#medications"


def _refused_field(data: dict) -> str | None:
    """The field a medication refusal is about, so the page marks it (the message is the service's)."""
    medication = data["medication"]
    if medication.asks_indication and not data["indication"]:
        return "indication"
    if medication.asks_dose_intent and not data["dose_intent"]:
        return "dose_intent"
    return None


@require_POST
@permission_required("procedures.add_patientmedication", raise_exception=True)
def patient_medication_add_view(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    form = MedicationAddForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = patient_medication_add(
                patient_id=patient.pk,
                medication=data["medication"],
                actor=request.user,
                indication=data["indication"],
                dose_intent=data["dose_intent"],
                dose=data["dose"],
            )
        except MedicationError as exc:
            form.add_error(_refused_field(data), str(exc))
        else:
            messages.success(
                request,
                f"Added {entry.medication} to {patient.full_name}’s medications; the hold plans of "
                "upcoming appointments follow.",
            )
            return HttpResponseRedirect(_medications_url(patient.pk))
    return _patient_page(request, patient, form)


@require_POST
@permission_required("procedures.change_patientmedication", raise_exception=True)
def patient_medication_stop_view(
    request: HttpRequest, patient_id: int, patient_medication_id: int
) -> HttpResponse:
    entry = patient_medication_get_for_user(
        user=request.user, patient_id=patient_id, patient_medication_id=patient_medication_id, perm="change"
    )
    try:
        patient_medication_stop(patient_medication_id=entry.pk, actor=request.user)
    except MedicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Stopped {entry.medication} for {entry.patient.full_name}; the hold plans of upcoming "
            "appointments follow.",
        )
    return HttpResponseRedirect(_medications_url(entry.patient_id))


# --- The appointment's Safety section: each button posts here and comes back --------------------------


def _editable_or_message(request: HttpRequest, appointment: Appointment) -> bool:
    if appointment.status in OPEN_STATUSES:
        return True
    messages.error(request, CLOSED_APPOINTMENT.format(status=appointment.get_status_display().lower()))
    return False


def _has_plan(request: HttpRequest, appointment: Appointment) -> bool:
    if HoldPlan.objects.filter(appointment=appointment).exists():
        return True
    messages.error(request, NO_PLAN)
    return False


@require_POST
@permission_required(["procedures.view_holdplan", "procedures.change_checklistitem"], raise_exception=True)
def hold_plan_refresh_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    if _editable_or_message(request, appointment):
        hold_plan_refresh(appointment_id=appointment.pk)
        messages.success(
            request, "Recomputed the hold plan and the checklist from the medication list and the protocol."
        )
    return _back(appointment)


@require_POST
@permission_required("procedures.confirm_hold_plan", raise_exception=True)
def hold_plan_confirm_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    if _has_plan(request, appointment):
        try:
            hold_plan_confirm(appointment_id=appointment.pk, actor=request.user)
        except SafetyError as exc:
            messages.error(request, f"Plan not confirmed. {exc}")
        else:
            messages.success(request, "Hold plan confirmed.")
    return _back(appointment, "hold-plan")


@require_POST
@permission_required("procedures.confirm_hold_plan", raise_exception=True)
def hold_line_override_view(request: HttpRequest, appointment_id: int, line_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    line = hold_line_get_for_user(
        user=request.user, appointment_id=appointment.pk, line_id=line_id, perm="procedures.confirm_hold_plan"
    )
    drug = line.medication.generic_name
    form = HoldOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{drug}: hold not changed. {_first_error(form)}")
        return _back(appointment, f"hold-line-{line.pk}")
    try:
        line = hold_line_override(
            line_id=line.pk,
            hold_hours=form.hold_hours,
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
    except SafetyError as exc:
        messages.error(request, f"{drug}: hold not changed. {exc}")
    else:
        label = _effective_label(line)
        messages.success(
            request,
            f"{drug}: hold set to {label[0].lower()}{label[1:]}. The patient needs to confirm it again.",
        )
    return _back(appointment, f"hold-line-{line.pk}")


@require_POST
@permission_required(["procedures.view_holdplan", "procedures.change_checklistitem"], raise_exception=True)
def hold_line_clearance_view(request: HttpRequest, appointment_id: int, line_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    line = hold_line_get_for_user(
        user=request.user,
        appointment_id=appointment.pk,
        line_id=line_id,
        perm="procedures.change_checklistitem",
    )
    drug = line.medication.generic_name
    form = ClearanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{drug}: nothing recorded. {_first_error(form)}")
        return _back(appointment, f"hold-line-{line.pk}")
    try:
        line = clearance_record(
            line_id=line.pk,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            actor=request.user,
        )
    except SafetyError as exc:
        messages.error(request, f"{drug}: nothing recorded. {exc}")
    else:
        messages.success(request, f"{drug}: {line.get_clearance_status_display().lower()}.")
    return _back(appointment, f"hold-line-{line.pk}")


@require_POST
@permission_required(["procedures.view_holdplan", "procedures.change_checklistitem"], raise_exception=True)
def holds_patient_confirm_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    if _has_plan(request, appointment):
        try:
            count = holds_patient_confirm(appointment_id=appointment.pk, actor=request.user)
        except SafetyError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Recorded that {appointment.patient.full_name} confirmed the holds"
                + (f" ({count} medication{'s' if count != 1 else ''})." if count else "."),
            )
    return _back(appointment, "hold-plan")


@require_POST
@permission_required("procedures.change_checklistitem", raise_exception=True)
def checklist_mark_view(request: HttpRequest, appointment_id: int, kind: str) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    label = ChecklistKind(kind).label if kind in ChecklistKind.values else kind
    form = ChecklistMarkForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{label}: not done. {_first_error(form)}")
        return _back(appointment, "checklist")
    data = form.cleaned_data
    try:
        item = checklist_mark(
            appointment_id=appointment.pk,
            kind=kind,
            actor=request.user,
            done=data["done"],
            value=data["value"],
            note=data["note"],
        )
    except SafetyError as exc:
        # An INR above the limit is still recorded (clinical data); the item stays open.
        messages.error(request, f"{label}: not done. {exc}")
    else:
        value = (
            f" ({VALUE_LABELS[kind]} {item.value})" if kind in VALUE_LABELS and item.value is not None else ""
        )
        state = "done" if item.state == ItemState.DONE else "to do again"
        messages.success(request, f"{label}{value}: {state}.")
    return _back(appointment, "checklist")


@require_POST
@permission_required("procedures.override_safety", raise_exception=True)
def safety_override_view(request: HttpRequest, appointment_id: int, scope: str) -> HttpResponse:
    if scope not in SafetyOverride.Scope.values:
        raise Http404("No such override.")
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    anchor = "checklist" if scope == SafetyOverride.Scope.CHECKLIST else "eligibility"
    form = OverrideReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing recorded. {_first_error(form)}")
        return _back(appointment, anchor)
    try:
        overrides = safety_override(
            appointment_id=appointment.pk, scope=scope, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except SafetyError as exc:
        messages.error(request, f"Nothing recorded. {exc}")
    else:
        what = "; ".join(o.text for o in overrides)
        if scope == SafetyOverride.Scope.CHECKLIST:
            messages.warning(request, f"Going ahead despite: {what}. Your reason is recorded.")
        else:
            messages.success(request, f"Eligibility warnings reviewed ({what}). Your reason is recorded.")
    return _back(appointment, anchor)


# --- The patient's instruction sheet ---------------------------------------------------------------------


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def instructions_page(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    return render(
        request,
        "procedures/safety/instructions.html",
        {"appt": appointment, "sheet": instruction_sheet(appointment=appointment)},
    )


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def instructions_pdf_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    pdf = instructions_pdf(instruction_sheet(appointment=appointment))
    response = HttpResponse(pdf, content_type="application/pdf")
    # No patient name in the file name: downloads folders and mail attachments outlive the visit.
    day = timezone.localdate(appointment.start)
    response["Content-Disposition"] = (
        f'attachment; filename="procedure-instructions-{day:%Y-%m-%d}-appointment-{appointment.pk}.pdf"'
    )
    return response


# --- The worklist ------------------------------------------------------------------------------------------


@require_GET
@permission_required(["procedures.view_holdplan", "procedures.view_appointment"], raise_exception=True)
def safety_worklist_view(request: HttpRequest) -> HttpResponse:
    return render(request, "procedures/safety/worklist.html", {"worklist": safety_worklist()})
