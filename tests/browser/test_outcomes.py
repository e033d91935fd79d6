"""A physician reads a patient's pain over time, records a clinic score, and a bad score is refused."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures.models import AppointmentStatus, PainScore
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
