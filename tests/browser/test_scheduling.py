"""The front desk on the phone: booking from the day view's empty slot, cancelling with a reason, and a
conflicting booking refused with its reason, in a real browser."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from procedures.models import Appointment, AppointmentStatus, ScheduleException, WaitlistOffer, WorkingHours
from procedures.services.booking import BookingRequest, appointment_book, appointment_cancel
from procedures.services.waitlist import waitlist_add
from tests.browser.pages import main, main_nav
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.browser

TIME = re.compile(r"^Time")  # the field, not "Other free times that day"


def book(clinic, *, patient, hh, mm=0, physician="lee", day=None):
    return appointment_book(
        request=BookingRequest(
            patient=clinic["patients"][patient],
            procedure_type=clinic["tfesi"],
            physician=clinic[physician],
            start=at(day or clinic["monday"], hh, mm),
        ),
        actor=None,
    )


def test_front_desk_books_from_an_empty_slot_on_the_day_view(page, login_as, screenshot, clinic):
    monday = clinic["monday"]
    patient = clinic["patients"][0]
    book(clinic, patient=3, hh=10, physician="patel")
    login_as(page, "frontdesk")
    main_nav(page).get_by_role("link", name="Schedule", exact=True).click()
    main(page).get_by_label("Go to date").fill(f"{monday:%Y-%m-%d}")
    expect(page.get_by_test_id("schedule-title")).to_have_text(f"{monday:%A} {monday.day} {monday:%B %Y}")
    screenshot(page, "day")

    main(page).get_by_role("link", name="Book Dr Lee at 09:00").click()

    expect(main(page).get_by_test_id("requested-slot")).to_contain_text("Dr Lee")
    expect(main(page).get_by_test_id("requested-slot")).to_contain_text("09:00")
    search = main(page).get_by_role("searchbox", name="Find the patient")
    expect(search).to_be_focused()
    search.fill("Patient0")
    search.press("Enter")
    screenshot(page, "patient")
    main(page).get_by_role("link", name=f"Choose {patient.last_name}, {patient.first_name}").click()
    expect(page.get_by_test_id("booking-patient")).to_contain_text(f"MRN {patient.mrn}")
    main(page).get_by_label("Procedure", exact=True).select_option(label="Lumbar TFESI")
    main(page).get_by_role("button", name="Find free times").click()

    slots = main(page).get_by_test_id("slot-list")
    requested = slots.get_by_role("link", name=re.compile(r"^09:00 Dr Lee"))
    expect(requested).to_have_class(re.compile(r"\bis-requested\b"))
    screenshot(page, "slots")
    requested.click()

    expect(main(page).get_by_role("heading", name="Confirm the booking")).to_be_visible()
    expect(main(page).get_by_role("textbox", name=TIME)).to_have_value("09:00")
    main(page).get_by_label("Side").select_option(label="Left")
    main(page).get_by_label("Levels").fill("L4-L5")
    screenshot(page, "confirm")
    main(page).get_by_role("button", name="Book appointment").click()

    expect(page).to_have_url(re.compile(rf"/schedule/day/\?date={monday:%Y-%m-%d}#appt-\d+$"))
    expect(page.get_by_role("alert")).to_contain_text(f"Booked Lumbar TFESI for {patient.full_name}")
    block = main(page).get_by_test_id("appointment-block").filter(has_text=patient.last_name)
    expect(block).to_contain_text("09:00–09:30")
    expect(block).to_contain_text("Scheduled")
    screenshot(page, "booked")

    appointment = Appointment.objects.get(patient=patient)
    assert (appointment.start, appointment.physician, appointment.levels) == (
        at(monday, 9),
        clinic["lee"],
        "L4-L5",
    )


def test_front_desk_cancels_with_a_reason(page, login_as, screenshot, clinic):
    appointment = book(clinic, patient=0, hh=9)
    login_as(page, "frontdesk")
    page.goto(f"/schedule/day/?date={clinic['monday']:%Y-%m-%d}")
    main(page).get_by_test_id("appointment-block").filter(has_text="Patient0").click()
    expect(page.get_by_test_id("appointment-status")).to_have_text("Scheduled")

    cancel = main(page).get_by_role("button", name="Cancel appointment")
    cancel.click()
    expect(main(page).get_by_text("Give a reason to cancel this appointment.")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.SCHEDULED

    main(page).get_by_label("Reason for cancelling").fill("Patient unwell")
    main(page).get_by_role("button", name="Cancel appointment").click()

    expect(page.get_by_test_id("appointment-status")).to_have_text("Cancelled")
    expect(page.get_by_role("alert")).to_contain_text("Cancelled Lumbar TFESI for")
    expect(page.get_by_test_id("cancel-reason")).to_have_text("Patient unwell")
    screenshot(page, "cancelled")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED and appointment.cancel_reason == "Patient unwell"

    page.goto(f"/schedule/day/?date={clinic['monday']:%Y-%m-%d}")
    expect(
        main(page).get_by_role("link", name="Book Dr Lee at 09:00")
    ).to_be_visible()  # the time is free again
    expect(main(page).get_by_text("Cancelled on this day")).to_be_visible()


def test_a_conflicting_booking_is_refused_with_its_reason(page, login_as, screenshot, clinic):
    taken = book(clinic, patient=0, hh=9)
    other = clinic["patients"][1]
    login_as(page, "frontdesk")
    page.goto(
        f"/appointments/new/?patient={other.pk}&procedure_type={clinic['tfesi'].pk}"
        f"&physician={clinic['lee'].pk}&start={clinic['monday']:%Y-%m-%d}T09:30&step=confirm"
    )
    main(page).get_by_role("textbox", name=TIME).fill("09:15")
    main(page).get_by_label("Levels").fill("L5-S1")
    main(page).get_by_role("button", name="Book appointment").click()

    error = main(page).get_by_test_id("form-errors")
    expect(error).to_contain_text("Not booked yet. Nothing was changed.")
    expect(error).to_contain_text("Dr Lee is already booked")
    expect(error).to_contain_text("09:00–09:30")
    # What was typed is kept, and other free times that day are offered.
    expect(main(page).get_by_role("textbox", name=TIME)).to_have_value("09:15")
    expect(main(page).get_by_label("Levels")).to_have_value("L5-S1")
    expect(main(page).get_by_role("heading", name="Other free times that day")).to_be_visible()
    screenshot(page, "refused")
    assert list(Appointment.objects.all()) == [taken]

    main(page).get_by_test_id("slot-list").get_by_role("link", name=re.compile(r"^09:30 Dr Lee")).click()
    main(page).get_by_role("button", name="Book appointment").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Booked Lumbar TFESI for {other.full_name}")


def test_the_waitlist_offers_a_cancelled_slot_and_accepting_moves_the_booking(
    page, login_as, screenshot, clinic
):
    freed = book(clinic, patient=0, hh=9)
    later = book(clinic, patient=1, hh=9, day=clinic["monday"] + timedelta(days=3))
    waitlist_add(patient=clinic["patients"][1], procedure_type=clinic["tfesi"], appointment=later, actor=None)
    appointment_cancel(appointment_id=freed.pk, actor=None, reason="Patient unwell")
    assert WaitlistOffer.objects.count() == 1
    login_as(page, "frontdesk")
    main_nav(page).get_by_role("link", name="Waitlist").click()
    offer = main(page).get_by_test_id("offer-row")
    expect(offer).to_contain_text("Patient1")
    screenshot(page, "waitlist")

    offer.get_by_role("button", name=re.compile("^Accept")).click()

    expect(page.get_by_role("alert")).to_contain_text("is booked for")
    expect(page.get_by_test_id("appointment-when")).to_contain_text("09:00–09:30")
    later.refresh_from_db()
    assert later.start == freed.start


def test_week_and_day_views_on_a_phone(phone_page, login_as, screenshot, clinic):
    for i, (hh, physician) in enumerate([(8, "lee"), (9, "patel"), (10, "lee")]):
        book(clinic, patient=i, hh=hh, physician=physician)
    login_as(phone_page, "frontdesk")
    phone_page.goto(f"/schedule/day/?date={clinic['monday']:%Y-%m-%d}")
    expect(main(phone_page).get_by_test_id("appointment-block")).to_have_count(3)
    screenshot(phone_page, "day")
    phone_page.goto(f"/schedule/week/?date={clinic['monday']:%Y-%m-%d}")
    expect(main(phone_page).get_by_test_id("week-chip")).to_have_count(3)
    screenshot(phone_page, "week")


def test_day_view_greys_leave_and_closures_and_switches_to_rooms(page, login_as, screenshot, clinic):
    monday = clinic["monday"]
    ScheduleException.objects.create(
        physician=clinic["patel"],
        kind="leave",
        starts_at=at(monday, 8),
        ends_at=at(monday, 10),
        reason="Conference",
    )
    ScheduleException.objects.create(
        kind="closure", starts_at=at(monday, 11, 30), ends_at=at(monday, 12), reason="Fire drill"
    )
    WorkingHours.objects.filter(physician=clinic["lee"], weekday=monday.weekday()).update(start_time="09:00")
    book(clinic, patient=0, hh=9)
    book(clinic, patient=1, hh=10, physician="patel")
    login_as(page, "frontdesk")
    page.goto(f"/schedule/day/?date={monday:%Y-%m-%d}")
    expect(main(page).get_by_text("Clinic closed: Fire drill")).to_be_visible()
    expect(main(page).get_by_role("columnheader", name=re.compile("Dr Patel"))).to_contain_text(
        "Conference 08:00–10:00"
    )
    expect(main(page).get_by_role("link", name="Book Dr Lee at 08:30")).to_have_count(0)  # not working yet
    expect(main(page).get_by_role("link", name="Book Dr Patel at 09:00")).to_have_count(0)  # on leave
    expect(main(page).get_by_role("link", name="Book Dr Patel at 10:30")).to_be_visible()
    screenshot(page, "physicians")

    main(page).get_by_role("link", name="By room").click()
    expect(main(page).get_by_role("columnheader", name="Fluoro 1")).to_be_visible()
    expect(main(page).get_by_test_id("appointment-block")).to_have_count(2)
    screenshot(page, "rooms")
