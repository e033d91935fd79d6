"""Reads for reminders: what a message says (rendered from templates in the patient's language where a
translation exists), the outbox, and one appointment's messages."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import QuerySet
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from procedures import patient_links
from procedures.models import (
    Appointment,
    Channel,
    CheckInResponse,
    HoldPlanLine,
    Message,
    MessageKind,
)
from procedures.rules import patient_text

K = MessageKind
SPANISH_DAY = r"l j \d\e F"  # "lunes 3 de marzo"


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str


def _when(moment: datetime, language: str = "en") -> str:
    # Times in the text are the clinic's wall clock: that is where the patient has to be.
    local = timezone.localtime(moment)
    if language == "es":
        with translation.override("es"):
            day, clock = date_format(local, SPANISH_DAY), date_format(local, "G:i")
            return f"{day} a las {clock}"
    return f"{date_format(local, 'l j F')} at {date_format(local, 'g:i A')}"


def _clock(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "g:i A")


def _hold_text(message: Message) -> dict:
    line = (
        HoldPlanLine.objects.filter(
            plan__appointment_id=message.appointment_id, medication_id=int(message.plan_key.split(":")[1])
        )
        .select_related("medication")
        .first()
    )
    if line is None or line.last_dose_by is None:
        return {}
    drug = line.medication.generic_name
    last = timezone.localtime(line.last_dose_by)
    if last.time() == datetime.min.time() and line.last_dose_day:
        return {"drug": drug, "last_dose": "today", "last_dose_day": date_format(line.last_dose_day, "l j F")}
    return {"drug": drug, "last_dose": f"no later than {_when(last)}", "last_dose_day": ""}


def _context(message: Message, channel: str) -> dict:
    from procedures.selectors.dayof import after_care
    from procedures.selectors.instructions import instruction_sheet
    from procedures.selectors.safety import fasting_for

    appointment: Appointment = message.appointment
    patient = message.patient
    context = {
        "message": message,
        "patient": patient,
        "first_name": patient.first_name,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "procedure": appointment.procedure_type.name,
        "physician": str(appointment.physician),
        "when": _when(appointment.start, "" if message.kind == K.STAFF_ALERT else patient.language),
        "appointment_link": patient_links.appointment_link(appointment_id=appointment.pk),
        "opt_out_link": patient_links.opt_out_link(patient_id=patient.pk, channel=channel),
        "channel": channel,
        "emergency": patient_text.EMERGENCY,
    }
    if message.kind in (K.CONFIRMATION, K.RESCHEDULED, K.DAY_BEFORE, K.CONFIRM_REQUEST):
        sheet = instruction_sheet(appointment=appointment)
        fasting = fasting_for(appointment=appointment)
        context.update(
            fasting_short=(
                f"Nothing to eat after {_clock(fasting.solids_until)}; clear drinks only until "
                f"{_clock(fasting.clear_liquids_until)}."
                if fasting
                else ""
            ),
            escort_needed=bool(fasting),
            arrive=_clock(sheet.arrival),
            fasting=sheet.fasting,
            escort=sheet.escort,
            bring=sheet.bring,
            still_to_confirm=sheet.still_to_confirm,
            calendar=sheet.calendar,
        )
    if message.kind == K.HOLD:
        context.update(_hold_text(message))
    if message.kind == K.AFTER_CARE:
        care = after_care(appointment=appointment)
        context.update(
            resume=care.resume, sedation=care.sedation, red_flags=care.red_flags, diabetes=care.diabetes
        )
    if message.kind in (K.CHECK_IN, K.NUDGE) and message.followup_id:
        context.update(
            checkin_link=patient_links.checkin_link(followup_id=message.followup_id),
            followup_label=message.followup.label,
            link_days=settings.CHECKIN_LINK_DAYS,
        )
    if message.kind == K.STAFF_ALERT:
        response = (
            CheckInResponse.objects.filter(followup__appointment=appointment, has_red_flag=True)
            .order_by("-submitted_at")
            .first()
        )
        context.update(
            response=response,
            flags=[patient_text.RED_FLAG_QUESTIONS[c] for c in (response.red_flags if response else [])],
            staff_link=patient_links.public_url(reverse("call-list")),
        )
    return context


def _template(parts: list[str], language: str) -> str:
    names = [f"messages/{language}/{'/'.join(parts)}"] if language and language != "en" else []
    names.append(f"messages/{'/'.join(parts)}")
    return select_template(names).template.name


def message_render(*, message: Message, channel: str) -> Content:
    """The words of one message for one channel. Staff alerts are always in the clinic's language."""
    language = "" if message.kind == K.STAFF_ALERT else message.patient.language
    context = _context(message, channel)
    if channel == Channel.SMS:
        text = render_to_string(_template(["sms", f"{message.kind}.txt"], language), context).strip()
        return Content(subject="", text=" ".join(text.split()), html="")
    subject = render_to_string(_template(["email", f"{message.kind}-subject.txt"], language), context)
    text = render_to_string(_template(["email", f"{message.kind}-body.txt"], language), context)
    try:
        html = render_to_string(_template(["email", f"{message.kind}-body.html"], language), context)
    except TemplateDoesNotExist:
        html = render_to_string("messages/email/_generic-body.html", {**context, "text": text.strip()})
    return Content(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def message_email(*, message: Message, content: Content | None = None) -> EmailMultiAlternatives:
    """The email as it goes out, with its stable Message-ID (a mailbox keeps one copy of a resend).
    `content` is what message_render already produced for this send, so it is not rendered twice."""
    from procedures.services.calendar import appointment_calendar

    content = content or message_render(message=message, channel=Channel.EMAIL)
    headers = {"Message-ID": message.message_id}
    if message.kind != K.STAFF_ALERT:
        headers["List-Unsubscribe"] = (
            f"<{patient_links.opt_out_link(patient_id=message.patient_id, channel=Channel.EMAIL)}>"
        )
    email = EmailMultiAlternatives(
        subject=content.subject, body=content.text, to=[message.recipient], headers=headers
    )
    if content.html:
        email.attach_alternative(content.html, "text/html")
    if message.kind in (K.CONFIRMATION, K.RESCHEDULED):
        email.attach(
            "appointment.ics", appointment_calendar(appointment=message.appointment), "text/calendar"
        )
    return email


# --- lists for staff ---------------------------------------------------------------------------------


def messages_for_appointment(*, appointment_id: int) -> QuerySet[Message]:
    return Message.objects.filter(appointment_id=appointment_id).order_by("due_at", "id")


def outbox(
    *,
    status: str = "",
    kind: str = "",
    channel: str = "",
    day=None,
) -> QuerySet[Message]:
    """The outbox: newest first, filtered; failures and skips are what the front desk acts on."""
    qs = Message.objects.select_related("patient", "appointment__procedure_type").order_by("-due_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if channel:
        qs = qs.filter(channel=channel)
    if day is not None:
        start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
        qs = qs.filter(due_at__gte=start, due_at__lt=start + timedelta(days=1))
    return qs
