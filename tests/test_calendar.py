"""Calendar files: each appointment as an RFC 5545 .ics (parsed back here), and each physician's private
feed behind a revocable token that never reaches the audit log."""

import json
from datetime import UTC, timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from procedures.models import AppointmentStatus
from procedures.services.appointments import appointment_transition
from procedures.services.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from procedures.services.calendar import (
    FEED_TOKEN_ROTATED,
    appointment_calendar,
    physician_feed_calendar,
    physician_feed_token_rotate,
)
from tests.factories import AppointmentFactory, PatientFactory, PhysicianFactory
from tests.scheduling_fixtures import at, book

pytestmark = pytest.mark.django_db


def only_event(ics: bytes):
    calendar = Calendar.from_ical(ics)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def feed_events(ics: bytes) -> dict:
    return {str(event["UID"]): event for event in Calendar.from_ical(ics).walk("VEVENT")}


def feed_url(physician) -> str:
    return reverse("physician-feed", kwargs={"token": physician.calendar_feed_token})


class TestAppointmentFile:
    def test_it_has_every_required_property(self, clinic):
        appointment = book(clinic)
        ics = appointment_calendar(appointment=appointment)
        calendar = Calendar.from_ical(ics)
        assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"]).startswith("-//SpineDesk")
        event = only_event(ics)
        assert str(event["UID"]) == f"appointment-{appointment.pk}@spinedesk"
        for name in ("DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "LOCATION", "STATUS", "SEQUENCE"):
            assert name in event, name
        assert event.decoded("DTSTART") == at(clinic["monday"], 9)
        # The patient's stay runs to the end of observation in the recovery bay.
        assert event.decoded("DTEND") == appointment.monitoring_until
        assert str(event["SUMMARY"]) == "Lumbar TFESI – SpineDesk Pain Clinic"
        assert str(event["LOCATION"]) == "Fluoro 1, SpineDesk Pain Clinic"
        assert str(event["STATUS"]) == "TENTATIVE"
        assert "Dr Lee" in str(event["DESCRIPTION"])

    def test_times_are_written_in_utc(self, clinic):
        appointment = book(clinic)
        text = appointment_calendar(appointment=appointment).decode()
        start = appointment.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        assert f"DTSTART:{start}\r\n" in text
        assert "TZID" not in text
        event = only_event(text.encode())
        assert event.decoded("DTSTART").utcoffset() == timedelta(0)
        assert event.decoded("DTSTAMP").utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        ("status", "ics_status"),
        [
            (AppointmentStatus.SCHEDULED, "TENTATIVE"),
            (AppointmentStatus.CONFIRMED, "CONFIRMED"),
            (AppointmentStatus.CHECKED_IN, "CONFIRMED"),
            (AppointmentStatus.CANCELLED, "CANCELLED"),
        ],
    )
    def test_status_follows_the_appointment(self, status, ics_status):
        extra = {"cancel_reason": "Patient called"} if status == AppointmentStatus.CANCELLED else {}
        appointment = AppointmentFactory(status=status, **extra)
        assert str(only_event(appointment_calendar(appointment=appointment))["STATUS"]) == ics_status

    def test_uid_stays_and_sequence_grows_when_moved_or_cancelled(self, clinic):
        appointment = book(clinic)
        first = only_event(appointment_calendar(appointment=appointment))
        with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
            moved = appointment_reschedule(
                appointment_id=appointment.pk, start=at(clinic["monday"], 10), actor=None
            )
        second = only_event(appointment_calendar(appointment=moved))
        with time_machine.travel(timezone.now() + timedelta(minutes=9), tick=False):
            cancelled = appointment_cancel(appointment_id=appointment.pk, actor=None, reason="Patient unwell")
        third = only_event(appointment_calendar(appointment=cancelled))
        assert str(first["UID"]) == str(second["UID"]) == str(third["UID"])
        assert int(first["SEQUENCE"]) < int(second["SEQUENCE"]) < int(third["SEQUENCE"])
        assert second.decoded("DTSTART") == at(clinic["monday"], 10)
        assert first.decoded("DTSTAMP") < second.decoded("DTSTAMP") < third.decoded("DTSTAMP")
        assert str(third["STATUS"]) == "CANCELLED"


class TestPhysicianFeed:
    def test_it_holds_the_physicians_own_appointments_from_30_days_back_to_90_ahead(self, clinic):
        lee, now = clinic["lee"], timezone.now()
        upcoming = book(clinic)
        done = AppointmentFactory(
            physician=lee, start=now - timedelta(days=7), status=AppointmentStatus.DISCHARGED
        )
        too_old = AppointmentFactory(physician=lee, start=now - timedelta(days=31))
        too_far = AppointmentFactory(physician=lee, start=now + timedelta(days=91))
        cancelled = AppointmentFactory(
            physician=lee, status=AppointmentStatus.CANCELLED, cancel_reason="Patient called"
        )
        no_show = AppointmentFactory(
            physician=lee, start=now - timedelta(days=2), status=AppointmentStatus.NO_SHOW
        )
        someone_else = book(clinic, patient=1, physician="patel")

        events = feed_events(physician_feed_calendar(physician=lee, now=now))

        assert set(events) == {f"appointment-{a.pk}@spinedesk" for a in (upcoming, done)}
        for absent in (too_old, too_far, cancelled, no_show, someone_else):
            assert f"appointment-{absent.pk}@spinedesk" not in events
        event = events[f"appointment-{upcoming.pk}@spinedesk"]
        assert event.decoded("DTEND") == upcoming.end  # the physician's part ends with the procedure
        assert str(event["LOCATION"]) == "Fluoro 1"

    def test_it_names_patients_by_initials_only(self, clinic):
        patient = PatientFactory(first_name="Jane", last_name="Doe-Smith", mrn="MRN-4242")
        appointment = appointment_book(
            request=BookingRequest(
                patient=patient,
                procedure_type=clinic["tfesi"],
                physician=clinic["lee"],
                start=at(clinic["monday"], 9),
            ),
            actor=None,
        )
        ics = physician_feed_calendar(physician=clinic["lee"])
        event = feed_events(ics)[f"appointment-{appointment.pk}@spinedesk"]
        assert str(event["SUMMARY"]) == "J.D. · Lumbar TFESI"
        assert str(event["CLASS"]) == "PRIVATE"
        text = ics.decode()
        for secret in ("Jane", "Doe", "MRN-4242", "1960"):
            assert secret not in text

    def test_the_feed_names_the_calendar_and_asks_to_be_refreshed(self, clinic):
        ics = physician_feed_calendar(physician=clinic["lee"])
        calendar = Calendar.from_ical(ics)
        assert str(calendar["X-WR-CALNAME"]) == "SpineDesk Pain Clinic – Dr Lee"
        assert b"REFRESH-INTERVAL;VALUE=DURATION:PT30M\r\n" in ics
        assert b"X-PUBLISHED-TTL:PT30M\r\n" in ics


class TestAppointmentDownload:
    def test_it_sends_anonymous_visitors_to_log_in(self, client):
        appointment = AppointmentFactory()
        response = client.get(reverse("appointment-ics", args=[appointment.pk]))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_staff_download_it_and_the_read_is_audited(self, client, frontdesk):
        appointment = AppointmentFactory()
        client.force_login(frontdesk)
        response = client.get(reverse("appointment-ics", args=[appointment.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        assert f'filename="appointment-{appointment.pk}.ics"' in response["Content-Disposition"]
        assert str(only_event(response.content)["UID"]) == f"appointment-{appointment.pk}@spinedesk"
        entry = LogEntry.objects.get_for_object(appointment.patient).get(action=LogEntry.Action.ACCESS)
        assert entry.actor == frontdesk

    def test_a_user_without_a_role_is_refused(self, client, outsider):
        appointment = AppointmentFactory()
        client.force_login(outsider)
        response = client.get(reverse("appointment-ics", args=[appointment.pk]))
        assert response.status_code == 403
        assert appointment.patient.last_name.encode() not in response.content

    def test_an_unknown_appointment_is_404(self, client, frontdesk):
        client.force_login(frontdesk)
        assert client.get("/appointments/999999/calendar.ics").status_code == 404


class TestFeedUrl:
    def test_it_needs_no_login_only_the_token(self, client, clinic):
        appointment = book(clinic)
        response = client.get(feed_url(clinic["lee"]))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        assert f"appointment-{appointment.pk}@spinedesk" in feed_events(response.content)

    @pytest.mark.parametrize(
        "path",
        [
            "/calendar/feed/" + "x" * 43 + ".ics",
            "/calendar/feed/short.ics",
            "/calendar/feed/../../etc.ics",
        ],
    )
    def test_an_unknown_token_is_404(self, client, clinic, path):
        response = client.get(path)
        assert response.status_code == 404
        assert b"VCALENDAR" not in response.content

    def test_a_revoked_token_is_404_and_the_new_one_works(self, client, clinic):
        lee = clinic["lee"]
        old = feed_url(lee)
        physician_feed_token_rotate(physician=lee)
        assert client.get(old).status_code == 404
        assert client.get(feed_url(lee)).status_code == 200

    def test_an_inactive_physician_has_no_feed(self, client, clinic):
        lee = clinic["lee"]
        lee.active = False
        lee.save()
        assert client.get(feed_url(lee)).status_code == 404

    def test_it_refuses_post(self, client, clinic):
        assert client.post(feed_url(clinic["lee"])).status_code == 405


class TestMyFeedPage:
    def test_a_physician_sees_their_feed_url(self, client, physician):
        client.force_login(physician)
        response = client.get(reverse("calendar-my-feed"))
        assert response.status_code == 200
        token = physician.physician_profile.calendar_feed_token
        assert f"http://testserver/calendar/feed/{token}.ics".encode() in response.content
        assert f"webcal://testserver/calendar/feed/{token}.ics".encode() in response.content
        assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]

    def test_posting_revokes_the_old_link_and_issues_a_new_one(self, client, physician):
        client.force_login(physician)
        profile = physician.physician_profile
        old_token = profile.calendar_feed_token
        response = client.post(reverse("calendar-my-feed"), follow=True)
        profile.refresh_from_db()
        assert profile.calendar_feed_token != old_token
        assert b"The old link no longer works" in response.content
        assert profile.calendar_feed_token.encode() in response.content
        assert client.get(f"/calendar/feed/{old_token}.ics").status_code == 404

    def test_viewing_the_page_does_not_change_the_link(self, client, physician):
        client.force_login(physician)
        token = physician.physician_profile.calendar_feed_token
        client.get(reverse("calendar-my-feed"))
        physician.physician_profile.refresh_from_db()
        assert physician.physician_profile.calendar_feed_token == token

    @pytest.mark.parametrize("role", ["frontdesk", "nurse", "admin", "outsider"])
    def test_staff_without_a_physician_profile_are_refused(self, client, cast, role):
        client.force_login(cast[role])
        assert client.get(reverse("calendar-my-feed")).status_code == 403
        assert client.post(reverse("calendar-my-feed")).status_code == 403

    def test_anonymous_visitors_are_sent_to_log_in(self, client):
        response = client.get(reverse("calendar-my-feed"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


class TestTokenAudit:
    def test_rotation_is_audited_with_who_did_it_but_never_the_token(self, client, physician):
        client.force_login(physician)
        client.post(reverse("calendar-my-feed"))
        profile = physician.physician_profile
        profile.refresh_from_db()
        entry = LogEntry.objects.get_for_object(profile).get(action=LogEntry.Action.UPDATE)
        assert entry.actor == physician
        assert entry.changes_dict == FEED_TOKEN_ROTATED
        for logged in LogEntry.objects.all():
            text = json.dumps(
                [logged.changes, logged.changes_text, logged.serialized_data, logged.additional_data]
            )
            assert profile.calendar_feed_token not in text

    def test_a_new_physicians_token_is_not_written_to_the_audit_log(self):
        profile = PhysicianFactory()
        for logged in LogEntry.objects.all():
            assert profile.calendar_feed_token not in json.dumps([logged.changes, logged.changes_text])


def test_a_confirmed_then_moved_appointment_is_tentative_again(clinic, frontdesk):
    """The patient has not confirmed the new time, so the calendar shows it as tentative."""
    appointment = book(clinic)
    appointment_transition(
        appointment_id=appointment.pk, to_status=AppointmentStatus.CONFIRMED, actor=frontdesk
    )
    moved = appointment_reschedule(
        appointment_id=appointment.pk, start=at(clinic["monday"], 10), actor=frontdesk
    )
    assert str(only_event(appointment_calendar(appointment=moved))["STATUS"]) == "TENTATIVE"
