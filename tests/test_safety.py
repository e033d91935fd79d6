"""Pre-procedure safety: the protocol as data (every drug × risk class, checked against the reference
transcribed here independently), hold times (including across a DST change), plans that follow
reschedules and medication changes, the checklist gate, and physician overrides."""

import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections, connection

from procedures.models import (
    AppointmentStatus,
    ChecklistKind,
    ClearanceStatus,
    HoldKind,
    HoldPlan,
    HoldRule,
    ItemState,
    Medication,
    PatientMedication,
    PlanStatus,
    SafetyOverride,
    SafetySettings,
)
from procedures.selectors.safety import effective_risk, fasting_for, hold_times
from procedures.selectors.slots import slot_search
from procedures.services.appointments import TransitionError, appointment_transition
from procedures.services.booking import (
    BookingConflict,
    BookingRequest,
    appointment_book,
    appointment_reschedule,
)
from procedures.services.medications import MedicationError, patient_medication_add, patient_medication_stop
from procedures.services.protocol import protocol_seed
from procedures.services.safety import (
    SafetyError,
    checklist_mark,
    clearance_record,
    hold_line_override,
    hold_plan_confirm,
    hold_plan_refresh,
    holds_patient_confirm,
    safety_override,
)
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")

# ../shared/clinical-reference.md §2, written out again by hand: (drug, indication, dose) → high, int, low.
# ("d", N) days; ("h", N) hours; "shared"; "none"; "unset".
EXPECTED = {
    ("aspirin", "primary", ""): (("d", 6), "shared", "none"),
    ("aspirin", "secondary", ""): ("shared", "shared", "none"),
    ("ibuprofen", "", ""): (("d", 1), "none", "none"),
    ("diclofenac", "", ""): (("d", 1), "none", "none"),
    ("ketorolac", "", ""): (("d", 1), "none", "none"),
    ("etodolac", "", ""): (("d", 2), "none", "none"),
    ("indomethacin", "", ""): (("d", 2), "none", "none"),
    ("naproxen", "", ""): (("d", 4), "none", "none"),
    ("meloxicam", "", ""): (("d", 4), "none", "none"),
    ("nabumetone", "", ""): (("d", 6), "none", "none"),
    ("oxaprozin", "", ""): (("d", 10), "none", "none"),
    ("piroxicam", "", ""): (("d", 10), "none", "none"),
    ("cilostazol", "", ""): (("d", 2), "none", "none"),
    ("dipyridamole", "", ""): (("d", 2), "none", "none"),
    ("warfarin", "", ""): (("d", 5), ("d", 5), "shared"),
    ("acenocoumarol", "", ""): (("d", 3), ("d", 3), "shared"),
    ("heparin, intravenous", "", ""): (("h", 6), ("h", 6), ("h", 6)),
    ("heparin, subcutaneous", "", ""): (("h", 24), ("h", 6), ("h", 6)),
    ("enoxaparin", "", "prophylactic"): (("h", 12), ("h", 12), ("h", 12)),
    ("enoxaparin", "", "therapeutic"): (("h", 24), ("h", 24), ("h", 24)),
    ("dalteparin", "", ""): (("h", 24), ("h", 24), ("h", 24)),
    ("clopidogrel", "", ""): (("d", 7), ("d", 7), "shared"),
    ("prasugrel", "", ""): (("d", 10), ("d", 10), "shared"),
    ("ticagrelor", "", ""): (("d", 5), ("d", 5), "shared"),
    ("dabigatran", "", ""): (("d", 5), ("d", 5), "shared"),
    ("rivaroxaban", "", ""): (("d", 3), ("d", 3), "shared"),
    ("apixaban", "", ""): (("d", 3), ("d", 3), "shared"),
    ("edoxaban", "", ""): (("d", 3), ("d", 3), "shared"),
    ("fondaparinux", "", ""): (("d", 4), ("d", 4), "shared"),
    ("sertraline", "", ""): ("unset", "unset", "unset"),
    ("fish oil (omega-3)", "", ""): ("unset", "unset", "unset"),
}
RESTART = {"warfarin": 6, "heparin, intravenous": 2, "dipyridamole": None}
CASES = [
    (drug, indication, dose, risk, expected)
    for (drug, indication, dose), by_risk in EXPECTED.items()
    for risk, expected in zip(("high", "intermediate", "low"), by_risk, strict=True)
]


def _kind_and_hours(expected) -> tuple[str, int]:
    if isinstance(expected, tuple):
        unit, value = expected
        return (HoldKind.DAYS, value * 24) if unit == "d" else (HoldKind.HOURS, value)
    return {"shared": HoldKind.SHARED, "none": HoldKind.NONE, "unset": HoldKind.UNSET}[expected], 0


@pytest.mark.parametrize(("drug", "indication", "dose", "risk", "expected"), CASES)
def test_every_drug_and_risk_class_is_planned_as_the_reference_says(
    drug, indication, dose, risk, expected, frontdesk
):
    ptype = ProcedureTypeFactory(bleeding_risk=risk)
    appt = AppointmentFactory(
        procedure_type=ptype, start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    )
    patient_medication_add(
        patient_id=appt.patient_id,
        medication=Medication.objects.get(generic_name=drug),
        indication=indication,
        dose_intent=dose,
        actor=frontdesk,
    )
    line = HoldPlan.objects.get(appointment=appt).lines.get()
    kind, hours = _kind_and_hours(expected)
    assert (line.hold_kind, line.hold_hours) == (kind, hours)
    assert line.needs_prescriber_clearance == (kind == HoldKind.SHARED)
    assert line.clearance_status == (
        ClearanceStatus.PENDING if kind == HoldKind.SHARED else ClearanceStatus.NOT_NEEDED
    )
    assert line.source  # every line names its source
    if hours:
        assert line.last_dose_by is not None and line.last_dose_by <= appt.start - timedelta(hours=hours)
        restart = RESTART.get(drug, line.restart_hours)
        if restart is not None:
            assert line.resume_after == appt.end + timedelta(hours=line.restart_hours)


def test_the_protocol_covers_every_expected_row():
    assert HoldRule.objects.count() >= len(CASES)
    for rule in HoldRule.objects.all():
        assert rule.source and rule.evidence in ("V", "S", "-")


class TestHoldTimes:
    def test_a_day_hold_leaves_n_dose_free_calendar_days(self):
        start = datetime(2026, 3, 20, 9, 0, tzinfo=NY)  # a Friday
        times = hold_times(
            kind=HoldKind.DAYS, value=5, start=start, end=start + timedelta(minutes=30), restart_hours=6
        )
        assert times.last_dose_day == date(2026, 3, 14)
        assert times.last_dose_by == datetime(2026, 3, 15, 0, 0, tzinfo=NY)
        assert times.resume_after == start + timedelta(minutes=30, hours=6)

    def test_day_hold_across_the_autumn_clock_change_stays_on_local_midnight(self):
        # Clocks go back at 02:00 on Sunday 1 Nov 2026 in New York.
        start = datetime(2026, 11, 4, 9, 0, tzinfo=NY)
        times = hold_times(kind=HoldKind.DAYS, value=3, start=start, end=start, restart_hours=None)
        assert times.last_dose_day == date(2026, 10, 31)
        assert times.last_dose_by.astimezone(UTC) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # midnight EDT

    def test_hour_hold_across_the_clock_change_is_absolute_time(self):
        start = datetime(2026, 11, 1, 9, 0, tzinfo=NY)  # EST, after the change
        times = hold_times(kind=HoldKind.HOURS, value=12, start=start, end=start, restart_hours=None)
        assert start.astimezone(UTC) - times.last_dose_by.astimezone(UTC) == timedelta(hours=12)
        assert (
            times.last_dose_by.astimezone(NY).hour == 22
        )  # 22:00 EDT the evening before: 11 wall-clock hours
        assert times.last_dose_day == date(2026, 10, 31)

    def test_day_hold_across_the_spring_clock_change(self):
        start = datetime(2026, 3, 10, 9, 0, tzinfo=NY)  # clocks went forward Sunday 8 March
        times = hold_times(kind=HoldKind.DAYS, value=2, start=start, end=start, restart_hours=24)
        assert times.last_dose_by == datetime(2026, 3, 8, 0, 0, tzinfo=NY)
        assert times.resume_after - start == timedelta(hours=24)


class TestRisk:
    def test_patient_factors_raise_one_step_only(self):
        ptype = ProcedureTypeFactory(bleeding_risk="low")
        patient = PatientFactory(bleeding_disorder=True, severe_kidney_disease=True)
        base, effective, reasons = effective_risk(procedure_type=ptype, patient=patient, on=date(2026, 1, 1))
        assert (base, effective) == ("low", "intermediate")
        assert reasons == ["bleeding disorder", "severe kidney disease"]

    def test_older_age_counts_only_when_the_clinic_sets_it(self):
        ptype = ProcedureTypeFactory(bleeding_risk="intermediate")
        patient = PatientFactory(date_of_birth=date(1940, 1, 1))
        assert effective_risk(procedure_type=ptype, patient=patient, on=date(2026, 1, 1))[1] == "intermediate"
        SafetySettings.objects.filter(pk=1).update(older_age_years=80)
        assert effective_risk(procedure_type=ptype, patient=patient, on=date(2026, 1, 1))[1] == "high"

    def test_kidney_disease_uses_the_longer_dabigatran_hold(self, frontdesk):
        appt = AppointmentFactory(
            patient=PatientFactory(severe_kidney_disease=True),
            procedure_type=ProcedureTypeFactory(bleeding_risk="intermediate"),
        )
        patient_medication_add(
            patient_id=appt.patient_id,
            medication=Medication.objects.get(generic_name="dabigatran"),
            actor=frontdesk,
        )
        line = HoldPlan.objects.get(appointment=appt).lines.get()
        assert line.hold_hours == 6 * 24  # raised to high risk, renal value 6 days


class TestPlans:
    @pytest.fixture
    def booked(self, clinic, frontdesk):
        patient = clinic["patients"][0]
        patient_medication_add(
            patient_id=patient.pk, medication=Medication.objects.get(generic_name="apixaban"), actor=frontdesk
        )
        start = at(clinic["monday"] + timedelta(days=14), 9)
        appt = appointment_book(
            request=BookingRequest(
                patient=patient, procedure_type=clinic["tfesi"], physician=clinic["lee"], start=start
            ),
            actor=frontdesk,
        )
        return appt

    def test_booking_makes_a_plan_with_a_checklist(self, booked):
        line = HoldPlan.objects.get(appointment=booked).lines.get()
        assert (line.medication.generic_name, line.hold_hours) == ("apixaban", 72)
        kinds = set(booked.checklist.values_list("kind", flat=True))
        assert {ChecklistKind.CONSENT, ChecklistKind.HOLD_PLAN, ChecklistKind.HOLDS_CONFIRMED} <= kinds

    def test_reschedule_moves_the_holds_and_asks_again(self, booked, physician, frontdesk, clinic):
        hold_plan_confirm(appointment_id=booked.pk, actor=physician)
        before = HoldPlan.objects.get(appointment=booked).lines.get().last_dose_by
        moved = appointment_reschedule(
            appointment_id=booked.pk, start=booked.start + timedelta(days=7), actor=frontdesk
        )
        plan = HoldPlan.objects.get(appointment=moved)
        assert plan.lines.get().last_dose_by == before + timedelta(days=7)
        assert plan.status == PlanStatus.PROPOSED

    def test_stopping_a_drug_removes_its_line(self, booked, frontdesk):
        entry = PatientMedication.objects.get(patient=booked.patient)
        patient_medication_stop(patient_medication_id=entry.pk, actor=frontdesk)
        assert not HoldPlan.objects.get(appointment=booked).lines.exists()
        with pytest.raises(MedicationError, match="already stopped"):
            patient_medication_stop(patient_medication_id=entry.pk, actor=frontdesk)

    def test_only_a_physician_confirms_or_overrides_and_an_override_needs_a_reason(
        self, booked, nurse, physician
    ):
        line = HoldPlan.objects.get(appointment=booked).lines.get()
        with pytest.raises(SafetyError, match="Only a physician"):
            hold_plan_confirm(appointment_id=booked.pk, actor=nurse)
        with pytest.raises(SafetyError, match="reason"):
            hold_line_override(line_id=line.pk, hold_hours=48, reason=" ", actor=physician)
        line = hold_line_override(
            line_id=line.pk, hold_hours=48, reason="Renal function normal; 2 days", actor=physician
        )
        assert line.hold_hours == 48 and line.last_dose_by == datetime.combine(
            booked.start.astimezone(NY).date() - timedelta(days=2), time.min, tzinfo=NY
        )

    def test_unset_rules_need_a_physician_decision_before_confirming(self, booked, frontdesk, physician):
        patient_medication_add(
            patient_id=booked.patient_id,
            medication=Medication.objects.get(generic_name="sertraline"),
            actor=frontdesk,
        )
        with pytest.raises(SafetyError, match="Decide a hold for sertraline"):
            hold_plan_confirm(appointment_id=booked.pk, actor=physician)
        line = HoldPlan.objects.get(appointment=booked).lines.get(medication__generic_name="sertraline")
        hold_line_override(
            line_id=line.pk, hold_hours=0, reason="Continue; low-risk procedure", actor=physician
        )
        assert hold_plan_confirm(appointment_id=booked.pk, actor=physician).status == PlanStatus.CONFIRMED

    def test_aspirin_needs_its_indication(self, booked, frontdesk):
        with pytest.raises(MedicationError, match="primary or secondary"):
            patient_medication_add(
                patient_id=booked.patient_id,
                medication=Medication.objects.get(generic_name="aspirin"),
                actor=frontdesk,
            )

    def test_a_patient_on_a_hold_cannot_be_booked_before_the_hold_fits(self, clinic, frontdesk):
        patient = clinic["patients"][1]
        patient_medication_add(
            patient_id=patient.pk, medication=Medication.objects.get(generic_name="warfarin"), actor=frontdesk
        )
        with time_machine.travel(at(clinic["monday"], 7)):
            with pytest.raises(BookingConflict, match="warfarin must be stopped 5 days before"):
                appointment_book(
                    request=BookingRequest(
                        patient=patient,
                        procedure_type=clinic["tfesi"],
                        physician=clinic["lee"],
                        start=at(clinic["monday"], 9),
                    ),
                    actor=frontdesk,
                )
            result = slot_search(
                procedure_type=clinic["tfesi"],
                date_from=clinic["monday"],
                date_to=clinic["monday"] + timedelta(days=13),
                patient=patient,
            )
        # Monday 07:00: today's dose taken, five dose-free days Tue–Sat, so Sunday at the earliest → next Monday.
        assert result.slots[0].start == at(clinic["monday"] + timedelta(days=7), 8)
        assert "warfarin" in result.earliest_safe_reason


class TestChecklistGate:
    @pytest.fixture
    def appt(self, frontdesk):
        appt = AppointmentFactory(
            status=AppointmentStatus.CHECKED_IN,
            patient=PatientFactory(
                diabetes=True,
                allergy_contrast=True,
                pain_started_on=date(2020, 1, 1),
                conservative_care_started_on=date(2020, 2, 1),
            ),
            sedation_planned=True,
        )
        patient_medication_add(
            patient_id=appt.patient_id,
            medication=Medication.objects.get(generic_name="warfarin"),
            actor=frontdesk,
        )
        return appt

    def test_it_refuses_in_procedure_while_an_item_is_open_and_names_them(self, appt, nurse):
        with pytest.raises(TransitionError) as exc:
            appointment_transition(
                appointment_id=appt.pk, to_status=AppointmentStatus.IN_PROCEDURE, actor=nurse
            )
        message = str(exc.value)
        for label in (
            "consent form signed",
            "inr checked on the day",
            "blood glucose checked",
            "escort",
            "fasting",
        ):
            assert label in message.lower()
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.CHECKED_IN

    def test_when_everything_is_done_the_procedure_can_start(self, appt, nurse, physician):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        hold_plan_confirm(appointment_id=appt.pk, actor=physician)
        holds_patient_confirm(appointment_id=appt.pk, actor=nurse)
        for kind in ("consent", "allergies", "no_infection", "fasting", "escort"):
            checklist_mark(appointment_id=appt.pk, kind=kind, actor=nurse)
        with pytest.raises(SafetyError, match=r"above the clinic's limit of 1\.5"):
            checklist_mark(appointment_id=appt.pk, kind="inr", actor=nurse, value=Decimal("2.3"))
        inr = appt.checklist.get(kind="inr")
        assert (inr.value, inr.state) == (Decimal("2.3"), ItemState.OPEN)  # the result is kept, the item open
        checklist_mark(appointment_id=appt.pk, kind="inr", actor=nurse, value=Decimal("1.2"))
        with pytest.raises(SafetyError, match="mg/dL"):
            checklist_mark(appointment_id=appt.pk, kind="glucose", actor=nurse, value=Decimal("1200"))
        checklist_mark(appointment_id=appt.pk, kind="glucose", actor=nurse, value=Decimal("180"))
        with pytest.raises(TransitionError, match="eligibility warnings reviewed"):
            appointment_transition(
                appointment_id=appt.pk, to_status=AppointmentStatus.IN_PROCEDURE, actor=nurse
            )
        # Contrast allergy with a contrast procedure: the physician reviews it and goes ahead.
        safety_override(
            appointment_id=appt.pk,
            scope=SafetyOverride.Scope.ELIGIBILITY,
            actor=physician,
            reason="Premedicated per allergy protocol",
        )
        appointment_transition(appointment_id=appt.pk, to_status=AppointmentStatus.IN_PROCEDURE, actor=nurse)

    def test_inr_without_a_clinic_limit_needs_a_physician(self, appt, nurse, physician):
        with pytest.raises(SafetyError, match="has not set an INR limit"):
            checklist_mark(appointment_id=appt.pk, kind="inr", actor=nurse, value=Decimal("1.2"))
        item = checklist_mark(appointment_id=appt.pk, kind="inr", actor=physician, value=Decimal("1.2"))
        assert item.state == ItemState.DONE

    def test_an_unknown_override_scope_is_refused(self, appt, physician):
        with pytest.raises(SafetyError, match="not something a physician can override"):
            safety_override(appointment_id=appt.pk, scope="everything", actor=physician, reason="because")
        assert not SafetyOverride.objects.exists()

    def test_a_physician_can_override_the_gate_with_a_reason(self, appt, nurse, physician):
        with pytest.raises(SafetyError, match="Only a physician"):
            safety_override(
                appointment_id=appt.pk, scope=SafetyOverride.Scope.CHECKLIST, actor=nurse, reason="rush"
            )
        overrides = safety_override(
            appointment_id=appt.pk,
            scope=SafetyOverride.Scope.CHECKLIST,
            actor=physician,
            reason="Emergency rescue block",
        )
        assert {o.code for o in overrides} >= {"consent", "inr"}
        appointment_transition(
            appointment_id=appt.pk, to_status=AppointmentStatus.IN_PROCEDURE, actor=physician
        )

    def test_reopening_an_item_revokes_an_earlier_override(self, appt, nurse, physician):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        safety_override(
            appointment_id=appt.pk, scope=SafetyOverride.Scope.CHECKLIST, actor=physician, reason="Urgent"
        )
        with pytest.raises(SafetyError, match="above the clinic's limit"):
            checklist_mark(appointment_id=appt.pk, kind="inr", actor=nurse, value=Decimal("3.1"))
        with pytest.raises(TransitionError, match="inr checked on the day"):
            appointment_transition(
                appointment_id=appt.pk, to_status=AppointmentStatus.IN_PROCEDURE, actor=nurse
            )

    def test_clearances_tick_the_item_when_every_prescriber_agreed(self, frontdesk, nurse):
        appt = AppointmentFactory(procedure_type=ProcedureTypeFactory(bleeding_risk="low"))
        patient_medication_add(
            patient_id=appt.patient_id,
            medication=Medication.objects.get(generic_name="apixaban"),
            actor=frontdesk,
        )
        item = appt.checklist.get(kind=ChecklistKind.CLEARANCES)
        assert item.state == ItemState.OPEN
        clearance_record(
            line_id=HoldPlan.objects.get(appointment=appt).lines.get().pk,
            status=ClearanceStatus.CLEARED,
            actor=nurse,
            note="Dr Cardio ok",
        )
        item.refresh_from_db()
        assert item.state == ItemState.DONE


def test_fasting_only_with_sedation():
    start = datetime(2026, 5, 4, 10, 0, tzinfo=NY)
    assert fasting_for(appointment=AppointmentFactory.build(start=start, sedation_planned=False)) is None
    fasting = fasting_for(
        appointment=AppointmentFactory.build(
            start=start, end=start + timedelta(minutes=30), sedation_planned=True
        )
    )
    assert fasting.solids_until == datetime(2026, 5, 4, 4, 0, tzinfo=NY)
    assert fasting.clear_liquids_until == datetime(2026, 5, 4, 8, 0, tzinfo=NY)
    assert fasting.escort_required


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_medication_edits_leave_a_plan_with_both_drugs(frontdesk, nurse):
    """Two staff add different drugs at the same instant: the patient lock serialises the re-plans, so the
    final plan reflects both, never the list as one of them saw it."""
    protocol_seed()  # a transactional test starts from an emptied database
    appt = AppointmentFactory(procedure_type=ProcedureTypeFactory(bleeding_risk="high"))
    hold_plan_refresh(appointment_id=appt.pk)
    barrier = threading.Barrier(2)
    errors = []

    def add(name, actor):
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            patient_medication_add(
                patient_id=appt.patient_id, medication=Medication.objects.get(generic_name=name), actor=actor
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=add, args=("clopidogrel", frontdesk)),
        threading.Thread(target=add, args=("naproxen", nurse)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    names = set(
        HoldPlan.objects.get(appointment=appt).lines.values_list("medication__generic_name", flat=True)
    )
    assert names == {"clopidogrel", "naproxen"}
