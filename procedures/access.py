"""Permission-checked fetches: every view that takes an id from the URL goes through one of these.
They return the object, or raise Http404 / PermissionDenied; patient reads are written to the audit trail."""

from auditlog.signals import accessed
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from procedures.models import Appointment, Patient


def _require(user: AbstractBaseUser, perm: str) -> None:
    if not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied


def patient_get_for_user(*, user: AbstractBaseUser, patient_id: int, audit: bool = True) -> Patient:
    _require(user, "procedures.view_patient")
    try:
        patient = Patient.objects.get(pk=patient_id)
    except Patient.DoesNotExist as exc:
        raise Http404("No patient with that id.") from exc
    if audit:
        accessed.send(sender=Patient, instance=patient)
    return patient


def appointment_get_for_user(
    *, user: AbstractBaseUser, appointment_id: int, perm: str = "view"
) -> Appointment:
    _require(user, f"procedures.{perm}_appointment")
    try:
        appointment = Appointment.objects.select_related(
            "patient", "procedure_type", "physician", "room", "recovery_bay"
        ).get(pk=appointment_id)
    except Appointment.DoesNotExist as exc:
        raise Http404("No appointment with that id.") from exc
    accessed.send(sender=Patient, instance=appointment.patient)
    return appointment
