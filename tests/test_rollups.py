"""The rollup tables behind the outcomes dashboard and the RFA board (services/rollups.py) always say what the
live computation from the source tables says: after every kind of change, for every filter, with refreshes
racing each other, and for rows that existed before the upgrade."""

import threading
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedures.models import (
    AppointmentStatus,
    CoverageRule,
    FollowUp,
    PainScore,
    ProcedureOutcome,
    ProcedureRecord,
    ProcedureRoom,
    RecoveryBay,
    RfaPathwayState,
    RollupRefresh,
)
from procedures.selectors.outcomes import outcomes_dashboard, rfa_board, rfa_pathway
from procedures.services import demo
from procedures.services.catalogue import catalogue_seed
from procedures.services.roles import roles_sync
from procedures.services.rollups import ROLLUP_LOCK, rollups_catch_up, rollups_rebuild, rollups_refresh
from procedures.tasks import rollups_sweep
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory
from tests.test_outcome_views import done, score
from tests.test_outcome_views import types as types
from tests.test_outcomes_dashboard import ENDED, NOW, T0, procedure, report

pytestmark = pytest.mark.django_db


def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("rollups are kept on PostgreSQL only; SQLite computes live")


def figures(dashboard):
    """Everything the page, the CSV and the API show, in comparable form."""

    def group(g):
        return (
            g.label,
            g.procedure_type_id,
            g.spinal_region,
            g.done,
            g.baseline_count,
            None if g.baseline_mean is None else round(g.baseline_mean, 9),
            [
                (r.timepoint.key, r.with_score, r.assessed, r.no_score, r.pending, r.substantial, r.moderate)
                for r in g.responders
            ],
            [(s.day, s.at_risk, s.events, s.censored, round(s.survival, 9)) for s in g.relief.steps],
            (g.relief.median_days, g.relief.followed, g.relief.events, g.relief.censored, g.relief.no_report),
            (g.followups_answered, g.followups_missed, g.followups_overdue, g.complications),
        )

    return [group(g) for g in dashboard.groups], group(dashboard.total)


def assert_rollups_match(now, **filters):
    kept = outcomes_dashboard(now=now, **filters)
    assert kept.waiting == 0
    assert figures(kept) == figures(outcomes_dashboard(now=now, live=True, **filters)), filters


def board_names(board):
    return {
        column.key: [(row.patient.last_name, row.region, row.qualifying, row.relief) for row in column.rows]
        for column in board.columns
    }


def live_board_names(today):
    board = rfa_pathway(today=today)
    columns = {
        "one-block": board.one_block,
        "eligible": board.eligible,
        "booked": board.booked,
        "due-repeat": board.due_repeat,
    }
    return {
        key: [(row.patient.last_name, row.region, row.qualifying, row.relief) for row in rows]
        for key, rows in columns.items()
    }


@pytest.fixture
def demo_clinic():
    """The demo's ten months of history: many procedure types, physicians, months and every kind of report."""
    postgres_only()
    roles_sync()
    catalogue_seed()
    for name, fluoro, _ in demo.ROOMS:
        ProcedureRoom.objects.get_or_create(name=name, defaults={"has_fluoroscopy": fluoro})
    for name in demo.BAYS:
        RecoveryBay.objects.get_or_create(name=name)
    today = timezone.localdate()
    demo._history(today=today, physicians=demo._staff(), patients=demo._patients(today))
    # A page catches up a few patients itself; a whole clinic's history is the sweep's work.
    from procedures.services.rollups import rollups_sweep as sweep

    sweep()
    return today


class TestSameFiguresAsLive:
    def test_every_filter_on_the_demo_clinic(self, demo_clinic):
        from procedures.models import Appointment, PhysicianProfile, ProcedureType

        today = demo_clinic
        now = timezone.now()
        physician = PhysicianProfile.objects.filter(appointments__status="discharged").first()
        ptype = ProcedureType.objects.filter(appointments__status="discharged").first()
        first = Appointment.objects.order_by("start").first().start.date()
        cases = [
            {},
            {"physician_id": physician.pk},
            {"procedure_type_id": ptype.pk},
            {"region": "lumbar"},
            # whole months only, partial months at both ends, one month's middle, open-ended ranges
            {"start": date(today.year - 1, today.month, 1), "end": today.replace(day=1) - timedelta(days=1)},
            {"start": first + timedelta(days=9), "end": today - timedelta(days=40)},
            {"start": today - timedelta(days=100), "end": today - timedelta(days=90)},
            {"start": today - timedelta(days=150)},
            {"end": today - timedelta(days=120)},
            {"physician_id": physician.pk, "start": today - timedelta(days=200), "region": "lumbar"},
        ]
        for filters in cases:
            assert_rollups_match(now, **filters)
        # And as the windows close with time passing (pending) and check-ins fall overdue.
        assert_rollups_match(now + timedelta(days=45))
        assert outcomes_dashboard(now=now).total.done > 100

    def test_the_board_matches_the_live_board(self, demo_clinic):
        today = demo_clinic
        assert board_names(rfa_board(today=today, per_column=10_000)) == live_board_names(today)

    def test_a_rebuild_from_nothing_gives_the_same_rows(self, demo_clinic):
        before = figures(outcomes_dashboard(now=NOW))
        states = sorted(RfaPathwayState.objects.values_list("patient_id", "region", "stage"))
        ProcedureOutcome.objects.all().delete()
        RfaPathwayState.objects.all().delete()
        call_command("rollups_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
        assert figures(outcomes_dashboard(now=NOW)) == before
        assert sorted(RfaPathwayState.objects.values_list("patient_id", "region", "stage")) == states


@pytest.fixture
def tfesi():
    postgres_only()
    return ProcedureTypeFactory(name="Lumbar TFESI", spinal_region="lumbar")


class TestEveryChangeReachesTheFigures:
    """Each write path the dashboard reads from, through the ORM as any service or the admin would."""

    def test_a_new_report_an_edit_and_a_deletion(self, tfesi):
        p = procedure(tfesi, baseline=8)
        assert outcomes_dashboard(now=NOW).total.relief.followed == 0
        r = report(p, 14, 2, 80)
        assert_rollups_match(NOW)
        assert outcomes_dashboard(now=NOW).total.responders[0].substantial == 1
        PainScore.objects.filter(pk=r.pk).update(percent_relief=10)
        assert outcomes_dashboard(now=NOW).total.responders[0].substantial == 0
        PainScore.objects.filter(pk=r.pk).delete()
        assert outcomes_dashboard(now=NOW).total.responders[0].with_score == 0
        assert_rollups_match(NOW)

    def test_a_status_change_a_cancellation_and_a_record_edit(self, tfesi):
        p = procedure(tfesi, baseline=8)
        report(p, 14, 2, 80)
        assert outcomes_dashboard(now=NOW).total.done == 1
        p.status, p.cancel_reason = AppointmentStatus.CANCELLED, "entered in error"
        p.save(update_fields=["status", "cancel_reason"])
        assert outcomes_dashboard(now=NOW).total.done == 0
        p.status = AppointmentStatus.DISCHARGED
        p.save(update_fields=["status"])
        ProcedureRecord.objects.filter(appointment=p).update(complications="Vasovagal episode")
        assert outcomes_dashboard(now=NOW).total.complications == 1
        # The procedure's end moves the windows: the report on day 14 is now on day 4, before the 2-week window.
        ProcedureRecord.objects.filter(appointment=p).update(ended_at=ENDED + timedelta(days=10))
        assert outcomes_dashboard(now=NOW).total.responders[0].with_score == 0
        assert_rollups_match(NOW)

    def test_a_later_procedure_takes_over_unlinked_reports(self, tfesi):
        patient = PatientFactory()
        x = procedure(tfesi, patient=patient, baseline=8)
        report(x, 40, 2, 80, linked=False)
        assert outcomes_dashboard(now=NOW).total.responders[1].with_score == 1
        # A second procedure before the day-40 report: the unlinked report is the second one's now.
        procedure(tfesi, patient=patient, start=T0 + timedelta(days=30), baseline=7)
        dashboard = outcomes_dashboard(now=NOW)
        assert dashboard.total.done == 2 and dashboard.total.responders[1].with_score == 0
        assert_rollups_match(NOW)

    def test_follow_ups_and_a_procedure_type_moving_region(self, tfesi):
        p = procedure(tfesi, baseline=8)
        followup = FollowUp.objects.create(
            appointment=p, kind="check_in", label="Week 2", due_at=ENDED, status="sent"
        )
        assert outcomes_dashboard(now=NOW).total.followups_overdue == 1
        FollowUp.objects.filter(pk=followup.pk).update(status="answered")
        total = outcomes_dashboard(now=NOW).total
        assert (total.followups_overdue, total.followups_answered) == (0, 1)
        tfesi.spinal_region = "cervical"
        tfesi.save()
        assert outcomes_dashboard(now=NOW, region="lumbar").total.done == 0
        assert outcomes_dashboard(now=NOW, region="cervical").total.done == 1

    def test_the_board_follows_blocks_bookings_and_the_rule(self, types):
        postgres_only()
        CoverageRule.objects.filter(family="facet_rfa").delete()
        patient = PatientFactory(last_name="Moves")
        today = timezone.localdate()

        def column_of():
            board = rfa_board(today=today, per_column=50)
            found = [c.key for c in board.columns if any(r.patient.pk == patient.pk for r in c.rows)]
            assert board_names(board) == live_board_names(today)
            return found

        done(patient, types["mbb"], 60, block_peak_relief_percent=85)
        assert column_of() == ["one-block"]
        done(patient, types["mbb"], 30, block_peak_relief_percent=90)
        assert column_of() == ["eligible"]
        # The clinic raises the relief a block needs: neither block qualifies any more.
        CoverageRule.objects.create(
            family="facet_rfa", purpose="", diagnostic_min_relief_percent=95, source="clinic", evidence="S"
        )
        assert column_of() == []
        CoverageRule.objects.filter(family="facet_rfa").delete()
        rfa = AppointmentFactory(
            patient=patient, procedure_type=types["rfa"], start=timezone.now() + timedelta(days=5)
        )
        assert column_of() == ["booked"]
        rfa.start, rfa.status = timezone.now() - timedelta(days=400), AppointmentStatus.DISCHARGED
        rfa.save()
        score(patient, 300, 3, appointment=rfa, relief=70, source="check_in")
        assert column_of() == ["due-repeat"]


class TestRefreshing:
    def test_the_queue_is_emptied_and_the_sweep_task_does_the_same(self, tfesi):
        for _ in range(3):
            report(procedure(tfesi, baseline=8), 14, 3, 60)
        assert RollupRefresh.objects.exists()
        assert rollups_sweep.apply().get() == 3
        assert not RollupRefresh.objects.exists() and ProcedureOutcome.objects.count() == 3
        assert rollups_refresh().patients == 0

    @pytest.mark.django_db(transaction=True)
    def test_a_page_does_not_wait_long_for_a_rebuild_and_says_what_is_missing(self, tfesi):
        # (A transaction test: in the usual test transaction the first refresh's lock would be held to the end.)
        p = procedure(tfesi, baseline=8)
        report(p, 14, 3, 60)
        rollups_catch_up()
        report(procedure(tfesi, baseline=8), 14, 3, 60)
        holder = connections.create_connection("default")
        try:
            with holder.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK])
            dashboard = outcomes_dashboard(now=NOW)
            # The new procedure is not in yet, and the page says one patient is waiting.
            assert (dashboard.total.done, dashboard.waiting) == (1, 1)
        finally:
            holder.close()
        assert outcomes_dashboard(now=NOW).total.done == 2

    def test_rebuild_on_an_empty_database(self):
        postgres_only()
        assert rollups_rebuild() == 0


@pytest.mark.django_db(transaction=True)
def test_refreshes_racing_writers_end_equal_to_live():
    """Four writers add reports and procedures for the same patients while three threads refresh in a loop;
    once all are done the rollups equal the live figures, and nothing was lost on the way."""
    postgres_only()
    tfesi = ProcedureTypeFactory(name="Lumbar TFESI", spinal_region="lumbar")
    patients = [PatientFactory() for _ in range(6)]
    for patient in patients:
        procedure(tfesi, patient=patient, baseline=8)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def writer(seed: int) -> None:
        try:
            for i in range(12):
                patient = patients[(seed + i) % len(patients)]
                appointment = patient.appointments.filter(record__isnull=False).order_by("start").last()
                report(appointment, 10 + (seed * 7 + i) % 190, (seed + i) % 10, (seed * 13 + i * 7) % 101)
                if i % 5 == 0:
                    procedure(
                        tfesi, patient=patient, start=T0 + timedelta(days=200 + seed * 20 + i), baseline=6
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def refresher() -> None:
        try:
            while writing.is_set():
                rollups_refresh(batch=2)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    refreshers = [threading.Thread(target=refresher) for _ in range(3)]
    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in refreshers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in refreshers:
        thread.join()
    assert not errors, errors
    assert_rollups_match(NOW)
    assert outcomes_dashboard(now=NOW).total.done == 6 + 4 * 3


@pytest.mark.django_db(transaction=True)
def test_procedures_from_before_the_upgrade_are_in_the_figures():
    """Migration 0015 queues every patient with an appointment, so rows written before it are rolled up."""
    postgres_only()
    from tests.test_migrations import _migrate

    tfesi = ProcedureTypeFactory(name="Lumbar TFESI", spinal_region="lumbar")
    report(procedure(tfesi, baseline=8), 14, 3, 60)
    _migrate([("procedures", "0014_outcome_instruments")])
    _migrate([("procedures", "0015_rollups")])
    assert RollupRefresh.objects.exists() and not ProcedureOutcome.objects.exists()
    assert outcomes_dashboard(now=NOW).total.responders[0].substantial == 1
    assert_rollups_match(NOW)


class TestReadReplica:
    def test_the_rollups_are_read_from_the_replica_when_one_is_configured(self, settings):
        from django.db import router

        from procedures.models import Appointment, OutcomeMonth

        assert router.db_for_read(OutcomeMonth) == "default"
        settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
        assert router.db_for_read(OutcomeMonth) == router.db_for_read(RfaPathwayState) == "replica"
        # Everything else, and every write, stays on the primary; the replica is never migrated.
        assert router.db_for_read(Appointment) == "default"
        assert router.db_for_write(OutcomeMonth) == "default"
        assert not router.allow_migrate("replica", "procedures")

    def test_database_replica_url_adds_the_alias(self):
        import json
        import os
        import subprocess
        import sys

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DATABASE_URL": "postgres://spinedesk@primary.example.org:5432/spinedesk",
            "DATABASE_REPLICA_URL": "postgres://reader@replica.example.org:5432/spinedesk",
        }
        code = (
            "import json, django; django.setup(); from django.conf import settings; "
            "r = settings.DATABASES['replica']; print(json.dumps([r['HOST'], r['USER'], r['TEST'], r['OPTIONS']]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        host, user, test, options = json.loads(out.stdout.strip().splitlines()[-1])
        assert (host, user, test["MIRROR"]) == ("replica.example.org", "reader", "default")
        assert options == {"options": "-c jit=off"}


class TestBoardPages:
    def test_a_column_pages_by_patient_name(self, client, frontdesk, types, monkeypatch):
        from procedures.views import outcomes as views

        CoverageRule.objects.filter(family="facet_rfa").delete()
        monkeypatch.setattr(views, "RFA_BOARD_PAGE", 2)
        for name in ("Ames", "Baker", "Cole", "Diaz", "Evans"):
            patient = PatientFactory(last_name=name)
            done(patient, types["mbb"], 60, block_peak_relief_percent=85)
            done(patient, types["mbb"], 30, block_peak_relief_percent=90)
        user = frontdesk
        client.force_login(user)
        first = client.get("/outcomes/rfa/").content.decode()
        assert "Ames" in first and "Baker" in first and "Cole" not in first and "1–2 of 5" in first
        second = client.get("/outcomes/rfa/?column=eligible&page=2").content.decode()
        assert "Cole" in second and "Diaz" in second and "Ames" not in second and "3–4 of 5" in second
        assert "column=eligible&amp;page=1" in second and "column=eligible&amp;page=3" in second
        # A page past the end is empty, a bad page number is the first page, an unknown column is ignored.
        assert "Nobody." in client.get("/outcomes/rfa/?column=eligible&page=9").content.decode()
        assert "1–2 of 5" in client.get("/outcomes/rfa/?column=eligible&page=x").content.decode()
        assert "1–2 of 5" in client.get("/outcomes/rfa/?column=nope&page=2").content.decode()


class TestDrawnFigures:
    def test_the_page_is_drawn_again_only_when_something_changed(self, client, physician, tfesi):
        client.force_login(physician)
        p = procedure(tfesi, baseline=8)
        report(p, 14, 2, 80)
        def figures_part():
            return client.get("/outcomes/").content.decode().split('data-testid="key-figures"')[1]

        first = figures_part()
        # Unchanged: the figures come from the cache, without the dashboard's queries.
        with CaptureQueriesContext(connection) as queries:
            again = figures_part()
        assert again == first
        assert not any(
            "procedures_outcomemonth" in q["sql"] or "procedures_outcometotal" in q["sql"] for q in queries
        )
        # A new report: drawn again, with it.
        report(procedure(tfesi, baseline=8), 14, 6, 10)
        assert figures_part() != first
        assert outcomes_dashboard(now=timezone.now()).total.done == 2

    def test_the_api_builds_its_figures_again_only_when_something_changed(self, client, physician, tfesi):
        postgres_only()
        client.force_login(physician)
        report(procedure(tfesi, baseline=8), 14, 2, 80)
        first = client.get("/api/v1/outcomes/").json()
        # Unchanged: the same body, without the dashboard's queries.
        with CaptureQueriesContext(connection) as queries:
            again = client.get("/api/v1/outcomes/").json()
        assert again == first
        assert not any(
            "procedures_outcomemonth" in q["sql"] or "procedures_outcometotal" in q["sql"] for q in queries
        )
        # A filter is part of what is kept: another physician's figures are their own.
        assert client.get(f"/api/v1/outcomes/?physician={physician.physician_profile.pk}").json()[
            "total"
        ]["procedures_done"] == 0
        # A new report: built again, with it.
        report(procedure(tfesi, baseline=8), 14, 6, 10)
        after = client.get("/api/v1/outcomes/").json()
        assert after["total"]["procedures_done"] == first["total"]["procedures_done"] + 1

    def test_the_board_is_drawn_again_when_a_patient_moves(self, client, frontdesk, types):
        CoverageRule.objects.filter(family="facet_rfa").delete()
        client.force_login(frontdesk)
        patient = PatientFactory(last_name="Zephyr")
        done(patient, types["mbb"], 60, block_peak_relief_percent=85)
        assert "Zephyr" in client.get("/outcomes/rfa/").content.decode().split('data-testid="rfa-eligible"')[0]
        done(patient, types["mbb"], 30, block_peak_relief_percent=90)
        eligible = client.get("/outcomes/rfa/").content.decode().split('data-testid="rfa-eligible"')[1]
        assert "Zephyr" in eligible.split('data-testid="rfa-booked"')[0]
