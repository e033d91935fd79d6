"""Optional outcome instruments (Oswestry Disability Index, Patient Global Impression of Change) on the pain
timeline: recorded only when the clinic collects them, whole numbers in each instrument's range, never in
the future; entered by staff on the timeline or the API, PGIC also answered on the patient's check-in."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from procedures import patient_links
from procedures.forms.outcomes import NO_SUCH_PROCEDURE
from procedures.models import (
    AppointmentStatus,
    CheckInResponse,
    Discharge,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Instrument,
    InstrumentScore,
    OutcomeSettings,
    PainScore,
    PainSource,
)
from procedures.roles import Role
from procedures.rules import patient_text
from procedures.selectors.outcomes import instrument_timeline, outcome_settings, pain_timeline
from procedures.services.checkins import PGIC_ANSWER, CheckInAnswers, checkin_submit
from procedures.services.instruments import (
    IN_THE_FUTURE,
    INSTRUMENT_OFF,
    ODI_RANGE,
    PGIC_RANGE,
    UNKNOWN_INSTRUMENT,
    UNKNOWN_SOURCE,
    instrument_score_record,
)
from procedures.services.outcomes import OTHER_PATIENT, OutcomeError
from tests.conftest import role_group
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/instrument-scores/"


def ago(**delta):
    return timezone.now().replace(microsecond=0) - timedelta(**delta)


def collect(*, odi: bool = False, pgic: bool = False) -> None:
    OutcomeSettings.objects.update_or_create(pk=1, defaults={"collect_odi": odi, "collect_pgic": pgic})


@pytest.fixture
def both_on():
    collect(odi=True, pgic=True)


def record(patient, instrument, value, **kwargs):
    fields = {"recorded_at": ago(hours=1), "source": PainSource.CLINIC, "actor": None, **kwargs}
    return instrument_score_record(patient=patient, instrument=instrument, value=value, **fields)


# --- The clinic's setting -------------------------------------------------------------------------------


class TestSetting:
    def test_every_instrument_starts_off(self):
        assert not OutcomeSettings.objects.exists()
        settings_row = outcome_settings()
        assert (settings_row.pk, settings_row.instruments) == (1, [])
        assert outcome_settings().pk == 1 and OutcomeSettings.objects.count() == 1

    def test_an_instrument_off_is_refused_and_on_is_recorded(self, nurse):
        patient = PatientFactory()
        with pytest.raises(OutcomeError) as refused:
            record(patient, Instrument.ODI, 40, actor=nurse)
        assert refused.value.field == "instrument"
        assert str(refused.value) == INSTRUMENT_OFF.format(name="Oswestry Disability Index")
        collect(odi=True)
        saved = record(patient, Instrument.ODI, 40, actor=nurse)
        assert (saved.instrument, saved.value, saved.entered_by, saved.source) == ("odi", 40, nurse, "clinic")
        # Turning ODI on leaves PGIC off.
        with pytest.raises(OutcomeError, match="Patient Global Impression of Change"):
            record(patient, Instrument.PGIC, 2)

    def test_the_clinic_admin_edits_it_in_the_admin_as_one_row(self, client, clinic_admin):
        client.force_login(clinic_admin)
        response = client.get("/admin/procedures/outcomesettings/")
        assert response.status_code == 302 and response["Location"].endswith("/outcomesettings/1/change/")
        page = client.get(response["Location"]).content.decode()
        assert "The clinic decides" in page and "LOINC" in page
        assert client.get("/admin/procedures/outcomesettings/add/").status_code == 403
        assert client.get("/admin/procedures/outcomesettings/1/delete/").status_code == 403
        response = client.post(
            "/admin/procedures/outcomesettings/1/change/", {"collect_pgic": "on"}, follow=False
        )
        assert response.status_code == 302
        assert outcome_settings().instruments == ["pgic"]

    def test_the_care_team_cannot_change_it(self, client, physician):
        physician.is_staff = True
        physician.save()
        client.force_login(physician)
        assert client.get("/admin/procedures/outcomesettings/1/change/").status_code == 403


# --- The service ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("both_on")
class TestRecording:
    @pytest.mark.parametrize(
        ("instrument", "value"),
        [("odi", 0), ("odi", 100), ("pgic", 1), ("pgic", 7)],
    )
    def test_the_ends_of_each_range_are_recorded(self, instrument, value):
        assert record(PatientFactory(), instrument, value).value == value

    @pytest.mark.parametrize(
        ("instrument", "value", "message"),
        [
            ("odi", 101, ODI_RANGE),
            ("odi", -1, ODI_RANGE),
            ("odi", 40.0, ODI_RANGE),
            ("odi", True, ODI_RANGE),
            ("pgic", 0, PGIC_RANGE),
            ("pgic", 8, PGIC_RANGE),
            ("pgic", "2", PGIC_RANGE),
        ],
    )
    def test_a_value_out_of_range_is_refused_naming_the_value(self, instrument, value, message):
        with pytest.raises(OutcomeError) as refused:
            record(PatientFactory(), instrument, value)
        assert (refused.value.field, str(refused.value)) == ("value", message)
        assert not InstrumentScore.objects.exists()

    def test_a_future_time_is_refused(self):
        when = timezone.now() + timedelta(hours=2)
        with pytest.raises(OutcomeError) as refused:
            record(PatientFactory(), "odi", 30, recorded_at=when)
        assert refused.value.field == "recorded_at"
        assert str(refused.value) == IN_THE_FUTURE.format(when=f"{timezone.localtime(when):%Y-%m-%d %H:%M}")

    def test_another_patients_appointment_is_refused(self):
        with pytest.raises(OutcomeError) as refused:
            record(PatientFactory(), "pgic", 3, appointment=AppointmentFactory())
        assert (refused.value.field, str(refused.value)) == ("appointment", OTHER_PATIENT)

    def test_an_unknown_instrument_or_source_is_refused(self):
        with pytest.raises(OutcomeError) as refused:
            record(PatientFactory(), "sf36", 3)
        assert (refused.value.field, str(refused.value)) == (
            "instrument",
            UNKNOWN_INSTRUMENT.format(instrument="sf36"),
        )
        with pytest.raises(OutcomeError) as refused:
            record(PatientFactory(), "pgic", 3, source="fax")
        assert (refused.value.field, str(refused.value)) == ("source", UNKNOWN_SOURCE.format(source="fax"))

    @pytest.mark.parametrize(("instrument", "value"), [("odi", 101), ("pgic", 0), ("pgic", 8), ("bdi", 5)])
    def test_the_database_refuses_what_the_service_would(self, instrument, value):
        with pytest.raises(IntegrityError), transaction.atomic():
            InstrumentScore.objects.create(
                patient=PatientFactory(),
                instrument=instrument,
                value=value,
                recorded_at=ago(hours=1),
                source="clinic",
            )


# --- The API -------------------------------------------------------------------------------------------


@pytest.fixture
def api(nurse):
    client = APIClient()
    client.force_authenticate(nurse)
    return client


@pytest.mark.usefixtures("both_on")
class TestApi:
    def test_a_value_is_created_and_listed_for_its_patient(self, api, nurse):
        patient, other = PatientFactory(), PatientFactory()
        response = api.post(
            URL,
            {
                "patient": patient.pk,
                "instrument": "odi",
                "value": 38,
                "recorded_at": ago(hours=2).isoformat(),
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["source"] == "clinic"
        assert InstrumentScore.objects.get().entered_by == nurse
        api.post(
            URL,
            {"patient": other.pk, "instrument": "pgic", "value": 2, "recorded_at": ago(hours=1).isoformat()},
            format="json",
        )
        listed = api.get(URL, {"patient": patient.pk}).json()["results"]
        assert [(row["instrument"], row["value"]) for row in listed] == [("odi", 38)]

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"value": 101}, "value", ODI_RANGE),
            ({"instrument": "pgic", "value": 9}, "value", PGIC_RANGE),
            ({"value": 2.5}, "value", "whole number"),
            ({"value": "lots"}, "value", "valid integer"),
            ({"instrument": "sf36"}, "instrument", "not a valid choice"),
            ({"recorded_at": "future"}, "recorded_at", "cannot be dated in the future"),
            ({"recorded_at": "2026-03-01T10:00:00"}, "recorded_at", "offset"),
            ({"patient": 999999}, "patient", "does not exist"),
            ({"source": "fax"}, "source", "not a valid choice"),
        ],
    )
    def test_bad_input_is_refused_naming_the_field(self, api, change, field, message):
        body = {
            "patient": PatientFactory().pk,
            "instrument": "odi",
            "value": 40,
            "recorded_at": ago(minutes=5).isoformat(),
            **change,
        }
        if body["recorded_at"] == "future":
            body["recorded_at"] = (timezone.now() + timedelta(days=1)).isoformat()
        response = api.post(URL, body, format="json")
        assert response.status_code == 400
        assert message in " ".join(response.json()[field])
        assert not InstrumentScore.objects.exists()

    def test_an_instrument_the_clinic_does_not_collect_is_a_400_on_instrument(self, api):
        collect(pgic=True)
        response = api.post(
            URL,
            {
                "patient": PatientFactory().pk,
                "instrument": "odi",
                "value": 20,
                "recorded_at": ago(hours=1).isoformat(),
            },
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"instrument": [INSTRUMENT_OFF.format(name="Oswestry Disability Index")]}

    def test_listing_needs_a_patient(self, api):
        assert api.get(URL).json() == {"patient": ["Give the patient's id: ?patient=<id>."]}

    def test_anonymous_is_401_and_no_role_is_403(self, outsider):
        patient = PatientFactory()
        body = {
            "patient": patient.pk,
            "instrument": "odi",
            "value": 20,
            "recorded_at": ago(hours=1).isoformat(),
        }
        assert APIClient().get(URL, {"patient": patient.pk}).status_code == 401
        assert APIClient().post(URL, body, format="json").status_code == 401
        client = APIClient()
        client.force_authenticate(outsider)
        assert client.get(URL, {"patient": patient.pk}).status_code == 403
        assert client.post(URL, body, format="json").status_code == 403
        assert not InstrumentScore.objects.exists()

    def test_seeing_pain_scores_is_not_enough_to_add_an_instrument(self, nurse):
        role_group(Role.NURSE).permissions.remove(Permission.objects.get(codename="add_instrumentscore"))
        client = APIClient()
        client.force_authenticate(nurse)
        body = {
            "patient": PatientFactory().pk,
            "instrument": "odi",
            "value": 20,
            "recorded_at": ago(hours=1).isoformat(),
        }
        assert client.post(URL, body, format="json").status_code == 403
        assert client.get(URL, {"patient": body["patient"]}).status_code == 200


# --- The pain timeline page ----------------------------------------------------------------------------


@pytest.fixture
def history():
    """An L4-L5 TFESI 30 days ago: a baseline ODI before it, ODI and PGIC after it (one unlinked)."""
    patient = PatientFactory(last_name="Instruments")
    esi = AppointmentFactory(
        patient=patient,
        procedure_type=ProcedureTypeFactory(name="Lumbar TFESI"),
        start=ago(days=30),
        status=AppointmentStatus.DISCHARGED,
        levels="L4-L5",
    )
    PainScore.objects.create(patient=patient, score=7, recorded_at=ago(days=35), source="baseline")

    def value(instrument, number, days, appointment=None, source="clinic"):
        return InstrumentScore.objects.create(
            patient=patient,
            appointment=appointment,
            instrument=instrument,
            value=number,
            recorded_at=ago(days=days),
            source=source,
        )

    values = {
        "odi_before": value("odi", 48, 35),
        "odi_after": value("odi", 22, 10, appointment=esi),
        "pgic_week2": value("pgic", 2, 16, appointment=esi, source="check_in"),
        "pgic_unlinked": value("pgic", 3, 5),
    }
    return patient, esi, values


class TestTimeline:
    def test_values_are_in_time_order_and_attributed_like_pain_scores(self, history):
        patient, esi, values = history
        points = instrument_timeline(
            patient_id=patient.pk, procedures=pain_timeline(patient_id=patient.pk).procedures
        )
        assert [p.score.pk for p in points] == [
            values[k].pk for k in ("odi_before", "pgic_week2", "odi_after", "pgic_unlinked")
        ]
        attributed = {p.score.pk: (p.procedure, p.attribution) for p in points}
        assert attributed[values["odi_before"].pk] == (None, "")
        assert attributed[values["odi_after"].pk] == (esi, "recorded")
        assert attributed[values["pgic_unlinked"].pk] == (esi, "most recent")

    def test_the_page_charts_and_lists_them_and_offers_a_form_per_instrument_on(self, client, nurse, history):
        patient, *_ = history
        collect(odi=True, pgic=True)
        client.force_login(nurse)
        html = client.get(f"/patients/{patient.pk}/pain/").content.decode()
        assert html.count('data-testid="instrument-row"') == 4
        assert 'data-testid="instrument-chart-odi"' in html and 'data-testid="instrument-chart-pgic"' in html
        assert html.count('data-testid="instrument-point"') == 4
        assert "22%" in html and "2 (much improved)" in html
        assert 'data-testid="instrument-form-odi"' in html and 'data-testid="instrument-form-pgic"' in html
        assert "7 · Very much worse" in html
        assert html.count('data-testid="pain-point"') == 1  # the pain chart is unchanged

    def test_values_stay_on_the_page_when_the_clinic_stops_collecting(self, client, nurse, history):
        patient, *_ = history
        client.force_login(nurse)
        html = client.get(f"/patients/{patient.pk}/pain/").content.decode()
        assert html.count('data-testid="instrument-row"') == 4
        assert 'data-testid="instrument-form-' not in html

    def test_nothing_about_instruments_shows_while_none_is_collected_or_recorded(self, client, nurse):
        patient = PatientFactory()
        client.force_login(nurse)
        html = client.get(f"/patients/{patient.pk}/pain/").content.decode()
        assert 'data-testid="instrument-table"' not in html and "instrument-form" not in html

    def test_staff_record_an_odi_after_a_procedure(self, client, nurse, history):
        patient, esi, _ = history
        collect(odi=True)
        client.force_login(nurse)
        when = timezone.localtime() - timedelta(hours=1)
        response = client.post(
            f"/patients/{patient.pk}/pain/",
            {
                "instrument": "odi",
                "odi-value": "18",
                "odi-recorded_at": f"{when:%Y-%m-%dT%H:%M}",
                "odi-appointment": esi.pk,
            },
        )
        assert response.status_code == 302
        saved = InstrumentScore.objects.latest("created_at")
        assert (saved.instrument, saved.value, saved.appointment, saved.source, saved.entered_by) == (
            "odi",
            18,
            esi,
            "clinic",
            nurse,
        )
        assert not PainScore.objects.filter(source="clinic").exists()  # the pain form was not submitted

    def test_an_odi_over_100_is_refused_beside_its_field(self, client, nurse, history):
        patient, *_ = history
        collect(odi=True)
        client.force_login(nurse)
        response = client.post(
            f"/patients/{patient.pk}/pain/",
            {
                "instrument": "odi",
                "odi-value": "140",
                "odi-recorded_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}",
            },
        )
        html = response.content.decode()
        assert response.status_code == 200 and ODI_RANGE in html
        assert 'data-testid="error-odi-value"' in html
        assert 'data-testid="error-score"' not in html  # the pain form stays untouched
        assert InstrumentScore.objects.count() == 4

    def test_a_tampered_procedure_is_refused_beside_the_instruments_field(self, client, nurse, history):
        patient, *_ = history
        elsewhere = AppointmentFactory(
            patient=PatientFactory(), start=ago(days=3), status=AppointmentStatus.DISCHARGED
        )
        collect(odi=True)
        client.force_login(nurse)
        response = client.post(
            f"/patients/{patient.pk}/pain/",
            {
                "instrument": "odi",
                "odi-value": "18",
                "odi-recorded_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}",
                "odi-appointment": elsewhere.pk,
            },
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert escape(NO_SUCH_PROCEDURE % {"value": elsewhere.pk}) in html
        assert 'data-testid="error-odi-appointment"' in html
        assert InstrumentScore.objects.count() == 4

    def test_a_value_naming_a_procedure_that_was_not_done_is_attributed_to_it(self, history):
        patient, esi, _ = history
        cancelled = AppointmentFactory(
            patient=patient, start=ago(days=3), status=AppointmentStatus.CANCELLED, cancel_reason="ill"
        )
        named = InstrumentScore.objects.create(
            patient=patient,
            appointment=cancelled,
            instrument="odi",
            value=30,
            recorded_at=ago(days=2),
            source="clinic",
        )
        procedures = pain_timeline(patient_id=patient.pk).procedures
        assert procedures == [esi]
        point = next(
            p
            for p in instrument_timeline(patient_id=patient.pk, procedures=procedures)
            if p.score.pk == named.pk
        )
        assert (point.procedure, point.attribution) == (cancelled, "recorded")

    def test_a_pgic_posted_after_the_clinic_turned_it_off_is_refused(self, client, nurse, history):
        patient, *_ = history
        collect(odi=True)
        client.force_login(nurse)
        response = client.post(
            f"/patients/{patient.pk}/pain/",
            {
                "instrument": "pgic",
                "pgic-value": "2",
                "pgic-recorded_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}",
            },
        )
        assert INSTRUMENT_OFF.format(name="Patient Global Impression of Change") in response.content.decode()
        assert InstrumentScore.objects.count() == 4

    def test_a_user_without_add_permission_gets_no_form_and_a_403(self, client, nurse, history):
        patient, *_ = history
        collect(odi=True)
        role_group(Role.NURSE).permissions.remove(Permission.objects.get(codename="add_instrumentscore"))
        client.force_login(nurse)
        html = client.get(f"/patients/{patient.pk}/pain/").content.decode()
        assert "instrument-form" not in html and html.count('data-testid="instrument-row"') == 4
        response = client.post(
            f"/patients/{patient.pk}/pain/",
            {
                "instrument": "odi",
                "odi-value": "10",
                "odi-recorded_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}",
            },
        )
        assert response.status_code == 403


# --- The patient's check-in ----------------------------------------------------------------------------


@pytest.fixture
def check_in(nurse):
    appointment = AppointmentFactory(
        procedure_type=ProcedureTypeFactory(name="Lumbar ESI"),
        status=AppointmentStatus.DISCHARGED,
        start=ago(days=14, hours=1),
    )
    Discharge.objects.create(
        appointment=appointment,
        discharged_at=ago(days=14),
        vitals_stable=True,
        walks_safely=True,
        pain_controlled=True,
        by=nurse,
    )
    followup = FollowUp.objects.create(
        appointment=appointment,
        kind=FollowUpKind.CHECK_IN,
        label="Week 2",
        due_at=ago(hours=1),
        status=FollowUpStatus.SENT,
    )
    return followup, patient_links.checkin_link(followup_id=followup.pk).split("localhost:8000")[1]


def _answers(**overrides):
    data = {"pain_now": "3", "percent_relief": "60", "activity_interference": "4", "side_effects_other": ""}
    data.update({f"flag_{code}": "no" for code in patient_text.RED_FLAG_QUESTIONS})
    data.update(overrides)
    return data


PGIC_QUESTION = "Since the procedure, my overall status is:"


class TestCheckIn:
    def test_when_pgic_is_on_the_patient_is_asked_and_the_answer_is_on_the_timeline(self, client, check_in):
        followup, url = check_in
        collect(pgic=True)
        page = client.get(url).content.decode()
        assert PGIC_QUESTION in page and "Very much improved" in page and "Very much worse" in page
        response = client.post(url, _answers(pgic="2"))
        assert response.status_code == 200 and b"Thank you" in response.content
        impression = InstrumentScore.objects.get()
        pain = PainScore.objects.get(source=PainSource.CHECK_IN)
        assert (impression.instrument, impression.value, impression.source) == ("pgic", 2, "check_in")
        assert impression.appointment == followup.appointment and impression.entered_by is None
        assert impression.recorded_at == pain.recorded_at == CheckInResponse.objects.get().submitted_at

    def test_when_pgic_is_on_leaving_it_out_is_refused_and_nothing_is_recorded(self, client, check_in):
        _, url = check_in
        collect(pgic=True)
        response = client.post(url, _answers())
        assert response.status_code == 400 and PGIC_ANSWER in response.content.decode()
        assert not CheckInResponse.objects.exists() and not InstrumentScore.objects.exists()

    def test_when_pgic_is_off_it_is_not_asked_and_a_posted_answer_is_ignored(self, client, check_in):
        _, url = check_in
        collect(odi=True)  # ODI is entered by staff: never on the phone
        page = client.get(url).content.decode()
        assert PGIC_QUESTION not in page and "Oswestry" not in page and "q-pgic" not in page
        response = client.post(url, _answers(pgic="2"))
        assert response.status_code == 200
        assert CheckInResponse.objects.exists() and not InstrumentScore.objects.exists()

    def test_a_post_block_diary_point_does_not_ask_it(self, client, check_in):
        followup, _ = check_in
        collect(pgic=True)
        diary = FollowUp.objects.create(
            appointment=followup.appointment,
            kind=FollowUpKind.DIARY,
            label="2 hours",
            due_at=ago(minutes=30),
            status=FollowUpStatus.SENT,
        )
        url = patient_links.checkin_link(followup_id=diary.pk).split("localhost:8000")[1]
        assert PGIC_QUESTION not in client.get(url).content.decode()

    def test_the_service_drops_an_answer_if_the_clinic_stopped_collecting_meanwhile(self, check_in):
        followup, _ = check_in
        answers = CheckInAnswers(
            pain_now=3,
            percent_relief=60,
            activity_interference=4,
            red_flags=dict.fromkeys(patient_text.RED_FLAG_QUESTIONS, False),
            pgic=2,
        )
        checkin_submit(followup_id=followup.pk, answers=answers)
        assert CheckInResponse.objects.exists() and not InstrumentScore.objects.exists()

    def test_the_service_refuses_a_pgic_out_of_range(self, check_in):
        from procedures.services.checkins import CheckInError

        followup, _ = check_in
        collect(pgic=True)
        answers = CheckInAnswers(
            pain_now=3,
            percent_relief=60,
            activity_interference=4,
            red_flags=dict.fromkeys(patient_text.RED_FLAG_QUESTIONS, False),
            pgic=0,
        )
        with pytest.raises(CheckInError) as refused:
            checkin_submit(followup_id=followup.pk, answers=answers)
        assert (refused.value.field, str(refused.value)) == ("pgic", PGIC_ANSWER)
        assert not CheckInResponse.objects.exists()
