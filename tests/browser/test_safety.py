"""Pre-procedure safety in a real browser: a physician reviews a warfarin hold and confirms the plan, a nurse
works the checklist until the procedure can start, the front desk adds aspirin (the page asks why it is
taken), and the patient's instruction sheet read on a phone.

live_server makes these tests transactional: the database starts empty, so each loads the protocol."""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures.models import HoldPlan, Medication, PatientMedication, PlanStatus, SafetySettings
from procedures.services.medications import patient_medication_add
from procedures.services.protocol import protocol_seed
from procedures.services.safety import hold_plan_confirm
from tests.browser.pages import horizontal_overflow, main, main_nav
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.browser


def _warfarin_appointment(cast, *, sedation: bool = False, diabetes: bool = False):
    """An intermediate-risk injection at 10:00 in twelve days for a patient on warfarin."""
    protocol_seed()
    day = timezone.localdate() + timedelta(days=12)
    start = datetime.combine(day, time(10), tzinfo=timezone.get_default_timezone())
    appointment = AppointmentFactory(
        start=start,
        physician=cast["physician"].physician_profile,
        sedation_planned=sedation,
        patient=PatientFactory(
            first_name="Rosa",
            last_name="Delgado",
            diabetes=diabetes,
            pain_started_on=date(2020, 1, 1),
            conservative_care_started_on=date(2020, 2, 1),
        ),
        procedure_type=ProcedureTypeFactory(name="Lumbar TFESI", bleeding_risk="intermediate"),
    )
    patient_medication_add(
        patient_id=appointment.patient_id,
        medication=Medication.objects.get(generic_name="warfarin"),
        dose="5 mg once daily",
        actor=cast["frontdesk"],
    )
    return appointment


def _line(page, drug: str):
    return main(page).get_by_test_id("hold-line").filter(has_text=drug)


def _item(page, label: str):
    return main(page).get_by_test_id("checklist-item").filter(has_text=label)


def test_physician_changes_the_warfarin_hold_with_a_reason_and_confirms_the_plan(
    page, login_as, screenshot, cast
):
    appointment = _warfarin_appointment(cast)
    login_as(page, "physician")
    page.goto(f"/appointments/{appointment.pk}/")

    line = _line(page, "warfarin")
    expect(line.get_by_test_id("proposed-hold")).to_have_text("5 days + normal INR")
    expect(line.get_by_test_id("hold-source")).to_contain_text("ASRA Pain Medicine 2018")
    expect(line.get_by_label(re.compile(r"^Evidence V"))).to_have_attribute("title", "Read in the source")
    expect(main(page).get_by_test_id("plan-status")).to_have_text("Proposed — waiting for a physician")
    screenshot(page, "proposed")

    line.get_by_text("Change this hold").click()
    form = line.get_by_role("form", name="Change the hold for warfarin")
    expect(form.get_by_label("New hold")).to_have_value("5")
    expect(form.get_by_label("Unit")).to_have_value("days")
    form.get_by_label("New hold").fill("4")
    screenshot(page, "override-form")
    form.get_by_role("button", name="Save the change").click()
    expect(page.get_by_role("alert")).to_contain_text("Give a reason to change the proposed hold.")
    assert HoldPlan.objects.get(appointment=appointment).lines.get().override_hold_hours is None

    line = _line(page, "warfarin")
    line.get_by_text("Change this hold").click()
    form = line.get_by_role("form", name="Change the hold for warfarin")
    form.get_by_label("New hold").fill("4")
    form.get_by_label("Reason (required)").fill("INR stable at 1.1; anticoagulation clinic agrees to 4 days")
    form.get_by_role("button", name="Save the change").click()

    expect(page.get_by_role("alert")).to_contain_text("warfarin: hold set to 4 days + normal INR")
    line = _line(page, "warfarin")
    expect(line.get_by_test_id("effective-hold")).to_contain_text("4 days + normal INR")
    expect(line.get_by_test_id("override-note")).to_contain_text("anticoagulation clinic agrees to 4 days")
    screenshot(page, "overridden")

    main(page).get_by_role("button", name="Confirm plan").click()
    expect(page.get_by_role("alert")).to_contain_text("Hold plan confirmed.")
    expect(main(page).get_by_test_id("plan-status")).to_have_text("Confirmed by a physician")
    expect(
        _item(page, "Physician confirmed the medication hold plan").get_by_test_id("item-state")
    ).to_have_text("Done")
    screenshot(page, "confirmed")
    plan = HoldPlan.objects.get(appointment=appointment)
    assert (plan.status, plan.lines.get().override_hold_hours) == (PlanStatus.CONFIRMED, 96)


def test_nurse_works_the_checklist_until_ready_for_the_procedure(tablet_page, login_as, screenshot, cast):
    page = tablet_page
    appointment = _warfarin_appointment(cast)
    SafetySettings.objects.filter(pk=1).update(inr_limit=Decimal("1.5"))
    hold_plan_confirm(appointment_id=appointment.pk, actor=cast["physician"])
    login_as(page, "nurse")
    page.goto(f"/appointments/{appointment.pk}/")

    gate = main(page).get_by_test_id("gate")
    expect(gate).to_contain_text("Not ready")
    expect(gate.get_by_test_id("gate-open")).to_contain_text("INR checked on the day")
    expect(main(page).get_by_role("button", name="Confirm plan")).to_have_count(0)
    screenshot(page, "open")

    main(page).get_by_role("button", name="Patient confirmed the holds").click()
    expect(page.get_by_role("alert")).to_contain_text("Recorded that Rosa Delgado confirmed the holds")
    for label in ("Consent form signed", "Allergies reviewed", "No fever or active infection"):
        _item(page, label).get_by_role("button", name=re.compile(r"^Done")).click()
        expect(_item(page, label).get_by_test_id("item-state")).to_have_text("Done")

    inr = _item(page, "INR checked on the day")
    expect(inr).to_contain_text("Clinic limit: 1.5.")
    inr.get_by_label("INR").fill("2.3")
    inr.get_by_role("button", name=re.compile(r"^Done")).click()
    expect(page.get_by_role("alert")).to_contain_text("INR 2.3 is above the clinic's limit of 1.5")
    expect(main(page).get_by_test_id("gate")).to_contain_text("Not ready: 1 item open")
    screenshot(page, "inr-refused")

    inr = _item(page, "INR checked on the day")
    inr.get_by_label("INR").fill("1.2")
    inr.get_by_role("button", name=re.compile(r"^Done")).click()
    expect(main(page).get_by_test_id("gate")).to_contain_text("Ready for the procedure")
    expect(_item(page, "INR checked on the day")).to_contain_text("INR 1.2")
    screenshot(page, "ready")


def test_front_desk_adds_aspirin_and_the_page_asks_why_it_is_taken(page, login_as, screenshot, cast):
    appointment = _warfarin_appointment(cast)
    patient = appointment.patient
    login_as(page, "frontdesk")
    page.goto(f"/patients/{patient.pk}/")

    card = main(page).get_by_role("form", name="Add a medication")
    indication = card.get_by_label("Why it is taken")
    expect(indication).to_be_hidden()
    card.get_by_label("Medication").select_option(label="aspirin (Bayer, Ecotrin)")
    expect(indication).to_be_visible()
    card.get_by_role("button", name="Add medication").click()
    expect(main(page).get_by_test_id("medication-errors")).to_contain_text(
        "Say why aspirin is taken: primary or secondary prevention"
    )
    screenshot(page, "refused")

    card = main(page).get_by_role("form", name="Add a medication")
    card.get_by_label("Why it is taken").select_option(label="Primary prevention")
    card.get_by_label("Dose as taken").fill("81 mg daily")
    card.get_by_role("button", name="Add medication").click()
    expect(page.get_by_role("alert")).to_contain_text("Added aspirin")
    rows = main(page).get_by_test_id("medication-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="aspirin")).to_contain_text("Primary prevention")
    screenshot(page, "added")

    page.once("dialog", lambda dialog: dialog.accept())
    rows.filter(has_text="warfarin").get_by_role("button", name="Stop warfarin").click()
    expect(page.get_by_role("alert")).to_contain_text("Stopped warfarin")
    expect(main(page).get_by_test_id("medications-stopped")).to_contain_text("Stopped (1)")
    assert PatientMedication.objects.get(patient=patient, medication__generic_name="warfarin").stopped_at


def test_the_instruction_sheet_reads_well_on_a_phone(phone_page, login_as, screenshot, cast):
    page = phone_page
    appointment = _warfarin_appointment(cast, sedation=True, diabetes=True)
    login_as(page, "nurse")
    page.goto(f"/appointments/{appointment.pk}/instructions/")

    sheet = main(page).get_by_test_id("instruction-sheet")
    expect(sheet.get_by_role("heading", level=1)).to_have_text("Your procedure: what to do and when")
    days = sheet.get_by_test_id("sheet-day")
    expect(days.first).to_contain_text("Take your LAST dose of warfarin today.")
    expect(days.filter(has_text="Procedure day")).to_contain_text(
        "Do NOT take warfarin before the procedure."
    )
    expect(sheet).to_contain_text("a responsible adult must come with you")
    expect(sheet).to_contain_text("Check your blood sugar more often")
    font_px = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.sheet-day li')).fontSize)"
    )
    assert font_px >= 18, f"the sheet's text is {font_px}px: too small for many readers"
    assert horizontal_overflow(page) == 0
    screenshot(page, "sheet")

    page.goto(f"/appointments/{appointment.pk}/")
    expect(main(page).get_by_role("link", name="Instruction sheet")).to_be_visible()
    screenshot(page, "appointment")


def test_physician_finds_the_plan_to_confirm_on_the_worklist(page, login_as, screenshot, cast):
    appointment = _warfarin_appointment(cast)
    login_as(page, "physician")
    main_nav(page).get_by_role("link", name="Safety worklist").click()

    plans = main(page).get_by_test_id("worklist-plans")
    row = plans.get_by_test_id("worklist-row").filter(has_text="Delgado, Rosa")
    expect(row).to_contain_text("warfarin")
    expect(main(page).get_by_test_id("worklist-checklist")).to_contain_text("INR checked on the day")
    screenshot(page, "worklist")
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/appointments/{appointment.pk}/#safety$"))
    expect(main(page).get_by_role("button", name="Confirm plan")).to_be_visible()
