"""The follow-up plan discharge starts: when each patient will be asked about pain and relief. The
reminders capability sends them; this only decides the points and their due times."""

from datetime import timedelta

from django.db import transaction

from procedures.models import Appointment, Discharge, FollowUp, FollowUpKind, FollowUpStatus, ProcedureRecord


def _label_minutes(minutes: int) -> str:
    if minutes == 60:
        return "1 hour"
    return f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"


def _label_days(days: int) -> str:
    if days == 365:
        return "Month 12"
    if days >= 30 and days % 30 == 0:
        return f"Month {days // 30}"
    if days >= 7 and days % 7 == 0:
        return f"Week {days // 7}"
    return f"Day {days}"


@transaction.atomic
def followup_plan_start(*, appointment: Appointment, discharge: Discharge) -> list[FollowUp]:
    """Diary points still ahead at discharge (the patient reports them from home), then the check-ins at the
    procedure type's days after the procedure. Idempotent: a point already planned is kept."""
    record = ProcedureRecord.objects.filter(appointment=appointment).first()
    ended = record.ended_at if record and record.ended_at else appointment.end
    ptype = appointment.procedure_type
    points: list[tuple[str, str, object]] = []
    for minutes in ptype.diary_timepoints_minutes or []:
        due = ended + timedelta(minutes=minutes)
        if due > discharge.discharged_at and not appointment.diary.filter(minutes_after=minutes).exists():
            points.append((FollowUpKind.DIARY, _label_minutes(minutes), due))
    for days in ptype.followup_days or []:
        points.append((FollowUpKind.CHECK_IN, _label_days(days), ended + timedelta(days=days)))
    planned = []
    for kind, label, due in points:
        followup, _ = FollowUp.objects.get_or_create(
            appointment=appointment,
            kind=kind,
            label=label,
            defaults={"due_at": due, "status": FollowUpStatus.PLANNED},
        )
        planned.append(followup)
    return planned


def followup_after_discharge(*, appointment: Appointment, discharge: Discharge) -> None:
    followup_plan_start(appointment=appointment, discharge=discharge)
