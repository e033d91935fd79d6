"""FHIR R4 export: Patient/$everything and metadata, validated against the R4 (4.0.1) models of
fhir.resources, plus the rules those models do not check (required status codes, reference targets,
instant formats), access control, the audit trail and a constant number of queries."""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import fhir.resources
import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from fhir.resources import construct_fhir_element
from fhir.resources.bundle import Bundle
from fhir.resources.capabilitystatement import CapabilityStatement
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from procedures.fhir.builders import everything_bundle
from procedures.models import (
    AppointmentStatus,
    CheckInResponse,
    FollowUp,
    InstrumentScore,
    Medication,
    PainScore,
    PatientMedication,
    ProcedureRecord,
)
from procedures.selectors.fhir import SECTION_PERMISSIONS, patient_everything
from tests.factories import AppointmentFactory, PatientFactory, PhysicianFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db

FHIR_JSON = "application/fhir+json"
BASE = "http://testserver/fhir"
NY = ZoneInfo("America/New_York")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def everything_url(patient) -> str:
    return f"/fhir/Patient/patient-{patient.pk}/$everything"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- What the R4 models of fhir.resources check, and what they do not -------------------------------------

# Required bindings (R4 value sets) of the status elements the export uses; the models accept any code.
R4_STATUS = {
    "Appointment": {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    },
    "Procedure": {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    },
    "MedicationStatement": {
        "active",
        "completed",
        "entered-in-error",
        "intended",
        "stopped",
        "on-hold",
        "unknown",
        "not-taken",
    },
    "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "unknown"},
    "QuestionnaireResponse": {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    "Questionnaire": {"draft", "active", "retired", "unknown"},
    "CapabilityStatement": {"draft", "active", "retired", "unknown"},
}
# Allowed targets of each reference the export writes, from the R4 resource definitions (the models do not
# check the type a reference points at: R4 Observation.derivedFrom, for one, cannot be a Procedure).
R4_REFERENCE_TARGETS = {
    ("Appointment", "participant"): {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "RelatedPerson",
        "Device",
    },
    ("Procedure", "subject"): {"Patient", "Group"},
    ("Procedure", "performer"): {"Practitioner", "PractitionerRole", "Organization", "Patient", "Device"},
    ("MedicationStatement", "subject"): {"Patient", "Group"},
    ("Observation", "subject"): {"Patient", "Group", "Device", "Location"},
    ("Observation", "performer"): {"Practitioner", "PractitionerRole", "Organization", "CareTeam", "Patient"},
    ("Observation", "partOf"): {
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationStatement",
        "Procedure",
        "Immunization",
        "ImagingStudy",
    },
    ("Observation", "derivedFrom"): {
        "DocumentReference",
        "ImagingStudy",
        "Media",
        "QuestionnaireResponse",
        "Observation",
        "MolecularSequence",
    },
    ("QuestionnaireResponse", "subject"): None,  # Reference(Any)
    ("QuestionnaireResponse", "source"): {"Patient", "Practitioner", "PractitionerRole", "RelatedPerson"},
    ("QuestionnaireResponse", "partOf"): {"Observation", "Procedure"},
}
# The R4 `instant` regex (every time the export writes is a full instant, valid as a dateTime too).
R4_INSTANT = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
TIME_ELEMENTS = {
    "start",
    "end",
    "created",
    "effectiveDateTime",
    "issued",
    "authored",
    "timestamp",
    "dateAsserted",
}


def _references(node, top: str = ""):
    """(top-level element, "Type/id") for every Reference in a resource."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield top, node["reference"]
        for key, value in node.items():
            yield from _references(value, top or key)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value, top)


def _times(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TIME_ELEMENTS and isinstance(value, str):
                yield key, value
            yield from _times(value)
    elif isinstance(node, list):
        for value in node:
            yield from _times(value)


def assert_valid_r4(resource: dict) -> None:
    """Parse with the R4 model of its type (structure, cardinality, primitive formats, no unknown
    elements), then check what the models leave out."""
    kind = resource["resourceType"]
    construct_fhir_element(kind, resource)
    if kind in R4_STATUS:
        assert resource["status"] in R4_STATUS[kind], (kind, resource["status"])
    for top, ref in _references(resource):
        allowed = R4_REFERENCE_TARGETS[(kind, top)]
        assert allowed is None or ref.split("/")[0] in allowed, (kind, top, ref)
    for key, value in _times(resource):
        assert R4_INSTANT.fullmatch(value), (kind, key, value)


def assert_valid_bundle(bundle: dict) -> None:
    Bundle.parse_obj(bundle)
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    present = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert_valid_r4(resource)
        if not entry["fullUrl"].startswith("urn:uuid:"):
            assert entry["fullUrl"] == f"{BASE}/{resource['resourceType']}/{resource['id']}"
            present.add(f"{resource['resourceType']}/{resource['id']}")
    # Every reference resolves inside the Bundle: nothing points at a resource the caller cannot see.
    for entry in bundle["entry"]:
        for _, ref in _references(entry["resource"]):
            assert ref in present, ref
    assert bundle["total"] == sum(1 for e in bundle["entry"] if e["search"]["mode"] == "match")


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_validating_models_are_r4():
    """fhir.resources 6.5+ validates R4B (4.3.0) and 7+ R5: the pin must stay on the R4 line."""
    assert fhir.resources.__fhir_version__ == "4.0.1"


# --- A chart with several procedures ---------------------------------------------------------------------


@pytest.fixture
def chart(physician):
    """Two performed procedures (an ESI by Dr Lee, a block by Dr Shah), a cancelled and an upcoming
    booking, a medication list with a stopped drug, pain scores from four sources and one check-in."""
    patient = PatientFactory(first_name="Ada", last_name="Moss", mrn="A-77", phone="+15550102345")
    lee = physician.physician_profile
    lee.npi = "1234567893"
    lee.save()
    shah = PhysicianFactory(display_name="Dr Shah")
    esi_type = ProcedureTypeFactory(name="Lumbar transforaminal ESI", cpt_code="64483")
    mbb_type = ProcedureTypeFactory(
        name="Lumbar medial branch block", cpt_code="64493", family="facet_mbb", purpose="diagnostic"
    )
    discharged = AppointmentStatus.DISCHARGED
    esi = AppointmentFactory(
        patient=patient, procedure_type=esi_type, physician=lee, start=at(3, 2, 9), status=discharged
    )
    esi_record = ProcedureRecord.objects.create(
        appointment=esi,
        started_at=at(3, 2, 9, 5),
        ended_at=at(3, 2, 9, 25),
        levels="L4-L5, L5-S1",
        side="left",
        approach="transforaminal",
        imaging_used="fluoroscopy",
        contrast_ml=Decimal("2.0"),
        baseline_pain=7,
    )
    mbb = AppointmentFactory(
        patient=patient,
        procedure_type=mbb_type,
        physician=shah,
        start=at(5, 4, 10),
        status=discharged,
        levels="L3-L4",
        side="bilateral",
    )
    mbb_record = ProcedureRecord.objects.create(
        appointment=mbb, started_at=at(5, 4, 10, 2), ended_at=at(5, 4, 10, 20)
    )
    cancelled = AppointmentFactory(
        patient=patient,
        procedure_type=esi_type,
        physician=lee,
        start=at(6, 1, 9),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Patient unwell",
    )
    upcoming = AppointmentFactory(patient=patient, procedure_type=mbb_type, physician=lee)

    warfarin = PatientMedication.objects.create(
        patient=patient, medication=Medication.objects.get(generic_name="warfarin"), dose="5 mg once daily"
    )
    ibuprofen = PatientMedication.objects.create(
        patient=patient, medication=Medication.objects.get(generic_name="ibuprofen")
    )
    PatientMedication.objects.filter(pk=warfarin.pk).update(added_at=at(1, 5, 9))
    PatientMedication.objects.filter(pk=ibuprofen.pk).update(added_at=at(1, 6, 9), stopped_at=at(2, 20, 9))

    def score(**fields) -> PainScore:
        return PainScore.objects.create(patient=patient, **fields)

    scores = {
        "baseline": score(appointment=esi, score=7, recorded_at=at(2, 10, 11), source="baseline"),
        "diary": score(
            appointment=mbb, score=2, percent_relief=80, recorded_at=at(5, 4, 10, 50), source="diary"
        ),
        "check_in": score(
            appointment=esi, score=3, percent_relief=60, recorded_at=at(3, 16, 18, 30), source="check_in"
        ),
        "clinic": score(score=5, recorded_at=at(7, 1, 12), source="clinic"),
    }
    followup = FollowUp.objects.create(
        appointment=esi, kind="check_in", label="Week 2", due_at=at(3, 16, 9), status="answered"
    )
    check_in = CheckInResponse.objects.create(
        followup=followup,
        pain_now=3,
        percent_relief=60,
        activity_interference=4,
        side_effects=["soreness", "flushing"],
        red_flags=[],
        has_red_flag=False,
        submitted_at=at(3, 16, 18, 30),
    )
    return {
        "patient": patient,
        "lee": lee,
        "shah": shah,
        "esi": esi,
        "esi_record": esi_record,
        "mbb": mbb,
        "mbb_record": mbb_record,
        "cancelled": cancelled,
        "upcoming": upcoming,
        "warfarin": warfarin,
        "ibuprofen": ibuprofen,
        "scores": scores,
        "check_in": check_in,
    }


@pytest.fixture
def bundle(chart, nurse):
    response = api(nurse).get(everything_url(chart["patient"]))
    assert response.status_code == 200, response.content
    return response.json()


class TestEverything:
    def test_it_answers_a_searchset_bundle_as_fhir_json(self, chart, nurse):
        response = api(nurse).get(everything_url(chart["patient"]), HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert response["Content-Type"] == FHIR_JSON
        body = response.json()
        assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
        assert body["link"] == [
            {"relation": "self", "url": f"{BASE}/Patient/patient-{chart['patient'].pk}/$everything"}
        ]

    def test_every_resource_is_valid_r4(self, bundle):
        assert_valid_bundle(bundle)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert kinds == [
            "Patient",
            *["Appointment"] * 4,
            *["Procedure"] * 2,
            *["MedicationStatement"] * 2,
            *["Observation"] * 4,
            "QuestionnaireResponse",
            *["Practitioner"] * 2,
            "Questionnaire",
        ]
        assert bundle["total"] == 14

    def test_the_patient(self, chart, bundle):
        [patient] = resources(bundle, "Patient")
        assert patient["id"] == f"patient-{chart['patient'].pk}"
        assert patient["name"][0]["family"] == "Moss" and patient["name"][0]["given"] == ["Ada"]
        assert patient["birthDate"] == "1960-05-17"
        assert patient["identifier"][0]["value"] == "A-77"
        assert patient["identifier"][0]["system"] == f"{BASE}/sid/mrn"
        assert {"system": "phone", "value": "+15550102345"} in patient["telecom"]

    def test_the_physicians_of_the_appointments_are_practitioners(self, chart, bundle):
        practitioners = {p["id"]: p for p in resources(bundle, "Practitioner")}
        assert set(practitioners) == {f"practitioner-{chart['lee'].pk}", f"practitioner-{chart['shah'].pk}"}
        lee = practitioners[f"practitioner-{chart['lee'].pk}"]
        assert lee["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]
        assert lee["name"][0]["text"] == "Dr Lee"

    def test_every_appointment_with_its_fhir_status(self, chart, bundle):
        appointments = {a["id"]: a for a in resources(bundle, "Appointment")}
        statuses = {
            key: appointments[f"appointment-{chart[key].pk}"]["status"]
            for key in ("esi", "mbb", "cancelled", "upcoming")
        }
        assert statuses == {
            "esi": "fulfilled",
            "mbb": "fulfilled",
            "cancelled": "cancelled",
            "upcoming": "booked",
        }
        cancelled = appointments[f"appointment-{chart['cancelled'].pk}"]
        assert cancelled["cancelationReason"] == {"text": "Patient unwell"}
        esi = appointments[f"appointment-{chart['esi'].pk}"]
        assert esi["start"] == "2026-03-02T14:00:00+00:00"
        # The patient's stay: to the end of observation in the recovery bay.
        assert esi["end"] == chart["esi"].monitoring_until.astimezone(ZoneInfo("UTC")).isoformat()
        assert [p["actor"]["reference"] for p in esi["participant"]] == [
            f"Patient/patient-{chart['patient'].pk}",
            f"Practitioner/practitioner-{chart['lee'].pk}",
        ]

    def test_a_procedure_for_each_performed_one(self, chart, bundle):
        procedures = {p["id"]: p for p in resources(bundle, "Procedure")}
        esi = procedures[f"procedure-{chart['esi_record'].pk}"]
        assert esi["status"] == "completed"
        assert esi["code"] == {
            "coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64483"}],
            "text": "Lumbar transforaminal ESI",
        }
        assert esi["bodySite"] == [{"text": "Lumbar, L4-L5, L5-S1, left"}]
        assert esi["performedPeriod"] == {
            "start": "2026-03-02T14:05:00+00:00",
            "end": "2026-03-02T14:25:00+00:00",
        }
        assert esi["performer"][0]["actor"]["reference"] == f"Practitioner/practitioner-{chart['lee'].pk}"
        assert "Approach: transforaminal" in esi["note"][0]["text"]
        mbb = procedures[f"procedure-{chart['mbb_record'].pk}"]
        # Nothing charted for levels and side: what was booked.
        assert mbb["bodySite"] == [{"text": "Lumbar, L3-L4, bilateral"}]
        assert mbb["code"]["coding"][0]["code"] == "64493"
        assert mbb["performer"][0]["actor"]["reference"] == f"Practitioner/practitioner-{chart['shah'].pk}"

    def test_the_medication_list_active_and_stopped(self, chart, bundle):
        statements = {s["id"]: s for s in resources(bundle, "MedicationStatement")}
        warfarin = statements[f"medication-statement-{chart['warfarin'].pk}"]
        assert warfarin["status"] == "active"
        assert warfarin["medicationCodeableConcept"] == {"text": "warfarin"}
        assert warfarin["effectivePeriod"] == {"start": "2026-01-05T14:00:00+00:00"}
        assert warfarin["dosage"] == [{"text": "5 mg once daily"}]
        ibuprofen = statements[f"medication-statement-{chart['ibuprofen'].pk}"]
        assert ibuprofen["status"] == "stopped"
        assert ibuprofen["effectivePeriod"] == {
            "start": "2026-01-06T14:00:00+00:00",
            "end": "2026-02-20T14:00:00+00:00",
        }

    def test_a_pain_score_is_a_loinc_72514_3_observation(self, chart, bundle):
        observations = {o["id"]: o for o in resources(bundle, "Observation")}
        diary = observations[f"pain-score-{chart['scores']['diary'].pk}"]
        assert diary["code"]["coding"] == [
            {
                "system": "http://loinc.org",
                "code": "72514-3",
                "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            }
        ]
        assert diary["valueInteger"] == 2
        assert diary["status"] == "final"
        # 10:50 in New York (daylight time) is 14:50 UTC, written with its offset.
        assert diary["effectiveDateTime"] == "2026-05-04T14:50:00+00:00"
        assert diary["category"][0]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
        assert diary["subject"] == {"reference": f"Patient/patient-{chart['patient'].pk}"}
        assert diary["partOf"] == [{"reference": f"Procedure/procedure-{chart['mbb_record'].pk}"}]

    def test_percent_relief_is_a_component_with_a_local_code(self, chart, bundle):
        observations = {o["id"]: o for o in resources(bundle, "Observation")}
        [relief] = observations[f"pain-score-{chart['scores']['diary'].pk}"]["component"]
        assert relief["code"]["coding"][0]["system"] == f"{BASE}/CodeSystem/outcome-measure"
        assert relief["code"]["coding"][0]["code"] == "percent-relief"
        assert relief["valueQuantity"] == {
            "value": 80,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        }
        assert "component" not in observations[f"pain-score-{chart['scores']['baseline'].pk}"]

    def test_only_a_score_after_its_own_procedure_links_to_it(self, chart, bundle):
        observations = {o["id"]: o for o in resources(bundle, "Observation")}
        baseline = observations[f"pain-score-{chart['scores']['baseline'].pk}"]
        clinic = observations[f"pain-score-{chart['scores']['clinic'].pk}"]
        assert "partOf" not in baseline and "partOf" not in clinic
        check_in = observations[f"pain-score-{chart['scores']['check_in'].pk}"]
        assert check_in["partOf"] == [{"reference": f"Procedure/procedure-{chart['esi_record'].pk}"}]
        assert check_in["derivedFrom"] == [
            {"reference": f"QuestionnaireResponse/check-in-{chart['check_in'].pk}"}
        ]
        assert check_in["performer"] == [{"reference": f"Patient/patient-{chart['patient'].pk}"}]

    def test_a_check_in_is_a_questionnaire_response(self, chart, bundle):
        [answer] = resources(bundle, "QuestionnaireResponse")
        [questionnaire] = resources(bundle, "Questionnaire")
        assert answer["id"] == f"check-in-{chart['check_in'].pk}"
        assert answer["status"] == "completed"
        assert answer["authored"] == "2026-03-16T22:30:00+00:00"
        assert answer["questionnaire"] == f"{questionnaire['url']}|{questionnaire['version']}"
        assert questionnaire["url"] == f"{BASE}/Questionnaire/check-in"
        assert answer["partOf"] == [{"reference": f"Procedure/procedure-{chart['esi_record'].pk}"}]
        items = {i["linkId"]: i for i in answer["item"]}
        assert items["follow-up"]["answer"] == [{"valueString": "Week 2"}]
        assert items["pain-now"]["answer"] == [{"valueInteger": 3}]
        assert items["percent-relief"]["answer"] == [{"valueInteger": 60}]
        assert items["activity-interference"]["answer"] == [{"valueInteger": 4}]
        assert [a["valueCoding"]["code"] for a in items["side-effects"]["answer"]] == ["soreness", "flushing"]
        assert (
            items["side-effects"]["answer"][0]["valueCoding"]["system"]
            == f"{BASE}/CodeSystem/check-in-side-effect"
        )
        assert items["red-flag"]["answer"] == [{"valueBoolean": False}]
        # No warning sign ticked: the item is left out rather than answered with nothing.
        assert "red-flags" not in items and "side-effects-other" not in items
        # Every answered item is one the Questionnaire defines, with the same text.
        defined = {i["linkId"]: i["text"] for i in questionnaire["item"]}
        assert all(defined[i["linkId"]] == i["text"] for i in answer["item"])
        pain_item = next(i for i in questionnaire["item"] if i["linkId"] == "pain-now")
        assert pain_item["code"][0]["code"] == "72514-3"

    def test_ids_are_stable_from_one_export_to_the_next(self, chart, nurse, bundle):
        again = api(nurse).get(everything_url(chart["patient"])).json()
        assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
        assert [e["resource"] for e in again["entry"]] == [e["resource"] for e in bundle["entry"]]

    def test_the_bare_patient_number_works_too(self, chart, nurse, bundle):
        response = api(nurse).get(f"/fhir/Patient/{chart['patient'].pk}/$everything")
        assert response.status_code == 200
        assert [e["fullUrl"] for e in response.json()["entry"]] == [e["fullUrl"] for e in bundle["entry"]]

    def test_a_patient_with_nothing_on_record(self, nurse):
        patient = PatientFactory(phone="", email="")
        response = api(nurse).get(everything_url(patient))
        assert response.status_code == 200
        body = response.json()
        assert_valid_bundle(body)
        assert body["total"] == 1
        assert [e["resource"]["resourceType"] for e in body["entry"]] == ["Patient"]
        assert "telecom" not in body["entry"][0]["resource"]

    def test_an_in_progress_procedure_has_an_open_period(self, nurse):
        appointment = AppointmentFactory(status=AppointmentStatus.IN_PROCEDURE, start=at(4, 1, 9))
        record = ProcedureRecord.objects.create(appointment=appointment, started_at=at(4, 1, 9, 3))
        body = api(nurse).get(everything_url(appointment.patient)).json()
        assert_valid_bundle(body)
        [procedure] = resources(body, "Procedure")
        assert procedure["id"] == f"procedure-{record.pk}"
        assert procedure["status"] == "in-progress"
        assert procedure["performedPeriod"] == {"start": "2026-04-01T13:03:00+00:00"}
        assert resources(body, "Appointment")[0]["status"] == "arrived"


class TestPermissions:
    def test_without_credentials_it_is_401_as_an_operation_outcome(self, chart):
        response = APIClient().get(everything_url(chart["patient"]))
        assert response.status_code == 401
        assert response["Content-Type"] == FHIR_JSON
        assert response["WWW-Authenticate"] == "Token"
        body = response.json()
        assert_valid_r4(body)
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "login"

    def test_a_bad_token_is_401(self, chart):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        response = client.get(everything_url(chart["patient"]))
        assert response.status_code == 401
        assert response.json()["resourceType"] == "OperationOutcome"

    def test_a_user_without_view_patient_gets_403(self, chart, outsider):
        response = api(outsider).get(everything_url(chart["patient"]))
        assert response.status_code == 403
        assert response["Content-Type"] == FHIR_JSON
        assert response.json()["issue"][0]["code"] == "forbidden"
        assert (
            not LogEntry.objects.get_for_object(chart["patient"])
            .filter(action=LogEntry.Action.ACCESS)
            .exists()
        )

    @pytest.mark.parametrize(
        "path", ["/fhir/Patient/patient-999999/$everything", f"/fhir/Patient/{2**70}/$everything"]
    )
    def test_an_unknown_patient_is_404_as_an_operation_outcome(self, nurse, path):
        response = api(nurse).get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == FHIR_JSON
        body = response.json()
        assert_valid_r4(body)
        assert body["issue"][0] == {
            "severity": "error",
            "code": "not-found",
            "diagnostics": "No patient with that id.",
        }

    def test_anything_else_under_fhir_is_a_fhir_404(self):
        response = APIClient().get("/fhir/Observation/pain-score-1")
        assert response.status_code == 404
        assert response["Content-Type"] == FHIR_JSON
        assert response.json()["resourceType"] == "OperationOutcome"

    def test_it_is_read_only(self, chart, nurse):
        response = api(nurse).post(everything_url(chart["patient"]), {}, format="json")
        assert response.status_code == 405
        assert response.json()["issue"][0]["code"] == "not-supported"

    def test_parts_the_user_may_not_view_are_left_out_and_said_so(self, chart, frontdesk):
        """Front desk may see appointments, medications and pain scores, but not procedure records or
        check-in answers: those are left out, and no reference points at them."""
        body = api(frontdesk).get(everything_url(chart["patient"])).json()
        assert_valid_bundle(body)
        kinds = {e["resource"]["resourceType"] for e in body["entry"]}
        assert (
            "Procedure" not in kinds and "QuestionnaireResponse" not in kinds and "Questionnaire" not in kinds
        )
        assert {"Appointment", "MedicationStatement", "Observation", "Practitioner"} <= kinds
        [outcome] = [e for e in body["entry"] if e["search"]["mode"] == "outcome"]
        issue = outcome["resource"]["issue"][0]
        assert issue["code"] == "suppressed" and issue["severity"] == "warning"
        assert "Procedure, QuestionnaireResponse" in issue["diagnostics"]

    def test_the_withheld_notice_has_a_stable_id(self, chart, frontdesk):
        first = api(frontdesk).get(everything_url(chart["patient"])).json()["entry"][-1]
        second = api(frontdesk).get(everything_url(chart["patient"])).json()["entry"][-1]
        assert first["fullUrl"] == second["fullUrl"] and first["fullUrl"].startswith("urn:uuid:")

    def test_a_nurse_sees_every_part(self, chart, nurse, bundle):
        assert all(e["search"]["mode"] != "outcome" for e in bundle["entry"])

    def test_a_token_authenticates_and_the_read_is_audited_with_the_caller(self, chart, physician):
        token = Token.objects.create(user=physician)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        response = client.get(everything_url(chart["patient"]))
        assert response.status_code == 200
        entry = LogEntry.objects.get_for_object(chart["patient"]).get(action=LogEntry.Action.ACCESS)
        assert entry.actor == physician

    def test_a_session_works_too(self, client, chart, nurse):
        client.force_login(nurse)
        response = client.get(everything_url(chart["patient"]))
        assert response.status_code == 200
        assert response["Content-Type"] == FHIR_JSON


class TestQueries:
    def _count(self, client, patient) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(everything_url(patient)).status_code == 200
        return len(queries)

    def test_the_number_of_queries_does_not_grow_with_the_record(self, chart, nurse):
        client = api(nurse)
        small = AppointmentFactory(start=at(3, 3, 9), status=AppointmentStatus.DISCHARGED)
        ProcedureRecord.objects.create(appointment=small, started_at=at(3, 3, 9, 5), ended_at=at(3, 3, 9, 20))
        PainScore.objects.create(patient=small.patient, score=4, recorded_at=at(3, 4, 9), source="clinic")
        self._count(client, small.patient)  # the user's permissions are read once, then cached
        assert self._count(client, small.patient) == self._count(client, chart["patient"])

    def test_the_selector_reads_each_part_in_one_query(self, chart):
        with CaptureQueriesContext(connection) as queries:
            everything = patient_everything(patient=chart["patient"], sections=frozenset(SECTION_PERMISSIONS))
            # Everything the builders touch is loaded: no query while building.
            everything_bundle(everything, base=BASE, self_url=BASE, timestamp=timezone.now())
        assert len(queries) == 5, [
            q["sql"][:150] for q in queries.captured_queries
        ]  # appointments with their records, medications, pain scores, check-ins, instrument scores


class TestInstruments:
    """Optional instruments (ODI, PGIC) as Observations with a local code: the reference has no LOINC code."""

    @pytest.fixture
    def instruments(self, chart):
        def value(**fields) -> InstrumentScore:
            return InstrumentScore.objects.create(patient=chart["patient"], **fields)

        return {
            "odi_baseline": value(
                appointment=chart["esi"],
                instrument="odi",
                value=46,
                recorded_at=at(2, 10, 11),
                source="baseline",
            ),
            "pgic_check_in": value(
                appointment=chart["esi"],
                instrument="pgic",
                value=2,
                recorded_at=at(3, 16, 18, 30),
                source="check_in",
            ),
            "odi_clinic": value(instrument="odi", value=30, recorded_at=at(7, 1, 12), source="clinic"),
        }

    def test_every_resource_is_still_valid_r4(self, chart, instruments, nurse):
        body = api(nurse).get(everything_url(chart["patient"])).json()
        assert_valid_bundle(body)
        kinds = [e["resource"]["resourceType"] for e in body["entry"]]
        assert kinds.count("Observation") == 7 and body["total"] == 17
        ids = [o["id"] for o in resources(body, "Observation")]
        # After the pain scores, oldest first.
        assert ids[4:] == [
            f"instrument-score-{instruments[k].pk}" for k in ("odi_baseline", "pgic_check_in", "odi_clinic")
        ]

    def test_an_instrument_is_an_observation_with_a_local_code(self, chart, instruments, nurse):
        body = api(nurse).get(everything_url(chart["patient"])).json()
        observations = {o["id"]: o for o in resources(body, "Observation")}
        pgic = observations[f"instrument-score-{instruments['pgic_check_in'].pk}"]
        assert pgic["code"]["coding"] == [
            {
                "system": f"{BASE}/CodeSystem/outcome-instrument",
                "code": "pgic",
                "display": "Patient Global Impression of Change",
            }
        ]
        assert pgic["valueInteger"] == 2 and pgic["note"] == [{"text": "2 = Much improved"}]
        assert pgic["effectiveDateTime"] == "2026-03-16T22:30:00+00:00"
        assert pgic["partOf"] == [{"reference": f"Procedure/procedure-{chart['esi_record'].pk}"}]
        assert pgic["derivedFrom"] == [
            {"reference": f"QuestionnaireResponse/check-in-{chart['check_in'].pk}"}
        ]
        assert pgic["performer"] == [{"reference": f"Patient/patient-{chart['patient'].pk}"}]
        assert pgic["method"]["coding"][0]["system"] == f"{BASE}/CodeSystem/pain-score-source"
        baseline = observations[f"instrument-score-{instruments['odi_baseline'].pk}"]
        assert baseline["code"]["coding"][0]["code"] == "odi" and baseline["valueInteger"] == 46
        # Taken before the procedure it names, and without a procedure: part of none.
        assert "partOf" not in baseline and "note" not in baseline
        assert "partOf" not in observations[f"instrument-score-{instruments['odi_clinic'].pk}"]

    def test_without_their_permission_they_are_left_out_and_said_so(self, chart, instruments, nurse):
        from django.contrib.auth.models import Permission

        from procedures.roles import Role
        from tests.conftest import role_group

        role_group(Role.NURSE).permissions.remove(Permission.objects.get(codename="view_instrumentscore"))
        body = api(nurse).get(everything_url(chart["patient"])).json()
        assert_valid_bundle(body)
        assert len(resources(body, "Observation")) == 4  # the pain scores
        [outcome] = [e for e in body["entry"] if e["search"]["mode"] == "outcome"]
        assert "Observation (outcome instruments)" in outcome["resource"]["issue"][0]["diagnostics"]

    def test_the_number_of_queries_does_not_grow_with_them(self, chart, instruments, nurse):
        client = api(nurse)

        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(everything_url(chart["patient"])).status_code == 200
            return len(queries)

        count()  # the user's permissions are read once, then cached
        few = count()
        for day in range(1, 21):
            InstrumentScore.objects.create(
                patient=chart["patient"],
                instrument="pgic",
                value=3,
                recorded_at=at(8, day, 9),
                source="clinic",
            )
        assert count() == few


class TestMetadata:
    def test_it_is_a_public_r4_capability_statement(self):
        response = APIClient().get("/fhir/metadata")
        assert response.status_code == 200
        assert response["Content-Type"] == FHIR_JSON
        body = response.json()
        CapabilityStatement.parse_obj(body)
        assert_valid_r4(body)
        assert body["fhirVersion"] == "4.0.1"
        assert body["kind"] == "instance"
        assert "json" in body["format"]
        assert body["implementation"]["url"] == BASE
        [rest] = body["rest"]
        resources_by_type = {r["type"]: r for r in rest["resource"]}
        assert resources_by_type["Patient"]["operation"] == [
            {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}
        ]
        for kind in (
            "Practitioner",
            "Appointment",
            "Procedure",
            "MedicationStatement",
            "Observation",
            "QuestionnaireResponse",
        ):
            assert "interaction" not in resources_by_type[kind]
            assert "Read-only" in resources_by_type[kind]["documentation"]

    def test_a_bad_token_does_not_hide_it(self):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        assert client.get("/fhir/metadata").status_code == 200


def test_the_patient_page_links_to_the_export(client, nurse):
    patient = PatientFactory()
    client.force_login(nurse)
    page = client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert f'href="/fhir/Patient/patient-{patient.pk}/$everything"' in page


def test_the_openapi_schema_leaves_the_fhir_endpoints_out(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/fhir/" not in target.read_text()
