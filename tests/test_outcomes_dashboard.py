"""The physician outcomes dashboard: responder rates at 2 weeks, 1, 3 and 6 months, Kaplan–Meier duration
of relief, follow-up completion and complications, per procedure type, on the page, in the CSV and in the
API. The expected figures are worked out by hand in the comments next to them."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from procedures.models import (
    AppointmentStatus,
    FollowUp,
    FollowUpStatus,
    PainScore,
    ProcedureRecord,
    ProcedureRoom,
    RecoveryBay,
)
from procedures.selectors.outcomes import (
    OUTCOME_WINDOWS,
    kaplan_meier,
    kaplan_meier_median,
    outcomes_dashboard,
)
from procedures.services import demo
from procedures.services.catalogue import catalogue_seed
from procedures.services.roles import roles_sync
from procedures.services.rollups import rollups_sweep
from tests.factories import AppointmentFactory, PatientFactory, PhysicianFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db

# Every procedure of the fixed data sets starts at T0 and ends 20 minutes later; reports come whole days
# after the end. NOW is long after every window has closed, so nothing is "pending" unless a test says so.
T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in the clinic (America/New_York)
ENDED = T0 + timedelta(minutes=20)
NOW = T0 + timedelta(days=400)
PAGE = "/outcomes/"
CSV_URL = "/outcomes/export.csv"
API = "/api/v1/outcomes/"


def procedure(
    ptype, *, patient=None, physician=None, start=T0, baseline=None, record_baseline=None, **record
):
    """A done procedure: discharged, with its record; `baseline` is a day-of score at the start."""
    appointment = AppointmentFactory(
        patient=patient or PatientFactory(),
        procedure_type=ptype,
        physician=physician or PhysicianFactory(),
        start=start,
        status=AppointmentStatus.DISCHARGED,
    )
    ProcedureRecord.objects.create(
        appointment=appointment,
        started_at=start,
        ended_at=start + timedelta(minutes=20),
        baseline_pain=record_baseline,
        **record,
    )
    if baseline is not None:
        PainScore.objects.create(
            patient=appointment.patient,
            appointment=appointment,
            score=baseline,
            recorded_at=start,
            source="day_of",
        )
    return appointment


def report(appointment, day, score, relief=None, *, linked=True, source="check_in"):
    """A report `day` whole days after the procedure ended."""
    return PainScore.objects.create(
        patient=appointment.patient,
        appointment=appointment if linked else None,
        score=score,
        percent_relief=relief,
        recorded_at=appointment.record.ended_at + timedelta(days=day),
        source=source,
    )


@pytest.fixture
def tfesi():
    return ProcedureTypeFactory(name="Lumbar TFESI", spinal_region="lumbar")


@pytest.fixture
def seven(tfesi):
    """Seven lumbar TFESIs (P1–P7), the data set every hand computation below uses.

    P  baseline            reports (day: score, % relief given; relief worked out = (baseline − score)/baseline)
    P1 8 (day of)          14: 4 → 50 %   30: 3, 60 %   90: 6 → 25 %, 2 points   180: 7, 10 %
    P2 8 (day of; an older 5 and a later 2 are not it)
                           14: 6, 20 % (2 points)   25: 2, 80 %   40: 7, 20 %
    P3 6 (record only)     14: 3 → 50 %   30: 4 → 33.3 %
    P4 none                14: 2, no % (relief unknown)   30: 5, 40 %
    P5 7 (day of)          no report at all
    P6 8 (baseline 3 days before, linked)   14: 2, 70 %   60: 3, 55 % (then lost to follow-up)
    P7 5 (day of)          14: 4 → 20 %, 1 point
    """
    p = {}
    p[1] = procedure(tfesi, baseline=8)
    p[2] = procedure(tfesi, baseline=8)
    PainScore.objects.create(
        patient=p[2].patient,
        appointment=p[2],
        score=5,
        recorded_at=T0 - timedelta(days=20),
        source="baseline",
    )
    PainScore.objects.create(
        patient=p[2].patient, appointment=p[2], score=2, recorded_at=T0 + timedelta(days=3), source="baseline"
    )
    p[3] = procedure(tfesi, record_baseline=6)
    p[4] = procedure(tfesi)
    p[5] = procedure(tfesi, baseline=7)
    p[6] = procedure(tfesi)
    PainScore.objects.create(
        patient=p[6].patient, appointment=p[6], score=8, recorded_at=T0 - timedelta(days=3), source="baseline"
    )
    p[7] = procedure(tfesi, baseline=5)
    for number, day, score, relief in [
        (1, 14, 4, None),
        (1, 30, 3, 60),
        (1, 90, 6, None),
        (1, 180, 7, 10),
        (2, 14, 6, 20),
        (2, 25, 2, 80),
        (2, 40, 7, 20),
        (3, 14, 3, None),
        (3, 30, 4, None),
        (4, 14, 2, None),
        (4, 30, 5, 40),
        (6, 14, 2, 70),
        (6, 60, 3, 55),
        (7, 14, 4, None),
    ]:
        report(p[number], day, score, relief)
    return p


def rates(group):
    """Per timepoint: (with a report, assessed = the denominator, no report, ≥ 50 %, ≥ 30 % or 2 points)."""
    return {
        r.timepoint.key: (r.with_score, r.assessed, r.no_score, r.substantial, r.moderate)
        for r in group.responders
    }


def group_named(dashboard, label):
    return next(g for g in dashboard.groups if g.label == label)


class TestHandComputedFigures:
    def test_baseline_and_responder_rates(self, seven):
        dashboard = outcomes_dashboard(now=NOW)
        total = dashboard.total
        assert total.done == 7
        # Baselines 8, 8, 6, 7, 8, 5 (P4 has none): 42 / 6 = 7.0
        assert (total.baseline_count, total.baseline_mean) == (6, pytest.approx(7.0))
        assert rates(total) == {
            # 2 w: reports from P1, P2, P3, P4, P6, P7 (6); P4's cannot be assessed → denominator 5; P5: none.
            # ≥ 50 %: P1 (50 %), P3 (50 %), P6 (70 %) = 3 → 3/5 = 60 %.
            # ≥ 30 % or ≥ 2 points: those 3, and P2 (20 % but 8 → 6) = 4 → 4/5 = 80 %. P7: 20 %, 1 point.
            "2w": (6, 5, 1, 3, 4),
            # 1 m: P1 60 %; P2's latest in the window, day 40, 20 % and 1 point (day 25's 80 % is not it);
            # P3 33.3 %; P4 40 %. ≥ 50 %: P1 = 1/4 = 25 %; ≥ 30 %: P1, P3, P4 = 3/4 = 75 %.
            "1m": (4, 4, 3, 1, 3),
            # 3 m: only P1, 25 % but 8 → 6 = 2 points: 0/1 and 1/1.
            "3m": (1, 1, 6, 0, 1),
            # 6 m: only P1, 10 % and 1 point: 0/1, 0/1.
            "6m": (1, 1, 6, 0, 0),
        }
        two_weeks = total.responders[0]
        assert two_weeks.substantial_rate == pytest.approx(0.6)
        assert two_weeks.moderate_rate == pytest.approx(0.8)
        assert two_weeks.unassessed == 1
        assert [r.pending for r in total.responders] == [0, 0, 0, 0]

    def test_kaplan_meier_duration_of_relief(self, seven):
        relief = outcomes_dashboard(now=NOW).total.relief
        # First report under 50 %: P1 day 90; P2 day 14 (20 %); P3 day 30 (33.3 %); P4 day 30 (40 %; the day-14
        # report has no relief to read); P7 day 14 (20 %). P6 still at 55 % on day 60, its last report:
        # censored there. P5 has no report: left out, counted apart.
        assert (relief.followed, relief.events, relief.censored, relief.no_report) == (6, 5, 1, 1)
        steps = [(s.day, s.at_risk, s.events, s.censored, s.survival) for s in relief.steps]
        assert steps == [
            (14.0, 6, 2, 0, pytest.approx(4 / 6)),  # 1 − 2/6 = 0.667
            (30.0, 4, 2, 0, pytest.approx(1 / 3)),  # 0.667 × (1 − 2/4) = 0.333
            (60.0, 2, 0, 1, pytest.approx(1 / 3)),  # censored: no drop
            (90.0, 1, 1, 0, pytest.approx(0.0)),  # 0.333 × (1 − 1/1) = 0
        ]
        # The first day the estimate is at or below 50 %: day 30 (0.333).
        assert relief.median_days == 30.0

    def test_one_group_per_procedure_type_and_the_total(self, seven):
        sij = ProcedureTypeFactory(name="SI joint injection", spinal_region="sacroiliac")
        other = procedure(sij, baseline=6)
        report(other, 15, 3)  # (6 − 3)/6 = 50 %
        dashboard = outcomes_dashboard(now=NOW)
        assert [(g.label, g.spinal_region, g.done) for g in dashboard.groups] == [
            ("Lumbar TFESI", "lumbar", 7),
            ("SI joint injection", "sacroiliac", 1),
        ]
        assert rates(dashboard.groups[1])["2w"] == (1, 1, 0, 1, 1)
        # Total 2 w: 3 + 1 of 5 + 1 at ≥ 50 %; 4 + 1 at ≥ 30 % or 2 points.
        assert rates(dashboard.total)["2w"] == (7, 6, 1, 4, 5)
        # Baselines 42 + 6 over 7 = 48 / 7
        assert dashboard.total.baseline_mean == pytest.approx(48 / 7)
        # The SI joint procedure: censored on day 15, the only one followed.
        sij_relief = dashboard.groups[1].relief
        assert [(s.day, s.censored) for s in sij_relief.steps] == [
            (15.0, 1)
        ] and sij_relief.median_days is None
        assert dashboard.groups[0].relief.median_days == 30.0


class TestKaplanMeier:
    def test_product_limit_with_ties_and_censoring(self):
        # Days 5 (event), 8 (event, censored), 8 (event), 12 (censored), 20 (event).
        # t=5: 6 at risk, 1 event → 5/6 = 0.8333
        # t=8: 5 at risk, 2 events, 1 censored (censored at 8 still at risk at 8) → 0.8333 × 3/5 = 0.5
        # t=12: 2 at risk, censored → 0.5
        # t=20: 1 at risk, 1 event → 0
        pairs = [(8.0, True), (5.0, True), (8.0, False), (12.0, False), (8.0, True), (20.0, True)]
        steps = kaplan_meier(pairs=pairs)
        assert [(s.day, s.at_risk, s.events, s.censored) for s in steps] == [
            (5.0, 6, 1, 0),
            (8.0, 5, 2, 1),
            (12.0, 2, 0, 1),
            (20.0, 1, 1, 0),
        ]
        assert [s.survival for s in steps] == pytest.approx([5 / 6, 0.5, 0.5, 0.0])
        # At 0.5 exactly on day 8: the first day at or below 50 %.
        assert kaplan_meier_median(steps=steps) == 8.0

    def test_everyone_censored_has_no_median(self):
        steps = kaplan_meier(pairs=[(10.0, False), (30.0, False)])
        assert [s.survival for s in steps] == [1.0, 1.0]
        assert kaplan_meier_median(steps=steps) is None
        assert kaplan_meier(pairs=[]) == []


class TestAttribution:
    def test_several_procedures_in_a_row_each_get_their_own_reports(self):
        """One patient: an RFA (X), then 80 days later an SI joint injection (Y). A report without a procedure
        counts for the most recent procedure before it; a report naming X stays X's even after Y."""
        patient = PatientFactory()
        rfa = ProcedureTypeFactory(name="Lumbar RFA", family="facet_rfa", uses_steroid=False)
        sij = ProcedureTypeFactory(name="SI joint injection", spinal_region="sacroiliac")
        x = procedure(rfa, patient=patient, baseline=8)
        y = procedure(sij, patient=patient, start=T0 + timedelta(days=80), baseline=6)
        report(x, 14, 2, 70, linked=False)  # X day 14 (Y not done yet)
        report(x, 40, 4, linked=False)  # X day 40: (8 − 4)/8 = 50 % against X's baseline 8, not Y's 6
        report(x, 85, 7, 10)  # named X: X's 3-month report although Y came since
        report(x, 90, 1, 90, linked=False)  # X day 90 = Y day 10: Y's (its 2 weeks), not X's 3 months
        report(x, 160, 3, linked=False)  # X day 160 = Y day 80: Y's 3 months, (6 − 3)/6 = 50 %
        dashboard = outcomes_dashboard(now=NOW)
        # X: 2 w 70 % (both rates); 1 m 50 % (both); 3 m only day 85 counts: 10 %, 8 → 7 (neither);
        # 6 m: nothing of X's (day 160 is Y's).
        assert rates(group_named(dashboard, "Lumbar RFA")) == {
            "2w": (1, 1, 0, 1, 1),
            "1m": (1, 1, 0, 1, 1),
            "3m": (1, 1, 0, 0, 0),
            "6m": (0, 0, 1, 0, 0),
        }
        # Y: 2 w 90 % (both), 3 m 50 % (both), nothing at 1 m or 6 m.
        assert rates(group_named(dashboard, "SI joint injection")) == {
            "2w": (1, 1, 0, 1, 1),
            "1m": (0, 0, 1, 0, 0),
            "3m": (1, 1, 0, 1, 1),
            "6m": (0, 0, 1, 0, 0),
        }
        # X loses relief at day 85 (10 %); Y is still at 50 % on day 80, its last report: censored.
        x_relief = group_named(dashboard, "Lumbar RFA").relief
        y_relief = group_named(dashboard, "SI joint injection").relief
        assert [(s.day, s.events, s.censored) for s in x_relief.steps] == [(85.0, 1, 0)]
        assert [(s.day, s.events, s.censored) for s in y_relief.steps] == [(80.0, 0, 1)]
        assert (y.record.ended_at - x.record.ended_at).days == 80

    def test_reports_before_the_procedure_and_baseline_scores_after_it_are_not_follow_up(self, tfesi):
        appointment = procedure(tfesi, baseline=8)
        PainScore.objects.create(
            patient=appointment.patient,
            score=1,
            percent_relief=90,
            recorded_at=T0 - timedelta(days=30),
            source="check_in",
        )
        report(appointment, 14, 1, source="baseline")  # a baseline for something else, not a report
        total = outcomes_dashboard(now=NOW).total
        assert rates(total)["2w"] == (0, 0, 1, 0, 0)
        assert (total.relief.followed, total.relief.no_report) == (0, 1)


class TestNoFollowUp:
    def test_a_procedure_with_nothing_after_it(self, tfesi):
        procedure(tfesi, baseline=6)
        total = outcomes_dashboard(now=NOW).total
        assert total.done == 1 and total.baseline_mean == 6
        assert all(
            r.assessed == 0 and r.substantial_rate is None and r.no_score == 1 for r in total.responders
        )
        assert (total.relief.followed, total.relief.no_report, total.relief.steps) == (0, 1, [])
        assert total.relief.median_days is None
        assert total.followup_rate is None

    def test_nothing_done_at_all(self, tfesi):
        AppointmentFactory(procedure_type=tfesi, start=T0)  # scheduled, not done
        dashboard = outcomes_dashboard(now=NOW)
        assert dashboard.groups == []
        assert (dashboard.total.done, dashboard.total.baseline_mean, dashboard.total.complication_rate) == (
            0,
            None,
            None,
        )

    def test_recent_procedures_count_as_not_yet_due(self, tfesi):
        """30 days after the procedure: the 2-week window is over, the 1-, 3- and 6-month ones are not."""
        procedure(tfesi, baseline=6)
        total = outcomes_dashboard(now=ENDED + timedelta(days=30)).total
        assert [(r.no_score, r.pending) for r in total.responders] == [(1, 0), (1, 1), (1, 1), (1, 1)]


class TestFollowUpsAndComplications:
    def test_completion_counts_answered_missed_and_overdue_sent_ones(self, tfesi):
        appointment = procedure(tfesi, complications="Vasovagal episode")
        procedure(tfesi, complications="   ")  # blank is none
        procedure(tfesi)
        for label, status, due_days in [
            ("a", FollowUpStatus.ANSWERED, 14),
            ("b", FollowUpStatus.ANSWERED, 30),
            ("c", FollowUpStatus.MISSED, 90),
            ("d", FollowUpStatus.SENT, 180),  # sent, due, not answered: counts against
            ("e", FollowUpStatus.SENT, 500),  # sent, not due yet: not counted
            ("f", FollowUpStatus.PLANNED, 200),  # never sent: not the patient's miss
            ("g", FollowUpStatus.CANCELLED, 60),
        ]:
            FollowUp.objects.create(
                appointment=appointment,
                kind="check_in",
                label=label,
                due_at=ENDED + timedelta(days=due_days),
                status=status,
            )
        total = outcomes_dashboard(now=NOW).total
        # 2 answered / (2 answered + 1 missed + 1 sent and overdue) = 2/4 = 50 %
        assert (total.followups_answered, total.followups_missed, total.followups_overdue) == (2, 1, 1)
        assert total.followup_rate == 0.5
        # 1 of 3 procedures with a complication charted
        assert (total.complications, total.complication_rate) == (1, pytest.approx(1 / 3))


class TestFilters:
    @pytest.fixture
    def spread(self):
        """Lumbar and cervical procedures by two physicians on two days, and appointments not done."""
        lumbar = ProcedureTypeFactory(name="Lumbar TFESI", spinal_region="lumbar")
        cervical = ProcedureTypeFactory(name="Cervical ESI", spinal_region="cervical")
        lee, patel = PhysicianFactory(display_name="Dr Lee"), PhysicianFactory(display_name="Dr Patel")
        # 2024-03-04 23:30 in the clinic is already 2024-03-05 in UTC: it belongs to the 4th.
        late = datetime(2024, 3, 5, 4, 30, tzinfo=UTC)
        procedure(lumbar, physician=lee, start=late)
        procedure(lumbar, physician=patel, start=T0)
        procedure(cervical, physician=lee, start=T0 + timedelta(days=60))
        in_recovery = procedure(cervical, physician=patel, start=T0 + timedelta(days=60))
        in_recovery.status = AppointmentStatus.IN_RECOVERY
        in_recovery.save()
        not_done = (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN, AppointmentStatus.NO_SHOW)
        for days, status in enumerate(not_done, start=1):
            AppointmentFactory(
                procedure_type=lumbar, physician=lee, start=T0 - timedelta(days=days), status=status
            )
        return {"lumbar": lumbar, "cervical": cervical, "lee": lee, "patel": patel}

    def test_each_filter(self, spread):
        assert (
            outcomes_dashboard(now=NOW).total.done == 4
        )  # in recovery counts; scheduled, checked in, no-show not
        assert outcomes_dashboard(physician_id=spread["lee"].pk, now=NOW).total.done == 2
        assert outcomes_dashboard(region="cervical", now=NOW).total.done == 2
        only = outcomes_dashboard(procedure_type_id=spread["lumbar"].pk, now=NOW)
        assert [(g.label, g.done) for g in only.groups] == [("Lumbar TFESI", 2)]
        assert outcomes_dashboard(start=date(2024, 3, 4), end=date(2024, 3, 4), now=NOW).total.done == 2
        assert outcomes_dashboard(start=date(2024, 3, 5), now=NOW).total.done == 2
        assert outcomes_dashboard(end=date(2024, 3, 3), now=NOW).total.done == 0
        assert outcomes_dashboard(physician_id=spread["patel"].pk, region="cervical", now=NOW).total.done == 1


class TestQueryCount:
    def _more(self, count, ptype):
        for _ in range(count):
            appointment = procedure(ptype, baseline=7)
            report(appointment, 14, 3, 60)
            report(appointment, 30, 5)
            FollowUp.objects.create(
                appointment=appointment, kind="check_in", label="Week 2", due_at=ENDED, status="answered"
            )

    def test_the_selector_reads_with_a_fixed_number_of_queries_however_many_rows(self, tfesi):
        """Bringing the rollups up to date, then reading them, take the same statements for 2 procedures as
        for 22 (on SQLite: the two SELECTs of the live computation)."""

        def reads():
            with CaptureQueriesContext(connection) as queries:
                dashboard = outcomes_dashboard(now=NOW)
            statements = [q["sql"].split()[0].upper() for q in queries]
            return statements, dashboard

        self._more(2, tfesi)
        few_refresh, _ = reads()
        few, _ = reads()
        self._more(15, tfesi)
        self._more(5, ProcedureTypeFactory(name="Caudal ESI", spinal_region="sacral"))
        many_refresh, _ = reads()
        many, dashboard = reads()
        assert few == many and few_refresh == many_refresh
        assert many.count("SELECT") == (5 if connection.vendor == "postgresql" else 2)
        assert dashboard.total.done == 22 and len(dashboard.groups) == 2

    def test_the_page_csv_and_api_do_not_grow_with_the_rows(
        self, tfesi, client, physician, django_assert_max_num_queries
    ):
        client.force_login(physician)
        api = APIClient()
        api.force_authenticate(physician)
        caudal = ProcedureTypeFactory(name="Caudal ESI", spinal_region="sacral")
        counts = {}
        # Each request first brings the rollups up to date for what was just added: that too must not grow.
        for url, caller in ((PAGE, client), (CSV_URL, client), (API, api)):
            caller.get(url)  # the API keeps the user's permissions after the first call
            self._more(1, tfesi)
            with CaptureQueriesContext(connection) as few:
                assert caller.get(url).status_code == 200
            counts[url] = len(few)
        for url, caller in ((PAGE, client), (CSV_URL, client), (API, api)):
            self._more(10, tfesi)
            self._more(3, caudal)
            with django_assert_max_num_queries(counts[url]):
                assert caller.get(url).status_code == 200


class TestPage:
    def test_the_page_shows_the_figures_beside_the_charts(self, client, physician, seven):
        client.force_login(physician)
        response = client.get(PAGE)
        assert response.status_code == 200
        html = response.content.decode()
        main = html.split("<main")[1].split("</main>")[0]
        assert "<script" not in main and "cdn" not in main.lower()
        assert 'data-testid="responder-chart"' in html and 'data-testid="km-chart"' in html
        assert html.count('data-testid="responder-bar-substantial"') == 4
        # The 2-week row of the total: 6 with a report, 1 without, 60 % (3/5) and 80 % (4/5).
        row = html.split('data-testid="responder-row-2w"')[1].split("</tr>")[0]
        assert "60%" in row and "3/5" in row and "80%" in row and "4/5" in row
        assert "1 without a baseline or %" in row
        # Kaplan–Meier numbers beside the curve: four steps, median 30 days, one left out.
        assert html.count('data-testid="km-row"') == 4
        assert "median 30 days" in html and "1 with no report, left out" in html
        # The windows are on the page.
        for window in OUTCOME_WINDOWS:
            assert f"{window.label} = days {window.days}" in html
        assert html.count('data-testid="overview-row"') == 1 and 'data-testid="overview-total"' in html

    def test_a_backwards_date_range_is_refused_naming_the_field(self, client, physician, seven):
        client.force_login(physician)
        response = client.get(PAGE, {"date_from": "2024-06-01", "date_to": "2024-03-01"})
        assert response.status_code == 200
        assert response.context["form"].errors["date_to"] == [
            "The “to” date 2024-03-01 is before the “from” date 2024-06-01."
        ]
        html = response.content.decode()
        assert 'data-testid="filter-problem"' in html and "<strong>To</strong>" in html
        assert 'data-testid="responder-chart"' not in html

    def test_bad_filters_name_their_field(self, client, physician):
        client.force_login(physician)
        response = client.get(PAGE, {"region": "knee", "physician": "x", "date_from": "2024-02-30"})
        errors = response.context["form"].errors
        assert set(errors) == {"region", "physician", "date_from"}
        assert "There is no such date" in errors["date_from"][0]

    def test_the_filter_narrows_the_page(self, client, physician, seven, tfesi):
        other = procedure(ProcedureTypeFactory(name="Caudal ESI", spinal_region="sacral"), baseline=5)
        client.force_login(physician)
        response = client.get(PAGE, {"region": "sacral"})
        assert response.context["dashboard"].total.done == 1
        assert [g.procedure_type_id for g in response.context["dashboard"].groups] == [
            other.procedure_type_id
        ]
        assert 'href="/outcomes/export.csv?region=sacral"' in response.content.decode()


class TestCsv:
    def _rows(self, response):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        return list(csv.DictReader(io.StringIO(response.content.decode())))

    def test_the_csv_has_the_page_figures(self, client, clinic_admin, seven, tfesi):
        client.force_login(clinic_admin)
        rows = self._rows(client.get(CSV_URL))
        assert [row["group"] for row in rows] == ["Lumbar TFESI", "Total"]
        row = rows[0]
        assert row["procedure_type_id"] == str(tfesi.pk) and row["spinal_region"] == "lumbar"
        assert (row["procedures_done"], row["baseline_n"], row["baseline_mean"]) == ("7", "6", "7.00")
        assert [row[f"2w_{name}"] for name in ("window_days", "with_score", "assessed", "no_score")] == [
            "10-20",
            "6",
            "5",
            "1",
        ]
        assert (row["2w_relief_50_n"], row["2w_relief_50_percent"]) == ("3", "60.0")
        assert (row["2w_relief_30_or_2_points_n"], row["2w_relief_30_or_2_points_percent"]) == ("4", "80.0")
        assert (row["1m_relief_50_percent"], row["1m_relief_30_or_2_points_percent"]) == ("25.0", "75.0")
        assert (row["km_followed"], row["km_relief_lost"], row["km_censored"], row["km_no_report"]) == (
            "6",
            "5",
            "1",
            "1",
        )
        assert row["km_median_days"] == "30.0"
        assert (row["followup_completion_percent"], row["complication_percent"]) == ("", "0.0")
        assert rows[1]["procedure_type_id"] == "" and rows[1]["procedures_done"] == "7"

    def test_the_csv_takes_the_same_filters(self, client, physician, seven):
        client.force_login(physician)
        rows = self._rows(client.get(CSV_URL, {"region": "cervical"}))
        assert [(row["group"], row["procedures_done"]) for row in rows] == [("Total", "0")]
        bad = client.get(CSV_URL, {"date_from": "2024-06-01", "date_to": "2024-03-01"})
        assert bad.status_code == 400
        assert (
            bad.content.decode() == "date_to: The “to” date 2024-03-01 is before the “from” date 2024-06-01."
        )

    def test_a_name_cannot_become_a_spreadsheet_formula(self, client, physician):
        procedure(ProcedureTypeFactory(name='=HYPERLINK("http://x")', spinal_region="lumbar"))
        client.force_login(physician)
        rows = self._rows(client.get(CSV_URL))
        assert rows[0]["group"] == '\'=HYPERLINK("http://x")'


class TestApi:
    @pytest.fixture
    def api(self, physician):
        client = APIClient()
        client.force_authenticate(physician)
        return client

    def test_the_api_has_the_same_figures(self, api, seven, tfesi):
        response = api.get(API)
        assert response.status_code == 200
        body = response.json()
        assert [w["key"] for w in body["windows"]] == ["2w", "1m", "3m", "6m"]
        assert body["windows"][0] == {"key": "2w", "label": "2 weeks", "first_day": 10, "last_day": 20}
        total = body["total"]
        assert total["procedure_type"] is None and total["label"] == "Total"
        assert (total["procedures_done"], total["baseline_count"], total["baseline_mean"]) == (7, 6, 7.0)
        assert total["responders"][0] == {
            "timepoint": "2w",
            "with_score": 6,
            "assessed": 5,
            "unassessed": 1,
            "no_score": 1,
            "no_score_window_open": 0,
            "substantial": 3,
            "substantial_rate": 0.6,
            "moderate": 4,
            "moderate_rate": 0.8,
        }
        relief = total["relief_duration"]
        assert (relief["median_days"], relief["followed"], relief["events"], relief["censored"]) == (
            30.0,
            6,
            5,
            1,
        )
        assert relief["no_report"] == 1
        assert [(s["day"], s["at_risk"], s["events"], s["censored"]) for s in relief["steps"]] == [
            (14.0, 6, 2, 0),
            (30.0, 4, 2, 0),
            (60.0, 2, 0, 1),
            (90.0, 1, 1, 0),
        ]
        assert [s["survival"] for s in relief["steps"]] == pytest.approx([2 / 3, 1 / 3, 1 / 3, 0.0])
        assert [g["procedure_type"] for g in body["groups"]] == [tfesi.pk]
        assert body["groups"][0]["responders"] == total["responders"]

    def test_the_api_filters(self, api, seven, tfesi):
        assert api.get(API, {"procedure_type": tfesi.pk}).json()["total"]["procedures_done"] == 7
        assert api.get(API, {"region": "cervical"}).json()["total"]["procedures_done"] == 0
        assert api.get(API, {"date_from": "2024-03-05"}).json()["total"]["procedures_done"] == 0
        assert api.get(API, {"date_from": "2024-03-04", "date_to": "2024-03-04"}).json()["groups"]

    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            ({"date_from": "2024-06-01", "date_to": "2024-03-01"}, "date_to", "is before date_from"),
            ({"date_from": "June"}, "date_from", "YYYY-MM-DD"),
            ({"region": "knee"}, "region", "not a spinal region"),
            ({"physician": "abc"}, "physician", "must be an id"),
            ({"procedure_type": 999999}, "procedure_type", "no procedure type with id 999999"),
        ],
    )
    def test_a_bad_filter_is_a_400_naming_the_field(self, api, params, field, message):
        response = api.get(API, params)
        assert response.status_code == 400
        assert list(response.json()) == [field]
        assert message in response.json()[field][0]


class TestPermissions:
    @pytest.mark.parametrize("url", [PAGE, CSV_URL])
    def test_physicians_and_admins_only(self, client, cast, url):
        for username, status in [
            ("physician", 200),
            ("admin", 200),
            ("nurse", 403),
            ("frontdesk", 403),
            ("outsider", 403),
        ]:
            client.force_login(cast[username])
            assert client.get(url).status_code == status, username
        client.logout()
        assert client.get(url).status_code == 302

    def test_the_api_answers_401_and_403_like_the_rest(self, cast):
        assert APIClient().get(API).status_code == 401
        for username, status in [
            ("physician", 200),
            ("admin", 200),
            ("nurse", 403),
            ("frontdesk", 403),
            ("outsider", 403),
        ]:
            client = APIClient()
            client.force_authenticate(cast[username])
            assert client.get(API).status_code == status, username

    def test_home_and_the_rfa_board_link_to_it_for_those_who_may_see_it(self, client, cast):
        for username, shown in [("physician", True), ("admin", True), ("nurse", False), ("frontdesk", False)]:
            client.force_login(cast[username])
            for page in ("/", "/outcomes/rfa/"):
                assert ('href="/outcomes/"' in client.get(page).content.decode()) is shown, (username, page)


def test_the_demo_clinic_has_outcomes_to_show():
    """The demo's past months (procedures, records, check-ins), without the slower booked fortnight; seed_demo
    adding nothing twice is tests/test_demo.py's."""
    roles_sync()
    catalogue_seed()
    for name, fluoro, _ in demo.ROOMS:
        ProcedureRoom.objects.get_or_create(name=name, defaults={"has_fluoroscopy": fluoro})
    for name in demo.BAYS:
        RecoveryBay.objects.get_or_create(name=name)
    today = timezone.localdate()
    added = demo._history(today=today, physicians=demo._staff(), patients=demo._patients(today))
    rollups_sweep()  # what demo_seed does after the history (a page catches up only a few patients)
    total = outcomes_dashboard().total
    assert total.done == added > 100
    assert all(r.assessed > 0 for r in total.responders)
    assert total.relief.followed > 50 and total.relief.median_days is not None
    assert total.followup_rate is not None and total.complications > 0
