"""Sending in batches: one send batch reads what it needs in a fixed number of queries, renders with the
templates and settings it loaded once, and says exactly what it said one message at a time; two sweeps at
once hand out each due message once."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedures.models import (
    CallListItem,
    CallReason,
    Channel,
    HoldPlan,
    Medication,
    Message,
    MessageKind,
    MessageStatus,
)
from procedures.selectors.instructions import instruction_sheet
from procedures.selectors.messaging import MessageRenderer, message_render, messages_claimed
from procedures.selectors.safety import safety_settings
from procedures.services.booking import BookingRequest, appointment_book
from procedures.services.medications import patient_medication_add
from procedures.services.messaging import (
    SendOutcome,
    messages_enqueue_due,
    messages_send,
)
from tests.factories import AppointmentFactory, PatientFactory
from tests.sms_backends import journal_lines

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
K = MessageKind
AFTERNOON = datetime(2026, 3, 2, 15, 0, tzinfo=NY)


@pytest.fixture
def sms_dir(settings, tmp_path):
    settings.SMS_BACKEND = "tests.sms_backends.JournalSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    return tmp_path / "sms"


def _patient(channel: str, **fields):
    now = timezone.now()
    if channel == Channel.SMS:
        return PatientFactory(consent_sms=True, consent_sms_at=now, preferred_channel=Channel.SMS, **fields)
    return PatientFactory(consent_email=True, consent_email_at=now, preferred_channel=Channel.EMAIL, **fields)


def _with_drug(appointment, name: str, actor) -> None:
    patient_medication_add(
        patient_id=appointment.patient_id, medication=Medication.objects.get(generic_name=name), actor=actor
    )


def _due(appointment, kind: str) -> Message:
    return Message.objects.create(
        patient=appointment.patient,
        appointment=appointment,
        kind=kind,
        plan_key=f"test:{kind}",
        due_at=timezone.now() - timedelta(minutes=1),
    )


def _mixed_batch(count: int, actor) -> list[int]:
    """`count` times the same three: an email confirmation for a patient on warfarin (a hold plan, a
    calendar file), a day-before text, and an email asking to confirm."""
    ids = []
    for _ in range(count):
        start = timezone.now() + timedelta(days=6)
        on_warfarin = AppointmentFactory(patient=_patient(Channel.EMAIL), start=start, sedation_planned=True)
        _with_drug(on_warfarin, "warfarin", actor)
        ids.append(_due(on_warfarin, K.CONFIRMATION).pk)
        ids.append(_due(AppointmentFactory(patient=_patient(Channel.SMS), start=start), K.DAY_BEFORE).pk)
        ids.append(
            _due(AppointmentFactory(patient=_patient(Channel.EMAIL), start=start), K.CONFIRM_REQUEST).pk
        )
    return ids


@time_machine.travel(AFTERNOON, tick=False)
def test_a_batch_costs_the_same_queries_whatever_its_size(sms_dir, frontdesk):
    small, large = _mixed_batch(1, frontdesk), _mixed_batch(4, frontdesk)
    counts = []
    for ids in (small, large):
        with CaptureQueriesContext(connection) as queries:
            outcomes = messages_send(message_ids=ids)
        assert set(outcomes.values()) == {SendOutcome.SENT}
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]
    assert len(mail.outbox) == 2 * 5 and len(journal_lines(sms_dir, "sent")) == 5


@time_machine.travel(AFTERNOON, tick=False)
def test_a_batch_says_what_each_message_rendered_alone_says(sms_dir, frontdesk):
    ids = _mixed_batch(3, frontdesk)
    alone = {}
    for message in Message.objects.filter(pk__in=ids).select_related("patient", "appointment"):
        channel = message.patient.preferred_channel
        alone[message.pk] = message_render(message=message, channel=channel)
    messages_send(message_ids=ids)
    for message in Message.objects.filter(pk__in=ids):
        assert message.status == MessageStatus.SENT
        assert (message.subject, message.body) == (alone[message.pk].subject[:200], alone[message.pk].text)
    html = {email.extra_headers["Message-ID"]: email.alternatives[0][0] for email in mail.outbox}
    for message in Message.objects.filter(pk__in=ids, channel=Channel.EMAIL):
        assert html[message.message_id] == alone[message.pk].html


@time_machine.travel(AFTERNOON, tick=False)
def test_the_opt_out_header_is_the_link_the_email_shows():
    message = _due(AppointmentFactory(patient=_patient(Channel.EMAIL)), K.DAY_BEFORE)
    assert messages_send(message_ids=[message.pk]) == {message.pk: SendOutcome.SENT}
    (email,) = mail.outbox
    link = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert "/o/" in link and f"To stop them: {link}" in email.body
    assert f'<a href="{link}" rel="nofollow">{link}</a>' in email.alternatives[0][0]


def test_the_html_of_a_text_only_email_is_djangos_urlize_and_linebreaks():
    """Emails without an HTML template show their text through urlize and linebreaks; the renderer keeps
    each word's result for the batch, and that must not change a character."""
    texts = [
        "Dear Ann,\n\nYour block is on Monday 3 March at 8:00 AM. Please arrive at 7:30 AM.\n\n"
        "Your full instructions: https://clinic.example.org/p/abc:1x:y/\n"
        "Questions? Call us at (555) 010-2000.",
        "Dear O'Brien & <Sons>,\nwrite to help@clinic.example.org, see www.example.com. or (http://a.b/c),\n\n\n"
        "last line: https://clinic.example.org/p/abc:1x:y/.",
        "Your block is on Monday 3 March at 8:00 AM. Please arrive at 7:30 AM.\r\nStop: https://x.example.com/o/t/",
        "",
    ]
    django = Template("{{ text|urlize|linebreaks }}")
    renderer = MessageRenderer()
    for text in texts * 2:  # the second round reuses the words the first one linked
        assert renderer._text_html(text) == django.render(Context({"text": text}))


@time_machine.travel(AFTERNOON, tick=False)
def test_the_sheet_from_a_loaded_plan_is_the_sheet(frontdesk):
    appointment = AppointmentFactory(patient=_patient(Channel.EMAIL), sedation_planned=True)
    _with_drug(appointment, "warfarin", frontdesk)
    message = _due(appointment, K.DAY_BEFORE)
    (loaded,) = messages_claimed(token=None, message_ids=[message.pk])  # not claimed: no token
    with CaptureQueriesContext(connection) as queries:
        sheet = instruction_sheet(
            appointment=loaded.appointment, settings_row=safety_settings(), plan_loaded=True
        )
    assert len(queries.captured_queries) == 1  # the settings row; the plan and its lines came loaded
    assert sheet == instruction_sheet(appointment=appointment)
    assert any("warfarin" in item for day in sheet.calendar for item in day.items)


@time_machine.travel(AFTERNOON, tick=False)
def test_hold_reminders_in_one_batch_each_follow_their_own_plan(clinic, frontdesk, physician, sms_dir):
    from procedures.services.safety import hold_plan_confirm

    holds = []
    for _ in range(2):
        appointment = appointment_book(
            request=BookingRequest(
                patient=_patient(Channel.SMS),
                procedure_type=clinic["tfesi"],
                physician=clinic["lee"],
                start=datetime(2026, 3, 12, 9, 0, tzinfo=NY) + timedelta(hours=len(holds)),
            ),
            actor=frontdesk,
        )
        _with_drug(appointment, "clopidogrel", physician)
        holds.append(Message.objects.get(appointment=appointment, kind=K.HOLD))
    confirmed, unconfirmed = holds
    hold_plan_confirm(appointment_id=confirmed.appointment_id, actor=physician)
    assert HoldPlan.objects.get(appointment_id=unconfirmed.appointment_id).status != "confirmed"
    with time_machine.travel(max(h.due_at for h in holds), tick=False):
        outcomes = messages_send(message_ids=[h.pk for h in holds])
    assert outcomes == {confirmed.pk: SendOutcome.SENT, unconfirmed.pk: SendOutcome.SKIPPED}
    assert "clopidogrel" in Message.objects.get(pk=confirmed.pk).body
    assert "has not confirmed" in Message.objects.get(pk=unconfirmed.pk).error
    call = CallListItem.objects.get(reason=CallReason.HOLD_NOT_SENT)
    assert call.appointment_id == unconfirmed.appointment_id


@time_machine.travel(AFTERNOON, tick=False)
def test_one_batch_takes_what_is_free_and_leaves_what_another_worker_holds(sms_dir):
    def due_text():
        return _due(AppointmentFactory(patient=_patient(Channel.SMS)), K.DAY_BEFORE)

    free, held, dead, later = due_text(), due_text(), due_text(), due_text()
    now = timezone.now()
    Message.objects.filter(pk=held.pk).update(
        status=MessageStatus.SENDING, claim_token="00000000-0000-0000-0000-00000000000a", claimed_at=now
    )
    Message.objects.filter(pk=dead.pk).update(
        status=MessageStatus.SENDING,
        claim_token="00000000-0000-0000-0000-00000000000b",
        claimed_at=now - timedelta(hours=1),
        attempts=1,
    )
    Message.objects.filter(pk=later.pk).update(due_at=now + timedelta(hours=1))
    outcomes = messages_send(message_ids=[free.pk, held.pk, dead.pk, later.pk])
    assert outcomes == {
        free.pk: SendOutcome.SENT,
        held.pk: SendOutcome.NOT_CLAIMED,
        dead.pk: SendOutcome.SENT,
        later.pk: SendOutcome.NOT_CLAIMED,
    }
    assert sorted(journal_lines(sms_dir, "sent")) == sorted([f"message-{free.pk}", f"message-{dead.pk}"])
    rows = {m.pk: m for m in Message.objects.filter(pk__in=outcomes)}
    assert (rows[free.pk].attempts, rows[dead.pk].attempts) == (1, 2)
    assert rows[held.pk].status == MessageStatus.SENDING and rows[later.pk].status == MessageStatus.PLANNED


@pytest.mark.postgres  # row locks (SQLite locks the whole database)
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_hand_out_each_due_message_once():
    """Two sweeps publish to the real broker at once; Celery's before_task_publish signal records each batch
    as it goes out (slowly, so that the sweeps overlap). Each due message is handed out exactly once."""
    from celery.signals import before_task_publish

    ids = [_due(AppointmentFactory(patient=_patient(Channel.SMS)), K.DAY_BEFORE).pk for _ in range(120)]
    batches: list[list[int]] = []
    lock = threading.Lock()

    def record(sender=None, body=None, **kwargs):
        if sender == "procedures.tasks.messages_send":
            with lock:
                batches.append(list(body[0][0]))
            time.sleep(0.05)

    before_task_publish.connect(record, weak=False)
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait(timeout=10)
            messages_enqueue_due()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        before_task_publish.disconnect(record)
    assert not errors
    handed = sorted(pk for batch in batches if set(batch) <= set(ids) for pk in batch)
    assert handed == sorted(ids)
    assert not Message.objects.filter(pk__in=ids, enqueued_at__isnull=True).exists()


@time_machine.travel(AFTERNOON, tick=False)
def test_the_email_with_its_subject_encoded_once_is_the_email_django_writes():
    """The day-before subject has a dash outside ASCII; the batch encodes each subject once and the email
    must come out byte for byte as Django writes it (apart from the random MIME boundary)."""
    import re

    from django.core.mail import EmailMultiAlternatives

    from procedures.selectors.messaging import message_email

    message = _due(AppointmentFactory(patient=_patient(Channel.EMAIL)), K.DAY_BEFORE)
    message.recipient, message.message_id = message.patient.email, f"<message-{message.pk}@test>"
    content = MessageRenderer().render(message=message, channel=Channel.EMAIL)
    assert "—" in content.subject and content.subject_header
    ours = message_email(message=message, content=content)
    django = EmailMultiAlternatives(
        subject=content.subject, body=content.text, to=[message.recipient], headers=ours.extra_headers
    )
    django.attach_alternative(content.html, "text/html")

    def written(email) -> bytes:
        return re.sub(rb"={15}\d+==", b"BOUNDARY", email.message().as_bytes())

    assert written(ours) == written(django)
    assert ours.subject == content.subject
