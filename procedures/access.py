"""Permission-checked fetches: every view that takes an id from the URL goes through one of these.
They return the object, or raise Http404 / PermissionDenied; patient reads are written to the audit trail."""

from auditlog.signals import accessed
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from procedures.models import (
    Appointment,
    HoldPlanLine,
    Patient,
    PatientMedication,
    PhysicianProfile,
    WaitlistEntry,
    WaitlistOffer,
)
from procedures.selectors.intervals import fetch_instances


def _require(user: AbstractBaseUser, perm: str) -> None:
    if not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied


def _patient_by_id(*, patient_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(pk=patient_id)


def patient_get_for_user(*, user: AbstractBaseUser, patient_id: int, audit: bool = True) -> Patient:
    _require(user, "procedures.view_patient")
    try:
        found = fetch_instances(Patient, _patient_by_id, patient_id=int(patient_id))
    except (TypeError, ValueError) as exc:  # an id from an address that is not a number
        raise Http404("No patient with that id.") from exc
    if not found:
        raise Http404("No patient with that id.")
    patient = found[0]
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


def waitlist_entry_get_for_user(
    *, user: AbstractBaseUser, entry_id: int, perm: str = "change"
) -> WaitlistEntry:
    """Waitlist requests are part of scheduling: they follow the appointment permissions."""
    _require(user, f"procedures.{perm}_appointment")
    try:
        entry = WaitlistEntry.objects.select_related("patient", "procedure_type").get(pk=entry_id)
    except WaitlistEntry.DoesNotExist as exc:
        raise Http404("No waitlist entry with that id.") from exc
    accessed.send(sender=Patient, instance=entry.patient)
    return entry


def waitlist_offer_get_for_user(
    *, user: AbstractBaseUser, offer_id: int, perm: str = "change"
) -> WaitlistOffer:
    _require(user, f"procedures.{perm}_appointment")
    try:
        offer = WaitlistOffer.objects.select_related("entry__patient", "entry__procedure_type").get(
            pk=offer_id
        )
    except WaitlistOffer.DoesNotExist as exc:
        raise Http404("No waitlist offer with that id.") from exc
    accessed.send(sender=Patient, instance=offer.entry.patient)
    return offer


def patient_medication_get_for_user(
    *, user: AbstractBaseUser, patient_id: int, patient_medication_id: int, perm: str = "view"
) -> PatientMedication:
    """A medication on this patient's list (an id from another patient's list is 404)."""
    _require(user, "procedures.view_patient")
    _require(user, f"procedures.{perm}_patientmedication")
    try:
        entry = PatientMedication.objects.select_related("patient", "medication").get(
            pk=patient_medication_id, patient_id=patient_id
        )
    except PatientMedication.DoesNotExist as exc:
        raise Http404("No such medication on this patient's list.") from exc
    accessed.send(sender=Patient, instance=entry.patient)
    return entry


def hold_line_get_for_user(
    *, user: AbstractBaseUser, appointment_id: int, line_id: int, perm: str = "procedures.view_holdplan"
) -> HoldPlanLine:
    """One drug's line of this appointment's hold plan (a line of another appointment is 404). `perm` is
    the full permission name the action needs on top of seeing the appointment."""
    _require(user, "procedures.view_appointment")
    _require(user, perm)
    try:
        line = HoldPlanLine.objects.select_related("plan__appointment__patient", "medication").get(
            pk=line_id, plan__appointment_id=appointment_id
        )
    except HoldPlanLine.DoesNotExist as exc:
        raise Http404("No such hold line on this appointment.") from exc
    accessed.send(sender=Patient, instance=line.plan.appointment.patient)
    return line


def physician_profile_of(*, user: AbstractBaseUser) -> PhysicianProfile | None:
    """The signed-in user's own physician profile, or None for staff who are not physicians."""
    if not user.is_authenticated:
        return None
    return PhysicianProfile.objects.filter(user_id=user.pk).first()
