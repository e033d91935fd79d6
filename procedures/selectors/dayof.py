"""Reads for the day of the procedure: today's arrivals, the recovery board, and after-care instructions."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import (
    Appointment,
    AppointmentStatus,
    ChecklistItem,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    HoldPlanLine,
    ItemState,
    ProcedureRecord,
    RecoveryBay,
    VitalsEntry,
)
from procedures.rules import patient_text
from procedures.selectors.safety import checklist_overrides_in_force, safety_settings
from procedures.selectors.schedule import day_bounds
from procedures.services.dayof import earliest_discharge


@dataclass
class Arrival:
    appointment: Appointment
    arrive_by: datetime
    open_items: list[ChecklistItem]
    blockers: list[str]


def checkin_list(*, day: date) -> list[Arrival]:
    """Today's patients by arrival time, with what is still open on their checklist."""
    start, end = day_bounds(day=day)
    arrival = timedelta(minutes=safety_settings().arrival_minutes_before)
    appointments = (
        Appointment.objects.filter(start__gte=start, start__lt=end)
        .exclude(status__in=[AppointmentStatus.CANCELLED])
        .select_related("patient", "procedure_type", "physician", "room")
        .prefetch_related(
            Prefetch("checklist", queryset=ChecklistItem.objects.filter(required=True, state=ItemState.OPEN)),
            Prefetch(
                "safety_overrides",
                queryset=checklist_overrides_in_force(),
                to_attr="checklist_overrides",
            ),
        )
        .order_by("start", "id")
    )
    rows = []
    for appointment in appointments:
        # An item a physician went ahead despite no longer blocks (the gate agrees).
        overridden = {o.code for o in appointment.checklist_overrides}
        open_items = [item for item in appointment.checklist.all() if item.kind not in overridden]
        blockers = [item.get_kind_display() for item in open_items]
        rows.append(Arrival(appointment, appointment.start - arrival, open_items, blockers))
    return rows


@dataclass
class BoardRow:
    appointment: Appointment
    bay: RecoveryBay | None
    record: ProcedureRecord
    earliest_discharge: datetime
    seconds_left: int
    last_vitals: VitalsEntry | None
    vitals_due_at: datetime
    vitals_overdue: bool
    discharge_overdue: bool
    alerts: list[str] = field(default_factory=list)


def recovery_board(*, now: datetime | None = None) -> list[BoardRow]:
    """Everyone in a recovery bay, with the countdown to the earliest discharge and what is overdue.
    A constant number of queries, however many bays are full."""
    now = now or timezone.now()
    every = timedelta(minutes=safety_settings().vitals_every_minutes)
    appointments = (
        Appointment.objects.filter(status=AppointmentStatus.IN_RECOVERY)
        .select_related("patient", "procedure_type", "physician", "recovery_bay", "record")
        .prefetch_related(Prefetch("vitals", queryset=VitalsEntry.objects.order_by("taken_at", "id")))
    )
    rows = []
    for appointment in appointments:
        record = appointment.record
        earliest = earliest_discharge(appointment=appointment, record=record)
        vitals = list(appointment.vitals.all())
        last = vitals[-1] if vitals else None
        due = (last.taken_at if last else record.ended_at) + every
        row = BoardRow(
            appointment=appointment,
            bay=appointment.recovery_bay,
            record=record,
            earliest_discharge=earliest,
            seconds_left=max(0, int((earliest - now).total_seconds())),
            last_vitals=last,
            vitals_due_at=due,
            vitals_overdue=now > due,
            discharge_overdue=now > earliest + every,
        )
        if row.vitals_overdue:
            row.alerts.append(f"Observations overdue since {date_format(timezone.localtime(due), 'H:i')}")
        if row.discharge_overdue:
            row.alerts.append(
                "Ready since "
                + date_format(timezone.localtime(earliest), "H:i")
                + ": discharge or note why not"
            )
        if last and (last.numbness == "new" or last.leg_strength == "weak"):
            row.alerts.append("New numbness or weakness: tell the physician")
        rows.append(row)
    # Bays in the order a nurse counts them: Bay 2 before Bay 10.
    rows.sort(key=lambda r: (_natural(r.bay.name) if r.bay else [], r.appointment.start))
    return rows


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def free_bays(*, rows: list[BoardRow]) -> QuerySet[RecoveryBay]:
    taken = [row.bay.pk for row in rows if row.bay is not None]
    return RecoveryBay.objects.filter(active=True).exclude(pk__in=taken)


@dataclass
class AfterCare:
    followups: list[str]
    resume: list[str]
    sedation: list[str]
    advice: list[str]
    diabetes: str
    red_flags: list[str]
    emergency: str
    clinic_phone: str
    clinic_name: str


def after_care(*, appointment: Appointment) -> AfterCare:
    """What the patient takes home: when to restart each held drug (from the actual end of the procedure),
    the warning signs and whom to call, and glucose advice for diabetics after a steroid."""
    record = ProcedureRecord.objects.filter(appointment=appointment).first()
    ended = record.ended_at if record and record.ended_at else appointment.end
    resume = []
    lines = HoldPlanLine.objects.filter(plan__appointment=appointment).select_related("medication")
    for line in lines:
        if line.hold_hours and line.restart_hours is not None:
            when = timezone.localtime(ended + timedelta(hours=line.restart_hours))
            resume.append(
                f"Restart {line.medication.generic_name} after {date_format(when, 'g:i A')} on "
                f"{date_format(when, 'l j F')}, if there is no bleeding from the needle site."
            )
        elif line.hold_hours:
            resume.append(f"Ask your doctor when to restart {line.medication.generic_name}.")
    diabetes = (
        patient_text.DIABETES
        if appointment.patient.diabetes and appointment.procedure_type.uses_steroid
        else ""
    )
    sedation = []
    if (record and record.sedation_given) or appointment.sedation_planned:
        until = timezone.localtime(ended + timedelta(hours=safety_settings().no_driving_hours))
        sedation = [
            "You had sedation: a responsible adult must take you home.",
            f"Do not drive, use machines, drink alcohol or sign important papers until "
            f"{date_format(until, 'g:i A')} on {date_format(until, 'l j F')}.",
        ]
    followups = [
        f"{f.label}: {date_format(timezone.localtime(f.due_at), 'l j F Y')}"
        + (" (how is your pain a few hours after the block?)" if f.kind == FollowUpKind.DIARY else "")
        for f in FollowUp.objects.filter(appointment=appointment, status=FollowUpStatus.PLANNED).order_by(
            "due_at"
        )
    ]
    return AfterCare(
        followups=followups,
        resume=resume,
        sedation=sedation,
        advice=patient_text.AFTER,
        diabetes=diabetes,
        red_flags=patient_text.RED_FLAGS,
        emergency=patient_text.EMERGENCY,
        clinic_phone=settings.CLINIC_PHONE,
        clinic_name=settings.CLINIC_NAME,
    )
