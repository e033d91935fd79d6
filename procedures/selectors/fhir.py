"""Reads for the FHIR export (procedures/fhir/): everything on one patient's record, in a fixed number of
queries whatever the number of rows (at most one per part of the record the caller may see)."""

from dataclasses import dataclass, field
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser

from procedures.models import (
    Appointment,
    CheckInResponse,
    InstrumentScore,
    PainScore,
    Patient,
    PatientMedication,
    PhysicianProfile,
    ProcedureRecord,
)


class Section(StrEnum):
    """Parts of the record that need their own view permission on top of view_patient."""

    APPOINTMENTS = "appointments"
    PROCEDURES = "procedures"
    MEDICATIONS = "medications"
    PAIN_SCORES = "pain_scores"
    CHECK_INS = "check_ins"
    INSTRUMENT_SCORES = "instrument_scores"


# The same permission the pages and the API ask for each part. Check-in answers follow the follow-up plan
# they answer (there is no separate role permission for them).
SECTION_PERMISSIONS: dict[Section, str] = {
    Section.APPOINTMENTS: "procedures.view_appointment",
    Section.PROCEDURES: "procedures.view_procedurerecord",
    Section.MEDICATIONS: "procedures.view_patientmedication",
    Section.PAIN_SCORES: "procedures.view_painscore",
    Section.CHECK_INS: "procedures.view_followup",
    Section.INSTRUMENT_SCORES: "procedures.view_instrumentscore",
}


@dataclass(frozen=True)
class PatientEverything:
    patient: Patient
    sections: frozenset[Section]
    appointments: list[Appointment] = field(default_factory=list)
    # Each record's `appointment` is loaded with its procedure type and physician.
    records: list[ProcedureRecord] = field(default_factory=list)
    medications: list[PatientMedication] = field(default_factory=list)
    pain_scores: list[PainScore] = field(default_factory=list)
    check_ins: list[CheckInResponse] = field(default_factory=list)
    instrument_scores: list[InstrumentScore] = field(default_factory=list)

    @property
    def physicians(self) -> list[PhysicianProfile]:
        """The physicians of the appointments and procedures shown, each once, in id order."""
        seen = {a.physician_id: a.physician for a in self.appointments}
        seen.update({r.appointment.physician_id: r.appointment.physician for r in self.records})
        return [seen[pk] for pk in sorted(seen)]


def sections_for_user(user: AbstractBaseUser) -> frozenset[Section]:
    return frozenset(s for s, perm in SECTION_PERMISSIONS.items() if user.has_perm(perm))


def patient_everything(*, patient: Patient, sections: frozenset[Section]) -> PatientEverything:
    """The patient's appointments (with the procedure record of each, when there is one), medication list,
    pain scores, check-in answers and optional instrument scores (ODI, PGIC), oldest first. Sections not asked for are not read at all.

    Rows are read through the patient's related managers, which set each row's `patient` to `patient`:
    the builders name the patient without a query per row."""
    appointments: list[Appointment] = []
    records: list[ProcedureRecord] = []
    if sections & {Section.APPOINTMENTS, Section.PROCEDURES}:
        rows = list(
            patient.appointments.select_related("procedure_type", "physician__user", "record").order_by(
                "start", "id"
            )
        )
        if Section.APPOINTMENTS in sections:
            appointments = rows
        if Section.PROCEDURES in sections:
            records = [a.record for a in rows if _has_record(a)]
    medications = (
        list(patient.medications.select_related("medication").order_by("added_at", "id"))
        if Section.MEDICATIONS in sections
        else []
    )
    pain_scores = (
        list(patient.pain_scores.order_by("recorded_at", "id")) if Section.PAIN_SCORES in sections else []
    )
    check_ins = (
        list(
            CheckInResponse.objects.filter(followup__appointment__patient=patient)
            .select_related("followup")
            .order_by("submitted_at", "id")
        )
        if Section.CHECK_INS in sections
        else []
    )
    # Exported whether or not the clinic still collects an instrument: what was recorded stays on record.
    instrument_scores = (
        list(patient.instrument_scores.order_by("recorded_at", "id"))
        if Section.INSTRUMENT_SCORES in sections
        else []
    )
    return PatientEverything(
        patient=patient,
        sections=sections,
        appointments=appointments,
        records=records,
        medications=medications,
        pain_scores=pain_scores,
        check_ins=check_ins,
        instrument_scores=instrument_scores,
    )


def _has_record(appointment: Appointment) -> bool:
    try:
        appointment.record  # noqa: B018  (select_related cached it, or cached its absence)
    except ProcedureRecord.DoesNotExist:
        return False
    return True
