"""Reads for reminders: what a message says (rendered from templates in the patient's language where a
translation exists), the outbox, and one appointment's messages."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import forbid_multi_line_headers
from django.db.models import Prefetch, QuerySet
from django.template import TemplateDoesNotExist
from django.template.backends.django import Template
from django.template.defaultfilters import linebreaks_filter
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import Urlizer
from django.utils.safestring import mark_safe

from procedures import patient_links
from procedures.models import (
    Appointment,
    Channel,
    CheckInResponse,
    HoldPlanLine,
    Message,
    MessageKind,
    SafetySettings,
)
from procedures.rules import patient_text

K = MessageKind
SPANISH_DAY = r"l j \d\e F"  # "lunes 3 de marzo"


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str
    # The email's opt-out link as the text shows it, reused for the List-Unsubscribe header.
    opt_out_link: str = ""
    # The Subject header as Django writes it, encoded once per batch (_EncodedSubjectEmail).
    subject_header: str = ""


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


def message_hold_line(*, message: Message) -> HoldPlanLine | None:
    """The hold plan line a hold reminder is about, from the plan loaded with the message (messages_claimed)
    when it was; it queries otherwise."""
    medication_id = int(message.plan_key.split(":")[1])
    plan = getattr(message.appointment, "hold_plan", None)
    if plan is None:
        return None
    # In the lines' own order (by drug name), as .first() over a query would pick.
    return next((line for line in plan.lines.all() if line.medication_id == medication_id), None)


def _hold_text(message: Message) -> dict:
    line = message_hold_line(message=message)
    if line is None or line.last_dose_by is None:
        return {}
    drug = line.medication.generic_name
    last = timezone.localtime(line.last_dose_by)
    if last.time() == datetime.min.time() and line.last_dose_day:
        return {"drug": drug, "last_dose": "today", "last_dose_day": date_format(line.last_dose_day, "l j F")}
    return {"drug": drug, "last_dose": f"no later than {_when(last)}", "last_dose_day": ""}


def _context(message: Message, channel: str, batch: "MessageRenderer") -> dict:
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
        "when": batch.said(
            _when, appointment.start, "" if message.kind == K.STAFF_ALERT else patient.language
        ),
        "appointment_link": patient_links.appointment_link(appointment_id=appointment.pk),
        "opt_out_link": patient_links.opt_out_link(patient_id=patient.pk, channel=channel),
        "channel": channel,
        "emergency": patient_text.EMERGENCY,
    }
    if message.kind in (K.CONFIRMATION, K.RESCHEDULED, K.DAY_BEFORE, K.CONFIRM_REQUEST):
        settings_row = batch.settings_row()
        sheet = instruction_sheet(appointment=appointment, settings_row=settings_row, plan_loaded=True)
        fasting = fasting_for(appointment=appointment, settings_row=settings_row)
        context.update(
            fasting_short=(
                f"Nothing to eat after {batch.said(_clock, fasting.solids_until)}; clear drinks only until "
                f"{batch.said(_clock, fasting.clear_liquids_until)}."
                if fasting
                else ""
            ),
            escort_needed=bool(fasting),
            arrive=batch.said(_clock, sheet.arrival),
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


class _BatchUrlizer(Urlizer):
    """Django's urlize, keeping each word's result for a whole batch where Django keeps it for one call:
    urlize splits the text at whitespace and links or escapes each word on its own, so the result for a
    word never depends on the rest of the text."""

    def __init__(self) -> None:
        self._words: dict[tuple, str] = {}

    def handle_word(self, word, *, safe_input, trim_url_limit=None, nofollow=False, autoescape=False):
        key = (word, safe_input, trim_url_limit, nofollow, autoescape)
        done = self._words.get(key)
        if done is None:
            done = self._words[key] = super().handle_word(
                word,
                safe_input=safe_input,
                trim_url_limit=trim_url_limit,
                nofollow=nofollow,
                autoescape=autoescape,
            )
        return done


class MessageRenderer:
    """Renders the messages of one send batch: the safety settings are read once, each template is looked
    up (and, without the cached loader, compiled) once, and the hold plans come loaded with the messages
    (messages_claimed), so a batch costs the same few queries whatever its size."""

    def __init__(self) -> None:
        self._templates: dict[tuple[str, ...], Template | None] = {}
        self._settings_row: SafetySettings | None = None
        self._urlizer = _BatchUrlizer()
        self._said: dict[tuple, str] = {}

    def settings_row(self) -> SafetySettings:
        from procedures.selectors.safety import safety_settings

        if self._settings_row is None:
            self._settings_row = safety_settings()
        return self._settings_row

    def said(self, words: Callable[..., str], *args) -> str:
        """`words(*args)` once per batch: a day's appointments share a handful of dates and clock times."""
        key = (words, *args)
        if key not in self._said:
            self._said[key] = words(*args)
        return self._said[key]

    def _template(self, parts: list[str], language: str, *, required: bool = True) -> Template | None:
        names = [f"messages/{language}/{'/'.join(parts)}"] if language and language != "en" else []
        names.append(f"messages/{'/'.join(parts)}")
        key = tuple(names)
        if key not in self._templates:
            try:
                self._templates[key] = select_template(names)
            except TemplateDoesNotExist:
                self._templates[key] = None
        template = self._templates[key]
        if template is None and required:
            raise TemplateDoesNotExist(", ".join(names))
        return template

    def _text_html(self, text: str) -> str:
        """`{{ text|urlize|linebreaks }}` for the emails without an HTML template of their own, with the words
        the batch repeats linked once (_BatchUrlizer)."""
        linked = mark_safe(self._urlizer(text, nofollow=True, autoescape=True))
        return linebreaks_filter(linked, autoescape=True)

    def render(self, *, message: Message, channel: str) -> Content:
        """The words of one message for one channel. Staff alerts are always in the clinic's language."""
        language = "" if message.kind == K.STAFF_ALERT else message.patient.language
        context = _context(message, channel, self)
        if channel == Channel.SMS:
            text = self._template(["sms", f"{message.kind}.txt"], language).render(context).strip()
            return Content(subject="", text=" ".join(text.split()), html="")
        subject = self._template(["email", f"{message.kind}-subject.txt"], language).render(context)
        text = self._template(["email", f"{message.kind}-body.txt"], language).render(context)
        html_template = self._template(["email", f"{message.kind}-body.html"], language, required=False)
        if html_template is not None:
            html = html_template.render(context)
        else:
            generic = self._template(["email", "_generic-body.html"], "")
            html = generic.render({**context, "text_html": self._text_html(text.strip())})
        subject = " ".join(subject.split())
        return Content(
            subject=subject,
            text=text.strip() + "\n",
            html=html,
            opt_out_link=context["opt_out_link"],
            subject_header=self.said(_subject_header, subject),
        )


def message_render(*, message: Message, channel: str) -> Content:
    """The words of one message for one channel (a batch of one; messages_send renders with one
    MessageRenderer per batch)."""
    return MessageRenderer().render(message=message, channel=channel)


def _subject_header(subject: str) -> str:
    return forbid_multi_line_headers("Subject", subject, settings.DEFAULT_CHARSET)[1]


class _EncodedSubjectEmail(EmailMultiAlternatives):
    """An email whose Subject header comes encoded: Python's RFC 2047 encoder takes time quadratic in the
    subject's length once it holds a non-ASCII character (the day-before subject's dash), and a batch sends
    a handful of different subjects. The header is the one Django writes (_subject_header), in its place."""

    def __init__(self, *args, subject_header: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subject_header = subject_header

    def message(self):
        subject, self.subject = self.subject, ""
        try:
            msg = super().message()
        finally:
            self.subject = subject
        msg.replace_header("Subject", self.subject_header)
        return msg


def message_email(*, message: Message, content: Content | None = None) -> EmailMultiAlternatives:
    """The email as it goes out, with its stable Message-ID (a mailbox keeps one copy of a resend).
    `content` is what message_render already produced for this send, so it is not rendered twice."""
    from procedures.services.calendar import appointment_calendar

    content = content or message_render(message=message, channel=Channel.EMAIL)
    headers = {"Message-ID": message.message_id}
    if message.kind != K.STAFF_ALERT:
        link = content.opt_out_link or patient_links.opt_out_link(
            patient_id=message.patient_id, channel=Channel.EMAIL
        )
        headers["List-Unsubscribe"] = f"<{link}>"
    fields = {"subject": content.subject, "body": content.text, "to": [message.recipient], "headers": headers}
    if content.subject_header:
        email = _EncodedSubjectEmail(**fields, subject_header=content.subject_header)
    else:
        email = EmailMultiAlternatives(**fields)
    if content.html:
        email.attach_alternative(content.html, "text/html")
    if message.kind in (K.CONFIRMATION, K.RESCHEDULED):
        email.attach(
            "appointment.ics", appointment_calendar(appointment=message.appointment), "text/calendar"
        )
    return email


def messages_claimed(*, token: uuid.UUID, message_ids: list[int]) -> list[Message]:
    """A send batch's claimed rows with everything the checks, the templates and the calendar file read, in
    two queries: patient, appointment (procedure, physician, room, hold plan), follow-up, and the plan's
    lines. (After-care reads its procedure record and follow-ups per message: selectors/dayof.after_care.)"""
    lines = Prefetch(
        "appointment__hold_plan__lines", queryset=HoldPlanLine.objects.select_related("medication")
    )
    messages = list(
        # By id first (the primary key), then the token: the token column has no index.
        Message.objects.filter(pk__in=message_ids, claim_token=token)
        .select_related(
            "patient",
            "appointment__procedure_type",
            "appointment__physician",
            "appointment__room",
            "appointment__hold_plan",
            "followup",
        )
        .prefetch_related(lines)
        .order_by("due_at", "id")
    )
    for message in messages:
        # The appointment's patient is the message's (one row, read once); any other is read when used.
        if message.appointment.patient_id == message.patient_id:
            message.appointment.patient = message.patient
    return messages


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
