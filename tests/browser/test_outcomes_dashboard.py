"""A physician opens the outcomes dashboard from the home page, reads the figures beside the charts, narrows it
to one procedure type, and a backwards date range is refused with a message naming the field."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from procedures.models import FollowUp, FollowUpStatus
from tests.browser.pages import main
from tests.factories import ProcedureTypeFactory
from tests.test_outcomes_dashboard import procedure, report

pytestmark = pytest.mark.browser


@pytest.fixture
def clinic_history():
    """Two procedure types done about eight months ago, with reports at the follow-up timepoints."""
    start = timezone.now().replace(microsecond=0) - timedelta(days=240)
    tfesi = ProcedureTypeFactory(name="Lumbar TFESI", spinal_region="lumbar")
    rfa = ProcedureTypeFactory(
        name="Lumbar RFA", spinal_region="lumbar", family="facet_rfa", uses_steroid=False
    )
    # (type, baseline, [(day, score, % relief)]) — relief fades at different speeds.
    histories = [
        (tfesi, 8, [(14, 3, 65), (30, 4, 50), (90, 6, 25)]),
        (tfesi, 7, [(14, 2, 70), (30, 3, 60), (90, 3, 55), (180, 4, 45)]),
        (tfesi, 6, [(14, 5, 20)]),
        (tfesi, 9, [(14, 4, None), (30, 5, None)]),
        (tfesi, 8, []),
        (rfa, 7, [(14, 2, 75), (30, 2, 75), (90, 2, 70), (180, 3, 60)]),
        (rfa, 8, [(14, 3, 60), (30, 3, 65), (90, 4, 50), (180, 6, 30)]),
        (rfa, 6, [(14, 3, 50), (30, 2, 70)]),
    ]
    done = []
    for index, (ptype, baseline, reports) in enumerate(histories):
        appointment = procedure(
            ptype,
            start=start + timedelta(hours=index),
            baseline=baseline,
            complications="Vasovagal episode, recovered" if index == 2 else "",
        )
        for day, score, relief in reports:
            report(appointment, day, score, relief)
        for day in (14, 30, 90, 180):
            status = FollowUpStatus.ANSWERED if any(r[0] == day for r in reports) else FollowUpStatus.MISSED
            FollowUp.objects.create(
                appointment=appointment,
                kind="check_in",
                label=f"Day {day}",
                due_at=appointment.record.ended_at + timedelta(days=day),
                status=status,
            )
        done.append(appointment)
    return done


def test_physician_reads_the_outcomes_dashboard(page, login_as, screenshot, clinic_history):
    login_as(page, "physician")
    main(page).get_by_role("link", name="Outcomes").click()
    expect(page).to_have_url(f"{page.url.split('/outcomes/')[0]}/outcomes/")
    expect(main(page).get_by_role("heading", level=1)).to_have_text("Outcomes")
    expect(main(page).get_by_test_id("figure-done")).to_have_text("8")
    expect(main(page).get_by_test_id("responder-chart")).to_be_visible()
    expect(main(page).get_by_test_id("km-chart")).to_be_visible()
    # The numbers sit beside the charts.
    responders = main(page).get_by_test_id("responders")
    expect(responders.get_by_test_id("responder-row-2w").get_by_test_id("substantial")).to_contain_text("6/7")
    expect(main(page).get_by_test_id("km-row").first).to_be_visible()
    expect(main(page).get_by_test_id("overview-row")).to_have_count(2)
    screenshot(page, "dashboard")

    form = main(page).get_by_test_id("outcomes-filter")
    form.get_by_label("Procedure type").select_option(label="Lumbar RFA")
    form.get_by_role("button", name="Show").click()
    expect(main(page).get_by_test_id("filter-summary")).to_have_text("Lumbar RFA")
    expect(main(page).get_by_test_id("figure-done")).to_have_text("3")
    expect(main(page).get_by_test_id("overview-row")).to_have_count(1)
    screenshot(page, "one-type")

    form = main(page).get_by_test_id("outcomes-filter")
    form.get_by_label("From").fill("2025-06-01")
    form.get_by_label("To").fill("2025-01-01")
    form.get_by_role("button", name="Show").click()
    expect(main(page).get_by_test_id("error-date_to")).to_contain_text("“to” date 2025-01-01 is before")
    expect(main(page).get_by_test_id("filter-problem")).to_contain_text("To")
    expect(main(page).get_by_test_id("responder-chart")).to_have_count(0)
