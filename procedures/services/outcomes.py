"""Pain scores: one model for every source. Integer 0–10 only; a score dated in the future is refused."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from procedures.models import Appointment, PainScore, PainSource, Patient

SCORE_RANGE = "A pain score is a whole number from 0 to 10."
RELIEF_RANGE = "Relief is a percentage from 0 to 100."
IN_THE_FUTURE = "A pain score cannot be dated in the future ({when})."
OTHER_PATIENT = "That appointment belongs to another patient."
UNKNOWN_SOURCE = "“{source}” is not a source of pain scores."


class OutcomeError(Exception):
    """A pain score refused; nothing was recorded. `field` names the input it is about."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def pain_score_record(
    *,
    patient: Patient,
    score: int,
    recorded_at: datetime,
    source: str,
    actor: AbstractBaseUser | None,
    appointment: Appointment | None = None,
    percent_relief: int | None = None,
) -> PainScore:
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise OutcomeError(SCORE_RANGE, field="score")
    if percent_relief is not None and (
        isinstance(percent_relief, bool)
        or not isinstance(percent_relief, int)
        or not 0 <= percent_relief <= 100
    ):
        raise OutcomeError(RELIEF_RANGE, field="percent_relief")
    if recorded_at > timezone.now() + timedelta(minutes=1):
        raise OutcomeError(
            IN_THE_FUTURE.format(when=f"{timezone.localtime(recorded_at):%Y-%m-%d %H:%M}"),
            field="recorded_at",
        )
    if appointment is not None and appointment.patient_id != patient.pk:
        raise OutcomeError(OTHER_PATIENT, field="appointment")
    if source not in PainSource.values:
        raise OutcomeError(UNKNOWN_SOURCE.format(source=source), field="source")
    return PainScore.objects.create(
        patient=patient,
        appointment=appointment,
        score=score,
        percent_relief=percent_relief,
        recorded_at=recorded_at,
        source=source,
        entered_by=actor if actor is not None and actor.is_authenticated else None,
    )
