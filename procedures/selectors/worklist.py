"""The safety worklist: upcoming appointments with something still to do before the procedure — a hold
plan waiting for a physician, a prescriber's answer still pending, or required checklist items open.
A fixed number of queries, however many rows."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from procedures.models import (
    Appointment,
    ChecklistItem,
    ClearanceStatus,
    HoldPlanLine,
    ItemState,
    PlanStatus,
)
from procedures.selectors.safety import checklist_overrides_in_force
from procedures.selectors.schedule import day_bounds
from procedures.services.safety import OPEN_STATUSES  # appointments whose plan and checklist can change

WORKLIST_DAYS = 14
APPOINTMENT_RELATED = ("patient", "procedure_type", "physician")


@dataclass
class WorklistRow:
    appointment: Appointment
    details: list[str] = field(default_factory=list)


@dataclass
class SafetyWorklist:
    date_from: datetime
    date_to: datetime
    plans_to_confirm: list[WorklistRow]
    clearances_pending: list[WorklistRow]
    checklist_open: list[WorklistRow]

    @property
    def last_day(self) -> date:
        return timezone.localdate(self.date_to - timedelta(hours=1))

    @property
    def empty(self) -> bool:
        return not (self.plans_to_confirm or self.clearances_pending or self.checklist_open)


def _rows(pairs: list[tuple[Appointment, str]]) -> list[WorklistRow]:
    """(appointment, detail) pairs in appointment order → one row per appointment."""
    rows: dict[int, WorklistRow] = {}
    for appointment, detail in pairs:
        row = rows.setdefault(appointment.pk, WorklistRow(appointment=appointment))
        if detail not in row.details:
            row.details.append(detail)
    return sorted(rows.values(), key=lambda r: (r.appointment.start, r.appointment.pk))


def safety_worklist(*, now: datetime | None = None, days: int = WORKLIST_DAYS) -> SafetyWorklist:
    """From the start of today (a patient checked in this morning is the most urgent) for `days` days."""
    now = now or timezone.now()
    date_from, _ = day_bounds(day=timezone.localdate(now))
    date_to = date_from + timedelta(days=days)
    window = {"start__gte": date_from, "start__lt": date_to, "status__in": OPEN_STATUSES}

    line_rows = list(
        HoldPlanLine.objects.filter(
            Q(plan__status=PlanStatus.PROPOSED)
            | Q(needs_prescriber_clearance=True, clearance_status=ClearanceStatus.PENDING),
            **{f"plan__appointment__{k}": v for k, v in window.items()},
        )
        .select_related("medication", "plan", *(f"plan__appointment__{r}" for r in APPOINTMENT_RELATED))
        .order_by("plan__appointment__start", "medication__generic_name")
    )
    plans = _rows(
        [
            (line.plan.appointment, line.medication.generic_name)
            for line in line_rows
            if line.plan.status == PlanStatus.PROPOSED
        ]
    )
    clearances = _rows(
        [
            (line.plan.appointment, line.medication.generic_name)
            for line in line_rows
            if line.needs_prescriber_clearance and line.clearance_status == ClearanceStatus.PENDING
        ]
    )

    overridden = set(
        checklist_overrides_in_force()
        .filter(**{f"appointment__{k}": v for k, v in window.items()})
        .values_list("appointment_id", "code")
    )
    items = (
        ChecklistItem.objects.filter(
            required=True, state=ItemState.OPEN, **{f"appointment__{k}": v for k, v in window.items()}
        )
        .select_related(*(f"appointment__{r}" for r in APPOINTMENT_RELATED))
        .order_by("appointment__start", "id")
    )
    checklist = _rows(
        [
            (item.appointment, item.get_kind_display())
            for item in items
            if (item.appointment_id, item.kind) not in overridden
        ]
    )
    return SafetyWorklist(
        date_from=date_from,
        date_to=date_to,
        plans_to_confirm=plans,
        clearances_pending=clearances,
        checklist_open=checklist,
    )
