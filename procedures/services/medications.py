"""The patient's medication list. Every change re-plans the holds of the patient's upcoming appointments
in the same transaction, under a lock on the patient, so two staff editing at once cannot leave a plan
computed from a list that no longer exists."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from procedures.models import Medication, Patient, PatientMedication
from procedures.services.safety import hold_plans_refresh_for_patient

INDICATION_NEEDED = "Say why {drug} is taken: primary or secondary prevention (the hold depends on it)."
DOSE_INTENT_NEEDED = "Say whether {drug} is a prophylactic or a therapeutic dose (the hold depends on it)."
ALREADY_ON_LIST = "{drug} is already on the list."
ALREADY_STOPPED = "{drug} was already stopped."


class MedicationError(Exception):
    pass


def _lock_patient(patient_id: int) -> Patient:
    return Patient.objects.select_for_update().get(pk=patient_id)


def patient_medication_add(
    *,
    patient_id: int,
    medication: Medication,
    actor: AbstractBaseUser | None,
    indication: str = "",
    dose_intent: str = "",
    dose: str = "",
) -> PatientMedication:
    if medication.asks_indication and not indication:
        raise MedicationError(INDICATION_NEEDED.format(drug=medication))
    if medication.asks_dose_intent and not dose_intent:
        raise MedicationError(DOSE_INTENT_NEEDED.format(drug=medication))
    try:
        with transaction.atomic():
            patient = _lock_patient(patient_id)
            entry = PatientMedication.objects.create(
                patient=patient,
                medication=medication,
                indication=indication if medication.asks_indication else "",
                dose_intent=dose_intent if medication.asks_dose_intent else "",
                dose=dose.strip(),
                added_by=actor if actor is not None and actor.is_authenticated else None,
            )
            hold_plans_refresh_for_patient(patient_id=patient.pk)
    except IntegrityError as exc:
        raise MedicationError(ALREADY_ON_LIST.format(drug=medication)) from exc
    return entry


@transaction.atomic
def patient_medication_stop(
    *, patient_medication_id: int, actor: AbstractBaseUser | None
) -> PatientMedication:
    entry = PatientMedication.objects.select_related("medication").get(pk=patient_medication_id)
    _lock_patient(entry.patient_id)
    entry = (
        PatientMedication.objects.select_for_update()
        .select_related("medication")
        .get(pk=patient_medication_id)
    )
    if entry.stopped_at is not None:
        raise MedicationError(ALREADY_STOPPED.format(drug=entry.medication))
    entry.stopped_at = timezone.now()
    entry.stopped_by = actor if actor is not None and actor.is_authenticated else None
    entry.save(update_fields=["stopped_at", "stopped_by"])
    hold_plans_refresh_for_patient(patient_id=entry.patient_id)
    return entry
