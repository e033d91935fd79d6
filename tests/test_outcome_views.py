"""The pain-over-time page (chart, table, attribution, clinic entry) and the facet RFA pathway board."""

from datetime import timedelta

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from procedures.forms.outcomes import NO_SUCH_PROCEDURE
from procedures.models import Appointment, AppointmentStatus, CoverageRule, PainScore
from procedures.selectors.outcomes import pain_timeline, rfa_pathway
from procedures.services.outcomes import SCORE_RANGE
from procedures.templatetags.outcomes import pain_chart, pain_table_rows
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db


def ago(days: float):
    return timezone.now().replace(microsecond=0) - timedelta(days=days)


def done(patient, ptype, days_ago, **kwargs):
    return AppointmentFactory(
        patient=patient,
        procedure_type=ptype,
        start=ago(days_ago),
        status=AppointmentStatus.DISCHARGED,
        **kwargs,
    )


def score(patient, days_ago, value, *, appointment=None, relief=None, source="clinic"):
    return PainScore.objects.create(
        patient=patient,
        appointment=appointment,
        score=value,
        percent_relief=relief,
        recorded_at=ago(days_ago),
        source=source,
    )


@pytest.fixture
def types():
    return {
        "esi": ProcedureTypeFactory(name="Lumbar TFESI", family="esi_transforaminal", spinal_region="lumbar"),
        "cervical": ProcedureTypeFactory(
            name="Cervical TFESI", family="esi_transforaminal", spinal_region="cervical"
        ),
        "mbb": ProcedureTypeFactory(
            name="Lumbar MBB",
            family="facet_mbb",
            purpose="diagnostic",
            spinal_region="lumbar",
            uses_steroid=False,
        ),
        "rfa": ProcedureTypeFactory(
            name="Lumbar RFA",
            family="facet_rfa",
            purpose="therapeutic",
            spinal_region="lumbar",
            uses_steroid=False,
        ),
        "cervical_mbb": ProcedureTypeFactory(
            name="Cervical MBB",
            family="facet_mbb",
            purpose="diagnostic",
            spinal_region="cervical",
            uses_steroid=False,
        ),
    }


@pytest.fixture
def history(types):
    """Baseline 8/10, an L4-L5 left TFESI 30 days ago, then a cervical one 10 days ago."""
    patient = PatientFactory(last_name="Timeline")
    lumbar = done(patient, types["esi"], 30, levels="L4-L5", side="left")
    cervical = done(patient, types["cervical"], 10, levels="C5-C6", side="right")
    AppointmentFactory(
        patient=patient,
        procedure_type=types["esi"],
        start=ago(5),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="ill",
    )
    scores = {
        "baseline": score(patient, 40, 8, source="baseline"),
        "after_lumbar": score(patient, 20, 4, relief=50),
        "named": score(patient, 5, 3, relief=60, appointment=lumbar),
        "after_cervical": score(patient, 2, 5, relief=30),
    }
    return patient, lumbar, cervical, scores


class TestPainTimeline:
    def test_a_score_is_attributed_to_its_own_or_the_most_recent_discharged_procedure(self, history):
        patient, lumbar, cervical, scores = history
        timeline = pain_timeline(patient_id=patient.pk)
        attributed = {p.score.pk: (p.procedure, p.attribution) for p in timeline.points}
        assert attributed[scores["baseline"].pk] == (None, "")
        assert attributed[scores["after_lumbar"].pk] == (lumbar, "most recent")
        assert attributed[scores["named"].pk] == (lumbar, "recorded")  # its own, though cervical is later
        assert attributed[scores["after_cervical"].pk] == (cervical, "most recent")
        assert [p.score.score for p in timeline.points] == [8, 4, 3, 5]
        assert timeline.procedures == [lumbar, cervical]  # the cancelled one is not marked

    def test_the_page_shows_the_chart_markers_and_table(self, client, nurse, history):
        patient, *_ = history
        client.force_login(nurse)
        response = client.get(f"/patients/{patient.pk}/pain/")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('data-testid="pain-point"') == 4
        assert html.count('data-testid="procedure-marker"') == 2
        assert "Lumbar TFESI · L4-L5 · left" in html and "Cervical TFESI · C5-C6 · right" in html
        assert html.count('data-testid="pain-row"') == 4
        assert "<polyline" in html and "<script" not in html.split("<main")[1].split("</main>")[0]
        assert "60%" in html

    def test_the_patient_page_links_to_it(self, client, nurse, history):
        patient, *_ = history
        client.force_login(nurse)
        assert f"/patients/{patient.pk}/pain/" in client.get(f"/patients/{patient.pk}/").content.decode()

    def test_a_clinic_score_is_recorded(self, client, nurse, history):
        patient, lumbar, *_ = history
        client.force_login(nurse)
        when = timezone.localtime() - timedelta(hours=1)
        response = client.post(
            f"/patients/{patient.pk}/pain/",
            {
                "score": 2,
                "percent_relief": 75,
                "recorded_at": f"{when:%Y-%m-%dT%H:%M}",
                "appointment": lumbar.pk,
            },
        )
        assert response.status_code == 302
        saved = PainScore.objects.latest("created_at")
        assert (saved.score, saved.percent_relief, saved.appointment, saved.source, saved.entered_by) == (
            2,
            75,
            lumbar,
            "clinic",
            nurse,
        )

    def test_a_score_of_11_is_refused_with_the_message_and_nothing_saved(self, client, nurse):
        patient = PatientFactory()
        client.force_login(nurse)
        when = timezone.localtime() - timedelta(hours=1)
        response = client.post(
            f"/patients/{patient.pk}/pain/", {"score": 11, "recorded_at": f"{when:%Y-%m-%dT%H:%M}"}
        )
        assert response.status_code == 200
        assert SCORE_RANGE in response.content.decode()
        assert 'data-testid="error-score"' in response.content.decode()
        assert not PainScore.objects.exists()

    def test_another_patients_appointment_is_not_offered(self, client, nurse, history):
        _, lumbar, *_ = history
        other = PatientFactory()
        client.force_login(nurse)
        response = client.post(
            f"/patients/{other.pk}/pain/",
            {"score": 3, "recorded_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}", "appointment": lumbar.pk},
        )
        assert response.status_code == 200 and not PainScore.objects.filter(patient=other).exists()

    def test_a_user_with_no_role_is_refused(self, client, outsider, history):
        patient, *_ = history
        client.force_login(outsider)
        assert client.get(f"/patients/{patient.pk}/pain/").status_code == 403
        assert client.post(f"/patients/{patient.pk}/pain/", {"score": 3}).status_code == 403
        assert client.get("/outcomes/rfa/").status_code == 403

    def test_an_unknown_patient_is_404(self, client, nurse):
        client.force_login(nurse)
        assert client.get("/patients/999999/pain/").status_code == 404

    def test_a_tampered_procedure_is_refused_with_a_message_naming_the_field(
        self, client, nurse, history, types
    ):
        patient, *_ = history
        cancelled = Appointment.objects.get(patient=patient, status=AppointmentStatus.CANCELLED)
        elsewhere = done(PatientFactory(), types["esi"], 5)
        client.force_login(nurse)
        for value in (cancelled.pk, elsewhere.pk, "abc", "99999999999999999999"):
            response = client.post(
                f"/patients/{patient.pk}/pain/",
                {"score": 3, "recorded_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}", "appointment": value},
            )
            html = response.content.decode()
            assert response.status_code == 200
            assert escape(NO_SUCH_PROCEDURE % {"value": value}) in html
            assert 'data-testid="error-appointment"' in html
        assert PainScore.objects.filter(patient=patient).count() == 4

    def test_the_form_offers_the_discharged_procedures_newest_first(self, client, nurse, history):
        patient, lumbar, cervical, _ = history
        client.force_login(nurse)
        html = client.get(f"/patients/{patient.pk}/pain/").content.decode()
        select = html.split('<select name="appointment"')[1].split("</select>")[0]
        day = lambda a: f"{timezone.localtime(a.start):%Y-%m-%d}"  # noqa: E731
        assert select.count("<option") == 3
        assert select.index(
            f'value="{cervical.pk}">{day(cervical)} Cervical TFESI C5-C6 (right)'
        ) < select.index(f'value="{lumbar.pk}">{day(lumbar)} Lumbar TFESI L4-L5 (left)')

    def test_the_page_reads_the_same_few_queries_however_long_the_history(
        self, client, nurse, history, types
    ):
        patient, *_ = history
        client.force_login(nurse)
        client.get(f"/patients/{patient.pk}/pain/")  # the first makes the settings row, caches content types

        def page_queries() -> list[str]:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/patients/{patient.pk}/pain/").status_code == 200
            return [q["sql"] for q in queries]

        few = page_queries()
        for days in range(60, 90, 3):
            later = done(patient, types["esi"], days, levels="L5-S1")
            score(patient, days - 1, 5, appointment=later, relief=20)
        assert len(page_queries()) == len(few)
        # The form's choices come from the timeline's own list: no cursor, no query of their own.
        assert not [sql for sql in few if "DECLARE" in sql or "CURSOR" in sql]

    def test_a_score_naming_a_procedure_that_was_not_done_is_attributed_to_it(self, history):
        patient, *_ = history
        cancelled = Appointment.objects.get(patient=patient, status=AppointmentStatus.CANCELLED)
        named = score(patient, 4, 6, appointment=cancelled)
        timeline = pain_timeline(patient_id=patient.pk)
        point = next(p for p in timeline.points if p.score.pk == named.pk)
        assert (point.procedure, point.attribution) == (cancelled, "recorded")
        assert cancelled not in timeline.procedures  # not a marker: it was not done

    def test_a_score_naming_another_patients_procedure_still_shows_it(self, history, types):
        patient, *_ = history
        elsewhere = done(PatientFactory(), types["esi"], 3)
        named = score(patient, 2, 6, appointment=elsewhere)  # what the service refuses, written directly
        timeline = pain_timeline(patient_id=patient.pk)
        point = next(p for p in timeline.points if p.score.pk == named.pk)
        assert (point.procedure, point.attribution) == (elsewhere, "recorded")
        assert elsewhere not in timeline.procedures

    def test_the_attributed_procedure_is_read_with_the_scores(self, history):
        patient, lumbar, *_ = history
        timeline = pain_timeline(patient_id=patient.pk)
        with CaptureQueriesContext(connection) as queries:
            named = [p.score.appointment for p in timeline.points if p.attribution == "recorded"]
            labels = [(a.procedure_type.name, a.levels, a.get_side_display(), a.start) for a in named]
        assert named == [lumbar] and labels and not queries

    def test_the_rows_and_dots_drawn_in_python_are_what_the_template_drew(self, history, types):
        """pain_table_rows and the chart's dots replaced template loops: the HTML is the loops' own."""
        patient, lumbar, *_ = history
        types["esi"].name = 'Lumbar <TFESI> & "co"'
        types["esi"].save()
        score(patient, 20, 0, appointment=lumbar)
        timeline = pain_timeline(patient_id=patient.pk)
        rows = Template(
            "{% load outcomes %}{% timeline_rows points as pain_rows %}{% for row in pain_rows %}"
            """
          <tr data-testid="pain-row">
            <td class="text-nowrap">{{ row.when }}</td>
            <td>{{ row.score.score }}/10</td>
            <td>{% if row.score.percent_relief is not None %}{{ row.score.percent_relief }}%{% else %}—{% endif %}</td>
            <td>{{ row.source }}</td>
            <td>{% if row.attributed is not None %}{{ row.attributed }}{% if row.most_recent %} <span class="badge text-bg-light">most recent</span>{% endif %}{% else %}—{% endif %}</td>
          </tr>
        {% endfor %}"""
        )
        assert pain_table_rows(timeline.points) == rows.render(Context({"points": timeline.points}))
        dots = Template(
            """{% for point in points %}
  {% if point.relief is not None %}<text x="{{ point.x }}" y="{{ point.label_y }}" text-anchor="middle" fill="#198754">{{ point.relief }}%</text>{% endif %}
  <circle cx="{{ point.x }}" cy="{{ point.y }}" r="4" fill="#0d6efd" data-testid="pain-point"><title>{{ point.title }}</title></circle>
  {% endfor %}"""
        )
        chart = pain_chart(timeline)
        assert chart["points_svg"] == dots.render(Context({"points": chart["points"]}))
        assert pain_table_rows([]) == ""


@pytest.fixture
def rfa_rule():
    CoverageRule.objects.update_or_create(
        family="facet_rfa",
        purpose="therapeutic",
        defaults={
            "diagnostic_blocks_required": 2,
            "diagnostic_min_relief_percent": 80,
            "diagnostic_min_gap_days": 14,
            "repeat_min_relief_percent": 50,
            "repeat_min_relief_weeks": 26,
            "source": "test",
            "evidence": "S",
        },
    )


def _names(rows):
    return sorted((r.patient.last_name, r.region) for r in rows)


class TestRfaPathway:
    @pytest.fixture
    def board_data(self, types, rfa_rule):
        mbb, rfa = types["mbb"], types["rfa"]
        one = PatientFactory(last_name="One")
        done(one, mbb, 20, block_peak_relief_percent=90)
        done(one, mbb, 10, block_peak_relief_percent=60)  # too little relief
        close = PatientFactory(last_name="TooClose")
        done(close, mbb, 20, block_peak_relief_percent=90)
        done(close, mbb, 15, block_peak_relief_percent=85)  # under the 14-day gap
        eligible = PatientFactory(last_name="Eligible")
        done(eligible, mbb, 60, block_peak_relief_percent=80)
        done(eligible, mbb, 30, block_peak_relief_percent=95)
        done(eligible, types["cervical_mbb"], 30, block_peak_relief_percent=95)  # other region: one block
        booked = PatientFactory(last_name="Booked")
        done(booked, mbb, 60, block_peak_relief_percent=90)
        done(booked, mbb, 40, block_peak_relief_percent=90)
        AppointmentFactory(patient=booked, procedure_type=rfa, start=timezone.now() + timedelta(days=7))
        due = PatientFactory(last_name="Due")
        last = done(due, rfa, 200)
        score(due, 30, 3, appointment=last, relief=70, source="check_in")  # 24 weeks after the RFA
        score(
            due, 10, 4, appointment=last, relief=60, source="check_in"
        )  # still ≥ 50 % 27 weeks after: lasting relief
        recent = PatientFactory(last_name="Recent")
        done(recent, rfa, 60)
        weak = PatientFactory(last_name="Weak")
        weak_rfa = done(weak, rfa, 300)
        score(weak, 280, 6, appointment=weak_rfa, relief=20, source="check_in")
        none = PatientFactory(last_name="NoBlocks")
        done(none, mbb, 10, block_peak_relief_percent=40)

    def test_buckets(self, board_data):
        board = rfa_pathway(today=timezone.localdate())
        assert _names(board.one_block) == [
            ("Eligible", "cervical"),
            ("One", "lumbar"),
            ("TooClose", "lumbar"),
        ]
        assert _names(board.eligible) == [("Eligible", "lumbar")]
        assert _names(board.booked) == [("Booked", "lumbar")]
        assert _names(board.due_repeat) == [("Due", "lumbar"), ("Weak", "lumbar")]
        due = {r.patient.last_name: r for r in board.due_repeat}
        assert due["Due"].relief_meets_rule and due["Due"].relief[0] == 70
        assert not due["Weak"].relief_meets_rule

    def test_the_board_page_shows_the_columns(self, client, frontdesk, board_data):
        client.force_login(frontdesk)
        response = client.get("/outcomes/rfa/")
        assert response.status_code == 200
        html = response.content.decode()
        for key in ("one-block", "eligible", "booked", "due-repeat"):
            assert f'data-testid="rfa-{key}"' in html
        assert html.count('data-testid="rfa-row"') == 7
        assert "Relief after the last RFA" not in html and "below the rule" in html

    def test_the_query_count_does_not_grow_with_patients(self, types, rfa_rule):
        def add_patients(n):
            for _ in range(n):
                patient = PatientFactory()
                done(patient, types["mbb"], 60, block_peak_relief_percent=90)
                done(patient, types["mbb"], 30, block_peak_relief_percent=90)
                last = done(patient, types["rfa"], 200)
                score(patient, 20, 3, appointment=last, relief=70, source="check_in")

        def count():
            with CaptureQueriesContext(connection) as queries:
                rfa_pathway(today=timezone.localdate())
            return len(queries)

        add_patients(2)
        few = count()
        add_patients(8)
        assert count() == few
