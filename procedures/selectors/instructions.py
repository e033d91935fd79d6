"""The patient instruction sheet, as data: one structure that the printable page and the PDF both render,
so they never disagree. Plain language; every time is a clock time in the clinic's zone."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import Appointment, ClearanceStatus, HoldKind, HoldPlan, PlanStatus, SafetySettings
from procedures.rules import patient_text
from procedures.selectors.safety import fasting_for, safety_settings


@dataclass
class SheetDay:
    day: date
    label: str
    items: list[str] = field(default_factory=list)
    is_procedure_day: bool = False


@dataclass
class InstructionSheet:
    clinic_name: str
    clinic_phone: str
    patient_name: str
    procedure_name: str
    physician_name: str
    start: datetime
    arrival: datetime
    what_it_is: str
    calendar: list[SheetDay]
    fasting: list[str]
    escort: list[str]
    bring: list[str]
    what_happens: list[str]
    after: list[str]
    diabetes: str
    questions: list[tuple[str, str]]
    red_flags: list[str]
    emergency: str
    still_to_confirm: list[str]
    title: str = "Your procedure: what to do and when"


def _clock(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "g:i A")


def _day_label(day: date) -> str:
    return date_format(day, "l j F")


def instruction_sheet(
    *, appointment: Appointment, settings_row: SafetySettings | None = None, plan_loaded: bool = False
) -> InstructionSheet:
    """`settings_row` and `plan_loaded` are for a caller building many sheets (the reminder sweep): the
    safety settings it read once, and an appointment fetched with select_related("hold_plan") and the
    plan's lines (with their medication) prefetched."""
    settings_row = settings_row or safety_settings()
    ptype = appointment.procedure_type
    start = timezone.localtime(appointment.start)
    procedure_day = start.date()
    arrival = start - timedelta(minutes=settings_row.arrival_minutes_before)
    if plan_loaded:
        plan = getattr(appointment, "hold_plan", None)
        lines = list(plan.lines.all()) if plan else []
    else:
        plan = HoldPlan.objects.filter(appointment=appointment).first()
        lines = list(plan.lines.select_related("medication")) if plan else []

    # Each day's items in time order: whole-day instructions first, then timed ones by their clock time.
    events: dict[date, list[tuple[datetime | None, str]]] = {}

    def note(day: date, text: str, at: datetime | None = None) -> None:
        events.setdefault(day, []).append((at, text))

    still_to_confirm: list[str] = []
    keep_taking: list[str] = []
    for line in lines:
        drug = line.medication.generic_name
        if line.needs_prescriber_clearance and line.clearance_status != ClearanceStatus.CLEARED:
            still_to_confirm.append(
                f"Keep taking {drug} for now. We are asking the doctor who prescribes it whether you should stop "
                "it before the procedure, and we will call you."
            )
            continue
        if line.hold_kind == HoldKind.UNSET and line.override_hold_hours is None:
            still_to_confirm.append(
                f"Keep taking {drug} for now. Your doctor will decide about it and we will call you."
            )
            continue
        if line.hold_hours == 0 or line.last_dose_by is None:
            keep_taking.append(drug)
            continue
        if line.last_dose_day and timezone.localtime(line.last_dose_by).time() == datetime.min.time():
            note(line.last_dose_day, f"Take your LAST dose of {drug} today.")
            day = line.last_dose_day + timedelta(days=1)
            while day < procedure_day:
                note(day, f"Do NOT take {drug}.")
                day += timedelta(days=1)
            note(procedure_day, f"Do NOT take {drug} before the procedure.")
        else:
            last = timezone.localtime(line.last_dose_by)
            note(last.date(), f"Take your LAST dose of {drug} no later than {_clock(last)}.", last)
        if line.resume_after:
            resume = timezone.localtime(line.resume_after)
            note(
                resume.date(),
                f"You may restart {drug} after {_clock(resume)}, unless the doctor tells you otherwise at discharge.",
                resume,
            )
    note(
        procedure_day,
        f"Arrive at {_clock(arrival)} for your procedure with {appointment.physician}.",
        arrival,
    )
    if keep_taking:
        note(procedure_day, "Keep taking " + ", ".join(keep_taking) + " as usual.")
    if plan is not None and plan.status != PlanStatus.CONFIRMED and lines:
        still_to_confirm.append(
            "Your doctor has not yet confirmed this medicine plan. We will call you if anything changes."
        )

    fasting_lines: list[str] = []
    escort: list[str] = []
    fasting = fasting_for(appointment=appointment, settings_row=settings_row)
    if fasting:
        fasting_lines = [
            f"Stop eating fried or fatty food and meat by {_clock(fasting.fatty_food_until)}.",
            f"Stop eating anything (a light meal is the last) by {_clock(fasting.solids_until)}.",
            f"You may drink clear liquids (water, clear apple juice, black coffee or tea without milk) until "
            f"{_clock(fasting.clear_liquids_until)}. After that, nothing to eat or drink.",
            "Take your usual morning medicines with a sip of water, except the ones this sheet tells you to stop.",
        ]
        for moment, text in (
            (
                fasting.fatty_food_until,
                f"From {_clock(fasting.fatty_food_until)}: no fried or fatty food, and no meat.",
            ),
            (fasting.solids_until, f"From {_clock(fasting.solids_until)}: nothing more to eat."),
            (
                fasting.clear_liquids_until,
                f"From {_clock(fasting.clear_liquids_until)}: nothing more to drink (a sip of water with your "
                "morning medicines is fine).",
            ),
        ):
            local = timezone.localtime(moment)
            note(local.date(), text, local)
        escort = [
            "You will have sedation, so a responsible adult must come with you and take you home.",
            f"Do not drive, use machines or sign important papers until {_clock(fasting.no_driving_until)} on "
            f"{_day_label(timezone.localtime(fasting.no_driving_until).date())}.",
        ]
    else:
        fasting_lines = [
            "You do not need to stop eating or drinking: you will be awake, with numbing medicine only."
        ]
    what_happens = (
        patient_text.WHAT_HAPPENS if ptype.imaging != "none" else patient_text.WHAT_HAPPENS_NO_IMAGING
    )
    diabetes = patient_text.DIABETES if appointment.patient.diabetes and ptype.uses_steroid else ""
    return InstructionSheet(
        clinic_name=settings.CLINIC_NAME,
        clinic_phone=settings.CLINIC_PHONE,
        patient_name=appointment.patient.full_name,
        procedure_name=ptype.name,
        physician_name=str(appointment.physician),
        start=start,
        arrival=arrival,
        what_it_is=patient_text.WHAT_IT_IS.get(ptype.family, ""),
        calendar=[
            SheetDay(
                day=day,
                label=_day_label(day),
                items=[
                    text for _, text in sorted(events[day], key=lambda e: (e[0] is not None, e[0] or start))
                ],
                is_procedure_day=day == procedure_day,
            )
            for day in sorted(events)
        ],
        fasting=fasting_lines,
        escort=escort,
        bring=patient_text.BRING,
        what_happens=what_happens,
        after=patient_text.AFTER,
        diabetes=diabetes,
        questions=patient_text.QUESTIONS,
        red_flags=patient_text.RED_FLAGS,
        emergency=patient_text.EMERGENCY,
        still_to_confirm=still_to_confirm,
    )
