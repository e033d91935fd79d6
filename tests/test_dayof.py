"""The day of the procedure: identity at check-in, the gate at the start, a bay on finishing, observations,
discharge rules, and the post-block diary; impossible sequences are refused and change nothing."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from procedures.models import (
    AppointmentStatus,
    BlockDiaryEntry,
    Discharge,
    FollowUp,
    ProcedureRecord,
    SafetyOverride,
    SteroidDose,
    SteroidProduct,
)
from procedures.selectors.dayof import after_care, checkin_list, recovery_board
from procedures.services.dayof import (
    DayOfError,
    appointment_check_in,
    diary_record,
    patient_discharge,
    procedure_finish,
    procedure_start,
    vitals_record,
)
from procedures.services.safety import hold_plan_refresh, safety_override
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory, RecoveryBayFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def appt(physician):
    now = timezone.now()
    bay = RecoveryBayFactory(name="Bay A")
    appointment = AppointmentFactory(
        start=now - timedelta(minutes=50),
        end=now - timedelta(minutes=20),
        room_until=now - timedelta(minutes=10),
        monitoring_until=now - timedelta(minutes=5),
        recovery_bay=bay,
        status=AppointmentStatus.CONFIRMED,
        patient=PatientFactory(date_of_birth=date(1950, 4, 2), diabetes=True),
        procedure_type=ProcedureTypeFactory(
            monitoring_minutes=15, monitoring_minutes_sedated=30, uses_steroid=True
        ),
    )
    hold_plan_refresh(appointment_id=appointment.pk)  # what booking does
    return appointment


def _to_procedure(appt, nurse, physician, minutes_ago=45):
    now = timezone.now()
    appointment_check_in(
        appointment_id=appt.pk,
        actor=nurse,
        name_confirmed=True,
        date_of_birth=date(1950, 4, 2),
        at=now - timedelta(minutes=minutes_ago + 5),
    )
    safety_override(
        appointment_id=appt.pk,
        scope=SafetyOverride.Scope.CHECKLIST,
        actor=physician,
        reason="test of the day-of flow",
    )
    return procedure_start(
        appointment_id=appt.pk, actor=physician, at=now - timedelta(minutes=minutes_ago), baseline_pain=7
    )


def _vitals(appt, nurse, minutes_ago, **overrides):
    fields = dict(systolic=128, diastolic=78, heart_rate=72, spo2=97, pain=2)
    fields.update(overrides)
    return vitals_record(
        appointment_id=appt.pk,
        actor=nurse,
        taken_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


class TestCheckIn:
    def test_a_wrong_date_of_birth_is_refused(self, appt, nurse):
        with pytest.raises(DayOfError, match="does not match"):
            appointment_check_in(
                appointment_id=appt.pk, actor=nurse, name_confirmed=True, date_of_birth=date(1950, 2, 4)
            )
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.CONFIRMED

    def test_the_name_must_be_confirmed(self, appt, nurse):
        with pytest.raises(DayOfError, match="full name"):
            appointment_check_in(
                appointment_id=appt.pk, actor=nurse, name_confirmed=False, date_of_birth=date(1950, 4, 2)
            )

    def test_check_in_in_the_future_is_refused(self, appt, nurse):
        with pytest.raises(DayOfError, match="in the future"):
            appointment_check_in(
                appointment_id=appt.pk,
                actor=nurse,
                name_confirmed=True,
                date_of_birth=date(1950, 4, 2),
                at=timezone.now() + timedelta(minutes=30),
            )

    def test_the_list_shows_arrival_times_and_what_is_open(self, appt, nurse):
        rows = checkin_list(day=timezone.localdate(appt.start))
        row = next(r for r in rows if r.appointment.pk == appt.pk)
        assert row.arrive_by == appt.start - timedelta(minutes=30)
        assert "Consent form signed" in row.blockers


class TestProcedure:
    def test_the_gate_still_applies_at_the_start(self, appt, nurse, physician):
        appointment_check_in(
            appointment_id=appt.pk, actor=nurse, name_confirmed=True, date_of_birth=date(1950, 4, 2)
        )
        from procedures.services.appointments import TransitionError

        with pytest.raises(TransitionError, match="Before the procedure can start"):
            procedure_start(appointment_id=appt.pk, actor=physician)
        assert not ProcedureRecord.objects.exists()

    def test_finishing_charts_the_record_and_moves_to_a_bay(self, appt, nurse, physician):
        _to_procedure(appt, nurse, physician)
        steroid = SteroidProduct.objects.get(name="dexamethasone")
        record, warnings = procedure_finish(
            appointment_id=appt.pk,
            actor=physician,
            ended_at=timezone.now() - timedelta(minutes=20),
            details={
                "levels": "L4-L5",
                "side": "left",
                "approach": "transforaminal",
                "contrast_ml": Decimal("1.5"),
            },
            steroids=[(steroid, Decimal("20"))],
        )
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.IN_RECOVERY and appt.recovery_bay.name == "Bay A"
        assert record.baseline_pain == 7 and record.levels == "L4-L5"
        assert SteroidDose.objects.get().dose_mg == Decimal("20")
        assert warnings and "above the per-session ceiling of 15" in warnings[0]

    def test_an_end_before_the_start_is_refused(self, appt, nurse, physician):
        record = _to_procedure(appt, nurse, physician)
        with pytest.raises(DayOfError, match="before the start"):
            procedure_finish(
                appointment_id=appt.pk, actor=physician, ended_at=record.started_at - timedelta(minutes=1)
            )
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.IN_PROCEDURE

    def test_a_full_recovery_area_is_refused(self, appt, nurse, physician):
        other = AppointmentFactory(status=AppointmentStatus.IN_RECOVERY, recovery_bay=appt.recovery_bay)
        ProcedureRecord.objects.create(
            appointment=other,
            started_at=timezone.now() - timedelta(hours=1),
            ended_at=timezone.now() - timedelta(minutes=30),
        )
        _to_procedure(appt, nurse, physician)
        with pytest.raises(DayOfError, match="Every recovery bay is occupied"):
            procedure_finish(
                appointment_id=appt.pk, actor=physician, ended_at=timezone.now() - timedelta(minutes=20)
            )
        RecoveryBayFactory(name="Bay B")
        procedure_finish(
            appointment_id=appt.pk, actor=physician, ended_at=timezone.now() - timedelta(minutes=20)
        )
        appt.refresh_from_db()
        assert appt.recovery_bay.name == "Bay B"


class TestRecoveryAndDischarge:
    @pytest.fixture
    def in_recovery(self, appt, nurse, physician):
        _to_procedure(appt, nurse, physician)
        procedure_finish(
            appointment_id=appt.pk, actor=physician, ended_at=timezone.now() - timedelta(minutes=20)
        )
        return appt

    def test_vitals_in_the_future_or_before_the_end_are_refused(self, in_recovery, nurse):
        with pytest.raises(DayOfError, match="in the future"):
            _vitals(in_recovery, nurse, minutes_ago=-10)
        with pytest.raises(DayOfError, match="before the end of the procedure"):
            _vitals(in_recovery, nurse, minutes_ago=30)
        with pytest.raises(DayOfError, match="lower number must be below"):
            _vitals(in_recovery, nurse, minutes_ago=5, systolic=80, diastolic=90)
        with pytest.raises(DayOfError, match="0 to 10"):
            _vitals(in_recovery, nurse, minutes_ago=5, pain=11)
        with pytest.raises(DayOfError, match="SpO₂ 30 is outside 50–100"):
            _vitals(in_recovery, nurse, minutes_ago=5, spo2=30)
        assert not in_recovery.vitals.exists()

    def test_the_board_counts_down_and_flags_overdue_rounds(self, in_recovery, nurse):
        [row] = recovery_board()
        assert row.seconds_left == 0 and row.vitals_overdue  # 15 minutes done; no observations charted
        _vitals(in_recovery, nurse, minutes_ago=1, numbness="new")
        [row] = recovery_board()
        assert not row.vitals_overdue
        assert "New numbness or weakness: tell the physician" in row.alerts

    def test_discharge_needs_observations_and_every_criterion(self, in_recovery, nurse):
        with pytest.raises(DayOfError, match="at least one set of observations"):
            patient_discharge(
                appointment_id=in_recovery.pk,
                actor=nurse,
                vitals_stable=True,
                walks_safely=True,
                pain_controlled=True,
            )
        _vitals(in_recovery, nurse, minutes_ago=2)
        with pytest.raises(DayOfError, match="not walking safely"):
            patient_discharge(
                appointment_id=in_recovery.pk,
                actor=nurse,
                vitals_stable=True,
                walks_safely=False,
                pain_controlled=True,
            )
        patient_discharge(
            appointment_id=in_recovery.pk,
            actor=nurse,
            vitals_stable=True,
            walks_safely=True,
            pain_controlled=True,
        )
        in_recovery.refresh_from_db()
        assert in_recovery.status == AppointmentStatus.DISCHARGED
        assert Discharge.objects.get().early_reason == ""

    def test_early_discharge_needs_a_reason(self, appt, nurse, physician):
        _to_procedure(appt, nurse, physician, minutes_ago=10)
        procedure_finish(
            appointment_id=appt.pk, actor=physician, ended_at=timezone.now() - timedelta(minutes=5)
        )
        _vitals(appt, nurse, minutes_ago=1)
        with pytest.raises(DayOfError, match="minimum observation time ends at"):
            patient_discharge(
                appointment_id=appt.pk,
                actor=nurse,
                vitals_stable=True,
                walks_safely=True,
                pain_controlled=True,
            )
        patient_discharge(
            appointment_id=appt.pk,
            actor=nurse,
            vitals_stable=True,
            walks_safely=True,
            pain_controlled=True,
            early_reason="Trigger point only; patient well and walking",
        )
        assert Discharge.objects.get().early_reason.startswith("Trigger point")

    def test_after_sedation_the_escort_must_be_present(self, appt, nurse, physician):
        appt.sedation_planned = True
        appt.save()
        _to_procedure(appt, nurse, physician, minutes_ago=80)
        procedure_finish(
            appointment_id=appt.pk, actor=physician, ended_at=timezone.now() - timedelta(minutes=40)
        )
        _vitals(appt, nurse, minutes_ago=2)
        with pytest.raises(DayOfError, match="no escort after sedation"):
            patient_discharge(
                appointment_id=appt.pk,
                actor=nurse,
                vitals_stable=True,
                walks_safely=True,
                pain_controlled=True,
                escort_present=False,
            )

    def test_after_care_names_the_glucose_advice_and_whom_to_call(self, in_recovery):
        care = after_care(appointment=in_recovery)
        assert "blood sugar" in care.diabetes and care.clinic_phone
        assert any("bladder" in flag for flag in care.red_flags)


class TestDiary:
    @pytest.fixture
    def block(self, nurse, physician):
        now = timezone.now()
        appt = AppointmentFactory(
            status=AppointmentStatus.IN_RECOVERY,
            procedure_type=ProcedureTypeFactory(
                family="facet_mbb", purpose="diagnostic", diary_timepoints_minutes=[30, 60, 120]
            ),
        )
        ProcedureRecord.objects.create(
            appointment=appt, started_at=now - timedelta(hours=3), ended_at=now - timedelta(minutes=125)
        )
        return appt

    def test_peak_relief_follows_the_diary(self, block, nurse):
        diary_record(appointment_id=block.pk, minutes_after=30, pain=3, relief_percent=70, actor=nurse)
        diary_record(appointment_id=block.pk, minutes_after=60, pain=1, relief_percent=90, actor=nurse)
        diary_record(appointment_id=block.pk, minutes_after=120, pain=4, relief_percent=50, actor=nurse)
        block.refresh_from_db()
        assert block.block_peak_relief_percent == 90
        assert BlockDiaryEntry.objects.filter(appointment=block).count() == 3

    def test_an_entry_before_its_time_is_refused(self, block, nurse):
        from procedures.models import ProcedureRecord as Record

        Record.objects.filter(appointment=block).update(ended_at=timezone.now() - timedelta(minutes=40))
        with pytest.raises(DayOfError, match="The 120-minute entry is not due yet"):
            diary_record(appointment_id=block.pk, minutes_after=120, pain=1, relief_percent=90, actor=nurse)

    @pytest.mark.parametrize(
        ("minutes", "pain", "relief", "message"),
        [
            (45, 2, 50, "not one of this procedure's diary times"),
            (30, 11, 50, "0 to 10"),
            (30, 2, 120, "0 to 100"),
        ],
    )
    def test_bad_entries_are_refused(self, block, nurse, minutes, pain, relief, message):
        with pytest.raises(DayOfError, match=message):
            diary_record(
                appointment_id=block.pk, minutes_after=minutes, pain=pain, relief_percent=relief, actor=nurse
            )
        assert not BlockDiaryEntry.objects.exists()


class TestFollowUpPlan:
    def test_discharge_starts_the_plan_at_the_procedure_types_days(self, appt, nurse, physician):
        appt.procedure_type.followup_days = [1, 14, 30, 90, 180, 365]
        appt.procedure_type.save()
        _to_procedure(appt, nurse, physician)
        record, _ = procedure_finish(
            appointment_id=appt.pk, actor=physician, ended_at=timezone.now() - timedelta(minutes=20)
        )
        _vitals(appt, nurse, minutes_ago=2)
        patient_discharge(
            appointment_id=appt.pk, actor=nurse, vitals_stable=True, walks_safely=True, pain_controlled=True
        )
        plan = list(FollowUp.objects.filter(appointment=appt).order_by("due_at"))
        assert [f.label for f in plan] == ["Day 1", "Week 2", "Month 1", "Month 3", "Month 6", "Month 12"]
        assert plan[0].due_at == record.ended_at + timedelta(days=1)
        assert {f.status for f in plan} == {"planned"}
        assert after_care(appointment=appt).followups[0].startswith("Day 1: ")

    def test_a_diagnostic_block_plans_the_diary_points_still_ahead(self, nurse, physician):
        from procedures.services.followup import followup_plan_start

        now = timezone.now()
        appt = AppointmentFactory(
            status=AppointmentStatus.DISCHARGED,
            procedure_type=ProcedureTypeFactory(
                purpose="diagnostic", diary_timepoints_minutes=[30, 60, 120, 240]
            ),
        )
        ProcedureRecord.objects.create(
            appointment=appt, started_at=now - timedelta(minutes=80), ended_at=now - timedelta(minutes=50)
        )
        discharge = Discharge.objects.create(
            appointment=appt,
            discharged_at=now,
            vitals_stable=True,
            walks_safely=True,
            pain_controlled=True,
            by=nurse,
        )
        plan = followup_plan_start(appointment=appt, discharge=discharge)
        # 30 minutes after the end was before discharge; the 60-minute point is 10 minutes from now.
        assert [f.label for f in plan] == ["1 hour", "2 hours", "4 hours"]
        assert followup_plan_start(appointment=appt, discharge=discharge) == plan  # idempotent
