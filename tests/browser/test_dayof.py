"""The day of the procedure in a real browser: a nurse checks a patient in on the tablet (a wrong date of
birth is refused), works the checklist, the physician starts and finishes at the desk, the nurse charts
observations on the recovery board and discharges (early, with a reason), and the after-care sheet prints.
Then the board with several patients on a tablet: countdowns tick, alerts are red, a bay frees up.

live_server makes these tests transactional: the database starts empty, so each loads the protocol. Times
are the real clock: the pages default to now."""

import re
import time
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from procedures.models import AppointmentStatus, Discharge, SteroidDose, VitalsEntry
from procedures.services.dayof import (
    appointment_check_in,
    patient_discharge,
    procedure_finish,
    procedure_start,
    vitals_record,
)
from procedures.services.protocol import protocol_seed
from procedures.services.safety import hold_plan_refresh, safety_override
from tests.browser.pages import horizontal_overflow, main
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory, RecoveryBayFactory

pytestmark = pytest.mark.browser

BORN = date(1950, 4, 2)
MIN_TARGET_PX = 44  # the smallest comfortable touch target


def _today_appointment(*, patient, procedure_type, bay, physician=None, minutes_ago=0):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    extra = {"physician": physician} if physician else {}
    appointment = AppointmentFactory(
        start=start,
        end=start + timedelta(minutes=30),
        room_until=start + timedelta(minutes=40),
        monitoring_until=start + timedelta(minutes=60),
        recovery_bay=bay,
        patient=patient,
        procedure_type=procedure_type,
        status=AppointmentStatus.CONFIRMED,
        **extra,
    )
    hold_plan_refresh(appointment_id=appointment.pk)
    return appointment


def _fresh_minute() -> None:
    """Charted times are whole minutes: start the quick steps early in a minute, so that the start and the
    end typed as "now" fall in the same minute (a real procedure lasts longer than the test)."""
    second = timezone.localtime().second
    if second > 40:
        time.sleep(61 - second)


def _touch_height(locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["height"]


def _card(page: Page, name: str):
    return main(page).get_by_test_id("bay-card").filter(has_text=name)


def test_a_patient_goes_from_check_in_to_discharge(tablet_page, page, login_as, screenshot, cast):
    protocol_seed()
    bay_1, _ = RecoveryBayFactory(name="Bay 1"), RecoveryBayFactory(name="Bay 2")
    appointment = _today_appointment(
        patient=PatientFactory(
            first_name="Rosa",
            last_name="Delgado",
            date_of_birth=BORN,
            diabetes=True,
            pain_started_on=date(2020, 1, 1),
            conservative_care_started_on=date(2020, 2, 1),
        ),
        procedure_type=ProcedureTypeFactory(name="Lumbar TFESI", monitoring_minutes=15),
        physician=cast["physician"].physician_profile,
        bay=bay_1,
    )
    nurse, physician = tablet_page, page

    # --- Check-in on the tablet ----------------------------------------------------------------------------
    login_as(nurse, "nurse")
    nurse.goto("/day/checkin/")
    row = main(nurse).get_by_test_id("arrival").filter(has_text="Delgado, Rosa")
    expect(row.get_by_test_id("checklist-state")).to_contain_text("Consent form signed")
    expect(row.get_by_test_id("arrival-status")).to_have_text("Confirmed")
    expect(row).not_to_contain_text("1950")  # the date of birth is asked, never shown
    screenshot(nurse, "checkin")

    form = row.get_by_role("form", name="Check in Rosa Delgado")
    form.get_by_label("The patient said their full name").check()
    form.get_by_label("Date of birth, as the patient says it").fill("1950-02-04")
    form.get_by_role("button", name="Check in").click()
    expect(nurse.get_by_role("alert")).to_contain_text(
        "Rosa Delgado is not checked in. The date of birth given does not match this patient"
    )
    form = main(nurse).get_by_role("form", name="Check in Rosa Delgado")
    expect(form.get_by_label("Date of birth, as the patient says it")).to_have_value("1950-02-04")
    expect(form.get_by_label("The patient said their full name")).to_be_checked()
    screenshot(nurse, "checkin-refused")

    form.get_by_label("Date of birth, as the patient says it").fill("1950-04-02")
    form.get_by_role("button", name="Check in").click()
    expect(nurse.get_by_role("alert")).to_contain_text("Rosa Delgado checked in at")
    row = main(nurse).get_by_test_id("arrival").filter(has_text="Delgado, Rosa")
    expect(row.get_by_test_id("arrival-status")).to_have_text("Checked in")
    screenshot(nurse, "checked-in")

    # The blockers link to the appointment's safety section, where the nurse ticks them.
    row.get_by_test_id("safety-link").click()
    expect(nurse).to_have_url(re.compile(rf"/appointments/{appointment.pk}/#safety$"))
    for label in ("Consent form signed", "Allergies reviewed", "No fever or active infection"):
        item = main(nurse).get_by_test_id("checklist-item").filter(has_text=label)
        item.get_by_role("button", name=re.compile(r"^Done")).click()
        expect(
            main(nurse).get_by_test_id("checklist-item").filter(has_text=label).get_by_test_id("item-state")
        ).to_have_text("Done")
    glucose = main(nurse).get_by_test_id("checklist-item").filter(has_text="Blood glucose checked")
    glucose.get_by_label(re.compile("Glucose")).fill("142")
    glucose.get_by_role("button", name=re.compile(r"^Done")).click()
    expect(main(nurse).get_by_test_id("gate")).to_contain_text("Ready for the procedure")

    # --- The physician starts and finishes at the desk ------------------------------------------------------
    login_as(physician, "physician")
    _fresh_minute()
    physician.goto(f"/appointments/{appointment.pk}/procedure/")
    expect(main(physician).get_by_test_id("gate")).to_contain_text("Ready for the procedure")
    start = main(physician).get_by_role("form", name="Start the procedure")
    start.get_by_label("Pain just before (0–10)").fill("7")
    screenshot(physician, "start")
    start.get_by_role("button", name="Start the procedure").click()
    expect(physician.get_by_role("alert")).to_contain_text("Procedure started at")

    finish = main(physician).get_by_role("form", name="Finish the procedure")
    expect(finish.get_by_label("Levels")).to_have_value(appointment.levels)
    finish.get_by_label("Levels").fill("L4-L5")
    finish.get_by_label("Side").select_option(label="Left")
    finish.get_by_label("Approach").fill("transforaminal")
    expect(finish.get_by_label("Imaging")).to_have_value("fluoroscopy")
    finish.get_by_label("Contrast (mL)").fill("1.5")
    finish.get_by_label("Local anaesthetic").fill("lidocaine 1% 2 mL")
    steroids = finish.get_by_test_id("steroid-rows")
    steroids.get_by_label("Steroid").first.select_option(label="dexamethasone (up to 15 mg a session)")
    steroids.get_by_label("Dose (mg)").first.fill("20")
    screenshot(physician, "finish-form")
    finish.get_by_role("button", name="Finish: send to recovery").click()

    alerts = physician.get_by_role("alert")
    expect(alerts.filter(has_text="Procedure charted")).to_contain_text("Rosa Delgado goes to Bay 1")
    expect(alerts.filter(has_text="check the steroid dose")).to_contain_text("dexamethasone 20 mg is above")
    expect(main(physician).get_by_test_id("steroid-doses")).to_have_text("dexamethasone 20 mg")
    screenshot(physician, "finished")
    assert SteroidDose.objects.get(appointment=appointment).dose_mg == 20

    # --- Recovery board on the tablet -----------------------------------------------------------------------
    nurse.goto("/day/recovery/")
    card = _card(nurse, "Delgado, Rosa")
    expect(card.get_by_test_id("bay-name")).to_have_text("Bay 1")
    expect(card.get_by_test_id("last-vitals")).to_contain_text("No observations charted yet.")
    countdown = card.get_by_test_id("countdown")
    expect(countdown).to_contain_text(re.compile(r"1[45]:\d\d"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it counts down live
    expect(main(nurse).get_by_test_id("free-bays")).to_contain_text("Bay 2")
    screenshot(nurse, "board")
    assert horizontal_overflow(nurse) == 0

    chart = card.get_by_text("Chart observations")
    assert _touch_height(chart) >= MIN_TARGET_PX
    chart.click()
    vitals = card.get_by_role("form", name="Observations for Rosa Delgado")
    assert _touch_height(vitals.get_by_role("button", name="Save observations")) >= MIN_TARGET_PX
    assert _touch_height(vitals.get_by_label("Heart rate")) >= MIN_TARGET_PX
    vitals.get_by_label("Systolic").fill("80")
    vitals.get_by_label("Diastolic").fill("90")
    vitals.get_by_label("Heart rate").fill("72")
    vitals.get_by_label("SpO₂ %").fill("97")
    vitals.get_by_label("Pain 0–10").fill("2")
    vitals.get_by_text("Expected", exact=True).click()
    screenshot(nurse, "vitals-form")
    vitals.get_by_role("button", name="Save observations").click()
    expect(nurse.get_by_role("alert")).to_contain_text(
        "observations not charted. Blood pressure 80/90: the lower number must be below the upper one."
    )
    vitals = _card(nurse, "Delgado, Rosa").get_by_role("form", name="Observations for Rosa Delgado")
    expect(vitals.get_by_label("Heart rate")).to_have_value("72")
    expect(vitals.get_by_test_id("vitals-refused")).to_be_visible()
    screenshot(nurse, "vitals-refused")

    vitals.get_by_label("Systolic").fill("128")
    vitals.get_by_label("Diastolic").fill("78")
    vitals.get_by_role("button", name="Save observations").click()
    expect(nurse.get_by_role("alert")).to_contain_text("Bay 1 · Rosa Delgado: observations of")
    card = _card(nurse, "Delgado, Rosa")
    expect(card.get_by_test_id("last-vitals")).to_contain_text("BP 128/78")
    expect(card.get_by_test_id("last-vitals")).to_contain_text("numbness expected")
    screenshot(nurse, "vitals")
    entry = VitalsEntry.objects.get(appointment=appointment)
    assert (entry.systolic, entry.numbness) == (128, "expected")

    # --- Discharge: before the 15 minutes are over, so the nurse gives a reason ---------------------------
    card.get_by_role("link", name="Discharge Rosa Delgado").click()
    discharge = main(nurse).get_by_role("form", name="Discharge Rosa Delgado")
    expect(discharge.get_by_test_id("early-reason")).to_be_visible()
    expect(discharge.get_by_label(re.compile("escort"))).to_have_count(0)  # no sedation
    discharge.get_by_label("Vital signs stable and back to baseline").check()
    discharge.get_by_label("Walks safely without help").check()
    discharge.get_by_label("Pain controlled").check()
    discharge.get_by_role("button", name="Discharge and print after-care").click()
    expect(nurse.get_by_role("alert")).to_contain_text("The minimum observation time ends at")
    discharge = main(nurse).get_by_role("form", name="Discharge Rosa Delgado")
    expect(discharge.get_by_label("Walks safely without help")).to_be_checked()
    screenshot(nurse, "discharge-refused")

    discharge.get_by_label("Reason for discharging before the minimum observation time").fill(
        "Walking well, stable; daughter waiting to drive her home"
    )
    discharge.get_by_role("button", name="Discharge and print after-care").click()

    expect(nurse.get_by_role("alert")).to_contain_text("Rosa Delgado discharged at")
    expect(nurse.get_by_role("alert")).to_contain_text("Bay 1 is free again.")
    sheet = main(nurse).get_by_test_id("after-care-sheet")
    expect(sheet.get_by_role("heading", level=1)).to_have_text("After your procedure")
    expect(sheet.get_by_test_id("red-flags")).to_contain_text("bladder or bowels")
    expect(sheet.get_by_test_id("clinic-phone")).to_contain_text("(555) 010-2000")
    expect(sheet.get_by_test_id("diabetes")).to_contain_text("Check your blood sugar more often")
    expect(main(nurse).get_by_role("button", name="Print")).to_be_visible()
    screenshot(nurse, "after-care")
    discharged = Discharge.objects.get(appointment=appointment)
    assert discharged.early_reason.startswith("Walking well")

    nurse.goto("/day/recovery/")
    expect(main(nurse).get_by_test_id("board-empty")).to_have_text("Nobody is in recovery.")
    expect(main(nurse).get_by_test_id("free-bays")).to_contain_text("Bay 1")


def test_the_recovery_board_on_a_tablet(tablet_page, login_as, screenshot, cast):
    """Three patients: one just back, one whose observations are overdue, one with new numbness who may go.
    The board refreshes itself (here on demand), and a bay shows as free once its patient has left."""
    protocol_seed()
    page = tablet_page
    nurse, physician = cast["nurse"], cast["physician"]
    now = timezone.now()
    tfesi = ProcedureTypeFactory(name="Lumbar TFESI", monitoring_minutes=15, monitoring_minutes_sedated=30)
    patients = [
        ("Delgado", "Rosa", 5, False),  # back 5 minutes ago, with sedation: 25 minutes to go
        ("Nguyen", "Minh", 22, False),  # no observations for 22 minutes: overdue
        ("Okafor", "Ada", 35, True),  # new numbness charted; may go
    ]
    appointments = {}
    for i, (last, first, ended, numb) in enumerate(patients):
        bay = RecoveryBayFactory(name=f"Bay {i + 1}")
        appt = _today_appointment(
            patient=PatientFactory(last_name=last, first_name=first),
            procedure_type=tfesi,
            bay=bay,
            minutes_ago=ended + 30,
        )
        appointment_check_in(
            appointment_id=appt.pk,
            actor=nurse,
            name_confirmed=True,
            date_of_birth=appt.patient.date_of_birth,
            at=now - timedelta(minutes=ended + 25),
        )
        safety_override(
            appointment_id=appt.pk, scope="checklist", actor=physician, reason="Board layout test"
        )
        procedure_start(appointment_id=appt.pk, actor=physician, at=now - timedelta(minutes=ended + 20))
        procedure_finish(
            appointment_id=appt.pk,
            actor=physician,
            ended_at=now - timedelta(minutes=ended),
            details={"levels": "L5-S1", "side": "right", "sedation_given": i == 0},
        )
        if ended > 30:
            vitals_record(
                appointment_id=appt.pk,
                actor=nurse,
                taken_at=now - timedelta(minutes=3),
                systolic=134,
                diastolic=82,
                heart_rate=80,
                spo2=96,
                pain=3,
                leg_strength="weak" if numb else "normal",
                numbness="new" if numb else "expected",
            )
        appointments[last] = appt
    RecoveryBayFactory(name="Bay 4")

    login_as(page, "nurse")
    page.goto("/day/recovery/")
    expect(main(page).get_by_test_id("bay-card")).to_have_count(3)
    expect(main(page).get_by_test_id("board-count")).to_have_text("3 in recovery")
    expect(main(page).get_by_test_id("free-bays")).to_contain_text("Bay 4")

    rosa = _card(page, "Delgado, Rosa")
    expect(rosa).to_contain_text("sedation")
    expect(rosa.get_by_test_id("countdown")).to_contain_text(re.compile(r"2[45]:\d\d"))
    minh = _card(page, "Nguyen, Minh")
    expect(minh.get_by_test_id("alerts")).to_contain_text("Observations overdue since")
    ada = _card(page, "Okafor, Ada")
    expect(ada.get_by_test_id("countdown")).to_contain_text("Done")
    expect(ada.get_by_test_id("alerts")).to_contain_text("New numbness or weakness: tell the physician")
    colour = ada.get_by_test_id("alerts").evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(132, 32, 41)", f"alerts should read red, not {colour}"
    assert horizontal_overflow(page) == 0
    screenshot(page, "board")

    # Typing in a card pauses the refresh, so the numbers are not wiped mid-entry.
    minh.get_by_text("Chart observations").click()
    minh.get_by_label("Heart rate").fill("88")
    assert page.evaluate("boardIdle()") is False
    expect(page.get_by_test_id("board-live")).to_contain_text("Paused while you chart")
    page.reload()
    assert page.evaluate("boardIdle()") is True

    # Ada goes home (charted elsewhere); the next refresh frees Bay 3.
    patient_discharge(
        appointment_id=appointments["Okafor"].pk,
        actor=nurse,
        vitals_stable=True,
        walks_safely=True,
        pain_controlled=True,
    )
    page.evaluate("htmx.ajax('GET', '/day/recovery/board/', {target: '#board', swap: 'innerHTML'})")
    expect(main(page).get_by_test_id("bay-card")).to_have_count(2)
    expect(main(page).get_by_test_id("free-bays")).to_contain_text("Bay 3")
    expect(page.get_by_test_id("board-live")).to_contain_text("Live")
    expect(_card(page, "Delgado, Rosa").get_by_test_id("countdown")).to_contain_text(re.compile(r"\d+:\d\d"))
    screenshot(page, "board-after-discharge")


def test_the_pain_diary_after_a_medial_branch_block(tablet_page, login_as, screenshot, cast):
    """A diagnostic block: the nurse charts the 30-minute point; the peak relief is kept with the block."""
    protocol_seed()
    page = tablet_page
    now = timezone.now()
    block = _today_appointment(
        patient=PatientFactory(last_name="Ibarra", first_name="Luis"),
        procedure_type=ProcedureTypeFactory(
            name="Lumbar medial branch block",
            family="facet_mbb",
            purpose="diagnostic",
            uses_steroid=False,
            diary_timepoints_minutes=[30, 60, 120, 240, 360],
        ),
        bay=RecoveryBayFactory(name="Bay 1"),
        minutes_ago=70,
    )
    appointment_check_in(
        appointment_id=block.pk,
        actor=cast["nurse"],
        name_confirmed=True,
        date_of_birth=block.patient.date_of_birth,
        at=now - timedelta(minutes=65),
    )
    safety_override(appointment_id=block.pk, scope="checklist", actor=cast["physician"], reason="Diary test")
    procedure_start(
        appointment_id=block.pk, actor=cast["physician"], at=now - timedelta(minutes=60), baseline_pain=8
    )
    procedure_finish(appointment_id=block.pk, actor=cast["physician"], ended_at=now - timedelta(minutes=40))

    login_as(page, "nurse")
    page.goto("/day/recovery/")
    _card(page, "Ibarra, Luis").get_by_role("link", name="Pain diary").click()
    rows = main(page).get_by_test_id("diary-row")
    expect(rows).to_have_count(5)
    expect(main(page).get_by_test_id("peak-relief")).to_have_text("—")
    expect(rows.filter(has_text="1 h").get_by_test_id("diary-later")).to_contain_text("opens")  # not yet

    half_hour = main(page).get_by_role("form", name="Diary at 30 minutes")
    half_hour.get_by_label("Pain 0–10").fill("2")
    half_hour.get_by_label("Relief %").fill("150")
    half_hour.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_role("alert")).to_contain_text("Not charted. Relief is a percentage from 0 to 100.")
    half_hour = main(page).get_by_role("form", name="Diary at 30 minutes")
    expect(half_hour.get_by_label("Relief %")).to_have_value("150")

    half_hour.get_by_label("Relief %").fill("80")
    half_hour.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_role("alert")).to_contain_text("Peak relief so far: 80 %.")
    expect(main(page).get_by_test_id("peak-relief")).to_have_text("80 %")
    expect(rows.filter(has_text="30 min").get_by_test_id("diary-saved")).to_contain_text("charted by a nurse")
    assert horizontal_overflow(page) == 0
    screenshot(page, "diary")
    block.refresh_from_db()
    assert block.block_peak_relief_percent == 80
