"""The pre-procedure safety API: the patient's medication list, the appointment detail's holds, fasting,
checklist and warnings, and the physician's and nurse's steps. Every refusal says why and changes nothing:
400 for bad input, 403 when only a physician may, 404 for an id that is not this appointment's, 409 when
the appointment or its plan does not allow it now."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from procedures.api.exceptions import NO_PLAN
from procedures.api.serializers import ClinicDateTimeField
from procedures.models import (
    AppointmentStatus,
    ChecklistItem,
    ChecklistKind,
    HoldPlan,
    HoldPlanLine,
    ItemState,
    Medication,
    PatientMedication,
    PlanStatus,
    SafetyOverride,
    SafetySettings,
)
from procedures.services.medications import (
    ALREADY_ON_LIST,
    ALREADY_STOPPED,
    DOSE_INTENT_NEEDED,
    INDICATION_NEEDED,
)
from procedures.services.protocol import protocol_seed
from procedures.services.safety import (
    CLOSED_APPOINTMENT,
    HOLD_HOURS_RANGE,
    INR_ABOVE_LIMIT,
    INR_NO_LIMIT,
    NO_SUCH_ITEM,
    NOTHING_TO_OVERRIDE,
    REASON_NEEDED,
    hold_plan_refresh,
)
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory
from tests.helpers import post_together

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def medications_url(patient_id: int) -> str:
    return f"/api/v1/patients/{patient_id}/medications/"


def detail_url(appointment) -> str:
    return f"{APPOINTMENTS}{appointment.pk}/"


def clinic_time(moment) -> str | None:
    return ClinicDateTimeField().to_representation(moment) if moment is not None else None


def add(client, patient, medication, **extra):
    return client.post(medications_url(patient.pk), {"medication": medication, **extra}, format="json")


def added(client, patient, medication, **extra) -> dict:
    response = add(client, patient, medication, **extra)
    assert response.status_code == 201, response.json()
    return response.json()


def upcoming(*, risk: str = "intermediate", sedation: bool = False, **patient_fields):
    """A scheduled appointment three weeks ahead, for a patient whose pain history needs no warning."""
    patient = PatientFactory(
        pain_started_on=date(2020, 1, 1), conservative_care_started_on=date(2020, 2, 1), **patient_fields
    )
    return AppointmentFactory(
        patient=patient,
        procedure_type=ProcedureTypeFactory(bleeding_risk=risk),
        start=timezone.now().replace(microsecond=0) + timedelta(days=21),
        sedation_planned=sedation,
    )


def line_of(appointment, drug: str) -> HoldPlanLine:
    return HoldPlan.objects.get(appointment=appointment).lines.get(medication__generic_name=drug)


def holds_by_drug(body: dict) -> dict[str, dict]:
    return {line["medication"]: line for line in body["holds"]}


def checklist_by_kind(body: dict) -> dict[str, dict]:
    return {item["kind"]: item for item in body["checklist"]}


class TestMedicationList:
    def test_it_adds_by_catalogue_id_and_names_who_added_it(self, frontdesk):
        patient = PatientFactory()
        warfarin = Medication.objects.get(generic_name="warfarin")
        body = added(api(frontdesk), patient, warfarin.pk, dose="5 mg once daily")
        assert body == {
            "id": body["id"],
            "medication": "warfarin",
            "medication_id": warfarin.pk,
            "drug_class": "vka",
            "indication": "",
            "dose_intent": "",
            "dose": "5 mg once daily",
            "added_at": body["added_at"],
            "stopped_at": None,
            "active": True,
        }
        entry = PatientMedication.objects.get(pk=body["id"])
        assert (entry.patient, entry.added_by) == (patient, frontdesk)

    @pytest.mark.parametrize("name", ["apixaban", "  Apixaban ", "APIXABAN"])
    def test_it_adds_by_generic_name_in_any_case(self, frontdesk, name):
        body = added(api(frontdesk), PatientFactory(), name)
        assert (body["medication"], body["drug_class"]) == ("apixaban", "doac")

    def test_a_digit_string_is_an_id(self, frontdesk):
        warfarin = Medication.objects.get(generic_name="warfarin")
        assert added(api(frontdesk), PatientFactory(), str(warfarin.pk))["medication"] == "warfarin"

    def test_aspirin_keeps_its_indication_and_enoxaparin_its_dose(self, frontdesk):
        patient = PatientFactory()
        assert added(api(frontdesk), patient, "aspirin", indication="secondary")["indication"] == "secondary"
        body = added(api(frontdesk), patient, "enoxaparin", dose_intent="prophylactic")
        assert body["dose_intent"] == "prophylactic"

    def test_aspirin_without_its_indication_is_400_naming_indication(self, frontdesk):
        patient = PatientFactory()
        response = add(api(frontdesk), patient, "aspirin")
        assert response.status_code == 400
        assert response.json() == {"indication": [INDICATION_NEEDED.format(drug="aspirin")]}
        assert not PatientMedication.objects.exists()

    def test_enoxaparin_without_its_dose_is_400_naming_dose_intent(self, frontdesk):
        response = add(api(frontdesk), PatientFactory(), "enoxaparin")
        assert response.status_code == 400
        assert response.json() == {"dose_intent": [DOSE_INTENT_NEEDED.format(drug="enoxaparin")]}

    @pytest.mark.parametrize(
        ("field", "value"), [("indication", "tertiary"), ("dose_intent", "lots"), ("indication", None)]
    )
    def test_an_unknown_indication_or_dose_is_400_naming_the_field(self, frontdesk, field, value):
        response = add(api(frontdesk), PatientFactory(), "aspirin", **{field: value})
        assert response.status_code == 400
        assert list(response.json()) == [field]
        assert not PatientMedication.objects.exists()

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("unobtainium", "There is no medication named “unobtainium” in the catalogue."),
            (999999, "There is no medication with id 999999 in the catalogue."),
            (2**70, f"There is no medication with id {2**70} in the catalogue."),
            (0, "There is no medication with id 0 in the catalogue."),
            (True, "medication must be a catalogue id or a generic name; got True."),
            (1.5, "medication must be a catalogue id or a generic name; got 1.5."),
            ("   ", "medication must be a catalogue id or a generic name; got '   '."),
            (None, "This field may not be null."),
        ],
    )
    def test_an_unknown_or_malformed_medication_is_400_naming_medication(self, frontdesk, value, message):
        response = add(api(frontdesk), PatientFactory(), value)
        assert response.status_code == 400
        assert response.json() == {"medication": [message]}

    def test_an_inactive_catalogue_drug_cannot_be_added(self, frontdesk):
        Medication.objects.filter(generic_name="ginkgo biloba").update(active=False)
        response = add(api(frontdesk), PatientFactory(), "ginkgo biloba")
        assert response.status_code == 400
        assert "medication" in response.json()

    def test_a_drug_already_on_the_list_is_409(self, frontdesk):
        patient = PatientFactory()
        added(api(frontdesk), patient, "warfarin")
        response = add(api(frontdesk), patient, "Warfarin")
        assert response.status_code == 409
        assert response.json() == {"detail": ALREADY_ON_LIST.format(drug="warfarin")}
        assert PatientMedication.objects.filter(patient=patient).count() == 1

    def test_the_list_shows_active_drugs_first_then_stopped_ones(self, frontdesk):
        patient = PatientFactory()
        client = api(frontdesk)
        naproxen = added(client, patient, "naproxen")
        added(client, patient, "warfarin")
        added(client, patient, "apixaban")
        client.post(f"{medications_url(patient.pk)}{naproxen['id']}/stop/")
        added(client, PatientFactory(), "warfarin")  # another patient's list

        def names(**params):
            response = client.get(medications_url(patient.pk), params)
            assert response.status_code == 200, response.json()
            return [(row["medication"], row["stopped_at"] is not None) for row in response.json()["results"]]

        assert names() == [("apixaban", False), ("warfarin", False), ("naproxen", True)]
        assert names(active="true") == [("apixaban", False), ("warfarin", False)]
        assert names(active="false") == [("naproxen", True)]

    def test_a_bad_active_filter_is_400_naming_it(self, frontdesk):
        response = api(frontdesk).get(medications_url(PatientFactory().pk), {"active": "maybe"})
        assert response.status_code == 400
        assert list(response.json()) == ["active"]

    def test_stop_keeps_the_entry_and_stopping_again_is_409(self, nurse):
        patient = PatientFactory()
        entry = added(api(nurse), patient, "clopidogrel")
        url = f"{medications_url(patient.pk)}{entry['id']}/stop/"
        response = api(nurse).post(url)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == entry["id"] and body["stopped_at"] is not None and body["active"] is False
        assert PatientMedication.objects.get(pk=entry["id"]).stopped_by == nurse
        again = api(nurse).post(url)
        assert again.status_code == 409
        assert again.json() == {"detail": ALREADY_STOPPED.format(drug="clopidogrel")}

    def test_a_stopped_drug_can_be_added_again(self, frontdesk):
        patient = PatientFactory()
        entry = added(api(frontdesk), patient, "warfarin")
        api(frontdesk).post(f"{medications_url(patient.pk)}{entry['id']}/stop/")
        assert added(api(frontdesk), patient, "warfarin")["id"] != entry["id"]

    def test_stopping_another_patients_entry_or_an_unknown_one_is_404(self, frontdesk):
        mine, theirs = PatientFactory(), PatientFactory()
        entry = added(api(frontdesk), theirs, "warfarin")
        for entry_id in (entry["id"], 999999, 2**70):
            response = api(frontdesk).post(f"{medications_url(mine.pk)}{entry_id}/stop/")
            assert response.status_code == 404
            assert response.json() == {"detail": "No medication with that id on this patient's list."}
        assert PatientMedication.objects.get(pk=entry["id"]).stopped_at is None

    @pytest.mark.parametrize("patient_id", [999999, 2**70])
    def test_an_unknown_patient_is_404(self, frontdesk, patient_id):
        client = api(frontdesk)
        for response in (
            client.get(medications_url(patient_id)),
            client.post(medications_url(patient_id), {"medication": "warfarin"}, format="json"),
        ):
            assert response.status_code == 404
            assert response.json() == {"detail": "No patient with that id."}

    def test_adding_a_drug_replans_the_upcoming_appointment(self, frontdesk):
        appointment = upcoming()
        hold_plan_refresh(appointment_id=appointment.pk)
        client = api(frontdesk)
        assert client.get(detail_url(appointment)).json()["holds"] == []
        entry = added(client, appointment.patient, "warfarin")
        assert list(holds_by_drug(client.get(detail_url(appointment)).json())) == ["warfarin"]
        client.post(f"{medications_url(appointment.patient_id)}{entry['id']}/stop/")
        assert client.get(detail_url(appointment)).json()["holds"] == []

    def test_the_token_caller_is_named_in_the_audit_log(self, frontdesk):
        body = added(token_client(frontdesk), PatientFactory(), "warfarin")
        entry = LogEntry.objects.get_for_object(PatientMedication.objects.get(pk=body["id"])).get(
            action=LogEntry.Action.CREATE
        )
        assert entry.actor == frontdesk


class TestAppointmentDetail:
    def test_warfarin_at_an_intermediate_risk_procedure_is_held_five_days(self, frontdesk):
        appointment = upcoming(risk="intermediate")
        added(api(frontdesk), appointment.patient, "warfarin")
        body = api(frontdesk).get(detail_url(appointment)).json()
        line = line_of(appointment, "warfarin")
        assert body["holds"] == [
            {
                "id": line.pk,
                "medication": "warfarin",
                "medication_id": line.medication_id,
                "patient_medication_id": line.patient_medication_id,
                "hold_hours": 120,
                "proposed_hold_hours": 120,
                "hold_kind": "days",
                "last_dose_by": clinic_time(line.last_dose_by),
                "last_dose_day": line.last_dose_day.isoformat(),
                "resume_after": clinic_time(appointment.end + timedelta(hours=6)),
                "restart_hours": 6,
                "requires_normal_inr": True,
                "needs_prescriber_clearance": False,
                "clearance_status": "not_needed",
                "clearance_note": "",
                "status": "proposed",
                "source": line.source,
                "evidence": "V",
                "override_reason": "",
                "overridden_by": None,
                "overridden_at": None,
                "patient_confirmed_at": None,
            }
        ]
        assert line.source
        local_start = timezone.localtime(appointment.start).date()
        assert line.last_dose_day == local_start - timedelta(days=6)
        assert body["hold_plan"] == {
            "risk_class": "intermediate",
            "base_risk_class": "intermediate",
            "risk_raised_because": "",
            "status": "proposed",
            "confirmed_by": None,
            "confirmed_at": None,
            "computed_at": body["hold_plan"]["computed_at"],
        }

    def test_a_patient_factor_raises_the_class_and_says_why(self, frontdesk):
        appointment = upcoming(risk="low", bleeding_disorder=True)
        added(api(frontdesk), appointment.patient, "warfarin")
        body = api(frontdesk).get(detail_url(appointment)).json()
        assert body["hold_plan"]["base_risk_class"] == "low"
        assert body["hold_plan"]["risk_class"] == "intermediate"
        assert body["hold_plan"]["risk_raised_because"] == "bleeding disorder"
        assert holds_by_drug(body)["warfarin"]["hold_hours"] == 120

    def test_a_shared_decision_shows_the_clearance_status(self, frontdesk):
        appointment = upcoming(risk="low")
        added(api(frontdesk), appointment.patient, "apixaban")
        line = holds_by_drug(api(frontdesk).get(detail_url(appointment)).json())["apixaban"]
        assert (line["hold_hours"], line["hold_kind"]) == (0, "shared")
        assert (line["needs_prescriber_clearance"], line["status"]) == (True, "pending")
        assert line["last_dose_by"] is None and line["resume_after"] is None

    def test_no_sedation_means_no_fasting(self, frontdesk):
        appointment = upcoming(sedation=False)
        assert api(frontdesk).get(detail_url(appointment)).json()["fasting"] is None

    def test_with_sedation_it_gives_the_fasting_times_and_the_escort_rule(self, frontdesk):
        appointment = upcoming(sedation=True)
        body = api(frontdesk).get(detail_url(appointment)).json()
        assert body["fasting"] == {
            "solids_until": clinic_time(appointment.start - timedelta(hours=6)),
            "fatty_food_until": clinic_time(appointment.start - timedelta(hours=8)),
            "clear_liquids_until": clinic_time(appointment.start - timedelta(hours=2)),
            "escort_required": True,
            "no_driving_until": clinic_time(appointment.end + timedelta(hours=24)),
            "source": "ASA preoperative fasting guideline 2017",
        }

    def test_the_checklist_lists_what_applies_to_this_patient(self, frontdesk):
        appointment = upcoming(sedation=True, diabetes=True, allergy_contrast=True)
        added(api(frontdesk), appointment.patient, "warfarin")
        checklist = checklist_by_kind(api(frontdesk).get(detail_url(appointment)).json())
        assert set(checklist) == {
            "consent",
            "allergies",
            "no_infection",
            "hold_plan",
            "holds_confirmed",
            "fasting",
            "escort",
            "inr",
            "glucose",
            "eligibility",
        }
        assert checklist["inr"] == {
            "kind": "inr",
            "label": "INR checked on the day",
            "required": True,
            "state": "open",
            "why": "warfarin",
            "value": None,
            "note": "",
            "done_by": None,
            "done_at": None,
        }
        assert checklist["allergies"]["why"] == "contrast allergy and a contrast procedure"

    def test_warnings_name_the_contrast_allergy_and_whether_a_physician_went_ahead(
        self, frontdesk, physician
    ):
        appointment = upcoming(allergy_contrast=True)
        hold_plan_refresh(appointment_id=appointment.pk)
        warning = {
            "code": "contrast_allergy",
            "text": "Contrast allergy recorded, and this procedure uses contrast.",
            "source": "patient record",
        }
        assert api(frontdesk).get(detail_url(appointment)).json()["warnings"] == [
            {**warning, "overridden": False}
        ]
        response = api(physician).post(
            f"{detail_url(appointment)}safety-override/",
            {"scope": "eligibility", "reason": "Premedicated per allergy protocol"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["warnings"] == [{**warning, "overridden": True}]
        assert checklist_by_kind(response.json())["eligibility"]["state"] == "done"

    def test_an_appointment_without_a_plan_shows_empty_safety(self, frontdesk):
        body = api(frontdesk).get(detail_url(AppointmentFactory())).json()
        assert (body["hold_plan"], body["holds"], body["checklist"]) == (None, [], [])

    def test_the_list_stays_lean(self, frontdesk):
        appointment = upcoming()
        added(api(frontdesk), appointment.patient, "warfarin")
        row = api(frontdesk).get(APPOINTMENTS).json()["results"][0]
        assert not {"holds", "hold_plan", "fasting", "checklist", "warnings"} & set(row)

    def test_the_detail_does_not_query_per_drug_or_item(self, frontdesk):
        def queries_for(drugs: list[str], **patient_fields) -> int:
            appointment = upcoming(sedation=True, **patient_fields)
            for drug in drugs:
                added(api(frontdesk), appointment.patient, drug)
            client = api(frontdesk)
            with CaptureQueriesContext(connection) as context:
                assert client.get(detail_url(appointment)).status_code == 200
            return len(context.captured_queries)

        one = queries_for(["warfarin"])
        many = queries_for(["warfarin", "apixaban", "naproxen", "sertraline"], diabetes=True)
        assert many == one


class TestHoldPlanSteps:
    @pytest.fixture
    def appointment(self, frontdesk):
        appointment = upcoming(risk="intermediate")
        added(api(frontdesk), appointment.patient, "warfarin")
        return appointment

    def test_a_physician_confirms_the_plan(self, appointment, physician):
        response = api(physician).post(f"{detail_url(appointment)}hold-plan/confirm/")
        assert response.status_code == 200
        body = response.json()
        assert body["hold_plan"]["status"] == "confirmed"
        assert body["hold_plan"]["confirmed_by"] == "Alex Lee"
        assert body["hold_plan"]["confirmed_at"] is not None
        assert holds_by_drug(body)["warfarin"]["status"] == "confirmed"
        assert checklist_by_kind(body)["hold_plan"]["state"] == "done"

    @pytest.mark.parametrize("role", ["nurse", "frontdesk"])
    def test_a_nurse_or_front_desk_cannot_confirm(self, appointment, cast, role):
        response = api(cast[role]).post(f"{detail_url(appointment)}hold-plan/confirm/")
        assert response.status_code == 403
        assert response.json() == {"detail": "Only a physician can confirm a hold plan."}
        assert HoldPlan.objects.get(appointment=appointment).status == PlanStatus.PROPOSED

    def test_a_drug_without_a_clinic_rule_needs_a_decision_first(self, appointment, frontdesk, physician):
        added(api(frontdesk), appointment.patient, "sertraline")
        response = api(physician).post(f"{detail_url(appointment)}hold-plan/confirm/")
        assert response.status_code == 409
        assert response.json()["detail"].startswith("Decide a hold for sertraline first")

    def test_a_physician_changes_a_hold_with_a_reason(self, appointment, physician):
        line = line_of(appointment, "warfarin")
        response = api(physician).post(
            f"{detail_url(appointment)}holds/{line.pk}/override/",
            {"hold_hours": 72, "reason": "INR reliably low; 3 days agreed with cardiology"},
            format="json",
        )
        assert response.status_code == 200
        held = holds_by_drug(response.json())["warfarin"]
        assert (held["hold_hours"], held["proposed_hold_hours"]) == (72, 120)
        assert held["status"] == "overridden"
        assert held["override_reason"] == "INR reliably low; 3 days agreed with cardiology"
        assert held["overridden_by"] == "Alex Lee"

    @pytest.mark.parametrize("data", [{"hold_hours": 48}, {"hold_hours": 48, "reason": "   "}])
    def test_a_change_without_a_reason_is_400(self, appointment, physician, data):
        line = line_of(appointment, "warfarin")
        response = api(physician).post(
            f"{detail_url(appointment)}holds/{line.pk}/override/", data, format="json"
        )
        assert response.status_code == 400
        assert response.json() == {"detail": REASON_NEEDED.format(action="change the proposed hold")}
        line.refresh_from_db()
        assert line.override_hold_hours is None

    @pytest.mark.parametrize("hours", [-1, 721, 2**70])
    def test_a_hold_outside_0_to_720_hours_is_400(self, appointment, physician, hours):
        line = line_of(appointment, "warfarin")
        response = api(physician).post(
            f"{detail_url(appointment)}holds/{line.pk}/override/",
            {"hold_hours": hours, "reason": "x"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"detail": HOLD_HOURS_RANGE}

    def test_a_hold_that_is_not_a_number_is_400_naming_it(self, appointment, physician):
        line = line_of(appointment, "warfarin")
        response = api(physician).post(
            f"{detail_url(appointment)}holds/{line.pk}/override/",
            {"hold_hours": "two days", "reason": "x"},
            format="json",
        )
        assert response.status_code == 400
        assert list(response.json()) == ["hold_hours"]

    def test_a_nurse_cannot_change_a_hold(self, appointment, nurse):
        line = line_of(appointment, "warfarin")
        response = api(nurse).post(
            f"{detail_url(appointment)}holds/{line.pk}/override/",
            {"hold_hours": 0, "reason": "Patient asked"},
            format="json",
        )
        assert response.status_code == 403
        assert response.json() == {"detail": "Only a physician can change a hold."}

    def test_another_appointments_line_or_an_unknown_one_is_404(self, appointment, frontdesk, physician):
        other = upcoming()
        added(api(frontdesk), other.patient, "warfarin")
        foreign = line_of(other, "warfarin")
        for line_id in (foreign.pk, 999999, 2**70):
            for suffix, data in (
                ("override", {"hold_hours": 0, "reason": "x"}),
                ("clearance", {"status": "cleared"}),
            ):
                response = api(physician).post(
                    f"{detail_url(appointment)}holds/{line_id}/{suffix}/", data, format="json"
                )
                assert response.status_code == 404, (line_id, suffix)
                assert response.json() == {"detail": "No hold line with that id on this appointment."}
        foreign.refresh_from_db()
        assert foreign.override_hold_hours is None

    def test_staff_record_the_prescribers_clearance(self, frontdesk, nurse):
        appointment = upcoming(risk="low")
        added(api(frontdesk), appointment.patient, "apixaban")
        line = line_of(appointment, "apixaban")
        response = api(nurse).post(
            f"{detail_url(appointment)}holds/{line.pk}/clearance/",
            {"status": "cleared", "note": "Dr Cardio: hold 2 days"},
            format="json",
        )
        assert response.status_code == 200
        held = holds_by_drug(response.json())["apixaban"]
        assert (held["status"], held["clearance_note"]) == ("cleared", "Dr Cardio: hold 2 days")
        assert checklist_by_kind(response.json())["clearances"]["state"] == "done"

    def test_an_unknown_clearance_answer_is_400_naming_status(self, appointment, nurse):
        line = line_of(appointment, "warfarin")
        response = api(nurse).post(
            f"{detail_url(appointment)}holds/{line.pk}/clearance/", {"status": "not_needed"}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["status"]

    def test_a_clearance_for_a_drug_that_needs_none_is_409(self, appointment, nurse):
        line = line_of(appointment, "warfarin")
        response = api(nurse).post(
            f"{detail_url(appointment)}holds/{line.pk}/clearance/", {"status": "cleared"}, format="json"
        )
        assert response.status_code == 409
        assert response.json() == {"detail": "This medication does not need the prescriber's clearance."}

    def test_staff_record_that_the_patient_will_follow_the_holds(self, appointment, nurse):
        response = api(nurse).post(f"{detail_url(appointment)}holds/patient-confirmed/")
        assert response.status_code == 200
        assert holds_by_drug(response.json())["warfarin"]["patient_confirmed_at"] is not None
        assert checklist_by_kind(response.json())["holds_confirmed"]["state"] == "done"

    def test_a_closed_appointments_plan_cannot_change(self, appointment, physician):
        type(appointment).objects.filter(pk=appointment.pk).update(
            status=AppointmentStatus.CANCELLED, cancel_reason="Patient unwell"
        )
        response = api(physician).post(f"{detail_url(appointment)}hold-plan/confirm/")
        assert response.status_code == 409
        assert response.json() == {"detail": CLOSED_APPOINTMENT.format(status="cancelled")}

    def test_an_appointment_without_a_plan_is_409(self, physician):
        response = api(physician).post(f"{detail_url(AppointmentFactory())}hold-plan/confirm/")
        assert response.status_code == 409
        assert response.json() == {"detail": NO_PLAN}

    def test_an_unknown_appointment_is_404(self, physician):
        response = api(physician).post(f"{APPOINTMENTS}999999/hold-plan/confirm/")
        assert response.status_code == 404
        assert response.json() == {"detail": "No appointment with that id."}

    def test_a_malformed_json_body_is_400(self, appointment, physician):
        line = line_of(appointment, "warfarin")
        response = api(physician).post(
            f"{detail_url(appointment)}holds/{line.pk}/override/",
            '{"hold_hours": 48, "reason": ',
            content_type="application/json",
        )
        assert response.status_code == 400
        assert response.json()["detail"].startswith("JSON parse error")
        line.refresh_from_db()
        assert line.override_hold_hours is None


class TestChecklist:
    @pytest.fixture
    def appointment(self, frontdesk):
        appointment = upcoming(sedation=True, diabetes=True)
        added(api(frontdesk), appointment.patient, "warfarin")
        return appointment

    def mark(self, user, appointment, kind, **data):
        return api(user).post(f"{detail_url(appointment)}checklist/{kind}/", data, format="json")

    def test_a_nurse_ticks_an_item_and_can_reopen_it(self, appointment, nurse):
        response = self.mark(nurse, appointment, "consent", note="Signed at the desk")
        assert response.status_code == 200
        item = checklist_by_kind(response.json())["consent"]
        assert (item["state"], item["note"], item["done_by"]) == ("done", "Signed at the desk", "Sam Ortiz")
        assert item["done_at"] is not None
        reopened = checklist_by_kind(self.mark(nurse, appointment, "consent", done=False).json())["consent"]
        assert (reopened["state"], reopened["done_by"]) == ("open", None)

    def test_an_inr_within_the_clinics_limit_ticks_the_item(self, appointment, nurse):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        response = self.mark(nurse, appointment, "inr", value="1.2")
        assert response.status_code == 200
        assert checklist_by_kind(response.json())["inr"] | {"done_at": None} == {
            "kind": "inr",
            "label": "INR checked on the day",
            "required": True,
            "state": "done",
            "why": "warfarin",
            "value": "1.2",
            "note": "",
            "done_by": "Sam Ortiz",
            "done_at": None,
        }

    def test_an_inr_above_the_clinics_limit_is_400_and_the_item_stays_open(self, appointment, nurse):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        response = self.mark(nurse, appointment, "inr", value="2.3")
        assert response.status_code == 400
        assert response.json() == {
            "detail": INR_ABOVE_LIMIT.format(value=Decimal("2.3"), limit=Decimal("1.5"))
        }
        assert ChecklistItem.objects.get(appointment=appointment, kind="inr").state == ItemState.OPEN

    def test_without_a_clinic_limit_only_a_physician_accepts_an_inr(self, appointment, nurse, physician):
        response = self.mark(nurse, appointment, "inr", value="1.2")
        assert response.status_code == 403
        assert response.json() == {"detail": INR_NO_LIMIT}
        assert self.mark(physician, appointment, "inr", value="1.2").status_code == 200

    @pytest.mark.parametrize(
        ("kind", "data", "message"),
        [
            ("inr", {}, "Enter the INR result."),
            ("glucose", {"value": "1200"}, "Enter the blood glucose in mg/dL (20–800)."),
        ],
    )
    def test_a_missing_or_impossible_value_is_400(self, appointment, nurse, kind, data, message):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        response = self.mark(nurse, appointment, kind, **data)
        assert response.status_code == 400
        assert response.json() == {"detail": message}

    def test_a_malformed_value_is_400_naming_value(self, appointment, nurse):
        response = self.mark(nurse, appointment, "glucose", value="high")
        assert response.status_code == 400
        assert list(response.json()) == ["value"]

    def test_items_the_app_derives_are_not_ticked_by_hand(self, appointment, nurse):
        response = self.mark(nurse, appointment, "hold_plan")
        assert response.status_code == 400
        assert "not by hand" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("kind", "label"), [("pregnancy", ChecklistKind.PREGNANCY.label), ("bogus", "bogus")]
    )
    def test_an_item_this_appointment_does_not_have_is_404(self, appointment, nurse, kind, label):
        response = self.mark(nurse, appointment, kind)
        assert response.status_code == 404
        assert response.json() == {"detail": NO_SUCH_ITEM.format(kind=label)}

    def test_a_physician_overrides_the_open_checklist_with_a_reason(self, appointment, nurse, physician):
        url = f"{detail_url(appointment)}safety-override/"
        refused = api(nurse).post(url, {"scope": "checklist", "reason": "Running late"}, format="json")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Only a physician can override a safety check."}
        no_reason = api(physician).post(url, {"scope": "checklist"}, format="json")
        assert no_reason.status_code == 400
        assert no_reason.json() == {"detail": REASON_NEEDED.format(action="go ahead")}
        assert not SafetyOverride.objects.exists()
        response = api(physician).post(
            url, {"scope": "checklist", "reason": "Emergency rescue block"}, format="json"
        )
        assert response.status_code == 200
        codes = set(SafetyOverride.objects.filter(appointment=appointment).values_list("code", flat=True))
        assert {"consent", "inr", "fasting"} <= codes

    def test_an_unknown_scope_is_400_naming_scope(self, appointment, physician):
        response = api(physician).post(
            f"{detail_url(appointment)}safety-override/", {"scope": "all", "reason": "x"}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["scope"]

    def test_overriding_eligibility_with_no_warning_is_409(self, appointment, physician):
        response = api(physician).post(
            f"{detail_url(appointment)}safety-override/",
            {"scope": "eligibility", "reason": "Just in case"},
            format="json",
        )
        assert response.status_code == 409
        assert response.json() == {"detail": NOTHING_TO_OVERRIDE}


class TestPermissions:
    def endpoints(self, appointment, line_id: int, entry_id: int) -> list[tuple[str, str, dict]]:
        appt = detail_url(appointment)
        meds = medications_url(appointment.patient_id)
        return [
            ("get", meds, {}),
            ("post", meds, {"medication": "apixaban"}),
            ("post", f"{meds}{entry_id}/stop/", {}),
            ("get", appt, {}),
            ("post", f"{appt}hold-plan/confirm/", {}),
            ("post", f"{appt}holds/{line_id}/override/", {"hold_hours": 0, "reason": "x"}),
            ("post", f"{appt}holds/{line_id}/clearance/", {"status": "cleared"}),
            ("post", f"{appt}holds/patient-confirmed/", {}),
            ("post", f"{appt}checklist/consent/", {}),
            ("post", f"{appt}safety-override/", {"scope": "checklist", "reason": "x"}),
        ]

    @pytest.fixture
    def appointment(self, frontdesk):
        appointment = upcoming(risk="low")
        entry = added(api(frontdesk), appointment.patient, "warfarin")
        return appointment, line_of(appointment, "warfarin").pk, entry["id"]

    def assert_nothing_changed(self, appointment):
        assert PatientMedication.objects.filter(patient=appointment.patient).count() == 1
        assert PatientMedication.objects.get(patient=appointment.patient).stopped_at is None
        assert HoldPlan.objects.get(appointment=appointment).status == PlanStatus.PROPOSED
        assert not ChecklistItem.objects.filter(appointment=appointment, state=ItemState.DONE).exists()
        assert not SafetyOverride.objects.exists()

    def test_anonymous_is_401_everywhere(self, appointment):
        appointment, line_id, entry_id = appointment
        for method, url, data in self.endpoints(appointment, line_id, entry_id):
            response = getattr(APIClient(), method)(url, data, format="json")
            assert response.status_code == 401, url
        self.assert_nothing_changed(appointment)

    def test_a_user_without_a_role_is_403_everywhere(self, appointment, outsider):
        appointment, line_id, entry_id = appointment
        for method, url, data in self.endpoints(appointment, line_id, entry_id):
            response = getattr(api(outsider), method)(url, data, format="json")
            assert response.status_code == 403, url
        # No probing: an unknown patient or appointment is 403 too, not 404.
        assert api(outsider).get(medications_url(999999)).status_code == 403
        assert api(outsider).post(f"{APPOINTMENTS}999999/hold-plan/confirm/").status_code == 403
        self.assert_nothing_changed(appointment)

    def test_the_medication_permissions_are_checked_per_action(self, appointment, nurse):
        appointment, _, entry_id = appointment
        group = nurse.groups.get()
        for codename, method, url, data in [
            ("view_patientmedication", "get", medications_url(appointment.patient_id), {}),
            (
                "add_patientmedication",
                "post",
                medications_url(appointment.patient_id),
                {"medication": "apixaban"},
            ),
            (
                "change_patientmedication",
                "post",
                f"{medications_url(appointment.patient_id)}{entry_id}/stop/",
                {},
            ),
        ]:
            permission = group.permissions.get(codename=codename)
            group.permissions.remove(permission)
            user = type(nurse).objects.get(pk=nurse.pk)  # a fresh permission cache
            assert getattr(api(user), method)(url, data, format="json").status_code == 403, codename
            group.permissions.add(permission)
        self.assert_nothing_changed(appointment)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_drug_added_twice_at_once_is_on_the_list_once(live_server, cast):
    """Two staff add warfarin for the same patient at the same instant: one 201, one 409, one entry."""
    protocol_seed()  # a transactional test starts from an emptied database
    appointment = upcoming()
    token = Token.objects.create(user=cast["frontdesk"]).key
    results = post_together(
        live_server, token, medications_url(appointment.patient_id), [{"medication": "warfarin"}] * 2
    )
    assert sorted(status for status, _ in results) == [201, 409], results
    assert {"detail": ALREADY_ON_LIST.format(drug="warfarin")} in [body for _, body in results]
    assert PatientMedication.objects.filter(patient=appointment.patient).count() == 1
    assert HoldPlan.objects.get(appointment=appointment).lines.count() == 1
