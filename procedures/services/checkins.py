"""What patients send back (check-in answers, "I'll be there", "I need to move it", STOP) and the staff
call list that catches what needs a human: red flags (urgent), missed check-ins, reschedule requests,
hold reminders that could not go out."""

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from procedures.models import (
    INSTRUMENT_RANGES,
    Appointment,
    AppointmentStatus,
    CallListItem,
    CallReason,
    Channel,
    CheckInResponse,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Instrument,
    Message,
    MessageKind,
    MessageStatus,
    PainSource,
    Patient,
)
from procedures.rules import patient_text

logger = logging.getLogger(__name__)

PAIN_RANGE = "Choose your pain now, from 0 (no pain) to 10 (worst pain imaginable)."
RELIEF_RANGE = "Choose how much better your pain is, from 0 % to 100 %."
INTERFERENCE_RANGE = (
    "Choose how much pain limits your daily activities, from 0 (not at all) to 10 (completely)."
)
RED_FLAG_ANSWER = "Please answer yes or no to each of the warning-sign questions."
PGIC_ANSWER = "Choose how your overall condition has changed since the procedure."
UNKNOWN_CODE = "That answer is not one of the choices."
ALREADY_ANSWERED = "Thank you — this check-in has already been answered."
NOT_OPEN = "This check-in is closed. If you have questions, call us at {phone}."
OUTCOME_REQUIRED = "Write what happened on the call (at least a few words) before marking it done."
ALREADY_RESOLVED = "Someone has already marked this call as done."
CANNOT_CONFIRM = "This appointment can no longer be confirmed online ({status}). Call us at {phone}."


class CheckInError(Exception):
    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class CheckInAnswers:
    pain_now: int | None
    percent_relief: int | None
    activity_interference: int | None
    red_flags: dict[str, bool | None]
    side_effects: list[str] = field(default_factory=list)
    side_effects_other: str = ""
    # Patient Global Impression of Change, 1–7: asked only while the clinic collects it.
    pgic: int | None = None


# --- the call list -----------------------------------------------------------------------------------


def call_item_add(
    *,
    patient: Patient,
    reason: str,
    detail: str,
    now: datetime,
    appointment: Appointment | None = None,
    followup: FollowUp | None = None,
    urgent: bool = False,
) -> CallListItem:
    """Open a call-list item, or return the one already open for the same reason and point."""
    lookup = {"reason": reason, "resolved_at__isnull": True}
    if followup is not None:
        lookup["followup"] = followup
    elif appointment is not None:
        lookup.update(appointment=appointment, followup__isnull=True)
    else:
        lookup.update(patient=patient, appointment__isnull=True, followup__isnull=True)
    existing = CallListItem.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CallListItem.objects.create(
                patient=patient,
                appointment=appointment or (followup.appointment if followup else None),
                followup=followup,
                reason=reason,
                urgent=urgent,
                detail=detail[:500],
                created_at=now,
            )
    except IntegrityError:
        # Another worker opened the same item a moment ago (the partial unique constraints).
        return CallListItem.objects.get(**lookup)


@transaction.atomic
def call_item_resolve(*, item_id: int, actor, outcome: str, now: datetime | None = None) -> CallListItem:
    outcome = (outcome or "").strip()
    if len(outcome) < 3:
        raise CheckInError(OUTCOME_REQUIRED, field="outcome")
    item = CallListItem.objects.select_for_update().get(pk=item_id)
    if item.resolved_at is not None:
        raise CheckInError(ALREADY_RESOLVED)
    item.resolved_at, item.resolved_by, item.outcome = now or timezone.now(), actor, outcome[:500]
    item.save(update_fields=["resolved_at", "resolved_by", "outcome"])
    return item


# --- missed check-ins --------------------------------------------------------------------------------


def followups_mark_missed(*, now: datetime) -> int:
    """Check-ins still unanswered CHECKIN_MISSED_AFTER_HOURS after they were due go to the call list."""
    cutoff = now - timedelta(hours=settings.CHECKIN_MISSED_AFTER_HOURS)
    # One status at a time, oldest first: each walks its partial index on due_at and stops at once when
    # nothing is overdue (both statuses in one query read every follow-up, on every sweep).
    overdue = [
        followup
        for status in (FollowUpStatus.PLANNED, FollowUpStatus.SENT)
        for followup in FollowUp.objects.filter(
            status=status, due_at__lt=cutoff, appointment__status=AppointmentStatus.DISCHARGED
        )
        .select_related("appointment__patient")
        .order_by("due_at")[:500]
    ][:500]
    marked = 0
    for followup in overdue:
        with transaction.atomic():
            changed = FollowUp.objects.filter(
                pk=followup.pk, status__in=(FollowUpStatus.PLANNED, FollowUpStatus.SENT)
            ).update(status=FollowUpStatus.MISSED)
            if not changed:
                continue
            Message.objects.filter(followup=followup, status=MessageStatus.PLANNED).update(
                status=MessageStatus.CANCELLED,
                error="No longer needed: the check-in was missed.",
                updated_at=now,
            )
            call_item_add(
                patient=followup.appointment.patient,
                followup=followup,
                reason=CallReason.MISSED_CHECK_IN,
                detail=f"No answer to the {followup.label} check-in after "
                f"{followup.appointment.procedure_type.name}.",
                now=now,
            )
            marked += 1
    return marked


# --- answering a check-in ----------------------------------------------------------------------------


def _whole(value, low: int, high: int, message: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CheckInError(message, field=name)
    return value


def checkin_open(*, followup: FollowUp) -> str | None:
    """Why a check-in cannot be answered, in words for the patient; None when it can."""
    if hasattr(followup, "response") or followup.status == FollowUpStatus.ANSWERED:
        return ALREADY_ANSWERED
    if (
        followup.status == FollowUpStatus.CANCELLED
        or followup.appointment.status != AppointmentStatus.DISCHARGED
    ):
        return NOT_OPEN.format(phone=settings.CLINIC_PHONE)
    return None


@transaction.atomic
def checkin_submit(
    *, followup_id: int, answers: CheckInAnswers, now: datetime | None = None
) -> CheckInResponse:
    """Record a check-in answer once: the answer, a pain score on the timeline (and the global impression
    of change, when asked), the follow-up answered, and for any red flag an urgent call-list item and an
    alert to the clinic. A PGIC answer arriving after the clinic turned PGIC off is dropped: the patient
    answered in good faith and cannot act on a clinic setting."""
    from procedures.selectors.outcomes import outcome_settings
    from procedures.services.instruments import instrument_score_record
    from procedures.services.messaging import message_alert_staff
    from procedures.services.outcomes import pain_score_record

    now = now or timezone.now()
    followup = (
        FollowUp.objects.select_for_update(of=("self",))
        .select_related("appointment__patient", "appointment__procedure_type")
        .get(pk=followup_id)
    )
    closed = checkin_open(followup=followup)
    if closed:
        raise CheckInError(closed)
    pain = _whole(answers.pain_now, 0, 10, PAIN_RANGE, "pain_now")
    relief = _whole(answers.percent_relief, 0, 100, RELIEF_RANGE, "percent_relief")
    interference = _whole(answers.activity_interference, 0, 10, INTERFERENCE_RANGE, "activity_interference")
    if set(answers.red_flags) != set(patient_text.RED_FLAG_QUESTIONS) or any(
        value is None for value in answers.red_flags.values()
    ):
        raise CheckInError(RED_FLAG_ANSWER, field="red_flags")
    if any(code not in patient_text.SIDE_EFFECTS for code in answers.side_effects):
        raise CheckInError(UNKNOWN_CODE, field="side_effects")
    low, high = INSTRUMENT_RANGES[Instrument.PGIC]
    pgic = None if answers.pgic is None else _whole(answers.pgic, low, high, PGIC_ANSWER, "pgic")
    flags = [code for code, yes in answers.red_flags.items() if yes]
    response = CheckInResponse.objects.create(
        followup=followup,
        pain_now=pain,
        percent_relief=relief,
        activity_interference=interference,
        side_effects=sorted(set(answers.side_effects)),
        side_effects_other=answers.side_effects_other.strip()[:500],
        red_flags=flags,
        has_red_flag=bool(flags),
        submitted_at=now,
    )
    appointment = followup.appointment
    if followup.kind == FollowUpKind.DIARY:
        # A post-block diary point answered from home: it is the diary (peak relief feeds RFA eligibility),
        # and the diary puts it on the pain timeline itself.
        _diary_from_home(followup, pain=pain, relief=relief, now=now)
    else:
        pain_score_record(
            patient=appointment.patient,
            score=pain,
            percent_relief=relief,
            recorded_at=now,
            source=PainSource.CHECK_IN,
            actor=None,
            appointment=appointment,
        )
    if pgic is not None and Instrument.PGIC in outcome_settings().instruments:
        # The check-in's own time, as for the pain score: the FHIR export pairs both with the answer by it.
        instrument_score_record(
            patient=appointment.patient,
            instrument=Instrument.PGIC,
            value=pgic,
            recorded_at=now,
            source=PainSource.CHECK_IN,
            actor=None,
            appointment=appointment,
        )
    followup.status = FollowUpStatus.ANSWERED
    followup.save(update_fields=["status"])
    Message.objects.filter(followup=followup, status=MessageStatus.PLANNED).update(
        status=MessageStatus.CANCELLED, error="No longer needed: the patient has answered.", updated_at=now
    )
    CallListItem.objects.filter(
        followup=followup, reason=CallReason.MISSED_CHECK_IN, resolved_at__isnull=True
    ).update(resolved_at=now, outcome="The patient answered online.")
    if flags:
        described = "; ".join(patient_text.RED_FLAG_QUESTIONS[code].rstrip("?") for code in flags)
        call_item_add(
            patient=appointment.patient,
            followup=followup,
            reason=CallReason.RED_FLAG,
            urgent=True,
            detail=f"{followup.label} check-in after {appointment.procedure_type.name}: {described}.",
            now=now,
        )
        message_alert_staff(appointment=appointment, plan_key=f"alert:{followup.pk}", now=now)
    return response


def _diary_from_home(followup: FollowUp, *, pain: int, relief: int, now: datetime) -> None:
    from procedures.models import DiarySource, ProcedureRecord
    from procedures.services.dayof import DayOfError, diary_record

    record = ProcedureRecord.objects.filter(appointment=followup.appointment).first()
    ended = record.ended_at if record and record.ended_at else followup.appointment.end
    minutes = round((followup.due_at - ended).total_seconds() / 60)
    try:
        diary_record(
            appointment_id=followup.appointment_id,
            minutes_after=minutes,
            pain=pain,
            relief_percent=relief,
            actor=None,
            source=DiarySource.PATIENT,
            at=now,
        )
    except DayOfError as exc:
        raise CheckInError(str(exc)) from exc


# --- the appointment link ----------------------------------------------------------------------------


def appointment_patient_confirm(*, appointment_id: int, now: datetime | None = None) -> Appointment:
    """The patient pressed "I'll be there" (or texted C). Confirming twice is fine."""
    from procedures.services.appointments import appointment_transition

    appointment = Appointment.objects.get(pk=appointment_id)
    if appointment.status == AppointmentStatus.CONFIRMED:
        return appointment
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise CheckInError(
            CANNOT_CONFIRM.format(
                status=appointment.get_status_display().lower(), phone=settings.CLINIC_PHONE
            )
        )
    return appointment_transition(
        appointment_id=appointment_id,
        to_status=AppointmentStatus.CONFIRMED,
        actor=None,
        reason="Confirmed by the patient from a reminder.",
        at=now,
    )


def appointment_reschedule_request(*, appointment_id: int, now: datetime | None = None) -> CallListItem:
    appointment = Appointment.objects.select_related("patient").get(pk=appointment_id)
    if appointment.status not in (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED):
        raise CheckInError(
            CANNOT_CONFIRM.format(
                status=appointment.get_status_display().lower(), phone=settings.CLINIC_PHONE
            )
        )
    return call_item_add(
        patient=appointment.patient,
        appointment=appointment,
        reason=CallReason.RESCHEDULE_REQUEST,
        detail=f"Asked to move the {appointment.procedure_type.name} on "
        f"{timezone.localtime(appointment.start):%a %d %b %H:%M}.",
        now=now or timezone.now(),
    )


# --- opting out --------------------------------------------------------------------------------------


@transaction.atomic
def patient_opt_out(*, patient_id: int, channel: str, now: datetime | None = None) -> Patient:
    """The patient's own "no more messages" on one channel: consent off, with the time. Messages still
    planned go by the other channel if they agreed to it, or are left for staff to phone."""
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    if channel == Channel.SMS:
        patient.consent_sms, patient.sms_opted_out_at = False, now
        fields = ["consent_sms", "sms_opted_out_at", "updated_at"]
    elif channel == Channel.EMAIL:
        patient.consent_email, patient.email_opted_out_at = False, now
        fields = ["consent_email", "email_opted_out_at", "updated_at"]
    else:
        raise CheckInError(UNKNOWN_CODE, field="channel")
    patient.save(update_fields=fields)
    return patient


@transaction.atomic
def patient_opt_in_sms(*, patient_id: int, now: datetime | None = None) -> Patient:
    """START by text: the patient asks for texts again, which is consent given by them, with its time."""
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    patient.consent_sms, patient.consent_sms_at, patient.sms_opted_out_at = True, now, None
    patient.save(update_fields=["consent_sms", "consent_sms_at", "sms_opted_out_at", "updated_at"])
    return patient


STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP", "YES"}
CONFIRM_WORDS = {"C", "CONFIRM"}


def sms_inbound(*, from_number: str, body: str, now: datetime | None = None) -> str:
    """A text from a patient. STOP opts every patient with that number out of texts; C confirms their next
    appointment that asked to be confirmed. Returns the reply to send back ("" for none)."""
    now = now or timezone.now()
    word = re.sub(r"[^A-Z]", "", (body or "").strip().upper().split(" ")[0] if body else "")
    patients = list(Patient.objects.filter(phone=from_number.strip()))
    if not patients:
        return ""
    if word in STOP_WORDS:
        for patient in patients:
            patient_opt_out(patient_id=patient.pk, channel=Channel.SMS, now=now)
        return (
            f"You will get no more texts from {settings.CLINIC_NAME}. To start again, reply START, "
            f"or call {settings.CLINIC_PHONE}."
        )
    if word in START_WORDS and word != "YES":
        for patient in patients:
            patient_opt_in_sms(patient_id=patient.pk, now=now)
        return f"Texts from {settings.CLINIC_NAME} are on again. Reply STOP to stop."
    if word in CONFIRM_WORDS:
        asked = (
            Message.objects.filter(
                patient__in=patients,
                kind=MessageKind.CONFIRM_REQUEST,
                status__in=(MessageStatus.SENT, MessageStatus.DELIVERED),
                appointment__status=AppointmentStatus.SCHEDULED,
                appointment__start__gt=now,
            )
            .select_related("appointment")
            .order_by("appointment__start")
            .first()
        )
        if asked is None:
            return f"We could not find an appointment waiting for your reply. Please call {settings.CLINIC_PHONE}."
        appointment = appointment_patient_confirm(appointment_id=asked.appointment_id, now=now)
        return (
            f"Thank you, you are confirmed for {timezone.localtime(appointment.start):%A %d %B at %I:%M %p}. "
            f"Questions: {settings.CLINIC_PHONE}."
        )
    return f"This number does not take replies. Please call {settings.CLINIC_PHONE}."
