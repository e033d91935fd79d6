"""Finding and registering patients at the front desk, in a real browser."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures.models import Patient
from tests.browser.pages import main, main_nav
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def rosa(db):
    """The patient the clerk is looking for, with an upcoming appointment, and two look-alikes."""
    patient = PatientFactory(
        mrn="T555001", first_name="Rosa", last_name="Delgado", date_of_birth=date(1958, 3, 14)
    )
    AppointmentFactory(
        patient=patient, procedure_type=ProcedureTypeFactory(name="Lumbar medial branch block")
    )
    PatientFactory(mrn="T555002", first_name="Ramon", last_name="Delacroix", date_of_birth=date(1971, 9, 2))
    PatientFactory(mrn="T555003", first_name="Rosa", last_name="Martinez", date_of_birth=date(1958, 3, 15))
    return patient


def _results(page):
    return main(page).get_by_role("table").get_by_role("row")


@pytest.mark.parametrize(
    ("query", "how"),
    [("delgado", "last-name"), ("T555001", "mrn"), ("03/14/1958", "dob-us"), ("1958-03-14", "dob-iso")],
)
def test_front_desk_finds_patient_and_opens_the_chart(page, login_as, screenshot, rosa, query, how):
    login_as(page, "frontdesk")
    main_nav(page).get_by_role("link", name="Patients", exact=True).click()
    search = main(page).get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    search.fill(query)
    search.press("Enter")

    rows = _results(page)
    expect(rows).to_have_count(2)  # header + exactly Rosa Delgado
    expect(rows.nth(1)).to_contain_text("T555001")
    expect(rows.nth(1)).to_contain_text("1958-03-14")
    expect(search).to_have_value(query)
    screenshot(page, "results")

    rows.nth(1).get_by_role("link", name="Delgado, Rosa").click()

    expect(page).to_have_url(re.compile(rf"/patients/{rosa.pk}/$"))
    expect(page.get_by_test_id("patient-name")).to_have_text("Delgado, Rosa")
    expect(main(page)).to_contain_text("MRN T555001 · born 1958-03-14")
    expect(main(page).get_by_role("cell", name="Lumbar medial branch block")).to_be_visible()
    if how == "last-name":
        screenshot(page, "chart")


def test_search_from_the_menu_bar(page, login_as, rosa):
    login_as(page, "frontdesk")
    box = main_nav(page).get_by_role("searchbox", name="Find a patient")
    box.fill("Delgado Rosa")
    box.press("Enter")

    expect(page).to_have_url(re.compile(r"/patients/\?q=Delgado\+Rosa$"))
    expect(_results(page)).to_have_count(2)
    expect(_results(page).nth(1)).to_contain_text("T555001")


def test_search_without_match_says_so(page, login_as, rosa):
    login_as(page, "frontdesk")
    page.goto("/patients/?q=Zyx")
    expect(main(page).get_by_role("cell")).to_have_text("No patient matches “Zyx”.")


def _fill_new_patient(page, *, date_of_birth: str):
    form = main(page)
    form.get_by_label("MRN").fill("T777001")
    form.get_by_label("First name").fill("Linh")
    form.get_by_label("Last name").fill("Nguyen")
    form.get_by_label("Date of birth").fill(date_of_birth)
    form.get_by_label("Phone").fill("(555) 010-2345")
    form.get_by_label("Consents to text messages").check()


def test_front_desk_registers_a_new_patient(page, login_as, screenshot, rosa):
    login_as(page, "frontdesk")
    main_nav(page).get_by_role("link", name="Patients", exact=True).click()
    main(page).get_by_role("link", name="New patient").click()
    expect(main(page).get_by_role("heading", name="New patient")).to_be_visible()
    _fill_new_patient(page, date_of_birth="1984-11-30")
    screenshot(page, "form")

    main(page).get_by_role("button", name="Save patient").click()

    expect(page.get_by_test_id("patient-name")).to_have_text("Nguyen, Linh")
    expect(page.get_by_role("alert")).to_contain_text("Saved Linh Nguyen (T777001).")
    expect(main(page)).to_contain_text("MRN T777001 · born 1984-11-30")
    expect(main(page).get_by_role("link", name="(555) 010-2345")).to_have_attribute(
        "href", "tel:+15550102345"
    )
    expect(main(page)).to_contain_text(f"consented {timezone.localdate():%Y-%m-%d}")
    screenshot(page, "saved")

    saved = Patient.objects.get(mrn="T777001")
    assert saved.phone == "+15550102345"
    assert saved.consent_sms and saved.consent_sms_at is not None
    assert saved.date_of_birth == date(1984, 11, 30)
    assert page.url.endswith(f"/patients/{saved.pk}/")


def test_future_date_of_birth_is_refused_and_nothing_is_saved(page, login_as, screenshot, rosa):
    before = Patient.objects.count()
    login_as(page, "frontdesk")
    page.goto("/patients/new/")
    tomorrow = timezone.localdate() + timedelta(days=1)
    _fill_new_patient(page, date_of_birth=f"{tomorrow:%Y-%m-%d}")

    main(page).get_by_role("button", name="Save patient").click()

    expect(main(page).get_by_role("alert")).to_contain_text("Nothing was saved yet")
    dob = main(page).get_by_label("Date of birth")
    expect(dob).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(main(page).locator("#error_1_id_date_of_birth")).to_have_text(
        "The date of birth cannot be in the future."
    )
    # What was typed is kept for correction.
    expect(main(page).get_by_label("Last name")).to_have_value("Nguyen")
    expect(main(page).get_by_label("Phone")).to_have_value("(555) 010-2345")
    expect(page).to_have_url(re.compile(r"/patients/new/$"))
    screenshot(page, "error")

    assert Patient.objects.count() == before
    assert not Patient.objects.filter(mrn="T777001").exists()


def test_nurse_has_no_new_patient_button(page, login_as, browser_errors, rosa):
    login_as(page, "nurse")
    expect(main_nav(page).get_by_role("link", name="New patient")).to_have_count(0)
    main_nav(page).get_by_role("link", name="Patients", exact=True).click()

    expect(main(page).get_by_role("heading", name="Find a patient")).to_be_visible()
    expect(main(page).get_by_role("link", name="New patient")).to_have_count(0)
    # She can still find and open the chart.
    page.goto("/patients/?q=Delgado")
    expect(_results(page)).to_have_count(2)

    # Typing the address is refused too, with the friendly 403 page.
    response = page.goto("/patients/new/")
    assert response is not None and response.status == 403
    expect(main(page)).to_contain_text("Your role does not give access to this page")
    assert browser_errors == ["HTTP 403 GET /patients/new/"]
    browser_errors.clear()
