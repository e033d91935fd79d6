"""Logging in, landing on today's work, and logging out, as each staff role sees it in a real browser."""

import re
from datetime import datetime, time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures.models import PhysicianProfile
from tests.browser.pages import (
    LOGIN_PATH,
    horizontal_overflow,
    login_url,
    main,
    main_nav,
    open_menu,
    submit_login,
)
from tests.factories import PASSWORD, AppointmentFactory, PatientFactory

pytestmark = pytest.mark.browser

ROLES = {
    # username: (full name, role badge, home heading, patients listed today, sees "Clinic settings")
    "frontdesk": ("Maria Gomez", "Front desk", "Today's procedures", ["Abbott, Jane", "Baker, Tom"], False),
    "nurse": ("Sam Ortiz", "Nurse", "Today's procedures", ["Abbott, Jane", "Baker, Tom"], False),
    "physician": ("Alex Lee", "Physician", "My procedures", ["Baker, Tom"], False),
    "admin": ("Robin Hart", "Clinic admin", "Today's procedures", ["Abbott, Jane", "Baker, Tom"], True),
}


@pytest.fixture
def todays_list(cast):
    """Two procedures today in the clinic's zone: one with another physician, one with Dr Lee."""
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    AppointmentFactory(
        patient=PatientFactory(last_name="Abbott", first_name="Jane"),
        start=datetime.combine(today, time(9, 0), tzinfo=tz),
    )
    AppointmentFactory(
        patient=PatientFactory(last_name="Baker", first_name="Tom"),
        physician=PhysicianProfile.objects.get(user=cast["physician"]),
        start=datetime.combine(today, time(10, 30), tzinfo=tz),
    )


@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_logs_in_and_lands_on_todays_work(
    page, live_server, login_as, screenshot, todays_list, username
):
    full_name, badge, heading, patients, sees_settings = ROLES[username]
    page.goto(login_url(live_server))
    expect(page).to_have_title(re.compile(r"^Log in"))
    expect(page.get_by_role("heading", name="SpineDesk")).to_be_visible()
    screenshot(page, "login")

    login_as(page, username)

    whoami = page.get_by_test_id("whoami")
    expect(whoami).to_contain_text(full_name)
    expect(whoami.locator(".badge")).to_have_text([badge])
    expect(main(page).get_by_role("heading", level=1)).to_have_text(heading)
    rows = page.get_by_test_id("appointment-row")
    expect(rows).to_have_count(len(patients))
    for row, patient in zip(rows.all(), patients, strict=True):
        expect(row.get_by_role("link", name=patient)).to_be_visible()
    nav = main_nav(page)
    expect(nav.get_by_role("link", name="Today", exact=True)).to_be_visible()
    # Every staff role may look patients up.
    expect(nav.get_by_role("link", name="Patients", exact=True)).to_be_visible()
    expect(nav.get_by_role("searchbox", name="Find a patient")).to_be_visible()
    expect(nav.get_by_role("link", name="Clinic settings")).to_have_count(1 if sees_settings else 0)
    screenshot(page, "home")


def test_user_without_role_sees_no_patient_menu(page, login_as):
    login_as(page, "outsider")
    nav = main_nav(page)
    expect(page.get_by_test_id("whoami")).to_contain_text("No Role")
    expect(nav.get_by_role("link", name="Patients", exact=True)).to_have_count(0)
    expect(nav.get_by_role("searchbox", name="Find a patient")).to_have_count(0)
    expect(nav.get_by_role("link", name="Clinic settings")).to_have_count(0)
    expect(main(page)).to_contain_text("Your role has no schedule to show")


def test_wrong_password_shows_error_and_stays_on_login_page(page, live_server, cast, screenshot):
    page.goto(login_url(live_server))
    submit_login(page, "nurse", PASSWORD + "-wrong")

    expect(page.get_by_role("alert")).to_have_text(
        "That username and password do not match. Passwords are case-sensitive."
    )
    expect(page).to_have_url(re.compile(re.escape(LOGIN_PATH) + "$"))
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    # The username is kept so only the password has to be typed again.
    expect(page.get_by_label("Username")).to_have_value("nurse")
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot(page, "error")


def test_anonymous_visit_goes_to_login_then_back_to_patients(page, live_server, cast):
    page.goto("/patients/")
    expect(page).to_have_url(f"{live_server.url}{LOGIN_PATH}?next=/patients/")

    submit_login(page, "frontdesk", PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/patients/")
    expect(page.get_by_role("heading", name="Find a patient")).to_be_visible()


def test_log_out_returns_to_login_page(page, live_server, login_as):
    login_as(page, "physician")
    main_nav(page).get_by_role("button", name="Log out").click()

    expect(page).to_have_url(login_url(live_server))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    # The session is gone: a page needing a login sends the browser back to the form.
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}{LOGIN_PATH}?next=/")


def test_phone_menu_opens_from_the_toggler(phone_page, login_as, screenshot):
    page = login_as(phone_page, "frontdesk")
    nav = main_nav(page)
    patients_link = nav.get_by_role("link", name="Patients", exact=True)
    expect(patients_link).to_be_hidden()
    screenshot(page, "closed")

    nav.get_by_role("button", name="Show menu").tap()

    expect(patients_link).to_be_visible()
    screenshot(page, "open")
    patients_link.tap()
    expect(page.get_by_role("heading", name="Find a patient")).to_be_visible()
    assert horizontal_overflow(page) == 0
    screenshot(page, "patients")


def test_tablet_reaches_every_menu_entry(tablet_page, login_as, screenshot):
    page = login_as(tablet_page, "admin")
    screenshot(page, "home")
    nav = open_menu(page)
    for name in ("Today", "Check-in", "Patients", "Clinic settings"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="Log out")).to_be_visible()
