"""The day-of API: check-in, start, finish, observations, discharge and the post-block diary, with the same
rules as the pages. Every refusal says why and changes nothing: 400 for bad input (a time in the future, a
date of birth that does not match), 409 when the appointment is not at that step or the checklist gate is
open, 403 when the role may not."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from procedures.api.views import NO_RECORD_YET
from procedures.models import (
    AppointmentStatus,
    BlockDiaryEntry,
    Discharge,
    ProcedureRecord,
    SafetyOverride,
    SteroidDose,
    SteroidProduct,
    VitalsEntry,
)
from procedures.services.dayof import (
    DIARY_BEFORE_END,
    IDENTITY_MISMATCH,
    NO_FREE_BAY,
    NO_VITALS,
    NOT_A_TIMEPOINT,
    NOT_STATUS,
    appointment_check_in,
    procedure_finish,
    procedure_start,
)
from procedures.services.safety import GATE_OPEN, hold_plan_refresh, safety_override
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory, RecoveryBayFactory

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
BOARD = "/api/v1/recovery-board/"
DOB = date(1950, 4, 2)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def url(appointment, step: str) -> str:
    return f"{APPOINTMENTS}{appointment.pk}/{step}/"


def ago(minutes: float) -> str:
    return (timezone.now() - timedelta(minutes=minutes)).isoformat()


VITALS = {"systolic": 128, "diastolic": 78, "heart_rate": 72, "spo2": 97, "pain": 2}
CRITERIA = {"vitals_stable": True, "walks_safely": True, "pain_controlled": True}


@pytest.fixture
def appt(physician):
    """A confirmed transforaminal ESI this morning, with its hold plan and checklist as booking makes them."""
    now = timezone.now()
    appointment = AppointmentFactory(
        start=now - timedelta(minutes=70),
        end=now - timedelta(minutes=40),
        room_until=now - timedelta(minutes=30),
        monitoring_until=now - timedelta(minutes=25),
        recovery_bay=RecoveryBayFactory(name="Bay A"),
        status=AppointmentStatus.CONFIRMED,
        patient=PatientFactory(first_name="Ada", last_name="Quinn", date_of_birth=DOB),
        procedure_type=ProcedureTypeFactory(
            name="Lumbar TFESI", monitoring_minutes=15, monitoring_minutes_sedated=30, uses_steroid=True
        ),
    )
    hold_plan_refresh(appointment_id=appointment.pk)  # what booking does
    return appointment


def checked_in(appt, nurse, physician, minutes_ago=60):
    """Checked in, and the checklist gate overridden by a physician (as the tests of the services do)."""
    appointment_check_in(
        appointment_id=appt.pk,
        actor=nurse,
        name_confirmed=True,
        date_of_birth=DOB,
        at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    safety_override(
        appointment_id=appt.pk, scope=SafetyOverride.Scope.CHECKLIST, actor=physician, reason="API tests"
    )
    return appt


def in_procedure(appt, nurse, physician, minutes_ago=55):
    checked_in(appt, nurse, physician, minutes_ago=minutes_ago + 5)
    procedure_start(
        appointment_id=appt.pk, actor=physician, at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return appt


def in_recovery(appt, nurse, physician, ended_minutes_ago=30):
    in_procedure(appt, nurse, physician, minutes_ago=ended_minutes_ago + 25)
    procedure_finish(
        appointment_id=appt.pk,
        actor=physician,
        ended_at=timezone.now() - timedelta(minutes=ended_minutes_ago),
    )
    return appt


def status_of(appt) -> str:
    appt.refresh_from_db()
    return appt.status


class TestTheWholeDay:
    def test_a_patient_walks_from_check_in_to_discharge(self, appt, nurse, physician):
        """The nurse checks in, the physician overrides the open checklist and starts, charts the record
        with a steroid above its ceiling, the nurse charts observations and discharges; the board and the
        record follow every step."""
        nursing, doctor = api(nurse), api(physician)

        response = nursing.post(
            url(appt, "check-in"),
            {"name_confirmed": True, "date_of_birth": "1950-04-02", "at": ago(60)},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "checked_in"
        assert "checklist" in response.json()  # the appointment detail

        override = doctor.post(
            url(appt, "safety-override"), {"scope": "checklist", "reason": "Consent on paper"}, format="json"
        )
        assert override.status_code == 200, override.json()

        response = doctor.post(url(appt, "start"), {"at": ago(55), "baseline_pain": 7}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "in_procedure"

        response = doctor.post(
            url(appt, "finish"),
            {
                "ended_at": ago(30),
                "levels": "L4-L5",
                "side": "left",
                "approach": "transforaminal",
                "imaging_used": "fluoroscopy",
                "contrast_ml": "1.5",
                "local_anaesthetic": "lidocaine 1% 3 mL",
                "steroids": [{"steroid": "Dexamethasone", "dose_mg": 20}],
            },
            format="json",
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["status"] == "in_recovery" and body["recovery_bay"] == appt.recovery_bay_id
        [warning] = body["record_warnings"]
        assert "dexamethasone 20" in warning and "above the per-session ceiling of 15" in warning
        assert isinstance(body["warnings"], list)  # the eligibility warnings stay as they are

        [row] = nursing.get(BOARD).json()["results"]
        assert (row["appointment"], row["patient"], row["bay"]) == (appt.pk, "Ada Quinn", "Bay A")
        assert row["procedure"] == "Lumbar TFESI"
        assert row["seconds_left"] == 0 and row["last_vitals"] is None  # 15 minutes are over
        assert row["vitals_overdue"] is True
        assert any(alert.startswith("Observations overdue") for alert in row["alerts"])

        for minutes in (25, 5):
            response = nursing.post(url(appt, "vitals"), {**VITALS, "taken_at": ago(minutes)}, format="json")
            assert response.status_code == 200, response.json()
        [row] = nursing.get(BOARD).json()["results"]
        assert row["vitals_overdue"] is False and row["last_vitals"]["systolic"] == 128

        record = nursing.get(url(appt, "record")).json()
        assert (record["baseline_pain"], record["levels"], record["side"]) == (7, "L4-L5", "left")
        assert record["contrast_ml"] == "1.5"
        assert record["recorded_by"] == "Alex Lee"
        assert [(d["steroid"], d["dose_mg"]) for d in record["steroid_doses"]] == [("dexamethasone", "20.00")]
        assert [v["recorded_by"] for v in record["vitals"]] == ["Sam Ortiz", "Sam Ortiz"]
        assert record["discharge"] is None and record["earliest_discharge"]

        response = nursing.post(url(appt, "discharge"), CRITERIA, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "discharged"
        discharge = nursing.get(url(appt, "record")).json()["discharge"]
        assert discharge["by"] == "Sam Ortiz" and discharge["early_reason"] == ""
        assert nursing.get(BOARD).json()["results"] == []
        transitions = list(appt.transitions.values_list("to_status", "by__username"))
        assert transitions == [
            ("checked_in", "nurse"),
            ("in_procedure", "physician"),
            ("in_recovery", "physician"),
            ("discharged", "nurse"),
        ]

    def test_the_token_caller_is_named_in_the_audit_log(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        response = token_client(nurse).post(
            url(appt, "vitals"), {**VITALS, "taken_at": ago(2)}, format="json"
        )
        assert response.status_code == 200, response.json()
        entry = LogEntry.objects.get_for_object(VitalsEntry.objects.get()).get(action=LogEntry.Action.CREATE)
        assert entry.actor == nurse

    def test_a_steroid_can_be_named_by_id_and_times_default_to_now(self, appt, nurse, physician):
        in_procedure(appt, nurse, physician, minutes_ago=10)
        steroid = SteroidProduct.objects.get(name="dexamethasone")
        response = api(physician).post(
            url(appt, "finish"), {"steroids": [{"steroid": steroid.pk, "dose_mg": "8"}]}, format="json"
        )
        assert response.status_code == 200, response.json()
        assert response.json()["record_warnings"] == []
        record = ProcedureRecord.objects.get(appointment=appt)
        assert abs((record.ended_at - timezone.now()).total_seconds()) < 60
        assert SteroidDose.objects.get().dose_mg == Decimal("8")


class TestCheckIn:
    def test_a_wrong_date_of_birth_is_400_and_nothing_changes(self, appt, nurse):
        response = api(nurse).post(
            url(appt, "check-in"), {"name_confirmed": True, "date_of_birth": "1950-02-04"}, format="json"
        )
        assert response.status_code == 400
        assert response.json() == {"detail": IDENTITY_MISMATCH}
        assert status_of(appt) == AppointmentStatus.CONFIRMED

    def test_the_name_must_be_confirmed(self, appt, nurse):
        response = api(nurse).post(url(appt, "check-in"), {"date_of_birth": "1950-04-02"}, format="json")
        assert response.status_code == 400
        assert "full name" in response.json()["detail"]
        assert status_of(appt) == AppointmentStatus.CONFIRMED

    @pytest.mark.parametrize(
        ("at", "message"),
        [
            ("2026-03-02T09:00:00", "at must include a time zone offset"),
            ("half past nine", "at must be an ISO 8601 date and time with an offset"),
        ],
    )
    def test_a_naive_or_malformed_time_is_400_naming_the_field(self, appt, nurse, at, message):
        response = api(nurse).post(
            url(appt, "check-in"),
            {"name_confirmed": True, "date_of_birth": "1950-04-02", "at": at},
            format="json",
        )
        assert response.status_code == 400
        assert list(response.json()) == ["at"] and message in response.json()["at"][0]
        assert status_of(appt) == AppointmentStatus.CONFIRMED

    def test_a_check_in_in_the_future_is_400(self, appt, nurse):
        response = api(nurse).post(
            url(appt, "check-in"),
            {"name_confirmed": True, "date_of_birth": "1950-04-02", "at": ago(-30)},
            format="json",
        )
        assert response.status_code == 400
        assert "is in the future" in response.json()["detail"]

    def test_checking_in_twice_is_409(self, appt, nurse, physician):
        checked_in(appt, nurse, physician)
        response = api(nurse).post(
            url(appt, "check-in"), {"name_confirmed": True, "date_of_birth": "1950-04-02"}, format="json"
        )
        assert response.status_code == 409
        assert response.json() == {"detail": NOT_STATUS.format(status="checked in", action="checking in")}

    def test_malformed_json_is_400(self, appt, nurse):
        response = api(nurse).post(
            url(appt, "check-in"), data='{"name_confirmed": true,', content_type="application/json"
        )
        assert response.status_code == 400
        assert "JSON parse error" in response.json()["detail"]
        assert status_of(appt) == AppointmentStatus.CONFIRMED

    def test_an_unknown_appointment_is_404(self, nurse):
        response = api(nurse).post(
            f"{APPOINTMENTS}999999/check-in/", {"name_confirmed": True, "date_of_birth": "1950-04-02"}
        )
        assert response.status_code == 404


class TestStart:
    def test_an_open_checklist_is_409_naming_the_items(self, appt, nurse, physician):
        appointment_check_in(appointment_id=appt.pk, actor=nurse, name_confirmed=True, date_of_birth=DOB)
        response = api(physician).post(url(appt, "start"), {}, format="json")
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert detail.startswith(GATE_OPEN.split("{")[0]) and "consent form signed" in detail
        assert status_of(appt) == AppointmentStatus.CHECKED_IN
        assert not ProcedureRecord.objects.exists()

    def test_ticking_the_items_opens_the_gate(self, appt, nurse, physician):
        appointment_check_in(appointment_id=appt.pk, actor=nurse, name_confirmed=True, date_of_birth=DOB)
        doctor = api(physician)
        for item in appt.checklist.filter(required=True, state="open"):
            body = (
                {"value": "1.0"} if item.kind == "inr" else {"value": "110"} if item.kind == "glucose" else {}
            )
            if item.kind in ("hold_plan", "eligibility", "holds_confirmed", "clearances"):
                continue  # ticked by the app from the plan
            response = doctor.post(url(appt, f"checklist/{item.kind}"), body, format="json")
            assert response.status_code == 200, (item.kind, response.json())
        confirm = doctor.post(url(appt, "hold-plan/confirm"), {}, format="json")
        assert confirm.status_code == 200, confirm.json()
        reviewed = doctor.post(
            url(appt, "safety-override"),
            {"scope": "eligibility", "reason": "Pain history confirmed in clinic"},
            format="json",
        )
        assert reviewed.status_code == 200, reviewed.json()
        assert not SafetyOverride.objects.filter(scope=SafetyOverride.Scope.CHECKLIST).exists()
        response = doctor.post(url(appt, "start"), {"baseline_pain": 6}, format="json")
        assert response.status_code == 200, response.json()
        assert ProcedureRecord.objects.get(appointment=appt).baseline_pain == 6

    def test_a_start_before_check_in_is_409(self, appt, physician):
        response = api(physician).post(url(appt, "start"), {}, format="json")
        assert response.status_code == 409
        assert response.json()["detail"] == NOT_STATUS.format(
            status="confirmed", action="starting the procedure"
        )

    @pytest.mark.parametrize("pain", [11, -1, "seven"])
    def test_a_baseline_pain_out_of_range_is_400(self, appt, nurse, physician, pain):
        checked_in(appt, nurse, physician)
        response = api(physician).post(url(appt, "start"), {"baseline_pain": pain}, format="json")
        assert response.status_code == 400
        assert status_of(appt) == AppointmentStatus.CHECKED_IN


class TestFinish:
    def test_finishing_before_the_start_is_400(self, appt, nurse, physician):
        in_procedure(appt, nurse, physician, minutes_ago=20)
        response = api(physician).post(url(appt, "finish"), {"ended_at": ago(25)}, format="json")
        assert response.status_code == 400
        assert "before the start" in response.json()["detail"]
        assert status_of(appt) == AppointmentStatus.IN_PROCEDURE
        assert ProcedureRecord.objects.get(appointment=appt).ended_at is None

    def test_finishing_a_procedure_not_started_is_409(self, appt, nurse, physician):
        checked_in(appt, nurse, physician)
        response = api(physician).post(url(appt, "finish"), {}, format="json")
        assert response.status_code == 409
        assert response.json()["detail"] == NOT_STATUS.format(
            status="checked in", action="finishing the procedure"
        )

    def test_a_nurse_may_not_finish(self, appt, nurse, physician):
        in_procedure(appt, nurse, physician)
        response = api(nurse).post(url(appt, "finish"), {}, format="json")
        assert response.status_code == 403
        assert status_of(appt) == AppointmentStatus.IN_PROCEDURE

    @pytest.mark.parametrize("steroid", ["unobtainasone", 999999, True, ""])
    def test_an_unknown_steroid_is_400_naming_steroids(self, appt, nurse, physician, steroid):
        in_procedure(appt, nurse, physician)
        response = api(physician).post(
            url(appt, "finish"), {"steroids": [{"steroid": steroid, "dose_mg": 4}]}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["steroids"]
        assert status_of(appt) == AppointmentStatus.IN_PROCEDURE and not SteroidDose.objects.exists()

    def test_a_zero_dose_is_400_and_nothing_is_charted(self, appt, nurse, physician):
        in_procedure(appt, nurse, physician)
        response = api(physician).post(
            url(appt, "finish"),
            {"levels": "L5-S1", "steroids": [{"steroid": "dexamethasone", "dose_mg": 0}]},
            format="json",
        )
        assert response.status_code == 400
        assert "dose in mg" in response.json()["detail"]
        assert ProcedureRecord.objects.get(appointment=appt).levels == ""

    def test_negative_contrast_is_400_naming_the_field(self, appt, nurse, physician):
        in_procedure(appt, nurse, physician)
        response = api(physician).post(url(appt, "finish"), {"contrast_ml": -1}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["contrast_ml"]

    def test_a_full_recovery_area_is_409(self, appt, nurse, physician):
        other = AppointmentFactory(status=AppointmentStatus.IN_RECOVERY, recovery_bay=appt.recovery_bay)
        ProcedureRecord.objects.create(
            appointment=other,
            started_at=timezone.now() - timedelta(hours=1),
            ended_at=timezone.now() - timedelta(minutes=30),
        )
        in_procedure(appt, nurse, physician)
        response = api(physician).post(url(appt, "finish"), {"ended_at": ago(20)}, format="json")
        assert response.status_code == 409
        assert response.json() == {"detail": NO_FREE_BAY}
        assert status_of(appt) == AppointmentStatus.IN_PROCEDURE


class TestRecovery:
    def test_vitals_in_the_future_are_400(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        response = api(nurse).post(url(appt, "vitals"), {**VITALS, "taken_at": ago(-10)}, format="json")
        assert response.status_code == 400
        assert "in the future" in response.json()["detail"]
        assert not VitalsEntry.objects.exists()

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"taken_at": -40}, "before the end of the procedure"),
            ({"systolic": 80, "diastolic": 90}, "lower number must be below"),
            ({"pain": 11}, "0 to 10"),
            ({"spo2": 30}, "SpO₂ 30 is outside 50–100"),
        ],
    )
    def test_impossible_vitals_are_400(self, appt, nurse, physician, overrides, message):
        in_recovery(appt, nurse, physician)
        if "taken_at" in overrides:  # minutes from now, resolved when the test runs
            overrides = {**overrides, "taken_at": ago(-overrides["taken_at"])}
        response = api(nurse).post(url(appt, "vitals"), {**VITALS, **overrides}, format="json")
        assert response.status_code == 400
        assert message in response.json()["detail"]
        assert not VitalsEntry.objects.exists()

    def test_a_naive_taken_at_is_400_naming_the_field(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        naive = timezone.localtime().replace(tzinfo=None).isoformat()
        response = api(nurse).post(url(appt, "vitals"), {**VITALS, "taken_at": naive}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["taken_at"]

    def test_vitals_before_recovery_are_409(self, appt, nurse, physician):
        in_procedure(appt, nurse, physician)
        response = api(nurse).post(url(appt, "vitals"), VITALS, format="json")
        assert response.status_code == 409

    def test_the_board_counts_down_to_the_earliest_discharge(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician, ended_minutes_ago=3)
        body = api(nurse).get(BOARD).json()
        [row] = body["results"]
        assert row["appointment"] == appt.pk and row["patient"] == "Ada Quinn"
        assert 11 * 60 < row["seconds_left"] <= 12 * 60  # 15 minutes from an end 3 minutes ago
        assert row["vitals_overdue"] is False and row["discharge_overdue"] is False
        assert row["earliest_discharge"] and row["vitals_due_at"] and row["ended_at"]
        assert "Bay A" not in [bay["name"] for bay in body["free_bays"]]
        assert body["now"]

    def test_new_numbness_is_an_alert_on_the_board(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician, ended_minutes_ago=3)
        response = api(nurse).post(
            url(appt, "vitals"), {**VITALS, "numbness": "new", "taken_at": ago(1)}, format="json"
        )
        assert response.status_code == 200
        [row] = api(nurse).get(BOARD).json()["results"]
        assert "New numbness or weakness: tell the physician" in row["alerts"]


class TestDischarge:
    def test_discharge_before_the_minimum_time_needs_a_reason(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician, ended_minutes_ago=5)
        api(nurse).post(url(appt, "vitals"), {**VITALS, "taken_at": ago(1)}, format="json")
        response = api(nurse).post(url(appt, "discharge"), CRITERIA, format="json")
        assert response.status_code == 400
        assert "minimum observation time ends at" in response.json()["detail"]
        assert status_of(appt) == AppointmentStatus.IN_RECOVERY and not Discharge.objects.exists()

        reason = "Trigger point only; walking well"
        response = api(nurse).post(
            url(appt, "discharge"), {**CRITERIA, "early_reason": reason}, format="json"
        )
        assert response.status_code == 200
        assert Discharge.objects.get().early_reason == reason

    def test_an_unmet_criterion_is_400_naming_it(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        api(nurse).post(url(appt, "vitals"), {**VITALS, "taken_at": ago(1)}, format="json")
        response = api(nurse).post(url(appt, "discharge"), {**CRITERIA, "walks_safely": False}, format="json")
        assert response.status_code == 400
        assert "not walking safely" in response.json()["detail"]

    def test_a_missing_criterion_is_400_naming_the_field(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        response = api(nurse).post(url(appt, "discharge"), {"vitals_stable": True}, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"walks_safely", "pain_controlled"}

    def test_discharge_without_observations_is_409(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        response = api(nurse).post(url(appt, "discharge"), CRITERIA, format="json")
        assert response.status_code == 409
        assert response.json() == {"detail": NO_VITALS}


class TestDiary:
    @pytest.fixture
    def block(self, appt):
        appt.procedure_type.family = "facet_mbb"
        appt.procedure_type.purpose = "diagnostic"
        appt.procedure_type.diary_timepoints_minutes = [30, 60, 120]
        appt.procedure_type.save()
        return appt

    def test_the_diary_is_charted_and_shown_in_the_record(self, block, nurse, physician):
        in_recovery(block, nurse, physician)
        # An hour and more after the block, so the 30- and 60-minute entries are due.
        ProcedureRecord.objects.filter(appointment=block).update(
            started_at=timezone.now() - timedelta(minutes=100),
            ended_at=timezone.now() - timedelta(minutes=75),
        )
        client = api(nurse)
        for minutes, relief in ((30, 70), (60, 90)):
            response = client.post(
                url(block, "diary"),
                {"minutes_after": minutes, "pain": 2, "relief_percent": relief},
                format="json",
            )
            assert response.status_code == 200, response.json()
        block.refresh_from_db()
        assert block.block_peak_relief_percent == 90
        diary = client.get(url(block, "record")).json()["diary"]
        assert [(d["minutes_after"], d["relief_percent"], d["source"]) for d in diary] == [
            (30, 70, "nurse"),
            (60, 90, "nurse"),
        ]

    def test_a_time_that_is_not_a_diary_time_is_400(self, block, nurse, physician):
        in_recovery(block, nurse, physician)
        response = api(nurse).post(
            url(block, "diary"), {"minutes_after": 45, "pain": 2, "relief_percent": 50}, format="json"
        )
        assert response.status_code == 400
        assert response.json() == {"detail": NOT_A_TIMEPOINT.format(minutes=45, times="30, 60, 120")}
        assert not BlockDiaryEntry.objects.exists()

    def test_the_diary_before_the_end_is_409(self, block, nurse, physician):
        in_procedure(block, nurse, physician)
        response = api(nurse).post(
            url(block, "diary"), {"minutes_after": 30, "pain": 2, "relief_percent": 50}, format="json"
        )
        assert response.status_code == 409
        assert response.json() == {"detail": DIARY_BEFORE_END}

    def test_a_procedure_without_a_diary_is_409(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        response = api(nurse).post(
            url(appt, "diary"), {"minutes_after": 30, "pain": 2, "relief_percent": 50}, format="json"
        )
        assert response.status_code == 409


class TestRecord:
    def test_no_record_before_the_start_is_404(self, appt, nurse):
        response = api(nurse).get(url(appt, "record"))
        assert response.status_code == 404
        assert response.json() == {"detail": NO_RECORD_YET}

    def test_the_record_reads_in_a_fixed_number_of_queries(self, appt, nurse, physician):
        in_recovery(appt, nurse, physician)
        client = api(nurse)
        client.post(url(appt, "vitals"), {**VITALS, "taken_at": ago(20)}, format="json")
        with CaptureQueriesContext(connection) as one:
            assert client.get(url(appt, "record")).status_code == 200
        for minutes in (15, 10, 5):
            client.post(url(appt, "vitals"), {**VITALS, "taken_at": ago(minutes)}, format="json")
        with CaptureQueriesContext(connection) as four:
            body = client.get(url(appt, "record")).json()
        assert len(body["vitals"]) == 4
        assert len(four.captured_queries) == len(one.captured_queries)


class TestPermissions:
    def endpoints(self, appt) -> list[tuple[str, str, dict]]:
        return [
            ("post", url(appt, "check-in"), {"name_confirmed": True, "date_of_birth": "1950-04-02"}),
            ("post", url(appt, "start"), {}),
            ("post", url(appt, "finish"), {}),
            ("post", url(appt, "vitals"), VITALS),
            ("post", url(appt, "discharge"), CRITERIA),
            ("post", url(appt, "diary"), {"minutes_after": 30, "pain": 2, "relief_percent": 50}),
            ("get", url(appt, "record"), {}),
            ("get", BOARD, {}),
        ]

    def test_anonymous_is_401_everywhere(self, appt):
        for method, address, data in self.endpoints(appt):
            response = getattr(APIClient(), method)(address, data, format="json")
            assert response.status_code == 401, address
        assert status_of(appt) == AppointmentStatus.CONFIRMED

    def test_a_user_without_a_role_is_403_everywhere(self, appt, outsider):
        for method, address, data in self.endpoints(appt):
            response = getattr(api(outsider), method)(address, data, format="json")
            assert response.status_code == 403, address
        assert api(outsider).post(f"{APPOINTMENTS}999999/check-in/", {}).status_code == 403
        assert status_of(appt) == AppointmentStatus.CONFIRMED

    def test_front_desk_may_check_in_but_not_chart_recovery(self, appt, frontdesk, nurse, physician):
        response = api(frontdesk).post(
            url(appt, "check-in"), {"name_confirmed": True, "date_of_birth": "1950-04-02"}, format="json"
        )
        assert response.status_code == 200
        for method, address, data in self.endpoints(appt)[2:]:
            response = getattr(api(frontdesk), method)(address, data, format="json")
            assert response.status_code == 403, address

    @pytest.mark.parametrize(
        ("codename", "step", "method"),
        [
            ("add_vitalsentry", "vitals", "post"),
            ("add_discharge", "discharge", "post"),
            ("add_blockdiaryentry", "diary", "post"),
            ("view_procedurerecord", "record", "get"),
            ("change_appointment", "check-in", "post"),
        ],
    )
    def test_each_step_checks_its_own_permission(self, appt, nurse, codename, step, method):
        group = nurse.groups.get()
        group.permissions.remove(group.permissions.get(codename=codename))
        user = type(nurse).objects.get(pk=nurse.pk)  # a fresh permission cache
        response = getattr(api(user), method)(url(appt, step), {}, format="json")
        assert response.status_code == 403

    def test_the_board_needs_view_vitalsentry(self, nurse, clinic_admin):
        assert api(clinic_admin).get(BOARD).status_code == 200
        group = nurse.groups.get()
        group.permissions.remove(group.permissions.get(codename="view_vitalsentry"))
        user = type(nurse).objects.get(pk=nurse.pk)
        assert api(user).get(BOARD).status_code == 403
