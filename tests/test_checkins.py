"""Check-ins after the procedure: the plan discharge starts, the signed single-use link, answers on the pain
timeline, red flags (urgent call list, alert, advice at once), one nudge, then the call list; and the
patient's appointment link (confirm, ask to move) and opt-out link. Bad links and bad answers change nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from procedures import patient_links
from procedures.models import (
    AppointmentStatus,
    CallListItem,
    CallReason,
    Channel,
    CheckInResponse,
    Discharge,
    FollowUpStatus,
    Message,
    MessageKind,
    MessageStatus,
    PainScore,
    PainSource,
)
from procedures.rules import patient_text
from procedures.services.checkins import call_item_resolve, followups_mark_missed
from procedures.services.followup import followup_plan_start
from procedures.services.messaging import message_plan_sync, messages_send_due
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
K = MessageKind
START = datetime(2026, 3, 2, 9, 0, tzinfo=NY)


@pytest.fixture
def sms_dir(settings, tmp_path):
    settings.SMS_BACKEND = "tests.sms_backends.JournalSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    return tmp_path / "sms"


@pytest.fixture
def discharged(nurse):
    """A therapeutic injection done on Monday 2 March 2026 at 09:00, discharged at 10:00."""
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        patient = PatientFactory(
            consent_sms=True, consent_sms_at=timezone.now(), preferred_channel=Channel.SMS
        )
        appointment = AppointmentFactory(
            patient=patient,
            start=START,
            procedure_type=ProcedureTypeFactory(
                name="Lumbar ESI", diary_timepoints_minutes=[], followup_days=[1, 14, 30]
            ),
            status=AppointmentStatus.DISCHARGED,
        )
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
    return appointment


def _answers(**overrides):
    data = {
        "pain_now": "3",
        "percent_relief": "60",
        "activity_interference": "4",
        "side_effects": ["site_soreness"],
        "side_effects_other": "",
    }
    data.update({f"flag_{code}": "no" for code in patient_text.RED_FLAG_QUESTIONS})
    data.update(overrides)
    return data


def test_discharge_plans_after_care_and_a_check_in_per_point(discharged):
    kinds = sorted(Message.objects.filter(appointment=discharged).values_list("kind", "plan_key"))
    labels = {f.pk: f.label for f in discharged.followups.all()}
    assert ("after_care", "after_care") in kinds
    assert sorted(labels.values()) == ["Day 1", "Month 1", "Week 2"]
    check_ins = Message.objects.filter(appointment=discharged, kind=K.CHECK_IN)
    assert {m.followup.label: m.due_at for m in check_ins} == {
        f.label: f.due_at for f in discharged.followups.all()
    }


def test_sending_a_check_in_marks_it_sent_and_plans_one_nudge(discharged, sms_dir, settings):
    day1 = discharged.followups.get(label="Day 1")
    with time_machine.travel(day1.due_at + timedelta(minutes=1), tick=False):
        outcome = messages_send_due()
    assert outcome == {"sent": 2}  # after-care and the Day 1 check-in
    day1.refresh_from_db()
    assert day1.status == FollowUpStatus.SENT
    nudge = Message.objects.get(kind=K.NUDGE, followup=day1)
    assert nudge.due_at == day1.due_at + timedelta(minutes=1, hours=settings.CHECKIN_NUDGE_AFTER_HOURS)
    body = Message.objects.get(kind=K.CHECK_IN, followup=day1).body
    assert "/c/" in body and "Day 1" in body


def test_the_link_records_the_answers_once_on_the_pain_timeline(discharged, client):
    day1 = discharged.followups.get(label="Day 1")
    url = patient_links.checkin_link(followup_id=day1.pk).split("localhost:8000")[1]
    page = client.get(url)
    assert page.status_code == 200 and b"How bad is your pain right now?" in page.content
    response = client.post(url, _answers())
    assert response.status_code == 200 and b"Thank you" in response.content
    answer = CheckInResponse.objects.get(followup=day1)
    assert (answer.pain_now, answer.percent_relief, answer.activity_interference) == (3, 60, 4)
    assert answer.side_effects == ["site_soreness"] and not answer.has_red_flag
    score = PainScore.objects.get(patient=discharged.patient, source=PainSource.CHECK_IN)
    assert (score.score, score.percent_relief, score.appointment_id) == (3, 60, discharged.pk)
    day1.refresh_from_db()
    assert day1.status == FollowUpStatus.ANSWERED
    # Single use: the same link now says so and records nothing more.
    again = client.post(url, _answers(pain_now="9"))
    assert b"already been answered" in again.content
    assert CheckInResponse.objects.count() == 1 and PainScore.objects.count() == 1


def test_a_red_flag_tells_the_patient_whom_to_call_and_alerts_the_clinic(
    discharged, client, settings, sms_dir
):
    settings.CLINIC_ALERT_EMAIL = "nurses@clinic.example.org"
    day1 = discharged.followups.get(label="Day 1")
    url = patient_links.checkin_link(followup_id=day1.pk).split("localhost:8000")[1]
    response = client.post(url, _answers(flag_weakness_numbness="yes", flag_fever="yes"))
    assert b"Please call us now" in response.content
    assert settings.CLINIC_PHONE.encode() in response.content and b"911" in response.content
    item = CallListItem.objects.get(reason=CallReason.RED_FLAG)
    assert item.urgent and item.patient == discharged.patient
    assert "weakness" in item.detail and "Fever" in item.detail
    alert = Message.objects.get(kind=K.STAFF_ALERT)
    assert messages_send_due().get("sent", 0) >= 1
    alert.refresh_from_db()
    assert alert.status == MessageStatus.SENT and alert.recipient == "nurses@clinic.example.org"
    assert any("URGENT" in email.subject for email in mail.outbox)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pain_now", "11", "from 0 (no pain) to 10"),
        ("percent_relief", "-5", "from 0 % to 100 %"),
        ("activity_interference", "", "limits your daily activities"),
        ("flag_fever", "", "answer yes or no"),
        ("side_effects", ["telepathy"], "not one of the choices"),
    ],
)
def test_a_bad_answer_names_the_problem_and_records_nothing(discharged, client, field, value, message):
    day1 = discharged.followups.get(label="Day 1")
    url = patient_links.checkin_link(followup_id=day1.pk).split("localhost:8000")[1]
    response = client.post(url, _answers(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CheckInResponse.objects.exists() and not PainScore.objects.exists()
    day1.refresh_from_db()
    assert day1.status == FollowUpStatus.PLANNED


def test_a_tampered_or_expired_link_is_kind_and_records_nothing(discharged, client, settings):
    day1 = discharged.followups.get(label="Day 1")
    token = signing.dumps({"f": day1.pk}, salt=patient_links.CHECKIN_SALT)
    forged = signing.dumps({"f": day1.pk + 1}, salt="someone-else")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (tampered, forged, "not-a-token"):
        response = client.post(reverse("patient-checkin", args=[bad]), _answers())
        assert response.status_code == 400 and b"This link does not work" in response.content
    with time_machine.travel(timezone.now() + timedelta(days=settings.CHECKIN_LINK_DAYS + 1)):
        response = client.post(reverse("patient-checkin", args=[token]), _answers())
    assert response.status_code == 410 and b"This link has expired" in response.content
    assert b"Nothing was recorded" in response.content
    assert not CheckInResponse.objects.exists()


def test_an_unanswered_check_in_gets_one_nudge_then_lands_on_the_call_list(discharged, sms_dir, settings):
    day1 = discharged.followups.get(label="Day 1")
    with time_machine.travel(day1.due_at + timedelta(minutes=1), tick=False):
        messages_send_due()
    nudge_time = day1.due_at + timedelta(hours=settings.CHECKIN_NUDGE_AFTER_HOURS, minutes=2)
    with time_machine.travel(nudge_time, tick=False):
        assert messages_send_due() == {"sent": 1}
    with time_machine.travel(nudge_time + timedelta(hours=1), tick=False):
        assert messages_send_due() == {}  # one nudge only
    missed_time = day1.due_at + timedelta(hours=settings.CHECKIN_MISSED_AFTER_HOURS, minutes=1)
    with time_machine.travel(missed_time, tick=False):
        messages_send_due()
    day1.refresh_from_db()
    assert day1.status == FollowUpStatus.MISSED
    item = CallListItem.objects.get(reason=CallReason.MISSED_CHECK_IN)
    assert item.followup == day1 and not item.urgent
    # Answering late still counts and closes the call.
    from procedures.services.checkins import CheckInAnswers, checkin_submit

    with time_machine.travel(missed_time + timedelta(hours=1), tick=False):
        checkin_submit(
            followup_id=day1.pk,
            answers=CheckInAnswers(
                pain_now=4,
                percent_relief=50,
                activity_interference=3,
                red_flags=dict.fromkeys(patient_text.RED_FLAG_QUESTIONS, False),
            ),
        )
    item.refresh_from_db()
    assert item.resolved_at is not None and "answered online" in item.outcome


def test_an_answered_check_in_gets_no_nudge(discharged, sms_dir, settings):
    from procedures.services.checkins import CheckInAnswers, checkin_submit

    day1 = discharged.followups.get(label="Day 1")
    with time_machine.travel(day1.due_at + timedelta(minutes=1), tick=False):
        messages_send_due()
        checkin_submit(
            followup_id=day1.pk,
            answers=CheckInAnswers(
                pain_now=2,
                percent_relief=70,
                activity_interference=2,
                red_flags=dict.fromkeys(patient_text.RED_FLAG_QUESTIONS, False),
            ),
        )
    assert Message.objects.get(kind=K.NUDGE, followup=day1).status == MessageStatus.CANCELLED
    with time_machine.travel(day1.due_at + timedelta(days=3), tick=False):
        messages_send_due()
    assert not CallListItem.objects.filter(reason=CallReason.MISSED_CHECK_IN).exists()


def test_missed_marking_is_idempotent(discharged):
    day1 = discharged.followups.get(label="Day 1")
    later = day1.due_at + timedelta(days=5)
    assert followups_mark_missed(now=later) == 1
    assert followups_mark_missed(now=later) == 0
    assert CallListItem.objects.filter(reason=CallReason.MISSED_CHECK_IN).count() == 1


def test_the_appointment_link_confirms_or_asks_to_move(client):
    appointment = AppointmentFactory(start=timezone.now() + timedelta(days=3))
    url = patient_links.appointment_link(appointment_id=appointment.pk).split("localhost:8000")[1]
    page = client.get(url)
    assert page.status_code == 200 and b"Will you be there?" in page.content
    assert page["Cache-Control"] == "no-store"
    client.post(url, {"action": "confirm"})
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    response = client.post(url, {"action": "reschedule"})
    assert b"We will call you" in response.content
    assert (
        CallListItem.objects.filter(reason=CallReason.RESCHEDULE_REQUEST, appointment=appointment).count()
        == 1
    )
    client.post(url, {"action": "reschedule"})
    assert CallListItem.objects.filter(reason=CallReason.RESCHEDULE_REQUEST).count() == 1
    ics = client.get(reverse("patient-appointment-ics", args=[url.split("/")[2]]))
    assert ics["Content-Type"] == "text/calendar" and b"BEGIN:VCALENDAR" in ics.content


def test_the_opt_out_link_turns_email_off(client):
    patient = PatientFactory(consent_email=True, consent_email_at=timezone.now())
    url = patient_links.opt_out_link(patient_id=patient.pk, channel=Channel.EMAIL).split("localhost:8000")[1]
    assert b"Stop emails" in client.get(url).content
    patient.refresh_from_db()
    assert patient.consent_email  # a GET (a mail scanner following links) changes nothing
    assert b"no more emails" in client.post(url).content
    patient.refresh_from_db()
    assert not patient.consent_email and patient.email_opted_out_at is not None


def test_staff_resolve_calls_with_a_note(client, nurse, frontdesk, outsider, discharged):
    day1 = discharged.followups.get(label="Day 1")
    followups_mark_missed(now=day1.due_at + timedelta(days=3))
    item = CallListItem.objects.get()
    client.force_login(outsider)
    assert client.get(reverse("call-list")).status_code == 403
    client.force_login(nurse)
    page = client.get(reverse("call-list"))
    assert discharged.patient.full_name.encode() in page.content
    client.post(reverse("call-resolve", args=[item.pk]), {"outcome": ""})
    item.refresh_from_db()
    assert item.resolved_at is None
    client.post(reverse("call-resolve", args=[item.pk]), {"outcome": "Spoke to her, pain 4/10, fine."})
    item.refresh_from_db()
    assert item.resolved_by == nurse and item.outcome.startswith("Spoke")
    with pytest.raises(Exception, match="already marked"):
        call_item_resolve(item_id=item.pk, actor=frontdesk, outcome="again")


def test_the_outbox_and_the_messages_api(client, frontdesk, outsider, discharged):
    client.force_login(frontdesk)
    page = client.get(reverse("outbox"))
    assert page.status_code == 200 and b"After-care at discharge" in page.content
    bad = client.get(reverse("outbox") + "?status=bogus&day=31-02")
    assert "“bogus” is not a message status" in bad.content.decode()
    api = client.get(f"/api/v1/messages/?appointment={discharged.pk}")
    assert api.status_code == 200
    kinds = [row["kind"] for row in api.json()["results"]]
    assert kinds[0] == "after_care" and kinds.count("check_in") == 3
    assert client.get("/api/v1/messages/?appointment=x").json() == {
        "appointment": ["Give the appointment's id: ?appointment=<id>."]
    }
    client.force_login(outsider)
    assert client.get(f"/api/v1/messages/?appointment={discharged.pk}").status_code == 403
    client.logout()
    assert client.get(f"/api/v1/messages/?appointment={discharged.pk}").status_code == 401


def test_a_post_block_diary_point_answered_from_home_is_the_diary(nurse, physician):
    from procedures.models import BlockDiaryEntry, ProcedureRecord
    from procedures.services.checkins import CheckInAnswers, checkin_submit

    with time_machine.travel(START + timedelta(minutes=45), tick=False):
        appointment = AppointmentFactory(
            patient=PatientFactory(consent_sms=True, consent_sms_at=timezone.now()),
            start=START,
            procedure_type=ProcedureTypeFactory(
                name="Lumbar medial branch block", diary_timepoints_minutes=[30, 120, 240], followup_days=[]
            ),
            status=AppointmentStatus.DISCHARGED,
        )
        ProcedureRecord.objects.create(
            appointment=appointment,
            started_at=START,
            ended_at=START + timedelta(minutes=20),
        )
        discharge = Discharge.objects.create(
            appointment=appointment,
            discharged_at=timezone.now(),
            vitals_stable=True,
            walks_safely=True,
            pain_controlled=True,
            by=nurse,
        )
        followup_plan_start(appointment=appointment, discharge=discharge)
    two_hours = appointment.followups.get(label="2 hours")
    with time_machine.travel(two_hours.due_at + timedelta(minutes=5), tick=False):
        checkin_submit(
            followup_id=two_hours.pk,
            answers=CheckInAnswers(
                pain_now=1,
                percent_relief=90,
                activity_interference=1,
                red_flags=dict.fromkeys(patient_text.RED_FLAG_QUESTIONS, False),
            ),
        )
    entry = BlockDiaryEntry.objects.get(appointment=appointment)
    assert (entry.minutes_after, entry.relief_percent, entry.source) == (120, 90, "patient")
    appointment.refresh_from_db()
    assert appointment.block_peak_relief_percent == 90
    assert PainScore.objects.filter(appointment=appointment, source=PainSource.DIARY).count() == 1


def test_the_beat_marks_missed_check_ins_in_their_own_sweep(discharged):
    """Not inside the message sweep: a backlog of missed check-ins must not hold up reminders."""
    from django.conf import settings

    from procedures import tasks

    assert settings.CELERY_BEAT_SCHEDULE["followups-sweep"]["task"] == tasks.followups_sweep.name
    day1 = discharged.followups.get(label="Day 1")
    with time_machine.travel(day1.due_at + timedelta(days=5), tick=False):
        assert tasks.followups_sweep() == 1
        assert tasks.followups_sweep() == 0
    assert CallListItem.objects.filter(reason=CallReason.MISSED_CHECK_IN, followup=day1).count() == 1
