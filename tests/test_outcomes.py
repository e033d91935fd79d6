"""Pain scores: one timeline for every source, integers 0–10, never in the future; the relief they document
feeds the repeat rules."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from procedures.models import AppointmentStatus, PainScore, ProcedureRecord
from procedures.selectors.eligibility import eligibility_warnings
from procedures.selectors.outcomes import documented_relief
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/pain-scores/"


@pytest.fixture
def api(nurse):
    client = APIClient()
    client.force_authenticate(nurse)
    return client


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def test_a_score_is_recorded_and_listed_for_its_patient(api):
    patient, other = PatientFactory(), PatientFactory()
    response = api.post(
        URL, {"patient": patient.pk, "score": 6, "recorded_at": iso(-timedelta(hours=1))}, format="json"
    )
    assert response.status_code == 201, response.json()
    api.post(URL, {"patient": other.pk, "score": 2, "recorded_at": iso(-timedelta(hours=1))}, format="json")
    listed = api.get(URL, {"patient": patient.pk}).json()["results"]
    assert [(s["score"], s["source"]) for s in listed] == [(6, "clinic")]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"score": 11}, "score", "less than or equal to 10"),
        ({"score": -1}, "score", "greater than or equal to 0"),
        ({"score": 7.5}, "score", "whole number"),
        ({"score": "seven"}, "score", "valid integer"),
        ({"percent_relief": 120}, "percent_relief", "less than or equal to 100"),
        ({"recorded_at": "future"}, "recorded_at", "cannot be dated in the future"),
        ({"recorded_at": "2026-03-01T10:00:00"}, "recorded_at", "offset"),
        ({"patient": 999999}, "patient", "does not exist"),
    ],
)
def test_bad_scores_are_refused_naming_the_field(api, change, field, message):
    patient = PatientFactory()
    body = {"patient": patient.pk, "score": 5, "recorded_at": iso(-timedelta(minutes=5)), **change}
    if body["recorded_at"] == "future":
        body["recorded_at"] = iso(timedelta(days=1))
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not PainScore.objects.exists()


def test_an_appointment_of_another_patient_is_refused(api):
    appointment = AppointmentFactory()
    response = api.post(
        URL,
        {
            "patient": PatientFactory().pk,
            "appointment": appointment.pk,
            "score": 3,
            "recorded_at": iso(-timedelta(hours=1)),
        },
        format="json",
    )
    assert response.status_code == 400 and "another patient" in response.json()["appointment"][0]


def test_listing_needs_a_patient_and_a_role(api, outsider):
    assert api.get(URL).status_code == 400
    assert APIClient().get(URL, {"patient": 1}).status_code == 401
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get(URL, {"patient": PatientFactory().pk}).status_code == 403


class TestDocumentedRelief:
    @pytest.fixture
    def esi(self):
        patient = PatientFactory()
        ptype = ProcedureTypeFactory(family="esi_transforaminal", spinal_region="lumbar")
        now = timezone.now()
        previous = AppointmentFactory(
            patient=patient,
            procedure_type=ptype,
            status=AppointmentStatus.DISCHARGED,
            start=now - timedelta(days=200),
        )
        ProcedureRecord.objects.create(
            appointment=previous, started_at=previous.start, ended_at=previous.start + timedelta(minutes=20)
        )
        return patient, ptype, previous

    def _report(self, appointment, days_after, relief):
        PainScore.objects.create(
            patient=appointment.patient,
            appointment=appointment,
            score=3,
            percent_relief=relief,
            recorded_at=appointment.start + timedelta(days=days_after),
            source="check_in",
        )

    def test_relief_lasting_past_the_rule_clears_the_repeat_warning(self, esi):
        patient, ptype, previous = esi
        for days, relief in ((1, 30), (14, 70), (30, 60), (90, 55), (120, 20)):
            self._report(previous, days, relief)
        percent, weeks = documented_relief(previous)
        assert percent == 70 and 12.8 < weeks < 12.9  # the last report at ≥ 50 % was on day 90
        codes = [
            w.code for w in eligibility_warnings(patient=patient, procedure_type=ptype, start=timezone.now())
        ]
        assert "repeat_relief_undocumented" not in codes and "repeat_relief_insufficient" not in codes

    def test_short_relief_is_flagged(self, esi):
        patient, ptype, previous = esi
        self._report(previous, 14, 80)
        self._report(previous, 30, 10)
        codes = [
            w.code for w in eligibility_warnings(patient=patient, procedure_type=ptype, start=timezone.now())
        ]
        assert "repeat_relief_insufficient" in codes

    def test_no_reports_means_not_documented(self, esi):
        *_, previous = esi
        assert documented_relief(previous) is None
