"""Writes to the patient record. Consent times are stamped here: when consent is given, not when edited."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from procedures.models import Patient

_CONSENT_FIELDS = (("consent_sms", "consent_sms_at"), ("consent_email", "consent_email_at"))


def _stamp_consent(patient: Patient, *, previously: dict[str, bool]) -> None:
    now = timezone.now()
    for flag, stamp in _CONSENT_FIELDS:
        given = getattr(patient, flag)
        if given and (not previously.get(flag) or getattr(patient, stamp) is None):
            setattr(patient, stamp, now)
        elif not given:
            setattr(patient, stamp, None)


@transaction.atomic
def patient_create(**fields: Any) -> Patient:
    patient = Patient(**fields)
    _stamp_consent(patient, previously={})
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def patient_update(*, patient_id: int, **fields: Any) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    previously = {flag: getattr(patient, flag) for flag, _ in _CONSENT_FIELDS}
    for name, value in fields.items():
        setattr(patient, name, value)
    _stamp_consent(patient, previously=previously)
    patient.full_clean()
    patient.save()
    return patient
