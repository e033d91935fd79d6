"""Reminders: the plan each appointment gets, how it follows moves, cancels and medication changes, and
how each message is sent once — on time, in the patient's quiet hours rules, by a channel they agreed to."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from procedures.models import (
    AppointmentStatus,
    CallListItem,
    CallReason,
    Channel,
    HoldPlan,
    Message,
    MessageKind,
    MessageStatus,
    PlanStatus,
)
from procedures.services.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from procedures.services.checkins import sms_inbound
from procedures.services.medications import patient_medication_add
from procedures.services.messaging import (
    NO_CHANNEL,
    SendOutcome,
    message_plan_sync,
    message_send,
    messages_send_due,
    quiet_until,
)
from tests.factories import AppointmentFactory, PatientFactory
from tests.sms_backends import journal_lines

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
K = MessageKind


@pytest.fixture
def sms_dir(settings, tmp_path):
    settings.SMS_BACKEND = "tests.sms_backends.JournalSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    return tmp_path / "sms"


def texting_patient(**fields):
    now = timezone.now()
    return PatientFactory(consent_sms=True, consent_sms_at=now, preferred_channel=Channel.SMS, **fields)


def add_drug(patient, name: str, actor):
    from procedures.models import DoseIntent, Indication, Medication

    medication = Medication.objects.get(generic_name=name)
    return patient_medication_add(
        patient_id=patient.pk,
        medication=medication,
        actor=actor,
        indication=Indication.values[0] if medication.asks_indication else "",
        dose_intent=DoseIntent.values[0] if medication.asks_dose_intent else "",
    )


def plan(appointment) -> dict[str, Message]:
    return {m.plan_key: m for m in Message.objects.filter(appointment=appointment)}


def local(moment: datetime) -> datetime:
    return moment.astimezone(NY)


# --- the plan ----------------------------------------------------------------------------------------


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_booking_plans_confirmation_confirm_request_and_day_before(clinic, frontdesk):
    patient = texting_patient()
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    rows = plan(appointment)
    assert set(rows) == {"confirmation", "confirm_request", "day_before"}
    assert rows["confirmation"].due_at == timezone.now()
    # Two days before at 08:00 and the day before at 10:00, in the patient's zone.
    assert local(rows["confirm_request"].due_at) == datetime(2026, 3, 10, 8, 0, tzinfo=NY)
    assert local(rows["day_before"].due_at) == datetime(2026, 3, 11, 10, 0, tzinfo=NY)
    assert all(m.status == MessageStatus.PLANNED for m in rows.values())


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_hold_reminder_goes_on_the_morning_of_the_stop_day(clinic, frontdesk, physician):
    patient = texting_patient()
    add_drug(patient, "warfarin", physician)
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    line = HoldPlan.objects.get(appointment=appointment).lines.get()
    hold = [m for m in plan(appointment).values() if m.kind == K.HOLD]
    assert len(hold) == 1
    assert local(hold[0].due_at) == datetime.combine(
        line.last_dose_day, datetime.min.time().replace(hour=8), NY
    )


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_medication_added_later_adds_its_hold_reminder_and_stopping_it_removes_it(
    clinic, frontdesk, physician
):
    from procedures.services.medications import patient_medication_stop

    patient = texting_patient()
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    assert not [m for m in plan(appointment).values() if m.kind == K.HOLD]
    medication = add_drug(patient, "clopidogrel", physician)
    holds = [m for m in plan(appointment).values() if m.kind == K.HOLD]
    assert [m.status for m in holds] == [MessageStatus.PLANNED]
    patient_medication_stop(patient_medication_id=medication.pk, actor=physician)
    holds = [m for m in plan(appointment).values() if m.kind == K.HOLD]
    assert [m.status for m in holds] == [MessageStatus.CANCELLED]


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_reschedule_moves_planned_reminders_and_announces_the_new_time(clinic, frontdesk):
    patient = texting_patient()
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    appointment_reschedule(
        appointment_id=appointment.pk, start=datetime(2026, 3, 19, 10, 0, tzinfo=NY), actor=frontdesk
    )
    rows = plan(appointment)
    assert local(rows["day_before"].due_at) == datetime(2026, 3, 18, 10, 0, tzinfo=NY)
    assert local(rows["confirm_request"].due_at) == datetime(2026, 3, 17, 8, 0, tzinfo=NY)
    moved = [m for m in rows.values() if m.kind == K.RESCHEDULED]
    assert len(moved) == 1 and moved[0].due_at == timezone.now()


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_cancel_cancels_everything_planned_and_sends_one_notice(clinic, frontdesk, sms_dir):
    patient = texting_patient()
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    messages_send_due()  # the confirmation
    appointment_cancel(appointment_id=appointment.pk, actor=frontdesk, reason="Patient asked")
    rows = plan(appointment)
    assert rows["confirmation"].status == MessageStatus.SENT
    assert rows["confirm_request"].status == MessageStatus.CANCELLED
    assert rows["day_before"].status == MessageStatus.CANCELLED
    assert rows["cancellation"].status == MessageStatus.PLANNED
    messages_send_due()
    # Nothing stale later: travelling past the old dates sends nothing more.
    with time_machine.travel(datetime(2026, 3, 13, 12, 0, tzinfo=NY), tick=False):
        assert messages_send_due() == {}
    assert journal_lines(sms_dir, "sent") == [
        f"message-{rows['confirmation'].pk}",
        f"message-{rows['cancellation'].pk}",
    ]
    assert "CANCELLED" in Message.objects.get(pk=rows["cancellation"].pk).body


# --- sending ------------------------------------------------------------------------------------------


def _due_message(patient=None, kind=K.CONFIRMATION, **fields):
    appointment = AppointmentFactory(
        patient=patient or texting_patient(), start=timezone.now() + timedelta(days=5)
    )
    return Message.objects.create(
        patient=appointment.patient,
        appointment=appointment,
        kind=kind,
        plan_key=kind,
        due_at=fields.pop("due_at", timezone.now() - timedelta(minutes=1)),
        **fields,
    )


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_message_is_sent_once_however_often_it_is_asked(sms_dir):
    message = _due_message()
    assert message_send(message_id=message.pk) == SendOutcome.SENT
    assert message_send(message_id=message.pk) == SendOutcome.NOT_CLAIMED
    assert messages_send_due() == {}
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 1
    assert message.channel == Channel.SMS and message.recipient == message.patient.phone
    assert journal_lines(sms_dir, "sent") == [f"message-{message.pk}"]
    assert "/p/" in message.body  # the link to the instructions


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_email_has_text_html_a_stable_message_id_and_the_calendar_file(settings):
    patient = PatientFactory(
        consent_email=True, consent_email_at=timezone.now(), preferred_channel=Channel.EMAIL
    )
    message = _due_message(patient=patient)
    assert message_send(message_id=message.pk) == SendOutcome.SENT
    (email,) = mail.outbox
    assert email.to == [patient.email]
    assert email.extra_headers["Message-ID"] == f"<message-{message.pk}@{settings.MESSAGE_ID_DOMAIN}>"
    assert email.alternatives and email.alternatives[0][1] == "text/html"
    assert email.attachments[0][0] == "appointment.ics"
    assert "/o/" in email.extra_headers["List-Unsubscribe"]
    assert patient.first_name in email.body


def test_quiet_hours_are_the_patients_own(settings):
    settings.REMINDER_QUIET_START, settings.REMINDER_QUIET_END = "21:00", "08:00"
    la = PatientFactory(time_zone="America/Los_Angeles")
    # 22:30 in New York is 19:30 in Los Angeles: not quiet there.
    assert quiet_until(patient=la, at=datetime(2026, 3, 2, 22, 30, tzinfo=NY)) is None
    ny = PatientFactory(time_zone="America/New_York")
    assert quiet_until(patient=ny, at=datetime(2026, 3, 2, 22, 30, tzinfo=NY)) == datetime(
        2026, 3, 3, 8, 0, tzinfo=NY
    )
    assert quiet_until(patient=ny, at=datetime(2026, 3, 3, 6, 0, tzinfo=NY)) == datetime(
        2026, 3, 3, 8, 0, tzinfo=NY
    )


@time_machine.travel(datetime(2026, 3, 2, 23, 0, tzinfo=NY), tick=False)
def test_a_text_due_at_night_waits_for_the_morning_but_email_does_not(sms_dir):
    message = _due_message()
    assert message_send(message_id=message.pk) == SendOutcome.DEFERRED
    message.refresh_from_db()
    assert message.status == MessageStatus.PLANNED and message.attempts == 0
    assert local(message.due_at) == datetime(2026, 3, 3, 8, 0, tzinfo=NY)
    assert journal_lines(sms_dir, "sent") == []
    emailer = PatientFactory(
        consent_email=True, consent_email_at=timezone.now(), preferred_channel=Channel.EMAIL
    )
    assert message_send(message_id=_due_message(patient=emailer).pk) == SendOutcome.SENT


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_no_consent_means_no_message_and_a_call_instead(sms_dir):
    message = _due_message(patient=PatientFactory())
    assert message_send(message_id=message.pk) == SendOutcome.SKIPPED
    message.refresh_from_db()
    assert message.status == MessageStatus.SKIPPED and message.error == NO_CHANNEL
    assert (
        CallListItem.objects.filter(reason=CallReason.NOT_REACHABLE, appointment=message.appointment).count()
        == 1
    )
    assert journal_lines(sms_dir, "sent") == []


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_stop_by_text_opts_out_and_the_next_message_goes_by_email(sms_dir):
    patient = texting_patient(consent_email=True, consent_email_at=timezone.now())
    reply = sms_inbound(from_number=patient.phone, body="Stop")
    assert "no more texts" in reply
    patient.refresh_from_db()
    assert patient.consent_sms is False and patient.sms_opted_out_at == timezone.now()
    message = _due_message(patient=patient)
    assert message_send(message_id=message.pk) == SendOutcome.SENT
    message.refresh_from_db()
    assert message.channel == Channel.EMAIL and len(mail.outbox) == 1
    assert journal_lines(sms_dir, "sent") == []


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_replying_c_confirms_the_appointment_that_asked(sms_dir):
    message = _due_message(kind=K.CONFIRM_REQUEST)
    message_send(message_id=message.pk)
    reply = sms_inbound(from_number=message.patient.phone, body=" c ")
    assert "confirmed" in reply
    message.appointment.refresh_from_db()
    assert message.appointment.status == AppointmentStatus.CONFIRMED


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_hold_reminder_waits_for_a_physicians_confirmation(clinic, frontdesk, physician, sms_dir):
    from procedures.services.safety import hold_plan_confirm

    patient = texting_patient()
    add_drug(patient, "clopidogrel", physician)
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    hold = Message.objects.get(appointment=appointment, kind=K.HOLD)
    with time_machine.travel(hold.due_at, tick=False):
        assert message_send(message_id=hold.pk) == SendOutcome.SKIPPED
    hold.refresh_from_db()
    assert "has not confirmed" in hold.error
    assert CallListItem.objects.get(reason=CallReason.HOLD_NOT_SENT).appointment == appointment
    # Once confirmed and sent again by the front desk, it goes.
    hold_plan_confirm(appointment_id=appointment.pk, actor=physician)
    assert HoldPlan.objects.get(appointment=appointment).status == PlanStatus.CONFIRMED
    from procedures.services.messaging import message_resend

    with time_machine.travel(hold.due_at, tick=False):
        message_resend(message_id=hold.pk, actor=frontdesk)
        assert message_send(message_id=hold.pk) == SendOutcome.SENT
    assert "clopidogrel" in Message.objects.get(pk=hold.pk).body


# --- failures ----------------------------------------------------------------------------------------


class FlakySms:
    calls = 0

    def send(self, *, to, body, key, status_callback=""):
        from procedures.integrations.sms import SmsTemporaryError

        type(self).calls += 1
        raise SmsTemporaryError("provider timed out")

    def lookup(self, **kwargs):
        return None


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_temporary_failure_backs_off_and_after_the_last_attempt_lands_on_the_call_list(settings):
    settings.SMS_BACKEND = "tests.test_messaging.FlakySms"
    settings.MESSAGE_MAX_ATTEMPTS = 3
    message = _due_message()
    assert message_send(message_id=message.pk) == SendOutcome.RETRY
    message.refresh_from_db()
    assert message.status == MessageStatus.PLANNED
    assert message.due_at == timezone.now() + timedelta(seconds=30)
    assert "Attempt 1 failed" in message.error
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False):
        assert message_send(message_id=message.pk) == SendOutcome.RETRY
    with time_machine.travel(timezone.now() + timedelta(seconds=90), tick=False):
        assert message_send(message_id=message.pk) == SendOutcome.FAILED
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempts == 3
    assert CallListItem.objects.filter(reason=CallReason.NOT_REACHABLE).count() == 1


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_send_cut_off_after_the_provider_took_it_is_not_sent_again(sms_dir, settings):
    """The worker handed the text over, then died before recording it: the sweep that takes the stale
    claim over asks the provider first and only records it."""
    message = _due_message()
    from procedures.integrations.sms import sms_backend

    body = "already rendered text"
    sms_backend().send(to=message.patient.phone, body=body, key=f"message-{message.pk}")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        claim_token="00000000-0000-0000-0000-000000000001",
        claimed_at=timezone.now() - timedelta(minutes=10),
        attempts=1,
        channel=Channel.SMS,
        recipient=message.patient.phone,
        body=body,
    )
    assert messages_send_due() == {"sent": 1}
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and "already taken" in message.error
    assert journal_lines(sms_dir, "sent") == [f"message-{message.pk}"]


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_a_send_cut_off_before_the_hand_over_is_sent_by_the_next_sweep_and_not_before_the_lease(sms_dir):
    message = _due_message()
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        claim_token="00000000-0000-0000-0000-000000000002",
        claimed_at=timezone.now() - timedelta(minutes=1),
        attempts=1,
    )
    assert messages_send_due() == {}  # still within the lease: the first worker may be working
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        assert messages_send_due() == {"sent": 1}
    assert journal_lines(sms_dir, "sent") == [f"message-{message.pk}"]


def test_send_due_reminders_command_sends_as_of_the_given_time(sms_dir, capsys):
    message = _due_message(due_at=datetime(2026, 3, 3, 9, 0, tzinfo=NY))
    with time_machine.travel(datetime(2026, 3, 3, 9, 30, tzinfo=NY), tick=False):
        call_command("send_due_reminders", "--at", "2026-03-03T08:59:00-05:00")
        assert "nothing due" in capsys.readouterr().out
        call_command("send_due_reminders", "--at", "2026-03-03T09:00:00-05:00")
        assert "1 sent" in capsys.readouterr().out
    message.refresh_from_db()
    assert message.sent_at == datetime(2026, 3, 3, 9, 0, tzinfo=NY)


def test_send_due_reminders_refuses_a_bad_time():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("send_due_reminders", "--at", "tomorrow-ish")


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_spanish_speakers_get_the_spanish_text(sms_dir):
    message = _due_message(patient=texting_patient(language="es"))
    message_send(message_id=message.pk)
    message.refresh_from_db()
    assert "su cita" in message.body and "a las" in message.body


def test_plan_sync_is_idempotent():
    appointment = AppointmentFactory(patient=texting_patient(), start=timezone.now() + timedelta(days=9))
    first = message_plan_sync(appointment_id=appointment.pk, change="booked")
    second = message_plan_sync(appointment_id=appointment.pk)
    assert [(m.pk, m.due_at, m.status) for m in first] == [(m.pk, m.due_at, m.status) for m in second]


@time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=NY), tick=False)
def test_the_moved_notice_survives_a_change_made_before_it_goes(clinic, frontdesk, physician):
    patient = texting_patient()
    appointment = appointment_book(
        request=BookingRequest(
            patient=patient,
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=datetime(2026, 3, 12, 9, 0, tzinfo=NY),
        ),
        actor=frontdesk,
    )
    appointment_reschedule(
        appointment_id=appointment.pk, start=datetime(2026, 3, 19, 10, 0, tzinfo=NY), actor=frontdesk
    )
    add_drug(patient, "clopidogrel", physician)  # recomputes the hold plan, and with it the messages
    moved = Message.objects.get(appointment=appointment, kind=K.RESCHEDULED)
    assert moved.status == MessageStatus.PLANNED and moved.due_at == timezone.now()
