"""The whole plan, lived in order: a booking a week before a procedure on the Tuesday after the clocks go
back (1 November 2026), with a held blood thinner, then discharge and the check-ins. The sweep runs every
30 minutes of simulated time; each message must go out once, at its local wall-clock time on both sides
of the change."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from procedures.models import (
    AppointmentStatus,
    Channel,
    Discharge,
    Medication,
    Message,
    MessageKind,
    MessageStatus,
)
from procedures.services.booking import BookingRequest, appointment_book
from procedures.services.followup import followup_plan_start
from procedures.services.medications import patient_medication_add
from procedures.services.messaging import message_plan_sync, messages_send_due
from procedures.services.safety import hold_plan_confirm
from tests.factories import PatientFactory
from tests.sms_backends import journal_lines

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
K = MessageKind


def _sweep_until(start: datetime, end: datetime) -> None:
    moment = start
    while moment <= end:
        with time_machine.travel(moment, tick=False):
            messages_send_due()
        moment += timedelta(minutes=30)


def test_every_message_goes_once_at_its_local_time_across_the_clock_change(
    clinic, frontdesk, physician, nurse, settings, tmp_path
):
    settings.SMS_BACKEND = "tests.sms_backends.JournalSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    clinic["tfesi"].followup_days = [1, 14]
    clinic["tfesi"].save()
    booked_at = datetime(2026, 10, 26, 14, 0, tzinfo=NY)  # Monday, daylight time (UTC-4)
    with time_machine.travel(booked_at, tick=False):
        patient = PatientFactory(
            consent_sms=True, consent_sms_at=timezone.now(), preferred_channel=Channel.SMS
        )
        warfarin = Medication.objects.get(generic_name="warfarin")
        patient_medication_add(
            patient_id=patient.pk,
            medication=warfarin,
            actor=physician,
            indication="af" if warfarin.asks_indication else "",
        )
        appointment = appointment_book(
            request=BookingRequest(
                patient=patient,
                procedure_type=clinic["tfesi"],
                physician=clinic["lee"],
                start=datetime(2026, 11, 3, 9, 0, tzinfo=NY),  # Tuesday, standard time (UTC-5)
            ),
            actor=frontdesk,
        )
        hold_plan_confirm(appointment_id=appointment.pk, actor=physician)

    _sweep_until(booked_at, datetime(2026, 11, 3, 8, 30, tzinfo=NY))

    sent = {m.kind: m for m in Message.objects.filter(appointment=appointment, status=MessageStatus.SENT)}
    assert set(sent) == {K.CONFIRMATION, K.HOLD, K.CONFIRM_REQUEST, K.DAY_BEFORE}
    utc = {kind: m.sent_at.astimezone(UTC).replace(tzinfo=None) for kind, m in sent.items()}
    assert utc[K.CONFIRMATION] == datetime(2026, 10, 26, 18, 0)
    # Warfarin held 5 days: last dose Wednesday 28 October, reminded at 08:00 daylight time.
    assert utc[K.HOLD] == datetime(2026, 10, 28, 12, 0)
    assert "warfarin" in sent[K.HOLD].body and "today" in sent[K.HOLD].body
    # Sunday 1 November, the day the clocks go back: 08:00 is now UTC-5.
    assert utc[K.CONFIRM_REQUEST] == datetime(2026, 11, 1, 13, 0)
    assert utc[K.DAY_BEFORE] == datetime(2026, 11, 2, 15, 0)
    assert "9:00 AM" in sent[K.DAY_BEFORE].body and "Tuesday 3 November" in sent[K.DAY_BEFORE].body

    # The procedure happens; discharge at 10:00 starts the check-ins (Day 1, Week 2).
    with time_machine.travel(datetime(2026, 11, 3, 10, 0, tzinfo=NY), tick=False):
        appointment.status = AppointmentStatus.DISCHARGED
        appointment.save(update_fields=["status"])
        discharge = Discharge.objects.create(
            appointment=appointment,
            discharged_at=timezone.now(),
            vitals_stable=True,
            walks_safely=True,
            pain_controlled=True,
            by=nurse,
        )
        followup_plan_start(appointment=appointment, discharge=discharge)
        message_plan_sync(appointment_id=appointment.pk, change="discharged")
    _sweep_until(datetime(2026, 11, 3, 10, 0, tzinfo=NY), datetime(2026, 11, 19, 12, 0, tzinfo=NY))

    after = {
        m.plan_key: m
        for m in Message.objects.filter(appointment=appointment, kind__in=[K.AFTER_CARE, K.CHECK_IN, K.NUDGE])
    }
    day1 = appointment.followups.get(label="Day 1")
    week2 = appointment.followups.get(label="Week 2")
    assert after["after_care"].sent_at == datetime(2026, 11, 3, 10, 0, tzinfo=NY)
    # Check-ins count from the end of the procedure (09:30 EST), sent at the next sweep.
    assert after[f"check_in:{day1.pk}"].sent_at == datetime(2026, 11, 4, 9, 30, tzinfo=NY)
    assert after[f"check_in:{week2.pk}"].sent_at == datetime(2026, 11, 17, 9, 30, tzinfo=NY)
    # Nobody answered: one nudge each a day later, then the Day 1 point is missed.
    assert after[f"nudge:{day1.pk}"].status == MessageStatus.SENT
    day1.refresh_from_db()
    assert day1.status == "missed"
    sent_keys = journal_lines(tmp_path / "sms", "sent")
    assert len(sent_keys) == len(set(sent_keys)) == 9
