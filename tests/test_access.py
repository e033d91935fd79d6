"""Nothing about a patient is visible without the right role; the API answers 401/403; the audit trail
records who created, changed and viewed a patient; failed logins lock out; idle sessions expire."""

from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from procedures.models import Patient
from tests.factories import PASSWORD, AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

PAGES = ["home", "patient-list", "patient-new"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_send_anonymous_visitors_to_the_login_page(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_patient_page_sends_anonymous_visitors_to_the_login_page(client):
    patient = PatientFactory()
    response = client.get(reverse("patient-detail", args=[patient.pk]))
    assert response.status_code == 302


def test_login_page_and_health_need_no_login(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200


@pytest.mark.parametrize("role", ["frontdesk", "nurse", "physician", "admin"])
def test_each_role_can_read_a_patient_page(client, cast, role):
    patient = PatientFactory(last_name="Okafor")
    client.force_login(cast[role])
    response = client.get(reverse("patient-detail", args=[patient.pk]))
    assert response.status_code == 200
    assert b"Okafor" in response.content


def test_a_user_without_a_role_sees_no_patient(client, outsider):
    patient = PatientFactory(last_name="Okafor")
    client.force_login(outsider)
    for url in (reverse("patient-detail", args=[patient.pk]), reverse("patient-list") + "?q=Okafor"):
        response = client.get(url)
        assert response.status_code == 403
        assert b"Okafor" not in response.content


def test_home_shows_no_schedule_to_a_user_without_a_role(client, outsider):
    appt = AppointmentFactory()
    client.force_login(outsider)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert appt.patient.last_name.encode() not in response.content


def test_nurse_cannot_create_patients(client, nurse):
    client.force_login(nurse)
    assert client.get(reverse("patient-new")).status_code == 403
    response = client.post(reverse("patient-new"), {"mrn": "X1", "first_name": "A", "last_name": "B"})
    assert response.status_code == 403
    assert not Patient.objects.filter(mrn="X1").exists()


def test_unknown_patient_is_a_404(client, frontdesk):
    client.force_login(frontdesk)
    assert client.get(reverse("patient-detail", args=[999999])).status_code == 404


class TestApi:
    def test_anonymous_caller_gets_401(self):
        patient = PatientFactory()
        client = APIClient()
        for url in ("/api/v1/patients/", f"/api/v1/patients/{patient.pk}/", "/api/v1/procedure-types/"):
            response = client.get(url)
            assert response.status_code == 401, url
            assert "detail" in response.json()

    def test_caller_without_role_gets_403(self, outsider):
        client = APIClient()
        client.force_authenticate(outsider)
        assert client.get("/api/v1/patients/").status_code == 403

    def test_token_authenticates_and_reads_are_audited_with_the_caller(self, frontdesk):
        patient = PatientFactory()
        token = Token.objects.create(user=frontdesk)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        response = client.get(f"/api/v1/patients/{patient.pk}/")
        assert response.status_code == 200
        entry = LogEntry.objects.get_for_object(patient).get(action=LogEntry.Action.ACCESS)
        assert entry.actor == frontdesk

    def test_bad_token_is_401(self):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        assert client.get("/api/v1/patients/").status_code == 401


class TestAudit:
    def test_viewing_a_patient_page_is_recorded_with_who_viewed_it(self, client, nurse):
        patient = PatientFactory()
        client.force_login(nurse)
        client.get(reverse("patient-detail", args=[patient.pk]))
        entry = LogEntry.objects.get_for_object(patient).get(action=LogEntry.Action.ACCESS)
        assert entry.actor == nurse

    def test_creating_and_changing_a_patient_is_recorded(self, client, frontdesk):
        client.force_login(frontdesk)
        data = {
            "mrn": "A-77",
            "first_name": "Ada",
            "last_name": "Moss",
            "date_of_birth": "1950-02-03",
            "phone": "(555) 010-2345",
            "preferred_channel": "sms",
            "consent_sms": "on",
            "language": "en",
            "time_zone": "America/New_York",
        }
        response = client.post(reverse("patient-new"), data)
        assert response.status_code == 302
        patient = Patient.objects.get(mrn="A-77")
        data["last_name"] = "Moss-Hale"
        client.post(reverse("patient-edit", args=[patient.pk]), data)
        actions = list(
            LogEntry.objects.get_for_object(patient)
            .exclude(action=LogEntry.Action.ACCESS)
            .order_by("timestamp")
            .values_list("action", "actor__username")
        )
        assert actions == [(LogEntry.Action.CREATE, "frontdesk"), (LogEntry.Action.UPDATE, "frontdesk")]
        change = LogEntry.objects.get_for_object(patient).get(action=LogEntry.Action.UPDATE)
        assert change.changes_dict["last_name"] == ["Moss", "Moss-Hale"]


class TestLogin:
    def test_staff_logs_in_and_reaches_home(self, client, frontdesk):
        response = client.post(reverse("login"), {"username": "frontdesk", "password": PASSWORD}, follow=True)
        assert response.redirect_chain[-1][0] == reverse("home")
        assert b"Maria Gomez" in response.content

    def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(self, client, frontdesk):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("login"), {"username": "frontdesk", "password": "wrong"})
        response = client.post(reverse("login"), {"username": "frontdesk", "password": PASSWORD})
        assert response.status_code == 429
        assert b"Too many failed log-ins" in response.content
        assert "_auth_user_id" not in client.session

    def test_activity_writes_the_session_at_most_once_a_minute(self, client, frontdesk):
        from django.contrib.sessions.models import Session

        def expiry():
            return Session.objects.get(session_key=client.session.session_key).expire_date

        with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False) as clock:
            client.post(reverse("login"), {"username": "frontdesk", "password": PASSWORD})
            client.get(reverse("home"))
            first = expiry()
            clock.shift(timedelta(seconds=settings.SESSION_REFRESH_SECONDS - 5))
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse("home")).status_code == 200
            assert expiry() == first
            assert not any(q["sql"].startswith("UPDATE") and "django_session" in q["sql"] for q in queries)
            clock.shift(timedelta(seconds=10))
            client.get(reverse("home"))
            assert expiry() == first + timedelta(seconds=settings.SESSION_REFRESH_SECONDS + 5)
        # An anonymous visit gets no session at all.
        client.logout()
        before = Session.objects.count()
        client.get(reverse("login"))
        assert Session.objects.count() == before, [s.get_decoded() for s in Session.objects.all()]

    def test_session_expires_after_inactivity(self, client, frontdesk):
        with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False) as clock:
            client.post(reverse("login"), {"username": "frontdesk", "password": PASSWORD})
            assert client.get(reverse("home")).status_code == 200
            clock.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE - 60))
            assert client.get(reverse("home")).status_code == 200  # activity pushes the expiry forward
            clock.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE + 60))
            response = client.get(reverse("home"))
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
