import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from procedures.models import Patient
from procedures.selectors.patients import patient_search
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

VALID = {
    "mrn": "m-100",
    "first_name": "Ada",
    "last_name": "Moss",
    "date_of_birth": "1950-02-03",
    "phone": "(555) 010-2345",
    "email": "ada@example.org",
    "preferred_channel": "sms",
    "consent_sms": "on",
    "language": "en",
    "time_zone": "America/Chicago",
}


class TestSearch:
    @pytest.fixture
    def people(self):
        return {
            "moss": PatientFactory(first_name="Ada", last_name="Moss", mrn="A100"),
            "mossman": PatientFactory(
                first_name="Ben", last_name="Mossman", mrn="B200", date_of_birth="1971-07-04"
            ),
            "other": PatientFactory(first_name="Cy", last_name="Adams", mrn="C300"),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("moss", {"moss", "mossman"}),
            ("Moss, Ada", {"moss"}),
            ("ada moss", {"moss"}),
            ("b200", {"mossman"}),
            ("1971-07-04", {"mossman"}),
            ("07/04/1971", {"mossman"}),
            ("zzz", set()),
            ("   ", set()),
        ],
    )
    def test_it_finds_by_name_mrn_or_birth_date(self, people, query, expected):
        found = {p.pk for p in patient_search(query=query)}
        assert found == {people[k].pk for k in expected}

    def test_search_page_lists_matches(self, client, frontdesk, people):
        client.force_login(frontdesk)
        response = client.get(reverse("patient-list"), {"q": "moss"})
        assert b"Mossman" in response.content and b"Adams" not in response.content


class TestCreatePage:
    def test_it_creates_a_patient_normalising_the_phone_and_stamping_consent(self, client, frontdesk):
        client.force_login(frontdesk)
        response = client.post(reverse("patient-new"), VALID)
        patient = Patient.objects.get()
        assert response["Location"] == reverse("patient-detail", args=[patient.pk])
        assert (patient.mrn, patient.phone) == ("M-100", "+15550102345")
        assert patient.consent_sms and patient.consent_sms_at is not None
        assert not patient.consent_email and patient.consent_email_at is None

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
            ({"date_of_birth": "1950-02-31"}, "date_of_birth", "Enter a valid date"),
            ({"phone": "12"}, "phone", "international form"),
            ({"phone": ""}, "phone", "needs a mobile number"),
            ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice"),
            ({"mrn": "bad mrn!"}, "mrn", "letters, digits and dashes"),
        ],
    )
    def test_bad_input_names_the_problem_and_saves_nothing(self, client, frontdesk, change, field, message):
        client.force_login(frontdesk)
        response = client.post(reverse("patient-new"), {**VALID, **change})
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
        assert b"Nothing was saved yet" in response.content
        assert Patient.objects.count() == 0

    def test_duplicate_mrn_is_refused(self, client, frontdesk):
        PatientFactory(mrn="M-100")
        client.force_login(frontdesk)
        response = client.post(reverse("patient-new"), VALID)
        assert "already exists" in " ".join(response.context["form"].errors["mrn"])
        assert Patient.objects.count() == 1

    def test_withdrawing_consent_clears_its_time(self, client, frontdesk):
        client.force_login(frontdesk)
        client.post(reverse("patient-new"), VALID)
        patient = Patient.objects.get()
        data = {k: v for k, v in VALID.items() if k != "consent_sms"}
        client.post(reverse("patient-edit", args=[patient.pk]), data)
        patient.refresh_from_db()
        assert not patient.consent_sms and patient.consent_sms_at is None


class TestApi:
    @pytest.fixture
    def api(self, frontdesk):
        client = APIClient()
        client.force_authenticate(frontdesk)
        return client

    def test_create_list_search_retrieve_update(self, api):
        payload = {
            "mrn": "Z9",
            "first_name": "Zoe",
            "last_name": "Quinn",
            "date_of_birth": "1980-01-02",
            "phone": "+15550109999",
            "consent_sms": True,
            "time_zone": "America/Denver",
        }
        created = api.post("/api/v1/patients/", payload, format="json")
        assert created.status_code == 201, created.json()
        body = created.json()
        assert body["consent_sms_at"] is not None
        pid = body["id"]
        assert api.get("/api/v1/patients/", {"search": "quinn"}).json()["results"][0]["id"] == pid
        assert api.get(f"/api/v1/patients/{pid}/").json()["mrn"] == "Z9"
        updated = api.patch(f"/api/v1/patients/{pid}/", {"email": "zoe@example.org"}, format="json")
        assert updated.status_code == 200 and updated.json()["email"] == "zoe@example.org"

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            (
                {"mrn": "Z1", "first_name": "A", "last_name": "B", "date_of_birth": "2999-01-01"},
                "date_of_birth",
            ),
            (
                {"mrn": "Z1", "first_name": "A", "last_name": "B", "date_of_birth": "not-a-date"},
                "date_of_birth",
            ),
            ({"mrn": "Z1", "first_name": "A", "date_of_birth": "1970-01-01"}, "last_name"),
            (
                {
                    "mrn": "Z1",
                    "first_name": "A",
                    "last_name": "B",
                    "date_of_birth": "1970-01-01",
                    "consent_sms": True,
                },
                "phone",
            ),
            (
                {
                    "mrn": "Z1",
                    "first_name": "A",
                    "last_name": "B",
                    "date_of_birth": "1970-01-01",
                    "time_zone": "Nowhere",
                },
                "time_zone",
            ),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, api, payload, field):
        response = api.post("/api/v1/patients/", payload, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert Patient.objects.count() == 0

    def test_malformed_json_is_400(self, api):
        response = api.post("/api/v1/patients/", "{not json", content_type="application/json")
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"]
