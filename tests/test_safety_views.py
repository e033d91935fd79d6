"""The pre-procedure safety pages: the medication list on the patient page, the appointment's Safety section
(hold plan, overrides, clearances, checklist, the gate), the instruction sheet and its PDF, the worklist, the
booking confirm step and the protocol admin. Refusals are messages naming the problem; nothing changes."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedures.models import (
    ChecklistItem,
    ChecklistKind,
    ClearanceStatus,
    HoldPlan,
    HoldRule,
    ItemState,
    Medication,
    PatientMedication,
    PlanStatus,
    SafetyOverride,
    SafetySettings,
)
from procedures.services.medications import patient_medication_add
from procedures.services.protocol import hold_rule_update
from procedures.services.safety import hold_plan_refresh
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db


def _med(name: str) -> Medication:
    return Medication.objects.get(generic_name=name)


def _patient(**kwargs):
    """A patient whose coverage history is complete, so only what a test adds raises a warning."""
    return PatientFactory(
        pain_started_on=date(2020, 1, 1), conservative_care_started_on=date(2020, 2, 1), **kwargs
    )


def _appointment(*, days: int = 10, **kwargs):
    start = timezone.now().replace(microsecond=0, second=0) + timedelta(days=days)
    kwargs.setdefault("patient", _patient())
    return AppointmentFactory(start=start, **kwargs)


@pytest.fixture
def on_warfarin(frontdesk):
    """An intermediate-risk injection in ten days for a patient on warfarin: a 5-day hold and an INR."""
    appt = _appointment(
        procedure_type=ProcedureTypeFactory(name="Lumbar TFESI", bleeding_risk="intermediate")
    )
    patient_medication_add(patient_id=appt.patient_id, medication=_med("warfarin"), actor=frontdesk)
    return appt


def _line(appt, drug: str = "warfarin"):
    return HoldPlan.objects.get(appointment=appt).lines.get(medication__generic_name=drug)


def _page(client, appt) -> str:
    response = client.get(f"/appointments/{appt.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


class TestMedicationList:
    def test_it_adds_a_medication_and_lists_it_with_who_added_it(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        patient = on_warfarin.patient
        response = client.post(
            f"/patients/{patient.pk}/medications/",
            {"medication": _med("apixaban").pk, "dose": "5 mg twice daily"},
            follow=True,
        )
        html = response.content.decode()
        assert "Added apixaban to" in html
        assert "5 mg twice daily" in html and "Sam Ortiz" in html
        assert set(
            HoldPlan.objects.get(appointment=on_warfarin).lines.values_list(
                "medication__generic_name", flat=True
            )
        ) == {
            "apixaban",
            "warfarin",
        }

    def test_aspirin_without_its_indication_is_refused_with_the_service_message(self, client, nurse):
        client.force_login(nurse)
        patient = _patient()
        response = client.post(f"/patients/{patient.pk}/medications/", {"medication": _med("aspirin").pk})
        html = response.content.decode()
        assert response.status_code == 200
        assert "Not added. Nothing was changed." in html
        assert "Say why aspirin is taken: primary or secondary prevention (the hold depends on it)." in html
        assert not PatientMedication.objects.filter(patient=patient).exists()
        assert response.context["medication_form"].has_error("indication")  # the field is marked
        # The refused choice is kept, so the clerk only adds the indication.
        assert f'<option value="{_med("aspirin").pk}" selected data-asks-indication="true">' in html

        client.post(
            f"/patients/{patient.pk}/medications/",
            {"medication": _med("aspirin").pk, "indication": "secondary"},
        )
        assert PatientMedication.objects.get(patient=patient).indication == "secondary"

    def test_the_form_marks_the_drugs_that_ask_for_indication_or_dose(self, client, nurse):
        client.force_login(nurse)
        html = client.get(f"/patients/{_patient().pk}/").content.decode()
        assert f'value="{_med("enoxaparin").pk}" data-asks-dose-intent="true"' in html
        assert '<optgroup label="Vitamin K antagonist">' in html

    def test_an_unknown_medication_is_named(self, client, nurse):
        client.force_login(nurse)
        response = client.post(f"/patients/{_patient().pk}/medications/", {"medication": "999999"})
        assert "No medication with id “999999”: choose one from the list." in response.content.decode()

    def test_a_drug_already_on_the_list_is_refused(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        response = client.post(
            f"/patients/{on_warfarin.patient_id}/medications/", {"medication": _med("warfarin").pk}
        )
        assert "warfarin is already on the list." in response.content.decode()

    def test_stop_keeps_the_row_in_the_history_and_replans(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        entry = PatientMedication.objects.get(patient=on_warfarin.patient)
        url = f"/patients/{on_warfarin.patient_id}/medications/{entry.pk}/stop/"
        response = client.post(url, follow=True)
        html = response.content.decode()
        assert "Stopped warfarin for" in html
        assert "Stopped (1)" in html and 'data-testid="no-medications"' in html
        entry.refresh_from_db()
        assert entry.stopped_at is not None and entry.stopped_by == nurse
        assert not HoldPlan.objects.get(appointment=on_warfarin).lines.exists()

        again = client.post(url, follow=True)
        assert "warfarin was already stopped." in _messages(again)

    def test_a_medication_of_another_patient_is_not_found(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        entry = PatientMedication.objects.get(patient=on_warfarin.patient)
        other = _patient()
        assert client.post(f"/patients/{other.pk}/medications/{entry.pk}/stop/").status_code == 404
        entry.refresh_from_db()
        assert entry.stopped_at is None

    def test_it_needs_the_medication_permissions(self, client, outsider, on_warfarin):
        client.force_login(outsider)
        patient = on_warfarin.patient
        assert (
            client.post(
                f"/patients/{patient.pk}/medications/", {"medication": _med("ibuprofen").pk}
            ).status_code
            == 403
        )
        assert PatientMedication.objects.filter(patient=patient).count() == 1

    def test_it_rejects_get(self, client, nurse):
        client.force_login(nurse)
        assert client.get(f"/patients/{_patient().pk}/medications/").status_code == 405


class TestHoldPlan:
    def test_the_page_shows_the_proposed_hold_with_its_source_and_evidence(
        self, client, physician, on_warfarin
    ):
        client.force_login(physician)
        html = _page(client, on_warfarin)
        assert "Medication hold plan" in html
        assert "5 days + normal INR" in html
        assert "ASRA Pain Medicine 2018" in html
        assert 'title="Read in the source"' in html and "[V]" in html
        assert "Confirm plan" in html and "Change this hold" in html

    def test_a_nurse_sees_no_physician_buttons_and_is_refused_confirming(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        html = _page(client, on_warfarin)
        assert "Confirm plan" not in html and "Change this hold" not in html
        assert client.post(f"/appointments/{on_warfarin.pk}/safety/confirm-plan/").status_code == 403
        assert HoldPlan.objects.get(appointment=on_warfarin).status == PlanStatus.PROPOSED

    def test_a_physician_confirms_the_plan(self, client, physician, on_warfarin):
        client.force_login(physician)
        response = client.post(f"/appointments/{on_warfarin.pk}/safety/confirm-plan/", follow=True)
        assert "Hold plan confirmed." in _messages(response)
        plan = HoldPlan.objects.get(appointment=on_warfarin)
        assert (plan.status, plan.confirmed_by) == (PlanStatus.CONFIRMED, physician)
        assert on_warfarin.checklist.get(kind=ChecklistKind.HOLD_PLAN).state == ItemState.DONE

    def test_an_undecided_drug_blocks_confirming_with_its_name(
        self, client, physician, frontdesk, on_warfarin
    ):
        patient_medication_add(
            patient_id=on_warfarin.patient_id, medication=_med("sertraline"), actor=frontdesk
        )
        client.force_login(physician)
        response = client.post(f"/appointments/{on_warfarin.pk}/safety/confirm-plan/", follow=True)
        assert (
            "Plan not confirmed. Decide a hold for sertraline first: the clinic has no rule for it."
            in _messages(response)
        )
        assert HoldPlan.objects.get(appointment=on_warfarin).status == PlanStatus.PROPOSED

    def test_an_override_without_a_reason_is_refused_and_changes_nothing(
        self, client, physician, on_warfarin
    ):
        client.force_login(physician)
        line = _line(on_warfarin)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/holds/{line.pk}/override/",
            {"amount": "3", "unit": "days", "reason": "  "},
            follow=True,
        )
        assert "warfarin: hold not changed. Give a reason to change the proposed hold." in _messages(response)
        line.refresh_from_db()
        assert line.override_hold_hours is None and line.hold_hours == 120

    def test_an_override_in_days_is_stored_in_hours_with_the_reason(self, client, physician, on_warfarin):
        client.force_login(physician)
        line = _line(on_warfarin)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/holds/{line.pk}/override/",
            {"amount": "3", "unit": "days", "reason": "INR 1.1 last week; cardiology asks 3 days"},
            follow=True,
        )
        assert (
            "warfarin: hold set to 3 days + normal INR. The patient needs to confirm it again."
            in _messages(response)
        )
        line.refresh_from_db()
        assert (line.override_hold_hours, line.overridden_by) == (72, physician)
        html = response.content.decode()
        assert (
            "INR 1.1 last week; cardiology asks 3 days" in html
            and "Changed from “5 days + normal INR”" in html
        )

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"amount": "", "unit": "days", "reason": "x"}, "Enter the new hold as a whole number of days"),
            (
                {"amount": "-2", "unit": "hours", "reason": "x"},
                "Enter the new hold as a whole number of hours",
            ),
            (
                {"amount": "31", "unit": "days", "reason": "x"},
                "A hold must be between 0 and 720 hours (30 days).",
            ),
        ],
    )
    def test_a_bad_amount_is_named(self, client, physician, on_warfarin, data, message):
        client.force_login(physician)
        line = _line(on_warfarin)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/holds/{line.pk}/override/", data, follow=True
        )
        assert any(message in m for m in _messages(response))
        line.refresh_from_db()
        assert line.override_hold_hours is None

    def test_a_line_of_another_appointment_is_not_found(self, client, physician, on_warfarin):
        client.force_login(physician)
        other = _appointment()
        hold_plan_refresh(appointment_id=other.pk)
        line = _line(on_warfarin)
        url = f"/appointments/{other.pk}/safety/holds/{line.pk}/override/"
        assert client.post(url, {"amount": "1", "unit": "days", "reason": "x"}).status_code == 404

    def test_a_nurse_records_the_prescribers_answer(self, client, nurse, frontdesk):
        appt = _appointment(procedure_type=ProcedureTypeFactory(bleeding_risk="low"))
        patient_medication_add(patient_id=appt.patient_id, medication=_med("apixaban"), actor=frontdesk)
        client.force_login(nurse)
        html = _page(client, appt)
        assert "Waiting for the prescriber" in html and "Ask the prescriber (shared decision)" in html
        line = _line(appt, "apixaban")
        response = client.post(
            f"/appointments/{appt.pk}/safety/holds/{line.pk}/clearance/",
            {"status": "cleared", "note": "Dr Cardio by phone"},
            follow=True,
        )
        assert "apixaban: prescriber agreed." in _messages(response)
        line.refresh_from_db()
        assert (line.clearance_status, line.clearance_note) == (ClearanceStatus.CLEARED, "Dr Cardio by phone")
        assert appt.checklist.get(kind=ChecklistKind.CLEARANCES).state == ItemState.DONE

    def test_a_drug_without_a_clearance_refuses_one(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        line = _line(on_warfarin)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/holds/{line.pk}/clearance/",
            {"status": "cleared"},
            follow=True,
        )
        assert (
            "warfarin: nothing recorded. This medication does not need the prescriber's clearance."
            in _messages(response)
        )

    def test_the_patient_confirms_the_holds(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        assert "Patient confirmed the holds" in _page(client, on_warfarin)
        response = client.post(f"/appointments/{on_warfarin.pk}/safety/patient-confirmed/", follow=True)
        assert any("confirmed the holds (1 medication)" in m for m in _messages(response))
        assert _line(on_warfarin).patient_confirmed_at is not None
        assert on_warfarin.checklist.get(kind=ChecklistKind.HOLDS_CONFIRMED).state == ItemState.DONE

    def test_without_a_plan_the_page_offers_to_draw_it_up(self, client, nurse):
        appt = _appointment()
        client.force_login(nurse)
        html = _page(client, appt)
        assert "No hold plan yet." in html and "No pre-procedure checklist yet" in html
        response = client.post(f"/appointments/{appt.pk}/safety/patient-confirmed/", follow=True)
        assert "This appointment has no hold plan yet: use “Recompute the plan” first." in _messages(response)
        client.post(f"/appointments/{appt.pk}/safety/refresh/")
        assert HoldPlan.objects.filter(appointment=appt).exists()
        assert appt.checklist.filter(kind=ChecklistKind.CONSENT).exists()

    def test_a_cancelled_appointment_keeps_its_plan(self, client, nurse, on_warfarin):
        on_warfarin.status, on_warfarin.cancel_reason = "cancelled", "Patient unwell"
        on_warfarin.save()
        client.force_login(nurse)
        html = _page(client, on_warfarin)
        assert "/safety/patient-confirmed/" not in html and "Change this hold" not in html
        assert 'data-testid="gate"' not in html
        response = client.post(f"/appointments/{on_warfarin.pk}/safety/refresh/", follow=True)
        assert "This appointment is cancelled; its safety plan can no longer change." in _messages(response)


class TestChecklistAndGate:
    def test_the_page_lists_what_is_open_and_then_shows_ready(self, client, nurse, physician, on_warfarin):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        client.force_login(nurse)
        html = _page(client, on_warfarin)
        assert "Not ready: 6 items open" in html
        for label in (
            "Consent form signed",
            "INR checked on the day",
            "Physician confirmed the medication hold plan",
        ):
            assert label in html
        assert "Clinic limit: 1.5." in html

        client.force_login(physician)
        client.post(f"/appointments/{on_warfarin.pk}/safety/confirm-plan/")
        client.force_login(nurse)
        client.post(f"/appointments/{on_warfarin.pk}/safety/patient-confirmed/")
        for kind in ("consent", "allergies", "no_infection"):
            response = client.post(f"/appointments/{on_warfarin.pk}/safety/checklist/{kind}/", {"done": "1"})
            assert response.status_code == 302
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/checklist/inr/",
            {"done": "1", "value": "1.2"},
            follow=True,
        )
        assert "INR checked on the day (INR 1.2): done." in _messages(response)
        html = response.content.decode()
        assert "Ready for the procedure" in html and "Not ready" not in html

    def test_an_inr_above_the_limit_is_refused_naming_the_limit(self, client, nurse, on_warfarin):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/checklist/inr/",
            {"done": "1", "value": "2.3"},
            follow=True,
        )
        assert (
            "INR checked on the day: not done. INR 2.3 is above the clinic's limit of 1.5: the item stays open."
            in _messages(response)
        )
        item = on_warfarin.checklist.get(kind=ChecklistKind.INR)
        assert (item.state, item.value) == (ItemState.OPEN, Decimal("2.3"))  # the measurement is kept
        assert (
            "Last entered: INR 2.3, above the clinic’s limit: the item stays open."
            in response.content.decode()
        )
        assert "Not ready" in response.content.decode()

    @pytest.mark.parametrize(
        ("value", "message"),
        [("", "Enter the INR result."), ("abc", "“abc” is not a number"), ("1.25", "at most one decimal")],
    )
    def test_a_missing_or_unreadable_inr_is_named(self, client, nurse, on_warfarin, value, message):
        SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/checklist/inr/",
            {"done": "1", "value": value},
            follow=True,
        )
        assert any(message in m for m in _messages(response))
        assert on_warfarin.checklist.get(kind=ChecklistKind.INR).state == ItemState.OPEN

    def test_undo_reopens_an_item(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        url = f"/appointments/{on_warfarin.pk}/safety/checklist/consent/"
        client.post(url, {"done": "1"})
        assert on_warfarin.checklist.get(kind="consent").state == ItemState.DONE
        response = client.post(url, {"done": "0"}, follow=True)
        assert "Consent form signed: to do again." in _messages(response)
        assert on_warfarin.checklist.get(kind="consent").state == ItemState.OPEN

    def test_items_ticked_from_the_plan_cannot_be_ticked_by_hand(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/checklist/hold_plan/", {"done": "1"}, follow=True
        )
        assert any("is ticked from the hold plan and reviews, not by hand" in m for m in _messages(response))
        assert on_warfarin.checklist.get(kind="hold_plan").state == ItemState.OPEN

    def test_an_item_that_does_not_apply_is_named(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/checklist/glucose/", {"done": "1"}, follow=True
        )
        assert (
            "Blood glucose checked: not done. This appointment has no “Blood glucose checked” item."
            in _messages(response)
        )

    def test_ticking_needs_the_checklist_permission(self, client, outsider, on_warfarin):
        client.force_login(outsider)
        assert (
            client.post(
                f"/appointments/{on_warfarin.pk}/safety/checklist/consent/", {"done": "1"}
            ).status_code
            == 403
        )

    def test_a_physician_goes_ahead_despite_open_items_with_a_reason(
        self, client, physician, nurse, on_warfarin
    ):
        client.force_login(nurse)
        assert "Go ahead despite open items" not in _page(client, on_warfarin)
        assert (
            client.post(
                f"/appointments/{on_warfarin.pk}/safety/override/checklist/", {"reason": "x"}
            ).status_code
            == 403
        )

        client.force_login(physician)
        assert "Go ahead despite open items" in _page(client, on_warfarin)
        refused = client.post(
            f"/appointments/{on_warfarin.pk}/safety/override/checklist/", {"reason": ""}, follow=True
        )
        assert "Nothing recorded. Give a reason to go ahead." in _messages(refused)
        assert not SafetyOverride.objects.exists()

        response = client.post(
            f"/appointments/{on_warfarin.pk}/safety/override/checklist/",
            {"reason": "Emergency rescue block"},
            follow=True,
        )
        assert any(m.startswith("Going ahead despite: Consent form signed") for m in _messages(response))
        html = response.content.decode()
        assert "Ready for the procedure" in html and "A physician went ahead despite" in html
        assert "Emergency rescue block" in html

    def test_an_unknown_override_scope_is_not_found(self, client, physician, on_warfarin):
        client.force_login(physician)
        assert (
            client.post(
                f"/appointments/{on_warfarin.pk}/safety/override/everything/", {"reason": "x"}
            ).status_code
            == 404
        )

    def test_eligibility_warnings_show_with_their_source_and_a_physician_reviews_them(
        self, client, physician, frontdesk
    ):
        appt = _appointment(patient=PatientFactory())  # pain and conservative care not recorded
        hold_plan_refresh(appointment_id=appt.pk)
        client.force_login(physician)
        html = _page(client, appt)
        assert "When the pain began is not recorded (needs ≥ 4 weeks)." in html
        assert "Medicare LCDs" in html
        response = client.post(
            f"/appointments/{appt.pk}/safety/override/eligibility/",
            {"reason": "Acute radiculopathy, documented elsewhere"},
            follow=True,
        )
        assert any(m.startswith("Eligibility warnings reviewed") for m in _messages(response))
        assert "Reviewed by Alex Lee" in response.content.decode()
        assert appt.checklist.get(kind=ChecklistKind.ELIGIBILITY).state == ItemState.DONE

    def test_fasting_and_escort_show_only_with_sedation(self, client, nurse):
        sedated = _appointment(sedation_planned=True)
        awake = _appointment(days=11)
        client.force_login(nurse)
        assert "Clear liquids" in _page(
            client, sedated
        ) and "ASA preoperative fasting guideline 2017" in _page(client, sedated)
        assert "No sedation planned: no fasting rule" in _page(client, awake)


class TestInstructionSheet:
    def test_the_page_shows_the_day_by_day_plan_in_plain_words(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        html = client.get(f"/appointments/{on_warfarin.pk}/instructions/").content.decode()
        assert "Day by day" in html
        assert "Take your LAST dose of warfarin today." in html
        assert "Do NOT take warfarin." in html
        assert "Do NOT take warfarin before the procedure." in html
        assert "You may restart warfarin after" in html
        assert "Your doctor has not yet confirmed this medicine plan." in html
        assert "Common questions" in html and "Call us straight away if you have" in html

    def test_the_pdf_is_an_attachment(self, client, nurse, on_warfarin):
        client.force_login(nurse)
        response = client.get(f"/appointments/{on_warfarin.pk}/instructions.pdf")
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        day = timezone.localdate(on_warfarin.start)
        assert response["Content-Disposition"] == (
            f'attachment; filename="procedure-instructions-{day:%Y-%m-%d}-appointment-{on_warfarin.pk}.pdf"'
        )

    def test_both_are_linked_from_the_appointment_and_need_view_appointment(
        self, client, nurse, outsider, on_warfarin
    ):
        client.force_login(nurse)
        html = _page(client, on_warfarin)
        assert f"/appointments/{on_warfarin.pk}/instructions/" in html
        assert f"/appointments/{on_warfarin.pk}/instructions.pdf" in html
        client.force_login(outsider)
        assert client.get(f"/appointments/{on_warfarin.pk}/instructions/").status_code == 403
        assert client.get(f"/appointments/{on_warfarin.pk}/instructions.pdf").status_code == 403

    def test_an_unknown_appointment_is_not_found(self, client, nurse):
        client.force_login(nurse)
        assert client.get("/appointments/999999/instructions.pdf").status_code == 404


class TestWorklist:
    def _make(self, count: int, frontdesk, start_day: int = 1) -> None:
        for i in range(count):
            appt = _appointment(
                days=start_day + (i % 12), procedure_type=ProcedureTypeFactory(bleeding_risk="low")
            )
            patient_medication_add(patient_id=appt.patient_id, medication=_med("apixaban"), actor=frontdesk)

    def test_it_groups_by_what_is_open(self, client, nurse, frontdesk, physician, on_warfarin):
        shared = _appointment(days=3, procedure_type=ProcedureTypeFactory(bleeding_risk="low"))
        patient_medication_add(patient_id=shared.patient_id, medication=_med("apixaban"), actor=frontdesk)
        later = _appointment(days=20)
        patient_medication_add(patient_id=later.patient_id, medication=_med("warfarin"), actor=frontdesk)
        client.force_login(nurse)
        response = client.get("/safety/worklist/")
        worklist = response.context["worklist"]
        assert [r.appointment.pk for r in worklist.plans_to_confirm] == [shared.pk, on_warfarin.pk]
        assert [r.appointment.pk for r in worklist.clearances_pending] == [shared.pk]
        assert worklist.clearances_pending[0].details == ["apixaban"]
        assert on_warfarin.pk in [r.appointment.pk for r in worklist.checklist_open]
        assert later.pk not in [r.appointment.pk for r in worklist.checklist_open]  # beyond 14 days
        html = response.content.decode()
        assert f"/appointments/{shared.pk}/#safety" in html

    def test_a_physicians_go_ahead_takes_items_off_the_list(self, client, nurse, physician, on_warfarin):
        client.force_login(physician)
        client.post(f"/appointments/{on_warfarin.pk}/safety/override/checklist/", {"reason": "Urgent"})
        client.force_login(nurse)
        worklist = client.get("/safety/worklist/").context["worklist"]
        assert on_warfarin.pk not in [r.appointment.pk for r in worklist.checklist_open]

    def test_the_query_count_does_not_grow_with_the_rows(self, client, nurse, frontdesk):
        client.force_login(nurse)
        self._make(2, frontdesk)
        client.get("/safety/worklist/")  # warm the session and permission caches alike for both runs
        with CaptureQueriesContext(connection) as few:
            response = client.get("/safety/worklist/")
        assert len(response.context["worklist"].plans_to_confirm) == 2
        self._make(18, frontdesk)
        with CaptureQueriesContext(connection) as many:
            response = client.get("/safety/worklist/")
        assert len(response.context["worklist"].plans_to_confirm) == 20
        assert len(many) == len(few)

    def test_it_is_in_the_menu_for_the_care_team_only(self, client, nurse, outsider):
        client.force_login(nurse)
        html = client.get("/safety/worklist/").content.decode()
        assert 'active" aria-current="page" href="/safety/worklist/" aria-label="Safety worklist">' in html
        client.force_login(outsider)
        assert client.get("/safety/worklist/").status_code == 403


class TestBookingConfirm:
    def test_the_confirm_step_shows_warnings_and_the_earliest_safe_date(self, client, frontdesk, clinic):
        patient = clinic["patients"][0]  # pain and conservative care not recorded
        patient_medication_add(patient_id=patient.pk, medication=_med("warfarin"), actor=frontdesk)
        client.force_login(frontdesk)
        response = client.get(
            "/appointments/new/",
            {
                "step": "confirm",
                "patient": patient.pk,
                "procedure_type": clinic["tfesi"].pk,
                "physician": clinic["lee"].pk,
                "start": f"{clinic['monday'] + timedelta(days=7):%Y-%m-%d}T09:00",
            },
        )
        html = response.content.decode()
        assert "When the pain began is not recorded (needs ≥ 4 weeks)." in html
        assert "You can still book." in html
        assert "the earliest safe start is" in html and "warfarin must be stopped 5 days before" in html

    def test_without_holds_or_warnings_nothing_extra_is_shown(self, client, frontdesk, clinic):
        patient = clinic["patients"][1]
        patient.pain_started_on, patient.conservative_care_started_on = date(2020, 1, 1), date(2020, 2, 1)
        patient.save()
        client.force_login(frontdesk)
        html = client.get(
            "/appointments/new/",
            {
                "step": "confirm",
                "patient": patient.pk,
                "procedure_type": clinic["tfesi"].pk,
                "physician": clinic["lee"].pk,
                "start": f"{clinic['monday']:%Y-%m-%d}T09:00",
            },
        ).content.decode()
        assert 'data-testid="booking-warnings"' not in html and 'data-testid="earliest-safe"' not in html


class TestProtocolAdmin:
    def _form_data(self, rule: HoldRule, **changes) -> dict:
        data = {
            "medication": rule.medication_id,
            "indication": rule.indication,
            "dose_intent": rule.dose_intent,
            "risk_class": rule.risk_class,
            "hold_kind": rule.hold_kind,
            "hold_value": rule.hold_value if rule.hold_value is not None else "",
            "hold_value_renal": rule.hold_value_renal if rule.hold_value_renal is not None else "",
            "restart_hours": rule.restart_hours if rule.restart_hours is not None else "",
            "restart_note": rule.restart_note,
            "evidence": rule.evidence,
            "source": rule.source,
            "note": rule.note,
        }
        if rule.requires_normal_inr:
            data["requires_normal_inr"] = "on"
        data.update(changes)
        return data

    def test_an_admin_edit_bumps_the_version_and_records_the_editor(self, client, clinic_admin):
        rule = HoldRule.objects.get(medication__generic_name="warfarin", risk_class="intermediate")
        client.force_login(clinic_admin)
        page = client.get(f"/admin/procedures/holdrule/{rule.pk}/change/").content.decode()
        assert "physician confirms the plan" in page and "verify locally" in page
        response = client.post(
            f"/admin/procedures/holdrule/{rule.pk}/change/",
            self._form_data(rule, hold_value="4", note="Local policy"),
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        rule.refresh_from_db()
        assert (rule.hold_value, rule.version, rule.updated_by) == (4, 2, clinic_admin)
        # Saving again without a change is not an edit.
        client.post(f"/admin/procedures/holdrule/{rule.pk}/change/", self._form_data(rule))
        rule.refresh_from_db()
        assert rule.version == 2

    def test_the_list_explains_the_evidence_marks(self, client, clinic_admin):
        client.force_login(clinic_admin)
        html = client.get("/admin/procedures/holdrule/?q=warfarin").content.decode()
        assert "verify locally" in html and "warfarin" in html

    def test_the_service_refuses_a_kind_without_its_value(self, clinic_admin):
        from django.core.exceptions import ValidationError

        rule = HoldRule.objects.get(medication__generic_name="warfarin", risk_class="intermediate")
        with pytest.raises(ValidationError):
            hold_rule_update(rule_id=rule.pk, fields={"hold_value": None}, actor=clinic_admin)
        rule.refresh_from_db()
        assert (rule.hold_value, rule.version) == (5, 1)

    def test_safety_settings_is_one_row_that_cannot_be_added_or_deleted(self, client, clinic_admin):
        client.force_login(clinic_admin)
        SafetySettings.objects.get_or_create(pk=1)
        response = client.get("/admin/procedures/safetysettings/")
        assert response.status_code == 302 and response["Location"].endswith("/safetysettings/1/change/")
        assert client.get("/admin/procedures/safetysettings/add/").status_code == 403
        assert client.get("/admin/procedures/safetysettings/1/delete/").status_code == 403
        assert ChecklistItem.objects.count() == 0  # nothing else touched


def test_a_revoked_override_no_longer_shows_the_appointment_as_ready(client, nurse, physician):
    """Reopening an item revokes the physician's go-ahead: the page agrees with the gate."""
    from decimal import Decimal

    from procedures.models import AppointmentStatus, Medication, SafetyOverride, SafetySettings
    from procedures.services.medications import patient_medication_add
    from procedures.services.safety import SafetyError, checklist_mark, safety_override
    from procedures.views.safety import safety_section_context
    from tests.factories import AppointmentFactory

    SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
    appt = AppointmentFactory(status=AppointmentStatus.CHECKED_IN)
    patient_medication_add(
        patient_id=appt.patient_id, medication=Medication.objects.get(generic_name="warfarin"), actor=nurse
    )
    safety_override(
        appointment_id=appt.pk, scope=SafetyOverride.Scope.CHECKLIST, actor=physician, reason="Urgent"
    )
    assert safety_section_context(appointment=appt, user=physician)["gate"].state == "ready"
    with pytest.raises(SafetyError, match="above the clinic's limit"):
        checklist_mark(appointment_id=appt.pk, kind="inr", actor=nurse, value=Decimal("3.2"))
    gate = safety_section_context(appointment=appt, user=physician)["gate"]
    assert gate.state == "blocked" and [i.kind for i in gate.blocking] == ["inr"]
