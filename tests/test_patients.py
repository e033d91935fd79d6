from datetime import timedelta

import pytest
from django.contrib.auth.context_processors import PermWrapper
from django.contrib.auth.models import Permission
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from procedures.forms.safety import NO_SUCH_MEDICATION, MedicationAddForm
from procedures.models import AppointmentStatus, Medication, Patient
from procedures.selectors.patients import patient_search
from procedures.selectors.schedule import appointment_list_for_patient
from procedures.services.medications import patient_medication_add
from procedures.templatetags.patients import appointment_rows
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

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


# The appointment rows as the page's template wrote them before appointment_rows worked them out in Python.
TEMPLATE_ROWS = Template(
    """{% for appt in appointments %}
          <tr class="status-row status-{{ appt.status }}"><td class="text-nowrap">{% if perms.procedures.view_appointment %}<a href="{% url 'appointment-detail' appt.pk %}">{{ appt.start|date:"D Y-m-d H:i" }}</a>{% else %}{{ appt.start|date:"D Y-m-d H:i" }}{% endif %}</td><td>{{ appt.procedure_type.name }}</td><td>{{ appt.physician.display_name }}</td>
              <td><span class="badge status-badge">{{ appt.get_status_display }}</span>{% if appt.cancel_reason %}<div class="small text-muted">{{ appt.cancel_reason }}</div>{% endif %}</td></tr>
        {% endfor %}"""
)
ROWS = Template(
    """{% load patients %}{% appointment_rows appointments as rows %}{% for row in rows %}
          <tr class="status-row status-{{ row.appt.status }}"><td class="text-nowrap">{% if row.url %}<a href="{{ row.url }}">{{ row.when }}</a>{% else %}{{ row.when }}{% endif %}</td><td>{{ row.appt.procedure_type.name }}</td><td>{{ row.appt.physician.display_name }}</td>
              <td><span class="badge status-badge">{{ row.status_label }}</span>{% if row.appt.cancel_reason %}<div class="small text-muted">{{ row.appt.cancel_reason }}</div>{% endif %}</td></tr>
        {% endfor %}"""
)


class TestDetailPage:
    @pytest.fixture
    def patient(self):
        patient = PatientFactory(last_name="Detail")
        now = timezone.now().replace(second=0, microsecond=0)
        AppointmentFactory(patient=patient, start=now + timedelta(days=3))
        AppointmentFactory(
            patient=patient, start=now - timedelta(days=40), status=AppointmentStatus.DISCHARGED
        )
        AppointmentFactory(
            patient=patient,
            start=now - timedelta(days=400, hours=5),
            status=AppointmentStatus.CANCELLED,
            cancel_reason='Felt better & "cancelled" <online>',
        )
        return patient

    def _rows(self, template: Template, user, patient) -> str:
        request = RequestFactory().get("/")
        request.user = user
        appointments = list(appointment_list_for_patient(patient_id=patient.pk))
        return template.render(
            Context({"appointments": appointments, "request": request, "perms": PermWrapper(user)})
        )

    def test_the_appointment_rows_are_what_the_template_wrote(self, frontdesk, patient):
        drawn = self._rows(ROWS, frontdesk, patient)
        assert drawn == self._rows(TEMPLATE_ROWS, frontdesk, patient)
        assert (
            drawn.count('<a href="/appointments/') == 3
            and "&amp; &quot;cancelled&quot; &lt;online&gt;" in drawn
        )

    def test_without_the_appointment_permission_the_dates_are_not_links(self, patient):
        reader = UserFactory(username="reader")
        reader.user_permissions.add(Permission.objects.get(codename="view_patient"))
        drawn = self._rows(ROWS, reader, patient)
        assert drawn == self._rows(TEMPLATE_ROWS, reader, patient) and "<a href" not in drawn

    def test_a_row_shows_the_date_in_the_clinic_zone(self, frontdesk, patient):
        request = RequestFactory().get("/")
        request.user = frontdesk
        rows = appointment_rows({"request": request}, list(patient.appointments.all()))
        first = min(rows, key=lambda r: r["appt"].start)
        assert first["when"] == f"{timezone.localtime(first['appt'].start):%a %Y-%m-%d %H:%M}"
        assert first["status_label"] == "Cancelled"

    def test_the_page_reads_the_same_queries_however_many_appointments_and_medications(
        self, client, nurse, patient
    ):
        url = reverse("patient-detail", args=[patient.pk])
        client.force_login(nurse)
        client.get(url)

        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            return len(queries)

        few = count()
        for days in range(5, 50, 5):
            AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=days, hours=1))
        for name in ("warfarin", "apixaban"):
            patient_medication_add(
                patient_id=patient.pk, medication=Medication.objects.get(generic_name=name), actor=nurse
            )
        assert count() == few


class TestMedicationForm:
    def test_a_drug_retired_after_the_page_was_drawn_is_refused(self):
        drug = Medication.objects.get(generic_name="apixaban")
        form = MedicationAddForm({"medication": str(drug.pk)})
        Medication.objects.filter(pk=drug.pk).update(active=False)
        assert not form.is_valid()
        assert form.errors["medication"] == [NO_SUCH_MEDICATION % {"value": str(drug.pk)}]

    def test_the_chosen_drug_is_the_whole_catalogue_row(self):
        drug = Medication.objects.get(generic_name="aspirin")
        form = MedicationAddForm({"medication": str(drug.pk), "indication": "secondary"})
        assert form.is_valid()
        assert form.cleaned_data["medication"] == drug and form.cleaned_data["medication"].asks_indication

    def test_retired_drugs_are_not_offered(self, client, frontdesk):
        Medication.objects.filter(generic_name="apixaban").update(active=False)
        client.force_login(frontdesk)
        html = client.get(reverse("patient-detail", args=[PatientFactory().pk])).content.decode()
        assert "apixaban" not in html and "warfarin" in html


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
