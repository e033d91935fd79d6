"""Reminders: each appointment's message plan, and the sweep that sends due messages exactly once.

The plan (`message_plan_sync`) is recomputed whenever the appointment, its hold plan or its follow-ups
change; rows still planned follow the new plan and rows no longer wanted are cancelled, so nothing stale
goes out. Sending (`message_send`) is a compare-and-set claim on the row, a check that the message is still
wanted, the hand-over to the provider and a guarded "sent" mark:

- two workers, two sweeps, or a retried task: only the one whose UPDATE claimed the row sends;
- a worker that dies mid-send leaves a claim older than the lease; the next sweep takes it over and first
  asks the provider whether the message was already taken (file and Twilio backends can tell; email keeps
  one Message-ID, so a mailbox keeps one copy);
- Redis or the worker down: nothing is lost, the rows stay planned and the next sweep finds them. No task
  waits on a long ETA; retries back off by minutes."""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from procedures.integrations.sms import SmsError, SmsTemporaryError, sms_backend
from procedures.models import (
    Appointment,
    AppointmentStatus,
    CallReason,
    Channel,
    FollowUp,
    FollowUpStatus,
    HoldKind,
    HoldPlanLine,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PlanStatus,
)
from procedures.selectors.messaging import MessageRenderer, message_hold_line, messages_claimed

logger = logging.getLogger(__name__)

S = AppointmentStatus
K = MessageKind
PRE_PROCEDURE_KINDS = (K.HOLD, K.CONFIRM_REQUEST, K.DAY_BEFORE)
# Rows the plan does not own: added by the send path (nudges) or by a check-in (staff alerts).
UNPLANNED_KINDS = (K.NUDGE, K.STAFF_ALERT)
SWEEP_BATCH = 500
# Messages one task sends: the claim, the "about to send" record and the "sent" mark are one statement each.
SEND_BATCH = 50
# A sweep re-enqueues a planned row only when its last enqueue is older than this (a lost task).
REENQUEUE_AFTER = timedelta(minutes=5)
RETRY_BASE_SECONDS = 30
# Backoff stays short: a sweep, not a long ETA, is what brings a message back.
RETRY_LONGEST = timedelta(minutes=10)

NO_CHANNEL = "No way to reach the patient: no consent to texts or email, opted out, or no number/address."
NOT_CONFIRMED = "Not sent: a physician has not confirmed the hold plan. Call the patient about {drug}."
APPOINTMENT_CLOSED = "No longer needed: the appointment is {status}."
PLAN_CHANGED = "No longer needed: the plan changed."
ALREADY_ANSWERED = "No longer needed: the patient has answered."
MISSED_ON_CALL_LIST = "No longer needed: the check-in was missed and is on the staff call list."
ALREADY_CONFIRMED = "No longer needed: the patient has confirmed."
NO_ALERT_ADDRESS = "No CLINIC_ALERT_EMAIL set: the alert is on the urgent call list only."
CALL_DETAIL = {
    CallReason.NOT_REACHABLE: "Reminders cannot be sent to this patient: phone them with the instructions.",
}
FOUND_AT_PROVIDER = "The provider had already taken this message before a worker stopped; not sent again."


class SendOutcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    DEFERRED = "deferred"
    RETRY = "retry"
    FAILED = "failed"
    NOT_CLAIMED = "not_claimed"


@dataclass(frozen=True)
class PlannedMessage:
    kind: str
    plan_key: str
    due_at: datetime
    followup_id: int | None = None


# --- clock helpers ----------------------------------------------------------------------------------


def _clock(name: str) -> time:
    return time.fromisoformat(getattr(settings, name))


def _zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(patient.time_zone or settings.CLINIC_TIME_ZONE)


def _at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    # A wall-clock time on a local day; zoneinfo resolves the DST offset of that very day.
    return datetime.combine(day, clock, tzinfo=zone)


def quiet_until(*, patient: Patient, at: datetime) -> datetime | None:
    """The end of the patient's quiet hours if `at` falls inside them (their own zone), else None."""
    zone = _zone(patient)
    local = at.astimezone(zone)
    start, end = _clock("REMINDER_QUIET_START"), _clock("REMINDER_QUIET_END")
    now_clock = local.time()
    if start <= end:
        inside = start <= now_clock < end
        end_day = local.date()
    else:  # quiet hours span midnight (21:00 → 08:00)
        inside = now_clock >= start or now_clock < end
        end_day = local.date() + timedelta(days=1) if now_clock >= start else local.date()
    return _at_local(end_day, end, zone) if inside else None


# --- channel ------------------------------------------------------------------------------------------


def message_channel(*, patient: Patient) -> str | None:
    """The patient's preferred channel when they agreed to it and we have the number or address; else the
    other agreed one; else None (the clinic phones them)."""
    usable = []
    if patient.consent_sms and patient.phone and patient.sms_opted_out_at is None:
        usable.append(Channel.SMS)
    if patient.consent_email and patient.email and patient.email_opted_out_at is None:
        usable.append(Channel.EMAIL)
    if patient.preferred_channel in usable:
        return patient.preferred_channel
    return usable[0] if usable else None


# --- the plan ----------------------------------------------------------------------------------------


def _hold_due(line: HoldPlanLine, zone: ZoneInfo) -> datetime | None:
    """Morning of the stop day; for a drug held by the hour, no later than an hour before the last dose."""
    if not line.hold_hours or line.last_dose_by is None:
        return None
    last = line.last_dose_by.astimezone(zone)
    day = line.last_dose_day or last.date()
    due = _at_local(day, _clock("REMINDER_MORNING"), zone)
    by_the_hour = line.hold_kind == HoldKind.HOURS or last.time() != time.min
    if by_the_hour and line.last_dose_by - timedelta(hours=1) < due:
        # A last dose before the morning reminder: tell them the day before instead.
        due = _at_local(day - timedelta(days=1), _clock("REMINDER_DAY_BEFORE_AT"), zone)
    return due


def _desired(
    appointment: Appointment, *, change: str, now: datetime, existing: dict[str, Message]
) -> list[PlannedMessage]:
    zone = _zone(appointment.patient)
    status = appointment.status
    if status == S.CANCELLED:
        return [PlannedMessage(K.CANCELLATION, "cancellation", appointment.status_changed_at)]
    plan = []
    # The confirmation belongs to the booking itself: an appointment first planned later (at discharge,
    # or booked before reminders existed) does not get a belated "you are booked".
    if status in (S.SCHEDULED, S.CONFIRMED) and (change == "booked" or "confirmation" in existing):
        confirmation = existing.get("confirmation")
        plan.append(
            PlannedMessage(K.CONFIRMATION, "confirmation", confirmation.due_at if confirmation else now)
        )
    moved_key = f"moved:{appointment.start:%Y%m%dT%H%MZ}"
    if change == "rescheduled" or moved_key in existing:
        # One notice per new time, kept through later changes (a hold plan recomputed a moment after the
        # move); a notice for an earlier time not yet sent is cancelled as stale.
        moved = existing.get(moved_key)
        plan.append(PlannedMessage(K.RESCHEDULED, moved_key, moved.due_at if moved else now))
    if status in (S.SCHEDULED, S.CONFIRMED):
        local_start = appointment.start.astimezone(zone)
        lines = HoldPlanLine.objects.filter(plan__appointment=appointment).select_related("medication")
        for line in lines:
            due = _hold_due(line, zone)
            if due is not None and (due > now or line.last_dose_by > now):
                plan.append(PlannedMessage(K.HOLD, f"hold:{line.medication_id}", max(due, now)))
        if status == S.SCHEDULED:
            ask_day = local_start.date() - timedelta(days=settings.REMINDER_CONFIRM_DAYS_BEFORE)
            ask = _at_local(ask_day, _clock("REMINDER_MORNING"), zone)
            if ask > appointment.created_at:
                plan.append(PlannedMessage(K.CONFIRM_REQUEST, "confirm_request", ask))
        day_before = _at_local(local_start.date() - timedelta(days=1), _clock("REMINDER_DAY_BEFORE_AT"), zone)
        # Booked after that time, the message still helps if there is an evening to prepare.
        if day_before > appointment.created_at or appointment.start - now > timedelta(hours=12):
            plan.append(PlannedMessage(K.DAY_BEFORE, "day_before", max(day_before, appointment.created_at)))
    if status == S.DISCHARGED:
        discharge = getattr(appointment, "discharge", None)
        if discharge is not None:
            plan.append(PlannedMessage(K.AFTER_CARE, "after_care", discharge.discharged_at))
        for followup in appointment.followups.all():
            if followup.status in (FollowUpStatus.PLANNED, FollowUpStatus.SENT, FollowUpStatus.ANSWERED):
                plan.append(
                    PlannedMessage(K.CHECK_IN, f"check_in:{followup.pk}", followup.due_at, followup.pk)
                )
    return plan


@transaction.atomic
def message_plan_sync(*, appointment_id: int, change: str = "", now: datetime | None = None) -> list[Message]:
    """Bring the appointment's planned messages in line with what it needs now. Sent rows stay as history;
    rows in the middle of a send are left to finish."""
    now = now or timezone.now()
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "discharge")
        .get(pk=appointment_id)
    )
    existing = {m.plan_key: m for m in Message.objects.select_for_update().filter(appointment=appointment)}
    desired = {p.plan_key: p for p in _desired(appointment, change=change, now=now, existing=existing)}
    for key, message in existing.items():
        wanted = desired.get(key)
        if wanted is not None:
            if message.status == MessageStatus.PLANNED and message.due_at != wanted.due_at:
                message.due_at, message.enqueued_at = wanted.due_at, None
                message.save(update_fields=["due_at", "enqueued_at", "updated_at"])
            elif message.status == MessageStatus.CANCELLED and message.sent_at is None:
                message.status, message.due_at, message.error = MessageStatus.PLANNED, wanted.due_at, ""
                message.enqueued_at = None
                message.save(update_fields=["status", "due_at", "error", "enqueued_at", "updated_at"])
        elif message.status == MessageStatus.PLANNED and (
            message.kind not in UNPLANNED_KINDS or appointment.status == S.CANCELLED
        ):
            message.status = MessageStatus.CANCELLED
            message.error = (
                APPOINTMENT_CLOSED.format(status=appointment.get_status_display().lower())
                if appointment.status == S.CANCELLED
                else PLAN_CHANGED
            )
            message.save(update_fields=["status", "error", "updated_at"])
    Message.objects.bulk_create(
        [
            Message(
                patient_id=appointment.patient_id,
                appointment=appointment,
                followup_id=p.followup_id,
                kind=p.kind,
                plan_key=p.plan_key,
                due_at=p.due_at,
            )
            for key, p in desired.items()
            if key not in existing
        ]
    )
    due_now = list(
        Message.objects.filter(
            appointment=appointment, status=MessageStatus.PLANNED, due_at__lte=now
        ).values_list("pk", flat=True)
    )
    if due_now:
        # Confirmations and notices go at once rather than at the next sweep; if the broker is down the
        # sweep still finds them.
        _enqueue_at_once(due_now)
    return list(Message.objects.filter(appointment=appointment).order_by("due_at", "id"))


def messaging_after_booking(*, appointment: Appointment, change: str) -> None:
    message_plan_sync(appointment_id=appointment.pk, change=change)


def messaging_after_discharge(*, appointment: Appointment, discharge) -> None:
    message_plan_sync(appointment_id=appointment.pk, change="discharged")


def messaging_after_hold_plan(*, appointment_id: int) -> None:
    message_plan_sync(appointment_id=appointment_id, change="holds")


def messaging_after_transition(*, appointment: Appointment, to_status: str) -> None:
    message_plan_sync(appointment_id=appointment.pk, change=to_status)


def message_alert_staff(*, appointment: Appointment, plan_key: str, now: datetime) -> Message:
    """An urgent email to the clinic about a patient (a red flag); sent by the same sweep."""
    message, _ = Message.objects.get_or_create(
        appointment=appointment,
        plan_key=plan_key,
        defaults={"patient_id": appointment.patient_id, "kind": K.STAFF_ALERT, "due_at": now},
    )
    _enqueue_at_once([message.pk])
    return message


# --- the sweep ---------------------------------------------------------------------------------------


def messages_due(*, now: datetime, limit: int = SWEEP_BATCH, for_enqueue: bool = False) -> list[int]:
    """Planned rows that are due, then claims left behind by a worker that died (older than the lease).
    For the enqueueing sweep (in its transaction) the rows are locked, skipping those another sweep holds."""
    planned = Message.objects.filter(status=MessageStatus.PLANNED, due_at__lte=now)
    lease = timedelta(seconds=settings.MESSAGE_SEND_LEASE_SECONDS)
    stale = Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - lease)
    if for_enqueue:
        planned = planned.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REENQUEUE_AFTER))
        planned = planned.select_for_update(skip_locked=True)
        stale = stale.select_for_update(skip_locked=True)
    ids = list(planned.order_by("due_at").values_list("pk", flat=True)[:limit])
    ids += list(stale.order_by("claimed_at").values_list("pk", flat=True)[: max(limit - len(ids), 0)])
    return ids


_held = ContextVar("messages_held", default=False)


@contextmanager
def messages_held() -> Iterator[None]:
    """Plan without handing due messages to the workers at once (bulk jobs that send in-process after)."""
    token = _held.set(True)
    try:
        yield
    finally:
        _held.reset(token)


def _enqueue_at_once(message_ids: list[int]) -> None:
    if settings.MESSAGE_SEND_AT_ONCE and not _held.get():
        transaction.on_commit(lambda: messages_enqueue(message_ids=message_ids))


def messages_enqueue(*, message_ids: list[int]) -> list[int]:
    """Hand rows to the Celery workers in batches; returns the ids handed over. A broker that is down
    loses nothing: the rest stay planned for the next sweep."""
    from procedures.tasks import messages_send as messages_send_task

    handed: list[int] = []
    for first in range(0, len(message_ids), SEND_BATCH):
        batch = message_ids[first : first + SEND_BATCH]
        try:
            # No publish retries: with the broker down this must not hold up the request that booked.
            messages_send_task.apply_async(args=[batch], retry=False)
        except Exception:
            logger.warning("Could not enqueue %s message(s); the next sweep will.", len(batch), exc_info=True)
            break
        handed.extend(batch)
    return handed


def messages_enqueue_due(*, now: datetime | None = None) -> int:
    """The beat sweep: enqueue every due message once per REENQUEUE_AFTER. Missed check-ins are marked by
    their own beat task (tasks.followups_sweep): a backlog of them, 500 call-list entries at 6 ms each,
    held every message sweep up for three seconds."""
    now = now or timezone.now()
    with transaction.atomic():
        # The rows stay locked until they are marked enqueued, so a sweep running at the same time (a slow
        # one overtaken by the next beat) hands out other rows instead of the same ones twice. A send task
        # that starts before the commit waits for it; a sweep that dies leaves its rows for the next one.
        handed = messages_enqueue(message_ids=messages_due(now=now, for_enqueue=True))
        if handed:
            Message.objects.filter(pk__in=handed, status=MessageStatus.PLANNED).update(enqueued_at=now)
    return len(handed)


def messages_send_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """The same sweep, sending in this process (manage.py send_due_reminders, and tests)."""
    from procedures.services.checkins import followups_mark_missed

    now = now or timezone.now()
    followups_mark_missed(now=now)
    outcomes: dict[str, int] = {}
    ids = messages_due(now=now, limit=limit)
    for first in range(0, len(ids), SEND_BATCH):
        for outcome in messages_send(message_ids=ids[first : first + SEND_BATCH], now=now).values():
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


# --- sending ------------------------------------------------------------------------------------------


def _claim(message_ids: list[int], now: datetime) -> tuple[uuid.UUID, list[int], dict[int, datetime]]:
    """Compare-and-set for a batch: planned rows move to "sending" under one token in one UPDATE whose
    WHERE re-checks the status, so of two workers racing for a row exactly one changes it; RETURNING says
    which. Claims left by a dead worker are taken over one by one, each compared on that worker's own
    token. Returns the token, the ids claimed, and for taken-over rows when the dead worker claimed them."""
    token = uuid.uuid4()
    table = Message._meta.db_table
    token_value = Message._meta.get_field("claim_token").get_db_prep_value(token, connection)
    now_value = Message._meta.get_field("updated_at").get_db_prep_value(now, connection)
    wanted = sorted(set(message_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claim_token = %s, claimed_at = %s, attempts = attempts + 1, "
            f"updated_at = %s WHERE id IN ({', '.join(['%s'] * len(wanted))}) AND status = %s "
            "AND due_at <= %s RETURNING id",
            [
                str(MessageStatus.SENDING),
                token_value,
                now_value,
                now_value,
                *wanted,
                str(MessageStatus.PLANNED),
                now_value,
            ],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    dead: dict[int, datetime] = {}
    if len(claimed) == len(wanted):
        return token, claimed, dead
    claim = {
        "status": MessageStatus.SENDING,
        "claim_token": token,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
        "updated_at": now,
    }
    lease = timedelta(seconds=settings.MESSAGE_SEND_LEASE_SECONDS)
    stale = Message.objects.filter(
        pk__in=set(wanted) - set(claimed), status=MessageStatus.SENDING, claimed_at__lt=now - lease
    )
    for pk, dead_token, claimed_at in stale.values_list("pk", "claim_token", "claimed_at"):
        if Message.objects.filter(pk=pk, status=MessageStatus.SENDING, claim_token=dead_token).update(
            **claim
        ):
            dead[pk] = claimed_at
            claimed.append(pk)
    return token, claimed, dead


def _set_per_row(
    token: uuid.UUID, messages: list[Message], fields: list[str], *, now: datetime, sent: bool = False
) -> None:
    """Write each row's own values for `fields` in one UPDATE … FROM (VALUES …), only where the batch's
    claim still holds; with `sent`, the same statement marks the rows sent and gives up the claim.
    (bulk_update's CASE expressions cost more to build than the sends they record.)"""
    if not messages:
        return
    table = Message._meta.db_table
    columns = ["id", *fields]
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(messages))
    params: list = []
    for message in messages:
        params.append(str(message.pk))
        params.extend(getattr(message, name) for name in fields)
    token_value = Message._meta.get_field("claim_token").get_db_prep_value(token, connection)
    now_value = Message._meta.get_field("updated_at").get_db_prep_value(now, connection)
    assignments = [f"{name} = v.{name}" for name in fields]
    extra: list = []
    if sent:
        assignments += [
            "status = %s",
            "sent_at = %s",
            "error = ''",
            "claim_token = NULL",
            "claimed_at = NULL",
        ]
        extra += [str(MessageStatus.SENT), now_value]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v({', '.join(columns)}) AS (VALUES {values}) "
            f"UPDATE {table} SET {', '.join(assignments)}, updated_at = %s FROM v "
            f"WHERE {table}.id = CAST(v.id AS INTEGER) AND {table}.claim_token = %s",
            [*params, *extra, now_value, token_value],
        )


def _finish(message: Message, *, status: str, error: str = "", now: datetime, **fields) -> bool:
    """Write the result only if the claim is still ours (a slow worker past its lease lost it)."""
    updated = Message.objects.filter(pk=message.pk, claim_token=message.claim_token).update(
        status=status, error=error[:500], claim_token=None, claimed_at=None, updated_at=now, **fields
    )
    return bool(updated)


def _still_wanted(message: Message) -> tuple[str, str, str | None] | None:
    """(status, reason, call-list reason or None) when the message must not go out; None when it should.
    Reads only: the caller writes the refusal (and the call-list item) in one transaction."""
    appointment = message.appointment
    if message.kind == K.STAFF_ALERT:
        return (MessageStatus.SKIPPED, NO_ALERT_ADDRESS, None) if not settings.CLINIC_ALERT_EMAIL else None
    if appointment.status == S.CANCELLED and message.kind != K.CANCELLATION:
        return MessageStatus.CANCELLED, APPOINTMENT_CLOSED.format(status="cancelled"), None
    if message.kind in PRE_PROCEDURE_KINDS and appointment.status not in (S.SCHEDULED, S.CONFIRMED):
        closed = APPOINTMENT_CLOSED.format(status=appointment.get_status_display().lower())
        return MessageStatus.CANCELLED, closed, None
    if message.kind == K.CONFIRM_REQUEST and appointment.status == S.CONFIRMED:
        return MessageStatus.CANCELLED, ALREADY_CONFIRMED, None
    if message.kind in (K.CHECK_IN, K.NUDGE) and message.followup is not None:
        if message.followup.status in (FollowUpStatus.ANSWERED, FollowUpStatus.CANCELLED):
            return MessageStatus.CANCELLED, ALREADY_ANSWERED, None
        if message.followup.status == FollowUpStatus.MISSED:
            return MessageStatus.CANCELLED, MISSED_ON_CALL_LIST, None
    if message.kind == K.HOLD:
        line = message_hold_line(message=message)
        if line is None or not line.hold_hours:
            return MessageStatus.CANCELLED, PLAN_CHANGED, None
        if line.plan.status != PlanStatus.CONFIRMED:
            reason = NOT_CONFIRMED.format(drug=line.medication.generic_name)
            return MessageStatus.SKIPPED, reason, CallReason.HOLD_NOT_SENT
    if message_channel(patient=message.patient) is None:
        if message.kind in PRE_PROCEDURE_KINDS or message.kind in (K.CONFIRMATION, K.RESCHEDULED):
            return MessageStatus.SKIPPED, NO_CHANNEL, CallReason.NOT_REACHABLE
        return MessageStatus.SKIPPED, NO_CHANNEL, None
    return None


def _after_sent(message: Message, now: datetime) -> None:
    if message.kind == K.CHECK_IN and message.followup_id:
        FollowUp.objects.filter(pk=message.followup_id, status=FollowUpStatus.PLANNED).update(
            status=FollowUpStatus.SENT
        )
        Message.objects.get_or_create(
            appointment_id=message.appointment_id,
            plan_key=f"nudge:{message.followup_id}",
            defaults={
                "patient_id": message.patient_id,
                "followup_id": message.followup_id,
                "kind": K.NUDGE,
                "due_at": now + timedelta(hours=settings.CHECKIN_NUDGE_AFTER_HOURS),
            },
        )


def _retry_delay(attempts: int) -> timedelta:
    return min(timedelta(seconds=RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)), RETRY_LONGEST)


class _Channels:
    """The providers for one batch: one SMTP connection and one SMS backend, opened when first needed."""

    def __init__(self) -> None:
        self._mail = None
        self._sms = None

    def deliver(self, message: Message, content) -> str:
        if message.channel == Channel.EMAIL:
            from procedures.selectors.messaging import message_email

            if self._mail is None:
                self._mail = get_connection()
                self._mail.open()
            email: EmailMultiAlternatives = message_email(message=message, content=content)
            email.connection = self._mail
            email.send(fail_silently=False)
            return message.message_id
        from procedures.patient_links import public_url

        if self._sms is None:
            self._sms = sms_backend()
        return self._sms.send(
            to=message.recipient,
            body=message.body,
            key=f"message-{message.pk}",
            status_callback=public_url("/sms/twilio/status/") if settings.SMS_BACKEND == "twilio" else "",
        )

    def close(self) -> None:
        if self._mail is not None:
            self._mail.close()


def _already_taken(message: Message, since: datetime) -> str | None:
    if message.channel != Channel.SMS or not message.body:
        return None
    return sms_backend().lookup(
        to=message.recipient, body=message.body, key=f"message-{message.pk}", since=since
    )


def _prepare(message: Message, dead_claim_at: datetime | None, now: datetime, renderer: MessageRenderer):
    """Everything before the hand-over: a takeover asks the provider first; then the message must still be
    wanted, have a channel and not fall in quiet hours. Returns the rendered content, or the outcome."""
    if dead_claim_at is not None and message.channel:
        taken = _already_taken(message, dead_claim_at)
        if taken:
            with transaction.atomic():
                if _finish(
                    message,
                    status=MessageStatus.SENT,
                    error=FOUND_AT_PROVIDER,
                    now=now,
                    sent_at=dead_claim_at,
                    provider_id=taken[:64],
                ):
                    _after_sent(message, now)
            return SendOutcome.SENT

    refusal = _still_wanted(message)
    if refusal is not None:
        status, reason, call = refusal
        with transaction.atomic():
            _finish(message, status=status, error=reason, now=now)
            if call is not None:
                from procedures.services.checkins import call_item_add

                call_item_add(
                    patient=message.patient,
                    appointment=message.appointment,
                    reason=call,
                    detail=CALL_DETAIL.get(call, reason),
                    now=now,
                )
        return SendOutcome.CANCELLED if status == MessageStatus.CANCELLED else SendOutcome.SKIPPED

    if message.kind == K.STAFF_ALERT:
        channel, recipient = Channel.EMAIL, settings.CLINIC_ALERT_EMAIL
    else:
        channel = message_channel(patient=message.patient)
        recipient = message.patient.phone if channel == Channel.SMS else message.patient.email
    if channel == Channel.SMS:
        morning = quiet_until(patient=message.patient, at=now)
        if morning is not None:
            _finish(
                message,
                status=MessageStatus.PLANNED,
                error=f"Waiting for the morning (quiet hours) until {timezone.localtime(morning):%Y-%m-%d %H:%M}.",
                now=now,
                due_at=morning,
                enqueued_at=None,
                attempts=F("attempts") - 1,
            )
            return SendOutcome.DEFERRED

    content = renderer.render(message=message, channel=channel)
    message.channel, message.recipient = channel, recipient
    message.subject, message.body = content.subject[:200], content.text
    message.message_id = f"<message-{message.pk}@{settings.MESSAGE_ID_DOMAIN}>"
    message.updated_at = now
    return content


def messages_send(*, message_ids: list[int], now: datetime | None = None) -> dict[int, SendOutcome]:
    """Send a batch of due messages, each at most once. Safe to run in any number of workers at once:
    a row another worker claimed is reported NOT_CLAIMED and left alone."""
    now = now or timezone.now()
    outcomes = dict.fromkeys(message_ids, SendOutcome.NOT_CLAIMED)
    if not message_ids:
        return outcomes
    token, claimed_ids, dead = _claim(message_ids, now)
    if not claimed_ids:
        return outcomes
    renderer = MessageRenderer()
    ready: list[tuple[Message, object]] = []
    for message in messages_claimed(token=token, message_ids=claimed_ids):
        prepared = _prepare(message, dead.get(message.pk), now, renderer)
        if isinstance(prepared, SendOutcome):
            outcomes[message.pk] = prepared
        else:
            ready.append((message, prepared))
    if not ready:
        return outcomes

    # Record what is about to go out before handing it over, so a worker that dies next can be checked.
    _set_per_row(
        token,
        [message for message, _ in ready],
        ["channel", "recipient", "subject", "body", "message_id"],
        now=now,
    )
    delivered = []
    channels = _Channels()
    try:
        for message, content in ready:
            try:
                message.provider_id = channels.deliver(message, content)[:64]
            except SmsTemporaryError as exc:
                outcomes[message.pk] = _failed_attempt(message, str(exc), now, temporary=True)
            except SmsError as exc:
                outcomes[message.pk] = _failed_attempt(message, str(exc), now, temporary=False)
            except OSError as exc:  # SMTP trouble (smtplib's errors are OSErrors)
                outcomes[message.pk] = _failed_attempt(
                    message, f"Email could not be sent: {exc}", now, temporary=True
                )
            else:
                delivered.append(message)
                outcomes[message.pk] = SendOutcome.SENT
    finally:
        channels.close()

    with transaction.atomic():
        # Guarded by the batch's token: a row whose claim a slow worker lost is not overwritten.
        _set_per_row(token, delivered, ["provider_id"], now=now, sent=True)
        for message in delivered:
            _after_sent(message, now)
    return outcomes


def message_send(*, message_id: int, now: datetime | None = None) -> SendOutcome:
    """Send one due message, at most once (a batch of one)."""
    return messages_send(message_ids=[message_id], now=now)[message_id]


def _failed_attempt(message: Message, error: str, now: datetime, *, temporary: bool) -> SendOutcome:
    from procedures.services.checkins import call_item_add

    if temporary and message.attempts < settings.MESSAGE_MAX_ATTEMPTS:
        _finish(
            message,
            status=MessageStatus.PLANNED,
            error=f"Attempt {message.attempts} failed, trying again: {error}",
            now=now,
            due_at=now + _retry_delay(message.attempts),
            enqueued_at=None,
        )
        return SendOutcome.RETRY
    with transaction.atomic():
        _finish(message, status=MessageStatus.FAILED, error=error, now=now)
        if message.kind != K.STAFF_ALERT:
            call_item_add(
                patient=message.patient,
                appointment=message.appointment,
                reason=CallReason.NOT_REACHABLE,
                detail=f"{message.get_kind_display()} could not be sent: {error}"[:500],
                now=now,
            )
    return SendOutcome.FAILED


def message_retry_delay(*, message_id: int) -> int:
    """Seconds until a message released for retry is due again (the task's countdown)."""
    message = Message.objects.filter(pk=message_id).only("due_at").first()
    if message is None:
        return 0
    return max(int((message.due_at - timezone.now()).total_seconds()), 1)


# --- staff actions and provider callbacks -------------------------------------------------------------


@transaction.atomic
def message_resend(*, message_id: int, actor, now: datetime | None = None) -> Message:
    """Front desk: try a failed or skipped message again now (e.g. after fixing the phone number)."""
    now = now or timezone.now()
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status not in (MessageStatus.FAILED, MessageStatus.SKIPPED):
        raise MessagingError(RESEND_ONLY_FAILED)
    message.status, message.due_at, message.enqueued_at = MessageStatus.PLANNED, now, None
    message.error = f"Sent again by {actor.get_username() if actor else 'staff'}."
    message.save(update_fields=["status", "due_at", "enqueued_at", "error", "updated_at"])
    _enqueue_at_once([message.pk])
    return message


class MessagingError(Exception):
    pass


RESEND_ONLY_FAILED = "Only a failed or unsent message can be sent again."

PROVIDER_STATUS = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
}


def message_provider_status(*, provider_id: str, provider_status: str, error: str = "") -> int:
    """A delivery report from the SMS provider. Only moves forward (sent → delivered or failed)."""
    new = PROVIDER_STATUS.get(provider_status)
    if new is None or not provider_id:
        return 0
    now = timezone.now()
    fields = {"status": new, "updated_at": now}
    if new == MessageStatus.DELIVERED:
        fields["delivered_at"] = now
    else:
        fields["error"] = f"The provider reports it was not delivered ({provider_status}) {error}".strip()[
            :500
        ]
    return Message.objects.filter(provider_id=provider_id, status=MessageStatus.SENT).update(**fields)
