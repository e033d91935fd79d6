"""FHIR R4 (4.0.1) resources from SpineDesk rows: pure functions from model instances to JSON-ready dicts.
Nothing here reads the database or the request; procedures/selectors/fhir.py loads every row they touch.

Ids are "<kind>-<primary key>" ("appointment-12"), so exporting the same record twice gives the same ids,
and references between resources are relative ("Procedure/procedure-3"), resolved against each entry's
fullUrl. `base` is the server's FHIR base URL (https://…/fhir): fullUrls and the local code systems live
under it."""

import uuid
from datetime import UTC, datetime

from procedures.models import (
    PGIC_ANCHORS,
    Appointment,
    AppointmentStatus,
    CheckInResponse,
    Instrument,
    InstrumentScore,
    PainScore,
    PainSource,
    Patient,
    PatientMedication,
    PhysicianProfile,
    ProcedureRecord,
    Side,
)
from procedures.selectors.fhir import PatientEverything, Section

FHIR_VERSION = "4.0.1"
FHIR_MEDIA_TYPE = "application/fhir+json"
# When this server's CapabilityStatement last changed (its required `date`): bump it with the statement.
CAPABILITY_DATE = "2026-11-21"

LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
BCP47 = "urn:ietf:bcp:47"
PATIENT_EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"

PAIN_NRS = {
    "system": LOINC,
    "code": "72514-3",
    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
}

# Local code systems. clinical-reference.md §7 gives LOINC codes only for the 0–10 pain rating and the
# PROMIS measures. Percent relief and the check-in's 0–10 activity-interference item have none (PROMIS
# 77865-4 is a T-score, not this item), and the pain-score sources, side effects and red flags are
# SpineDesk's own lists, so each is a local CodeSystem under this server's base, not a standard one. The
# optional instruments (Oswestry Disability Index, Patient Global Impression of Change) are in §7 too, with
# "LOINC not found": they get a local system of their own.
LOCAL_OUTCOME_MEASURES = "CodeSystem/outcome-measure"
LOCAL_OUTCOME_INSTRUMENT = "CodeSystem/outcome-instrument"
LOCAL_PAIN_SOURCE = "CodeSystem/pain-score-source"
LOCAL_SIDE_EFFECT = "CodeSystem/check-in-side-effect"
LOCAL_RED_FLAG = "CodeSystem/check-in-red-flag"
LOCAL_MRN = "sid/mrn"  # the clinic's MRNs: an identifier system, local like the codes above

QUESTIONNAIRE_ID = "check-in"
QUESTIONNAIRE_VERSION = "1"


def local(base: str, path: str) -> str:
    return f"{base}/{path}"


def questionnaire_url(base: str) -> str:
    return f"{base}/Questionnaire/{QUESTIONNAIRE_ID}"


# --- Ids, references, times ------------------------------------------------------------------------------


def patient_fhir_id(patient_id: int) -> str:
    return f"patient-{patient_id}"


def practitioner_fhir_id(physician_id: int) -> str:
    return f"practitioner-{physician_id}"


def appointment_fhir_id(appointment_id: int) -> str:
    return f"appointment-{appointment_id}"


def procedure_fhir_id(record_id: int) -> str:
    return f"procedure-{record_id}"


def medication_statement_fhir_id(entry_id: int) -> str:
    return f"medication-statement-{entry_id}"


def pain_observation_fhir_id(score_id: int) -> str:
    return f"pain-score-{score_id}"


def instrument_observation_fhir_id(score_id: int) -> str:
    return f"instrument-score-{score_id}"


def questionnaire_response_fhir_id(response_id: int) -> str:
    return f"check-in-{response_id}"


def reference(resource_type: str, fhir_id: str, display: str = "") -> dict:
    ref = {"reference": f"{resource_type}/{fhir_id}"}
    if display:
        ref["display"] = display
    return ref


def instant(moment: datetime) -> str:
    """UTC, ISO 8601 with an explicit offset: a FHIR instant and dateTime alike."""
    return moment.astimezone(UTC).isoformat()


def _coding(system: str, code: str, display: str = "") -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


# --- Resources ------------------------------------------------------------------------------------------


def patient_resource(patient: Patient, *, base: str) -> dict:
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    resource = {
        "resourceType": "Patient",
        "id": patient_fhir_id(patient.pk),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [_coding(IDENTIFIER_TYPE, "MR", "Medical record number")], "text": "MRN"},
                "system": local(base, LOCAL_MRN),
                "value": patient.mrn,
            }
        ],
        "active": True,
        "name": [
            {
                "use": "official",
                "text": patient.full_name,
                "family": patient.last_name,
                "given": [patient.first_name],
            }
        ],
        "birthDate": patient.date_of_birth.isoformat(),
        "communication": [
            {
                "language": {
                    "coding": [_coding(BCP47, patient.language)],
                    "text": patient.get_language_display(),
                },
                "preferred": True,
            }
        ],
    }
    if telecom:
        resource["telecom"] = telecom
    return resource


def practitioner_resource(physician: PhysicianProfile) -> dict:
    name = {"text": physician.display_name}
    if physician.user.last_name:
        name["family"] = physician.user.last_name
    if physician.user.first_name:
        name["given"] = [physician.user.first_name]
    resource = {
        "resourceType": "Practitioner",
        "id": practitioner_fhir_id(physician.pk),
        "active": physician.active,
        "name": [name],
    }
    if physician.npi:
        resource["identifier"] = [{"system": NPI, "value": physician.npi}]
    return resource


# FHIR's appointment states are the booking's, not the clinic day's: in the procedure room and in recovery
# the patient has "arrived"; discharged, the appointment is "fulfilled".
APPOINTMENT_STATUS = {
    AppointmentStatus.SCHEDULED: "booked",
    AppointmentStatus.CONFIRMED: "booked",
    AppointmentStatus.CHECKED_IN: "checked-in",
    AppointmentStatus.IN_PROCEDURE: "arrived",
    AppointmentStatus.IN_RECOVERY: "arrived",
    AppointmentStatus.DISCHARGED: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NO_SHOW: "noshow",
}


def _procedure_code(appointment: Appointment) -> dict:
    """The catalogue's CPT code; the clinic's own name goes in `text`, not `display`, because it is not
    the CPT descriptor."""
    ptype = appointment.procedure_type
    code: dict = {"text": ptype.name}
    if ptype.cpt_code:
        code["coding"] = [_coding(CPT, ptype.cpt_code)]
    return code


def appointment_resource(appointment: Appointment) -> dict:
    # The patient's booking lasts until the end of observation in the recovery bay, as in the .ics file.
    resource = {
        "resourceType": "Appointment",
        "id": appointment_fhir_id(appointment.pk),
        "status": APPOINTMENT_STATUS[appointment.status],
        "serviceType": [_procedure_code(appointment)],
        "description": appointment.procedure_type.name,
        "start": instant(appointment.start),
        "end": instant(appointment.monitoring_until),
        "minutesDuration": int((appointment.monitoring_until - appointment.start).total_seconds() // 60),
        "created": instant(appointment.created_at),
        "participant": [
            {
                "actor": reference(
                    "Patient", patient_fhir_id(appointment.patient_id), appointment.patient.full_name
                ),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": reference(
                    "Practitioner",
                    practitioner_fhir_id(appointment.physician_id),
                    appointment.physician.display_name,
                ),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if appointment.cancel_reason:
        resource["cancelationReason"] = {"text": appointment.cancel_reason}
    if appointment.notes:
        resource["comment"] = appointment.notes
    return resource


# Midline is also the booking default for "not applicable", so it says nothing about laterality.
_SIDE_TEXT = {Side.LEFT: "left", Side.RIGHT: "right", Side.BILATERAL: "bilateral"}


def body_site_text(record: ProcedureRecord) -> str:
    """The region from the catalogue, then what was charted (or else booked) for levels and side:
    "Lumbar, L4-L5, L5-S1, left"."""
    appointment = record.appointment
    parts = [
        appointment.procedure_type.get_spinal_region_display(),
        record.levels or appointment.levels,
        _SIDE_TEXT.get(record.side or appointment.side, ""),
    ]
    return ", ".join(part for part in parts if part)


def procedure_resource(record: ProcedureRecord) -> dict:
    appointment = record.appointment
    period = {"start": instant(record.started_at)}
    if record.ended_at:
        period["end"] = instant(record.ended_at)
    resource = {
        "resourceType": "Procedure",
        "id": procedure_fhir_id(record.pk),
        "status": "completed" if record.ended_at else "in-progress",
        "code": _procedure_code(appointment),
        "subject": reference("Patient", patient_fhir_id(appointment.patient_id)),
        "performedPeriod": period,
        "performer": [
            {
                "actor": reference(
                    "Practitioner",
                    practitioner_fhir_id(appointment.physician_id),
                    appointment.physician.display_name,
                )
            }
        ],
        "bodySite": [{"text": body_site_text(record)}],
    }
    if record.complications:
        resource["complication"] = [{"text": record.complications}]
    details = [
        ("Approach", record.approach),
        ("Imaging", record.get_imaging_used_display() if record.imaging_used else ""),
        ("Contrast", f"{record.contrast_ml} mL" if record.contrast_ml is not None else ""),
        ("Local anaesthetic", record.local_anaesthetic),
        ("Sedation", (record.sedation_agent or "given") if record.sedation_given else ""),
        ("Baseline pain", f"{record.baseline_pain}/10" if record.baseline_pain is not None else ""),
    ]
    notes = ["; ".join(f"{label}: {value}" for label, value in details if value), record.notes]
    if any(notes):
        resource["note"] = [{"text": text} for text in notes if text]
    return resource


def medication_statement_resource(entry: PatientMedication) -> dict:
    # The list records when a drug was added to it, not when the patient began taking it: the closest
    # start the clinic knows.
    period = {"start": instant(entry.added_at)}
    if entry.stopped_at:
        period["end"] = instant(entry.stopped_at)
    resource = {
        "resourceType": "MedicationStatement",
        "id": medication_statement_fhir_id(entry.pk),
        "status": "active" if entry.stopped_at is None else "stopped",
        "medicationCodeableConcept": {"text": entry.medication.generic_name},
        "subject": reference("Patient", patient_fhir_id(entry.patient_id)),
        "effectivePeriod": period,
        "dateAsserted": instant(entry.added_at),
    }
    if entry.indication:
        resource["reasonCode"] = [{"text": entry.get_indication_display()}]
    dosage = "; ".join(
        t for t in (entry.dose, entry.get_dose_intent_display() if entry.dose_intent else "") if t
    )
    if dosage:
        resource["dosage"] = [{"text": dosage}]
    return resource


def pain_observation_resource(
    score: PainScore, *, base: str, procedure_id: str = "", questionnaire_response_id: str = ""
) -> dict:
    """`procedure_id`: the Procedure the score follows; `questionnaire_response_id`: the check-in answer
    it was taken from. R4 allows a Procedure in `partOf` but not in `derivedFrom`, hence the split."""
    resource = {
        "resourceType": "Observation",
        "id": pain_observation_fhir_id(score.pk),
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": {"coding": [PAIN_NRS], "text": "Pain now (0–10)"},
        "subject": reference("Patient", patient_fhir_id(score.patient_id)),
        "effectiveDateTime": instant(score.recorded_at),
        "issued": instant(score.created_at),
        "valueInteger": score.score,
        "method": {
            "coding": [_coding(local(base, LOCAL_PAIN_SOURCE), score.source, score.get_source_display())],
            "text": score.get_source_display(),
        },
    }
    if score.source == PainSource.CHECK_IN:
        resource["performer"] = [reference("Patient", patient_fhir_id(score.patient_id))]
    if procedure_id:
        resource["partOf"] = [reference("Procedure", procedure_id)]
    if questionnaire_response_id:
        resource["derivedFrom"] = [reference("QuestionnaireResponse", questionnaire_response_id)]
    if score.percent_relief is not None:
        resource["component"] = [
            {
                "code": {
                    "coding": [
                        _coding(local(base, LOCAL_OUTCOME_MEASURES), "percent-relief", "Pain relief (%)")
                    ],
                    "text": "Relief since the procedure (%)",
                },
                "valueQuantity": {
                    "value": score.percent_relief,
                    "unit": "%",
                    "system": UCUM,
                    "code": "%",
                },
            }
        ]
    return resource


INSTRUMENT_TEXT = {
    Instrument.ODI: "Oswestry Disability Index (0–100 %)",
    Instrument.PGIC: "Patient Global Impression of Change (1 = very much improved … 7 = very much worse)",
}


def instrument_observation_resource(
    score: InstrumentScore, *, base: str, procedure_id: str = "", questionnaire_response_id: str = ""
) -> dict:
    """An optional instrument's value, built as a pain score's Observation is (same category, source
    coding, performer, partOf and derivedFrom rules), with a local code for the instrument."""
    resource = {
        "resourceType": "Observation",
        "id": instrument_observation_fhir_id(score.pk),
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": {
            "coding": [
                _coding(
                    local(base, LOCAL_OUTCOME_INSTRUMENT), score.instrument, score.get_instrument_display()
                )
            ],
            "text": INSTRUMENT_TEXT[score.instrument],
        },
        "subject": reference("Patient", patient_fhir_id(score.patient_id)),
        "effectiveDateTime": instant(score.recorded_at),
        "issued": instant(score.created_at),
        "valueInteger": score.value,
        # Instrument scores come from the same places as pain scores (PainSource): one source code system.
        "method": {
            "coding": [_coding(local(base, LOCAL_PAIN_SOURCE), score.source, score.get_source_display())],
            "text": score.get_source_display(),
        },
    }
    if score.instrument == Instrument.PGIC and score.value in PGIC_ANCHORS:
        # A bare 2 reads as "better" or "worse" depending on which PGIC the reader knows: say which.
        resource["note"] = [{"text": f"{score.value} = {PGIC_ANCHORS[score.value]}"}]
    if score.source == PainSource.CHECK_IN:
        resource["performer"] = [reference("Patient", patient_fhir_id(score.patient_id))]
    if procedure_id:
        resource["partOf"] = [reference("Procedure", procedure_id)]
    if questionnaire_response_id:
        resource["derivedFrom"] = [reference("QuestionnaireResponse", questionnaire_response_id)]
    return resource


# The check-in form, item by item: (linkId, text, type, extra Questionnaire item fields).
CHECK_IN_ITEMS: list[tuple[str, str, str, dict]] = [
    ("follow-up", "Follow-up point", "string", {"readOnly": True}),
    ("pain-now", "Pain right now, 0 (none) to 10 (worst imaginable)", "integer", {"required": True}),
    ("percent-relief", "Relief since the procedure, in per cent (0–100)", "integer", {"required": True}),
    (
        "activity-interference",
        "How much pain limits daily activity, 0 (not at all) to 10 (completely)",
        "integer",
        {"required": True},
    ),
    ("side-effects", "Side effects since the procedure", "choice", {"repeats": True}),
    ("side-effects-other", "Other side effects, in the patient's words", "string", {}),
    ("red-flag", "Reported a warning sign", "boolean", {"required": True}),
    ("red-flags", "Warning signs reported", "choice", {"repeats": True}),
]


def _check_in_item_codes(base: str) -> dict[str, list[dict]]:
    return {
        "pain-now": [PAIN_NRS],
        "percent-relief": [_coding(local(base, LOCAL_OUTCOME_MEASURES), "percent-relief", "Pain relief (%)")],
        "activity-interference": [
            _coding(
                local(base, LOCAL_OUTCOME_MEASURES),
                "activity-interference",
                "Pain interference with activity (0-10)",
            )
        ],
    }


def questionnaire_resource(*, base: str) -> dict:
    codes = _check_in_item_codes(base)
    items = []
    for link_id, text, item_type, extra in CHECK_IN_ITEMS:
        item = {"linkId": link_id, "text": text, "type": item_type, **extra}
        if link_id in codes:
            item["code"] = codes[link_id]
        items.append(item)
    return {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "url": questionnaire_url(base),
        "version": QUESTIONNAIRE_VERSION,
        "name": "SpineDeskCheckIn",
        "title": "Check-in after a procedure",
        "status": "active",
        "subjectType": ["Patient"],
        "item": items,
    }


def _codes(values: list) -> list[str]:
    """The JSON list as FHIR codes: strings without surrounding whitespace, none empty."""
    return [str(v).strip() for v in values if str(v).strip()]


def questionnaire_response_resource(
    response: CheckInResponse, *, patient_id: int, base: str, procedure_id: str = ""
) -> dict:
    """A patient's answers to one check-in link; `procedure_id`: the Procedure the check-in follows."""
    answers: dict[str, list[dict]] = {
        "follow-up": [{"valueString": response.followup.label}],
        "pain-now": [{"valueInteger": response.pain_now}],
        "percent-relief": [{"valueInteger": response.percent_relief}],
        "activity-interference": [{"valueInteger": response.activity_interference}],
        "side-effects": [
            {"valueCoding": _coding(local(base, LOCAL_SIDE_EFFECT), code)}
            for code in _codes(response.side_effects)
        ],
        "side-effects-other": (
            [{"valueString": response.side_effects_other}] if response.side_effects_other else []
        ),
        "red-flag": [{"valueBoolean": response.has_red_flag}],
        "red-flags": [
            {"valueCoding": _coding(local(base, LOCAL_RED_FLAG), code)} for code in _codes(response.red_flags)
        ],
    }
    # An item without an answer means "not answered" in FHIR, so empty lists leave their item out; the
    # red-flag boolean still says whether any warning sign was reported.
    items = [
        {"linkId": link_id, "text": text, "answer": answers[link_id]}
        for link_id, text, _, _ in CHECK_IN_ITEMS
        if answers[link_id]
    ]
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": questionnaire_response_fhir_id(response.pk),
        "questionnaire": f"{questionnaire_url(base)}|{QUESTIONNAIRE_VERSION}",
        "status": "completed",
        "subject": reference("Patient", patient_fhir_id(patient_id)),
        "authored": instant(response.submitted_at),
        "source": reference("Patient", patient_fhir_id(patient_id)),
        "item": items,
    }
    if procedure_id:
        resource["partOf"] = [reference("Procedure", procedure_id)]
    return resource


def operation_outcome(*, code: str, diagnostics: str, severity: str = "error", fhir_id: str = "") -> dict:
    resource = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }
    if fhir_id:
        resource["id"] = fhir_id
    return resource


# --- The $everything Bundle ----------------------------------------------------------------------------

# Two sections are Observations: each is named for what it holds, so that withholding one never reads as
# withholding the Observations that are there.
_SECTION_RESOURCE_TYPES = {
    Section.APPOINTMENTS: "Appointment",
    Section.PROCEDURES: "Procedure",
    Section.MEDICATIONS: "MedicationStatement",
    Section.PAIN_SCORES: "Observation (pain scores)",
    Section.CHECK_INS: "QuestionnaireResponse",
    Section.INSTRUMENT_SCORES: "Observation (outcome instruments)",
}


def _entry(resource: dict, *, base: str, mode: str) -> dict:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _withheld_outcome(everything: PatientEverything, *, base: str) -> dict | None:
    """Say which resource types the caller may not see, so that a missing section never reads as an empty
    one (FHIR's "suppressed" issue, in a search-mode "outcome" entry)."""
    withheld = [
        kind for section, kind in _SECTION_RESOURCE_TYPES.items() if section not in everything.sections
    ]
    if not withheld:
        return None
    # Derived from what it describes, so the same export by the same role gets the same id.
    name = (
        f"{base}/Patient/{patient_fhir_id(everything.patient.pk)}/$everything#withheld:{','.join(withheld)}"
    )
    outcome = operation_outcome(
        code="suppressed",
        severity="warning",
        diagnostics=f"Not included, because this user may not view them: {', '.join(withheld)}.",
        fhir_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
    )
    return {"fullUrl": f"urn:uuid:{outcome['id']}", "resource": outcome, "search": {"mode": "outcome"}}


def _follows(score: PainScore | InstrumentScore, record: ProcedureRecord) -> bool:
    return score.recorded_at >= record.started_at


def everything_bundle(
    everything: PatientEverything, *, base: str, self_url: str, timestamp: datetime
) -> dict:
    """Patient/$everything: the patient, then the physicians, appointments, procedures, medication list,
    pain scores, instrument scores and check-in answers, each oldest first."""
    patient = everything.patient
    records_by_appointment = {r.appointment_id: r for r in everything.records}
    check_in_ids = {
        (c.followup.appointment_id, c.submitted_at): questionnaire_response_fhir_id(c.pk)
        for c in everything.check_ins
    }

    def procedure_for(appointment_id: int) -> str:
        record = records_by_appointment.get(appointment_id)
        return procedure_fhir_id(record.pk) if record else ""

    def links(score: PainScore | InstrumentScore) -> dict[str, str]:
        record = records_by_appointment.get(score.appointment_id) if score.appointment_id else None
        # Only the procedure the score names, and only once it has started: a baseline taken before it
        # is not part of it. The pain timeline's "most recent procedure" guess is not stated as fact here.
        procedure_id = procedure_fhir_id(record.pk) if record and _follows(score, record) else ""
        # A check-in's scores carry the check-in's own time, which is how they are matched to it.
        from_check_in = (
            check_in_ids.get((score.appointment_id, score.recorded_at), "")
            if score.source == PainSource.CHECK_IN
            else ""
        )
        return {"procedure_id": procedure_id, "questionnaire_response_id": from_check_in}

    matches = [patient_resource(patient, base=base)]
    matches += [appointment_resource(a) for a in everything.appointments]
    matches += [procedure_resource(r) for r in everything.records]
    matches += [medication_statement_resource(m) for m in everything.medications]
    matches += [pain_observation_resource(s, base=base, **links(s)) for s in everything.pain_scores]
    matches += [
        instrument_observation_resource(s, base=base, **links(s)) for s in everything.instrument_scores
    ]
    matches += [
        questionnaire_response_resource(
            c, patient_id=patient.pk, base=base, procedure_id=procedure_for(c.followup.appointment_id)
        )
        for c in everything.check_ins
    ]

    includes = [practitioner_resource(p) for p in everything.physicians]
    if everything.check_ins:
        includes.append(questionnaire_resource(base=base))

    entries = [_entry(r, base=base, mode="match") for r in matches]
    entries += [_entry(r, base=base, mode="include") for r in includes]
    if outcome := _withheld_outcome(everything, base=base):
        entries.append(outcome)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(timestamp),
        "total": len(matches),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }


# --- CapabilityStatement -------------------------------------------------------------------------------

BUNDLED_RESOURCE_TYPES = [
    "Practitioner",
    "Appointment",
    "Procedure",
    "MedicationStatement",
    "Observation",
    "Questionnaire",
    "QuestionnaireResponse",
    "OperationOutcome",
]
_BUNDLED_ONLY = "Read-only, and only inside Patient/$everything: no read or search of its own."


def capability_statement(*, base: str, clinic_name: str) -> dict:
    resources = [
        {
            "type": "Patient",
            "documentation": "Patient/[id]/$everything returns the patient's record as a searchset Bundle. "
            "[id] is the Patient's id (patient-12) or the clinic's patient number (12).",
            "operation": [{"name": "everything", "definition": PATIENT_EVERYTHING}],
        }
    ]
    resources += [{"type": kind, "documentation": _BUNDLED_ONLY} for kind in BUNDLED_RESOURCE_TYPES]
    return {
        "resourceType": "CapabilityStatement",
        "id": "spinedesk",
        "url": f"{base}/metadata",
        "name": "SpineDeskFhirExport",
        "title": "SpineDesk FHIR export",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": clinic_name,
        "kind": "instance",
        "software": {"name": "SpineDesk"},
        "implementation": {"description": f"{clinic_name}: SpineDesk FHIR export", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_MEDIA_TYPE, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only export of one patient's record.",
                "security": {
                    "cors": False,
                    "description": "Staff accounts only, as the SpineDesk API: `Authorization: Token <key>` "
                    "or the browser session. The caller needs view_patient; each part of the record "
                    "also needs its own view permission, and parts left out are named in an "
                    "OperationOutcome entry.",
                },
                "resource": resources,
            }
        ],
    }
