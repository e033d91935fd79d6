"""Optional outcome instruments (Oswestry Disability Index, Patient Global Impression of Change) on the pain
timeline. Only the instruments the clinic has turned on are recorded; whole numbers in each instrument's
range only; never dated in the future. Refusals raise OutcomeError, as pain scores do, so the pages and the
API show them the same way."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from procedures.models import INSTRUMENT_RANGES, Appointment, Instrument, InstrumentScore, PainSource, Patient
from procedures.selectors.outcomes import outcome_settings
from procedures.services.outcomes import OTHER_PATIENT, OutcomeError

UNKNOWN_INSTRUMENT = "“{instrument}” is not an outcome instrument SpineDesk knows (odi or pgic)."
INSTRUMENT_OFF = (
    "The clinic does not collect the {name}. A clinic admin can turn it on in Clinic settings → Outcome "
    "settings."
)
ODI_RANGE = "An Oswestry Disability Index score is a whole percentage from 0 to 100."
PGIC_RANGE = (
    "A Patient Global Impression of Change is a whole number from 1 (very much improved) to 7 (very much "
    "worse)."
)
IN_THE_FUTURE = "A score cannot be dated in the future ({when})."
UNKNOWN_SOURCE = "“{source}” is not a source of outcome scores."
VALUE_RANGE = {Instrument.ODI: ODI_RANGE, Instrument.PGIC: PGIC_RANGE}


def instrument_score_record(
    *,
    patient: Patient,
    instrument: str,
    value: int,
    recorded_at: datetime,
    source: str,
    actor: AbstractBaseUser | None,
    appointment: Appointment | None = None,
) -> InstrumentScore:
    if instrument not in Instrument.values:
        raise OutcomeError(UNKNOWN_INSTRUMENT.format(instrument=instrument), field="instrument")
    if instrument not in outcome_settings().instruments:
        raise OutcomeError(INSTRUMENT_OFF.format(name=Instrument(instrument).label), field="instrument")
    low, high = INSTRUMENT_RANGES[instrument]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutcomeError(VALUE_RANGE[instrument], field="value")
    # The same minute of grace as pain scores: a clock a few seconds ahead is not a future entry.
    if recorded_at > timezone.now() + timedelta(minutes=1):
        raise OutcomeError(
            IN_THE_FUTURE.format(when=f"{timezone.localtime(recorded_at):%Y-%m-%d %H:%M}"),
            field="recorded_at",
        )
    if appointment is not None and appointment.patient_id != patient.pk:
        raise OutcomeError(OTHER_PATIENT, field="appointment")
    if source not in PainSource.values:
        raise OutcomeError(UNKNOWN_SOURCE.format(source=source), field="source")
    return InstrumentScore.objects.create(
        patient=patient,
        appointment=appointment,
        instrument=instrument,
        value=value,
        recorded_at=recorded_at,
        source=source,
        entered_by=actor if actor is not None and actor.is_authenticated else None,
    )
