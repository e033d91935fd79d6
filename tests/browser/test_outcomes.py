"""A physician reads a patient's pain over time, records a clinic score, and a bad score is refused."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures.models import AppointmentStatus, InstrumentScore, OutcomeSettings, PainScore
from tests.browser.pages import main
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.browser


def test_physician_reads_the_pain_timeline_and_records_a_score(page, login_as, screenshot, cast):
    now = timezone.now()
    patient = PatientFactory(first_name="Rosa", last_name="Delgado")
    esi = AppointmentFactory(
        patient=patient,
        procedure_type=ProcedureTypeFactory(name="Lumbar TFESI"),
        status=AppointmentStatus.DISCHARGED,
        start=now - timedelta(days=60),
        levels="L4-L5",
        side="left",
    )
    for days_ago, score, relief in ((62, 8, None), (59, 4, 50), (45, 3, 70), (20, 6, 30)):
        PainScore.objects.create(
            patient=patient,
            appointment=esi if relief is not None else None,
            score=score,
            percent_relief=relief,
            recorded_at=now - timedelta(days=days_ago),
            source="check_in" if relief is not None else "baseline",
        )
    login_as(page, "physician")
    page.goto(f"/patients/{patient.pk}/")
    main(page).get_by_role("link", name="Pain over time").click()
    chart = main(page).get_by_test_id("pain-chart")
    expect(chart.get_by_test_id("pain-point")).to_have_count(4)
    expect(chart.get_by_test_id("procedure-marker")).to_have_count(1)
    expect(main(page).get_by_test_id("pain-row")).to_have_count(4)
    screenshot(page, "timeline")

    form = main(page).get_by_test_id("pain-form")
    form.get_by_label("Pain now (0–10)").fill("11")
    form.get_by_role("button", name="Record score").click()
    expect(main(page).get_by_test_id("error-score")).to_contain_text("whole number from 0 to 10")
    assert PainScore.objects.filter(patient=patient).count() == 4

    form = main(page).get_by_test_id("pain-form")
    form.get_by_label("Pain now (0–10)").fill("5")
    form.get_by_role("button", name="Record score").click()
    expect(main(page).get_by_test_id("pain-row")).to_have_count(5)
    assert PainScore.objects.filter(patient=patient, score=5, source="clinic").exists()
    screenshot(page, "recorded")


def test_a_clinic_collecting_odi_and_pgic_sees_them_under_the_pain_chart(page, login_as, screenshot, cast):
    OutcomeSettings.objects.update_or_create(pk=1, defaults={"collect_odi": True, "collect_pgic": True})
    now = timezone.now()
    patient = PatientFactory(first_name="Omar", last_name="Haddad")
    esi = AppointmentFactory(
        patient=patient,
        procedure_type=ProcedureTypeFactory(name="Lumbar TFESI"),
        status=AppointmentStatus.DISCHARGED,
        start=now - timedelta(days=60),
        levels="L4-L5",
        side="left",
    )
    for days_ago, score, relief in ((62, 8, None), (46, 4, 50), (30, 3, 70), (5, 5, 40)):
        PainScore.objects.create(
            patient=patient,
            appointment=esi if relief is not None else None,
            score=score,
            percent_relief=relief,
            recorded_at=now - timedelta(days=days_ago),
            source="check_in" if relief is not None else "baseline",
        )
    for days_ago, instrument, value in (
        (62, "odi", 52),
        (46, "pgic", 2),
        (30, "pgic", 2),
        (30, "odi", 30),
        (5, "pgic", 3),
    ):
        InstrumentScore.objects.create(
            patient=patient,
            appointment=esi if days_ago < 60 else None,
            instrument=instrument,
            value=value,
            recorded_at=now - timedelta(days=days_ago),
            source="clinic" if instrument == "odi" else "check_in",
        )
    login_as(page, "nurse")
    page.goto(f"/patients/{patient.pk}/pain/")
    expect(
        main(page).get_by_test_id("instrument-chart-odi").get_by_test_id("instrument-point")
    ).to_have_count(2)
    expect(
        main(page).get_by_test_id("instrument-chart-pgic").get_by_test_id("instrument-point")
    ).to_have_count(3)
    expect(main(page).get_by_test_id("instrument-row")).to_have_count(5)
    screenshot(page, "timeline-with-instruments")

    form = main(page).get_by_test_id("instrument-form-odi")
    form.get_by_label("ODI total (0–100 %)").fill("120")
    form.get_by_role("button", name="Record Oswestry Disability Index").click()
    expect(main(page).get_by_test_id("error-odi-value")).to_contain_text("from 0 to 100")
    form = main(page).get_by_test_id("instrument-form-odi")
    form.get_by_label("ODI total (0–100 %)").fill("24")
    form.get_by_role("button", name="Record Oswestry Disability Index").click()
    expect(main(page).get_by_test_id("instrument-row")).to_have_count(6)

    form = main(page).get_by_test_id("instrument-form-pgic")
    form.get_by_label("PGIC").select_option("2")
    form.get_by_role("button", name="Record Patient Global Impression of Change").click()
    expect(main(page).get_by_test_id("instrument-row")).to_have_count(7)
    expect(main(page).get_by_role("alert")).to_contain_text(
        "Patient Global Impression of Change 2 (much improved) recorded."
    )
    assert InstrumentScore.objects.filter(patient=patient, source="clinic").count() == 4
    screenshot(page, "instruments-recorded")
