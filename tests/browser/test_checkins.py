"""A patient answers a check-in on a phone, without logging in; a warning sign tells them at once whom to
call and puts them on the nurses' urgent call list; a tampered link is turned away kindly. The patient also
confirms an appointment from the reminder link, and the front desk reads the outbox."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures import patient_links
from procedures.models import (
    AppointmentStatus,
    CallListItem,
    CheckInResponse,
    Discharge,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    InstrumentScore,
    OutcomeSettings,
)
from procedures.services.messaging import message_plan_sync
from tests.browser.pages import main
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.browser


def _path(url: str) -> str:
    return url.split("localhost:8000", 1)[1]


@pytest.fixture
def check_in(cast):
    now = timezone.now()
    patient = PatientFactory(first_name="Dorothy", last_name="Klein", consent_sms=True, consent_sms_at=now)
    appointment = AppointmentFactory(
        patient=patient,
        procedure_type=ProcedureTypeFactory(name="Lumbar epidural steroid injection"),
        status=AppointmentStatus.DISCHARGED,
        start=now - timedelta(days=14, hours=1),
    )
    Discharge.objects.create(
        appointment=appointment,
        discharged_at=now - timedelta(days=14),
        vitals_stable=True,
        walks_safely=True,
        pain_controlled=True,
        by=cast["nurse"],
    )
    return FollowUp.objects.create(
        appointment=appointment,
        kind=FollowUpKind.CHECK_IN,
        label="Week 2",
        due_at=now - timedelta(hours=1),
        status=FollowUpStatus.SENT,
    )


def _answer(page, pain: str, relief: str, limits: str, flags: dict[str, str]) -> None:
    form = main(page)
    form.locator("#q-pain_now").get_by_text(pain, exact=True).click()
    form.locator("#q-percent_relief").get_by_text(relief, exact=True).click()
    form.locator("#q-activity_interference").get_by_text(limits, exact=True).click()
    for code, answer in flags.items():
        form.locator(f"#q-flag_{code}").get_by_text(answer, exact=True).click()


ALL_NO = {
    code: "No"
    for code in (
        "fever",
        "weakness_numbness",
        "bowel_bladder",
        "headache_upright",
        "stiff_neck",
        "site_infection",
        "bleeding",
        "severe_pain",
    )
}


def _expected(errors: list[str], prefix: str) -> None:
    """Remove the HTTP error a test provokes on purpose (a refused form, a bad link)."""
    errors[:] = [error for error in errors if not error.startswith(prefix)]


def test_patient_answers_a_check_in_on_a_phone(phone_page, screenshot, check_in, browser_errors):
    page = phone_page
    page.goto(_path(patient_links.checkin_link(followup_id=check_in.pk)))
    expect(page.get_by_role("heading", name="How are you, Dorothy?")).to_be_visible()
    screenshot(page, "checkin-form-phone")
    # Sending with questions left out keeps what was chosen and says what is missing.
    main(page).locator("#q-pain_now").get_by_text("3", exact=True).click()
    page.get_by_test_id("checkin-submit").click()
    expect(page.get_by_test_id("checkin-errors")).to_be_visible()
    expect(main(page).locator("#q-percent_relief").get_by_role("alert")).to_contain_text("from 0 % to 100 %")
    expect(main(page).locator("#q-pain_now input[value='3']")).to_be_checked()
    assert not CheckInResponse.objects.exists()
    _expected(browser_errors, "HTTP 400 POST /c/")
    _answer(page, "3", "70%", "2", ALL_NO)
    page.get_by_test_id("checkin-submit").click()
    expect(page.get_by_test_id("checkin-thanks")).to_contain_text("pain 3 out of 10, 70 % better")
    expect(page.get_by_test_id("red-flag-advice")).to_have_count(0)
    screenshot(page, "checkin-thanks-phone")
    # The link was single-use.
    page.goto(_path(patient_links.checkin_link(followup_id=check_in.pk)))
    expect(page.get_by_test_id("checkin-closed")).to_contain_text("already been answered")


def test_a_clinic_collecting_pgic_asks_it_in_words(phone_page, screenshot, check_in, browser_errors):
    """The global impression of change is seven answers in words, one per row, each a full-width target."""
    OutcomeSettings.objects.update_or_create(pk=1, defaults={"collect_pgic": True})
    page = phone_page
    page.goto(_path(patient_links.checkin_link(followup_id=check_in.pk)))
    question = main(page).locator("#q-pgic")
    expect(question).to_contain_text("Since the procedure, my overall status is:")
    choices = question.locator("label")
    expect(choices).to_have_count(7)
    expect(choices.first).to_have_text("Very much improved")
    expect(choices.last).to_have_text("Very much worse")
    box = choices.nth(1).bounding_box()
    assert box and box["width"] > 300 and box["height"] >= 40  # a thumb's target on a 390 px phone
    _answer(page, "3", "70%", "2", ALL_NO)
    page.get_by_test_id("checkin-submit").click()
    expect(page.get_by_test_id("checkin-errors")).to_be_visible()
    expect(question.get_by_role("alert")).to_contain_text("changed since the procedure")
    _expected(browser_errors, "HTTP 400 POST /c/")
    question.get_by_text("Much improved", exact=True).click()
    expect(question.locator("input[value='2']")).to_be_checked()
    screenshot(page, "checkin-pgic-phone")
    page.get_by_test_id("checkin-submit").click()
    expect(page.get_by_test_id("checkin-thanks")).to_be_visible()
    impression = InstrumentScore.objects.get()
    assert (impression.instrument, impression.value, impression.source) == ("pgic", 2, "check_in")


def test_a_warning_sign_says_whom_to_call_and_reaches_the_nurses(
    phone_page, new_page, login_as, screenshot, check_in, settings
):
    page = phone_page
    page.goto(_path(patient_links.checkin_link(followup_id=check_in.pk)))
    _answer(page, "8", "0%", "9", {**ALL_NO, "weakness_numbness": "Yes"})
    page.get_by_test_id("checkin-submit").click()
    advice = page.get_by_test_id("red-flag-advice")
    expect(advice).to_contain_text("Please call us now")
    expect(advice.get_by_role("link", name=f"Call {settings.CLINIC_PHONE}")).to_be_visible()
    screenshot(page, "checkin-red-flag-phone")
    assert CallListItem.objects.get().urgent

    nurse_page = new_page()
    login_as(nurse_page, "nurse")
    nurse_page.goto("/")
    calls = nurse_page.get_by_test_id("nav-calls")
    expect(calls).to_contain_text("1")
    calls.click()
    item = main(nurse_page).get_by_test_id("call-item")
    expect(item).to_contain_text("Red flag reported")
    expect(item).to_contain_text("Dorothy Klein")
    expect(item).to_contain_text("numbness or weakness")
    screenshot(nurse_page, "call-list-urgent")
    item.get_by_label("What happened on the call").fill("Spoke to her; sent to ED for assessment.")
    item.get_by_role("button", name="Called — mark done").click()
    expect(main(nurse_page).get_by_test_id("calls-empty")).to_be_visible()


def test_a_tampered_link_is_turned_away_kindly(phone_page, screenshot, check_in, browser_errors):
    url = _path(patient_links.checkin_link(followup_id=check_in.pk))
    phone_page.goto(url[:-4] + "xxxx/")
    expect(phone_page.get_by_test_id("link-problem")).to_contain_text("This link does not work")
    expect(phone_page.get_by_test_id("link-problem")).to_contain_text("Nothing was recorded")
    screenshot(phone_page, "checkin-bad-link-phone")
    assert not CheckInResponse.objects.exists()
    _expected(browser_errors, "HTTP 400 GET /c/")


def test_patient_confirms_from_the_reminder_and_the_front_desk_sees_it(
    phone_page, new_page, login_as, screenshot, cast
):
    patient = PatientFactory(
        first_name="Walter", last_name="Brandt", consent_sms=True, consent_sms_at=timezone.now()
    )
    appointment = AppointmentFactory(
        patient=patient,
        procedure_type=ProcedureTypeFactory(name="Sacroiliac joint injection"),
        start=timezone.now() + timedelta(days=2),
    )
    message_plan_sync(appointment_id=appointment.pk, change="booked")
    phone_page.goto(_path(patient_links.appointment_link(appointment_id=appointment.pk)))
    expect(phone_page.get_by_role("heading", name="Sacroiliac joint injection")).to_be_visible()
    screenshot(phone_page, "patient-appointment-phone")
    phone_page.get_by_test_id("patient-confirm").click()
    expect(phone_page.get_by_test_id("patient-notice")).to_contain_text("You are confirmed")
    expect(phone_page.get_by_test_id("patient-confirmed")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED

    desk = new_page()
    login_as(desk, "frontdesk")
    desk.goto(f"/appointments/{appointment.pk}/")
    messages = main(desk).get_by_test_id("appointment-messages")
    expect(messages.locator("tr[data-kind='confirmation']")).to_contain_text("Planned")
    expect(messages.locator("tr[data-kind='confirm_request']")).to_have_count(0)
    screenshot(desk, "appointment-messages")
    desk.goto("/messages/")
    expect(main(desk).get_by_test_id("outbox")).to_contain_text("Walter Brandt")
    screenshot(desk, "outbox")
