"""Reads over the pain timeline."""

from django.db.models import QuerySet

from procedures.models import Appointment, PainScore, PainSource, ProcedureRecord

# Relief counts as lasting while reports stay at or above this share (the "responder" threshold, IMMACT).
LASTING_RELIEF_PERCENT = 50


def pain_scores_for_patient(*, patient_id: int) -> QuerySet[PainScore]:
    return PainScore.objects.filter(patient_id=patient_id).select_related("appointment__procedure_type")


def documented_relief(appointment: Appointment) -> tuple[int, float] | None:
    """How much relief a procedure gave and for how long, from the patient's reports after it: the best
    relief reported, and the weeks from the procedure to the last report still at ≥ 50 % relief.
    None when nothing after the procedure reports relief (the eligibility rules then say "not documented")."""
    reports = list(
        PainScore.objects.filter(
            appointment=appointment,
            percent_relief__isnull=False,
            source__in=[PainSource.CHECK_IN, PainSource.CLINIC, PainSource.DIARY],
        ).order_by("recorded_at")
    )
    if not reports:
        return None
    record = ProcedureRecord.objects.filter(appointment=appointment).first()
    ended = record.ended_at if record and record.ended_at else appointment.end
    lasting = [r for r in reports if r.percent_relief >= LASTING_RELIEF_PERCENT]
    weeks = (lasting[-1].recorded_at - ended).total_seconds() / (7 * 24 * 3600) if lasting else 0.0
    return max(r.percent_relief for r in reports), max(weeks, 0.0)
