"""The scheduling API: slots, booking, cancelling, moving and the .ics download. Every refusal names the
problem (409 with `detail` for a conflict, 400 naming the field for bad input) and changes nothing."""

from datetime import UTC, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.utils import timezone
from icalendar import Calendar
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from procedures.models import Appointment, AppointmentStatus, AppointmentTransition
from procedures.selectors.readiness import _RULES, readiness_rule_register
from procedures.services.appointments import appointment_transition
from tests.factories import AppointmentFactory
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
SLOTS = "/api/v1/slots/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def booking(clinic, *, patient=0, physician="lee", hh=9, mm=0, **extra) -> dict:
    return {
        "patient": clinic["patients"][patient].pk,
        "procedure_type": clinic["tfesi"].pk,
        "physician": clinic[physician].pk,
        "start": at(clinic["monday"], hh, mm).isoformat(),
        **extra,
    }


def book(client, clinic, **kwargs):
    return client.post(APPOINTMENTS, booking(clinic, **kwargs), format="json")


def booked(client, clinic, **kwargs) -> dict:
    response = book(client, clinic, **kwargs)
    assert response.status_code == 201, response.json()
    return response.json()


def clinic_offset(clinic, hh=9) -> str:
    return at(clinic["monday"], hh).isoformat()[-6:]


class TestCreate:
    def test_it_books_and_returns_the_times_with_the_clinic_offset(self, clinic, frontdesk):
        response = book(api(frontdesk), clinic)
        assert response.status_code == 201
        body = response.json()
        monday = clinic["monday"]
        assert body["start"] == at(monday, 9).isoformat()
        assert body["end"] == at(monday, 9, 30).isoformat()
        assert body["monitoring_until"] == at(monday, 9, 45).isoformat()
        assert body["start"].endswith(clinic_offset(clinic))
        assert body["status"] == "scheduled"
        assert body["room"] == clinic["fluoro1"].pk  # assigned
        assert body["recovery_bay"] == clinic["bays"][0].pk
        assert response["Location"].endswith(f"{APPOINTMENTS}{body['id']}/")
        appointment = Appointment.objects.get(pk=body["id"])
        assert appointment.created_by == frontdesk and appointment.start == at(monday, 9)

    def test_a_utc_start_books_the_same_instant(self, clinic, frontdesk):
        utc_start = at(clinic["monday"], 9).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = booked(api(frontdesk), clinic, start=utc_start)
        assert body["start"] == at(clinic["monday"], 9).isoformat()

    def test_a_chosen_room_side_levels_and_sedation_are_kept(self, clinic, frontdesk):
        body = booked(
            api(frontdesk),
            clinic,
            room=clinic["fluoro2"].pk,
            side="left",
            levels="L4-L5",
            sedation_planned=True,
        )
        assert (body["room"], body["side"], body["levels"]) == (clinic["fluoro2"].pk, "left", "L4-L5")
        assert body["sedation_planned"] is True
        assert body["monitoring_until"] == at(clinic["monday"], 10).isoformat()  # 30 min sedated

    def test_the_token_caller_is_named_in_the_audit_log(self, clinic, frontdesk):
        body = booked(token_client(frontdesk), clinic)
        entry = LogEntry.objects.get_for_object(Appointment.objects.get(pk=body["id"])).get(
            action=LogEntry.Action.CREATE
        )
        assert entry.actor == frontdesk


class TestConflicts:
    def test_a_taken_physician_is_409_naming_the_physician_and_nothing_changes(self, clinic, frontdesk):
        client = api(frontdesk)
        booked(client, clinic, patient=0)
        response = book(client, clinic, patient=1, mm=15)
        assert response.status_code == 409
        assert response.json()["detail"].startswith("Dr Lee is already booked")
        assert Appointment.objects.count() == 1

    def test_an_overlapping_appointment_for_the_same_patient_is_409(self, clinic, frontdesk):
        client = api(frontdesk)
        booked(client, clinic, patient=0)
        response = book(client, clinic, patient=0, physician="patel", mm=30)
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert clinic["patients"][0].full_name in detail and "already has an appointment" in detail
        assert Appointment.objects.count() == 1

    def test_a_busy_chosen_room_is_409_naming_the_room(self, clinic, frontdesk):
        client = api(frontdesk)
        booked(client, clinic, patient=0, room=clinic["fluoro1"].pk)
        response = book(client, clinic, patient=1, physician="patel", room=clinic["fluoro1"].pk)
        assert response.status_code == 409
        assert response.json()["detail"].startswith("Fluoro 1 is in use")

    def test_a_patient_not_yet_ready_is_409_with_the_reason(self, clinic, frontdesk):
        limit = at(clinic["monday"], 10)

        def hold(*, patient, procedure_type, now):
            return (
                (limit, "warfarin must be stopped 5 days before")
                if patient == clinic["patients"][0]
                else None
            )

        readiness_rule_register(hold)
        try:
            response = book(api(frontdesk), clinic, patient=0)
        finally:
            _RULES.remove(hold)
        assert response.status_code == 409
        assert "warfarin must be stopped" in response.json()["detail"]

    def test_a_physician_may_overbook_with_a_reason(self, clinic, physician):
        client = api(physician)
        booked(client, clinic, patient=0)
        body = booked(client, clinic, patient=1, room=clinic["fluoro2"].pk, overbook_reason="Two quick TPIs")
        assert body["physician_overbooked"] is True

    def test_front_desk_cannot_overbook_even_with_a_reason(self, clinic, frontdesk):
        client = api(frontdesk)
        booked(client, clinic, patient=0)
        response = book(client, clinic, patient=1, room=clinic["fluoro2"].pk, overbook_reason="Squeeze in")
        assert response.status_code == 409
        assert response.json()["detail"] == "Only a physician can book over an existing booking."
        assert Appointment.objects.count() == 1


class TestBadInput:
    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("patient", 999999, "There is no patient with id 999999."),
            ("patient", "abc", "patient must be an id (a whole number); got 'abc'."),
            ("patient", 1.5, "patient must be an id (a whole number); got 1.5."),
            ("patient", True, "patient must be an id (a whole number); got True."),
            ("patient", 2**70, f"There is no patient with id {2**70}."),
            ("procedure_type", 999999, "There is no active procedure type with id 999999."),
            ("physician", 999999, "There is no active physician with id 999999."),
            ("room", 999999, "There is no active procedure room with id 999999."),
            ("side", "up", '"up" is not a valid choice.'),
        ],
    )
    def test_an_unknown_or_malformed_id_is_400_naming_the_field(
        self, clinic, frontdesk, field, value, message
    ):
        response = api(frontdesk).post(APPOINTMENTS, {**booking(clinic), field: value}, format="json")
        assert response.status_code == 400
        assert response.json() == {field: [message]}
        assert not Appointment.objects.exists()

    def test_missing_fields_are_each_named(self, clinic, frontdesk):
        response = api(frontdesk).post(APPOINTMENTS, {}, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"patient", "procedure_type", "physician", "start"}

    @pytest.mark.parametrize(
        ("start", "message"),
        [
            ("2026-03-02T09:00:00", "start must include a time zone offset"),
            ("2026-03-02T09:00", "start must include a time zone offset"),
            ("tomorrow at nine", "start must be an ISO 8601 date and time with an offset"),
            ("2026-02-30T09:00:00-05:00", "start '2026-02-30T09:00:00-05:00' is not a real date and time"),
            ("2026-13-01T09:00:00-05:00", "is not a real date and time"),
            ("2026-03-02", "start needs a time of day and an offset as well as the date"),
            ("9999-12-31T23:00:00-05:00", "is out of range"),
            ("9999-12-31T23:50:00Z", "is out of range (years 1900–2999)"),
            ("0001-01-01T00:00:00+05:00", "is out of range"),
            (20260302, "start must be a text date and time"),
        ],
    )
    def test_a_naive_malformed_or_impossible_start_is_400(self, clinic, frontdesk, start, message):
        response = api(frontdesk).post(APPOINTMENTS, booking(clinic, start=start), format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["start"]
        assert message in response.json()["start"][0]
        assert not Appointment.objects.exists()

    def test_a_start_in_the_past_is_400_on_start(self, clinic, frontdesk):
        past = (timezone.now() - timedelta(days=3)).replace(microsecond=0).isoformat()
        response = api(frontdesk).post(APPOINTMENTS, booking(clinic, start=past), format="json")
        assert response.status_code == 400
        assert "is in the past" in response.json()["start"][0]

    @pytest.mark.parametrize("hh", [7, 12, 18])
    def test_outside_working_hours_is_400_on_start_naming_the_hours(self, clinic, frontdesk, hh):
        response = book(api(frontdesk), clinic, hh=hh)
        assert response.status_code == 400
        message = response.json()["start"][0]
        assert "Dr Lee does not work at" in message and "08:00–12:00" in message
        assert not Appointment.objects.exists()

    def test_an_unfit_room_is_400_on_room(self, clinic, frontdesk):
        response = book(api(frontdesk), clinic, room=clinic["us"].pk)
        assert response.status_code == 400
        assert response.json() == {"room": ["Ultrasound has no fluoroscopy, which this procedure needs."]}

    def test_sedation_not_offered_is_400_on_sedation(self, clinic, frontdesk):
        clinic["tfesi"].sedation_allowed = False
        clinic["tfesi"].save()
        response = book(api(frontdesk), clinic, sedation_planned=True)
        assert response.status_code == 400
        assert response.json() == {"sedation_planned": ["Sedation is not offered for Lumbar TFESI."]}

    def test_an_inactive_procedure_type_is_refused_on_its_field(self, clinic, frontdesk):
        clinic["tfesi"].active = False
        clinic["tfesi"].save()
        response = book(api(frontdesk), clinic)
        assert response.status_code == 400
        assert "procedure_type" in response.json()


class TestPermissions:
    def test_anonymous_is_401_everywhere(self, clinic):
        client = APIClient()
        appointment = AppointmentFactory()
        for method, url in [
            ("get", APPOINTMENTS),
            ("post", APPOINTMENTS),
            ("get", f"{APPOINTMENTS}{appointment.pk}/"),
            ("get", f"{APPOINTMENTS}{appointment.pk}/ics/"),
            ("post", f"{APPOINTMENTS}{appointment.pk}/cancel/"),
            ("get", f"{SLOTS}?procedure_type={clinic['tfesi'].pk}&date_from={clinic['monday']}"),
        ]:
            assert getattr(client, method)(url).status_code == 401, url

    def test_a_user_without_a_role_is_403(self, clinic, outsider):
        client = api(outsider)
        appointment = AppointmentFactory()
        assert client.get(APPOINTMENTS).status_code == 403
        assert client.get(APPOINTMENTS, {"patient": "999999"}).status_code == 403  # no probing ids
        assert client.get(SLOTS, {"patient": "999999"}).status_code == 403
        assert client.get(f"{APPOINTMENTS}{appointment.pk}/").status_code == 403
        assert book(client, clinic).status_code == 403
        assert (
            client.get(SLOTS, {"procedure_type": clinic["tfesi"].pk, "date_from": "2026-03-02"}).status_code
            == 403
        )
        assert not Appointment.objects.exclude(pk=appointment.pk).exists()

    def test_a_nurse_cannot_book_but_can_cancel(self, clinic, nurse, frontdesk):
        assert book(api(nurse), clinic).status_code == 403
        body = booked(api(frontdesk), clinic)
        response = api(nurse).post(f"{APPOINTMENTS}{body['id']}/cancel/", {"reason": "Fever"}, format="json")
        assert response.status_code == 200


class TestListAndDetail:
    def test_detail_has_every_field(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic, levels="L5-S1")
        response = api(frontdesk).get(f"{APPOINTMENTS}{body['id']}/")
        assert response.status_code == 200
        assert set(response.json()) == {
            "id",
            "patient",
            "procedure_type",
            "physician",
            "room",
            "recovery_bay",
            "start",
            "end",
            "room_until",
            "monitoring_until",
            "status",
            "sedation_planned",
            "side",
            "levels",
            "cancel_reason",
            "physician_overbooked",
            "hold_plan",
            "holds",
            "fasting",
            "checklist",
            "warnings",
        }
        assert response.json()["room_until"] == at(clinic["monday"], 9, 40).isoformat()

    def test_reading_an_appointment_is_audited_against_the_patient(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        token_client(frontdesk).get(f"{APPOINTMENTS}{body['id']}/")
        entry = LogEntry.objects.get_for_object(clinic["patients"][0]).get(action=LogEntry.Action.ACCESS)
        assert entry.actor == frontdesk

    @pytest.mark.parametrize("suffix", ["999999/", f"{2**70}/", "999999/ics/"])
    def test_an_unknown_appointment_is_404_with_a_detail(self, frontdesk, suffix):
        response = api(frontdesk).get(f"{APPOINTMENTS}{suffix}")
        assert response.status_code == 404
        assert response.json() == {"detail": "No appointment with that id."}

    def test_filters_by_patient_physician_and_clinic_local_date(self, clinic, frontdesk):
        client = api(frontdesk)
        monday, tuesday = clinic["monday"], clinic["monday"] + timedelta(days=1)
        a = booked(client, clinic, patient=0, physician="lee", hh=9)
        b = booked(client, clinic, patient=1, physician="patel", hh=9)
        c = booked(client, clinic, patient=0, physician="lee", hh=11, start=at(tuesday, 11, 30).isoformat())

        def ids(**params):
            response = client.get(APPOINTMENTS, params)
            assert response.status_code == 200, response.json()
            return [row["id"] for row in response.json()["results"]]

        assert ids() == [a["id"], b["id"], c["id"]]
        assert ids(patient=clinic["patients"][0].pk) == [a["id"], c["id"]]
        assert ids(physician=clinic["patel"].pk) == [b["id"]]
        assert ids(date=monday.isoformat()) == [a["id"], b["id"]]
        assert ids(date=tuesday.isoformat(), physician=clinic["lee"].pk) == [c["id"]]

    def test_the_date_filter_is_the_clinic_day_not_the_utc_day(self, clinic, frontdesk):
        """23:30 on Monday in New York is Monday in the clinic even when it is Tuesday in UTC."""
        late = AppointmentFactory(start=at(clinic["monday"], 23, 30))
        assert late.start.astimezone(UTC).date() != clinic["monday"]
        response = api(frontdesk).get(APPOINTMENTS, {"date": clinic["monday"].isoformat()})
        assert [row["id"] for row in response.json()["results"]] == [late.pk]

    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            ({"date": "02/03/2026"}, "date", "date must be a date in YYYY-MM-DD form"),
            ({"date": "2026-02-30"}, "date", "date 2026-02-30 is not a real date"),
            ({"date": "9999-12-31"}, "date", "date 9999-12-31 is out of range"),
            ({"patient": "999999"}, "patient", "There is no patient with id 999999."),
            ({"physician": "x"}, "physician", "physician must be an id"),
            ({"physician": "²"}, "physician", "physician must be an id"),
        ],
    )
    def test_bad_filters_are_400_naming_the_parameter(self, frontdesk, params, field, message):
        response = api(frontdesk).get(APPOINTMENTS, params)
        assert response.status_code == 400
        assert message in response.json()[field][0]

    def test_listing_does_not_query_per_row(self, clinic, frontdesk, django_assert_num_queries):
        for i in range(12):
            AppointmentFactory(start=at(clinic["monday"], 8) + timedelta(hours=i))
        client = api(frontdesk)
        # The caller's permissions (their own and their roles', in one query), the count, the page: the
        # same for 12 rows as for 1.
        with django_assert_num_queries(3):
            response = client.get(APPOINTMENTS)
        assert response.json()["count"] == 12


class TestCancel:
    def test_cancel_with_a_reason(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{body['id']}/cancel/", {"reason": "Patient unwell"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        assert response.json()["cancel_reason"] == "Patient unwell"
        transition = AppointmentTransition.objects.get(appointment_id=body["id"])
        assert transition.by == frontdesk

    @pytest.mark.parametrize("data", [{}, {"reason": "  "}])
    def test_cancel_without_a_reason_is_400_on_reason(self, clinic, frontdesk, data):
        body = booked(api(frontdesk), clinic)
        response = api(frontdesk).post(f"{APPOINTMENTS}{body['id']}/cancel/", data, format="json")
        assert response.status_code == 400
        assert response.json() == {"reason": ["Give a reason to cancel this appointment."]}
        assert Appointment.objects.get(pk=body["id"]).status == AppointmentStatus.SCHEDULED

    def test_cancelling_a_discharged_appointment_is_409(self, frontdesk):
        appointment = AppointmentFactory(status=AppointmentStatus.DISCHARGED)
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{appointment.pk}/cancel/", {"reason": "x"}, format="json"
        )
        assert response.status_code == 409
        assert response.json() == {"detail": "An appointment that is discharged cannot become cancelled."}

    def test_cancelling_an_unknown_appointment_is_404(self, frontdesk):
        response = api(frontdesk).post(f"{APPOINTMENTS}999999/cancel/", {"reason": "x"}, format="json")
        assert response.status_code == 404


class TestReschedule:
    def test_it_moves_and_unconfirms(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        appointment_transition(
            appointment_id=body["id"], to_status=AppointmentStatus.CONFIRMED, actor=frontdesk
        )
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{body['id']}/reschedule/",
            {"start": at(clinic["monday"], 10).isoformat()},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["start"] == at(clinic["monday"], 10).isoformat()
        assert response.json()["status"] == "scheduled"

    def test_it_may_move_to_another_physician(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{body['id']}/reschedule/",
            {"start": at(clinic["monday"], 10).isoformat(), "physician": clinic["patel"].pk},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["physician"] == clinic["patel"].pk

    def test_onto_a_taken_time_is_409_and_changes_nothing(self, clinic, frontdesk):
        client = api(frontdesk)
        booked(client, clinic, patient=0, hh=9)
        second = booked(client, clinic, patient=1, hh=10)
        response = client.post(
            f"{APPOINTMENTS}{second['id']}/reschedule/",
            {"start": at(clinic["monday"], 9, 15).isoformat()},
            format="json",
        )
        assert response.status_code == 409
        assert response.json()["detail"].startswith("Dr Lee is already booked")
        assert Appointment.objects.get(pk=second["id"]).start == at(clinic["monday"], 10)

    def test_a_naive_start_is_400(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{body['id']}/reschedule/", {"start": "2030-01-07T09:00:00"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["start"][0].startswith("start must include a time zone offset")

    def test_outside_hours_is_400_on_start(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{body['id']}/reschedule/",
            {"start": at(clinic["monday"], 13).isoformat()},
            format="json",
        )
        assert response.status_code == 400
        assert "does not work at" in response.json()["start"][0]

    def test_moving_a_discharged_appointment_is_409(self, clinic, frontdesk):
        appointment = AppointmentFactory(status=AppointmentStatus.DISCHARGED)
        response = api(frontdesk).post(
            f"{APPOINTMENTS}{appointment.pk}/reschedule/",
            {"start": at(clinic["monday"], 10).isoformat()},
            format="json",
        )
        assert response.status_code == 409
        assert response.json() == {"detail": "An appointment that is discharged cannot be moved."}


class TestIcs:
    def test_it_downloads_a_calendar_file(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        response = api(frontdesk).get(f"{APPOINTMENTS}{body['id']}/ics/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        assert f"appointment-{body['id']}.ics" in response["Content-Disposition"]
        event = Calendar.from_ical(response.content).walk("VEVENT")[0]
        assert str(event["UID"]) == f"appointment-{body['id']}@spinedesk"
        assert event.decoded("DTSTART") == at(clinic["monday"], 9)

    def test_it_honours_accept_text_calendar_and_errors_stay_json(self, clinic, frontdesk):
        body = booked(api(frontdesk), clinic)
        client = api(frontdesk)
        assert client.get(f"{APPOINTMENTS}{body['id']}/ics/", HTTP_ACCEPT="text/calendar").status_code == 200
        missing = client.get(f"{APPOINTMENTS}999999/ics/", HTTP_ACCEPT="text/calendar")
        assert missing.status_code == 404
        assert missing["Content-Type"].startswith("application/json")
        assert missing.json() == {"detail": "No appointment with that id."}


class TestSlots:
    def params(self, clinic, **extra):
        return {"procedure_type": clinic["tfesi"].pk, "date_from": clinic["monday"].isoformat(), **extra}

    def test_it_lists_starts_with_physician_and_room_ids_in_clinic_time(self, clinic, frontdesk):
        response = api(frontdesk).get(SLOTS, self.params(clinic, physician=clinic["lee"].pk))
        assert response.status_code == 200
        body = response.json()
        assert body["truncated"] is False
        assert body["earliest_safe_start"] is None and body["earliest_safe_reason"] == ""
        first = body["results"][0]
        assert first == {
            "start": at(clinic["monday"], 8).isoformat(),
            "end": at(clinic["monday"], 8, 30).isoformat(),
            "monitoring_until": at(clinic["monday"], 8, 45).isoformat(),
            "physician": clinic["lee"].pk,
            "room": clinic["fluoro1"].pk,
        }
        assert len(body["results"]) == 15

    def test_a_booking_removes_its_slots(self, clinic, frontdesk):
        booked(api(frontdesk), clinic)
        starts = [
            s["start"]
            for s in api(frontdesk)
            .get(SLOTS, self.params(clinic, physician=clinic["lee"].pk))
            .json()["results"]
        ]
        assert at(clinic["monday"], 9).isoformat() not in starts
        assert at(clinic["monday"], 9, 30).isoformat() in starts

    def test_limit_truncates_and_says_so(self, clinic, frontdesk):
        body = api(frontdesk).get(SLOTS, self.params(clinic, limit=5)).json()
        assert len(body["results"]) == 5 and body["truncated"] is True

    def test_a_patient_not_ready_sees_the_earliest_safe_start(self, clinic, frontdesk):
        limit = at(clinic["monday"], 10)

        def hold(*, patient, procedure_type, now):
            return (limit, "clopidogrel must be stopped 7 days before")

        readiness_rule_register(hold)
        try:
            body = (
                api(frontdesk)
                .get(SLOTS, self.params(clinic, patient=clinic["patients"][0].pk, physician=clinic["lee"].pk))
                .json()
            )
        finally:
            _RULES.remove(hold)
        assert body["earliest_safe_start"] == limit.isoformat()
        assert body["earliest_safe_reason"] == "clopidogrel must be stopped 7 days before"
        assert body["results"][0]["start"] == limit.isoformat()

    def test_a_date_range_spans_days(self, clinic, frontdesk):
        tuesday = clinic["monday"] + timedelta(days=1)
        body = (
            api(frontdesk)
            .get(SLOTS, self.params(clinic, date_to=tuesday.isoformat(), physician=clinic["lee"].pk))
            .json()
        )
        assert len(body["results"]) == 30

    @pytest.mark.parametrize(
        ("extra", "field", "message"),
        [
            ({"date_from": "next monday"}, "date_from", "date_from must be a date in YYYY-MM-DD form"),
            ({"date_from": "2026-02-30"}, "date_from", "date_from 2026-02-30 is not a real date"),
            ({"date_from": "2026-03-10", "date_to": "2026-03-09"}, "date_to", "is before date_from"),
            ({"date_from": "9999-12-31"}, "date_from", "date_from 9999-12-31 is out of range"),
            ({"date_from": "0001-01-01"}, "date_from", "date_from 0001-01-01 is out of range"),
            ({"date_from": "2026-03-01", "date_to": "2026-06-02"}, "date_to", "covers 94 days"),
            (
                {"procedure_type": "999999"},
                "procedure_type",
                "There is no active procedure type with id 999999.",
            ),
            ({"physician": "0"}, "physician", "There is no active physician with id 0."),
            ({"patient": "999999"}, "patient", "There is no patient with id 999999."),
            ({"limit": "0"}, "limit", "limit must be a whole number from 1 to 1000."),
            ({"limit": "1001"}, "limit", "limit must be a whole number from 1 to 1000."),
            ({"limit": "many"}, "limit", "limit must be a whole number from 1 to 1000."),
        ],
    )
    def test_bad_parameters_are_400_naming_the_parameter(self, clinic, frontdesk, extra, field, message):
        response = api(frontdesk).get(SLOTS, self.params(clinic, **extra))
        assert response.status_code == 400
        assert message in response.json()[field][0]

    def test_93_days_is_allowed(self, clinic, frontdesk):
        date_to = clinic["monday"] + timedelta(days=92)
        response = api(frontdesk).get(SLOTS, self.params(clinic, date_to=date_to.isoformat(), limit=1))
        assert response.status_code == 200

    def test_missing_required_parameters_are_named(self, frontdesk):
        response = api(frontdesk).get(SLOTS)
        assert response.status_code == 400
        assert set(response.json()) == {"procedure_type", "date_from"}


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn` passes, with the scheduling endpoints in it."""
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in (
        "/api/v1/slots/:",
        "/api/v1/appointments/:",
        "/api/v1/appointments/{id}/cancel/:",
        "/api/v1/appointments/{id}/reschedule/:",
        "/api/v1/appointments/{id}/ics/:",
    ):
        assert path in schema
    assert "earliest_safe_start" in schema and "text/calendar" in schema


def test_the_schema_and_docs_are_served_to_a_logged_in_user(client, frontdesk):
    client.force_login(frontdesk)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
