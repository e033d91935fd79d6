"""Booking (patient → procedure → slot → confirm), the appointment page, and its changes: reschedule,
cancel, confirm, no-show. Every refusal comes from the services and is shown next to what was typed."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_POST

from procedures.access import appointment_get_for_user
from procedures.forms.booking import (
    BookingForm,
    CancelForm,
    RescheduleForm,
    RescheduleSearchForm,
    SlotSearchForm,
)
from procedures.models import Appointment, AppointmentStatus
from procedures.selectors.eligibility import eligibility_warnings
from procedures.selectors.messaging import messages_for_appointment
from procedures.selectors.patients import patient_search
from procedures.selectors.readiness import patient_earliest_safe_start
from procedures.selectors.schedule import (
    appointment_actions,
    appointment_history,
    slot_choices,
)
from procedures.selectors.waitlist import waitlist_entries_for_appointment, waitlist_offers_freed_by
from procedures.services.appointments import TransitionError, appointment_transition
from procedures.services.booking import (
    CANNOT_RESCHEDULE,
    BookingConflict,
    BookingInvalid,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from procedures.services.messaging import message_channel

ALTERNATIVES_SHOWN = 16


def _when(appointment: Appointment) -> str:
    return date_format(timezone.localtime(appointment.start), "l j F Y, H:i")


def _query(**params) -> str:
    """A query string of the non-empty values, for links that carry the booking's choices along."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "", False)})


def _day_url(appointment: Appointment) -> str:
    day = timezone.localdate(appointment.start)
    return f"{reverse('schedule-day')}?date={day:%Y-%m-%d}#appt-{appointment.pk}"


# --- Booking -----------------------------------------------------------------------------------------


def _confirm_page(
    request: HttpRequest,
    form: BookingForm,
    *,
    patient,
    procedure_type,
    physician,
    start,
    sedated: bool,
) -> HttpResponse:
    """The confirm step; after a refusal it also lists other free times that day with that physician."""
    alternatives = None
    day = timezone.localdate(start) if start else None
    if form.is_bound and form.non_field_errors() and procedure_type and day:
        alternatives = slot_choices(
            procedure_type=procedure_type,
            date_from=day,
            date_to=day,
            physician=physician,
            patient=patient,
            sedated=sedated,
            limit=ALTERNATIVES_SHOWN,
        )
    base_query = _query(
        patient=patient.pk if patient else "",
        procedure_type=procedure_type.pk if procedure_type else "",
        sedated="on" if sedated else "",
    )
    back_query = _query(
        patient=patient.pk if patient else "",
        procedure_type=procedure_type.pk if procedure_type else "",
        sedated="on" if sedated else "",
        physician=physician.pk if physician else "",
        date_from=day.isoformat() if day else "",
        date_to=day.isoformat() if day else "",
        find="1",
    )
    # What the clerk can tell the patient now: coverage warnings (a physician reviews them later, on the
    # checklist; they do not block booking) and, when the patient's medications set one, the earliest safe date.
    warnings, earliest, earliest_reason = [], None, ""
    if patient and procedure_type:
        if start:
            warnings = eligibility_warnings(patient=patient, procedure_type=procedure_type, start=start)
        earliest, earliest_reason = patient_earliest_safe_start(
            patient=patient, procedure_type=procedure_type, now=timezone.now()
        )
    return render(
        request,
        "procedures/appointments/confirm.html",
        {
            "form": form,
            "patient": patient,
            "procedure_type": procedure_type,
            "alternatives": alternatives,
            "base_query": base_query,
            "back_query": back_query,
            "eligibility_warnings": warnings,
            "earliest_safe_start": earliest,
            "earliest_safe_reason": earliest_reason,
        },
    )


@permission_required("procedures.add_appointment", raise_exception=True)
def appointment_new(request: HttpRequest) -> HttpResponse:
    """GET: find the patient, then search slots, then confirm one (?step=confirm). POST: book it."""
    if request.method == "POST":
        form = BookingForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                appointment = appointment_book(request=form.booking_request(), actor=request.user)
            except (BookingConflict, BookingInvalid) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Booked {appointment.procedure_type} for {appointment.patient.full_name} on "
                    f"{_when(appointment)} with {appointment.physician} in {appointment.room}.",
                )
                return redirect(_day_url(appointment))
        data = form.cleaned_data
        return _confirm_page(
            request,
            form,
            patient=data.get("patient"),
            procedure_type=data.get("procedure_type"),
            physician=data.get("physician"),
            start=data.get("start"),
            sedated=data.get("sedated", False),
        )

    search = SlotSearchForm(request.GET, user=request.user)
    valid = search.is_valid()
    data = search.cleaned_data  # the fields that were fine, even when another was not
    patient, procedure_type = data.get("patient"), data.get("procedure_type")
    if (
        valid
        and request.GET.get("step") == "confirm"
        and patient
        and procedure_type
        and data.get("start")
        and data.get("physician")
    ):
        initial = BookingForm.initial_from(start=data["start"], physician=data["physician"])
        initial.update(patient=patient.pk, procedure_type=procedure_type.pk, sedated=data["sedated"])
        form = BookingForm(initial=initial, user=request.user)
        return _confirm_page(
            request,
            form,
            patient=patient,
            procedure_type=procedure_type,
            physician=data["physician"],
            start=data["start"],
            sedated=data["sedated"],
        )

    query = request.GET.get("q", "").strip()
    context = {
        "search": search,
        "patient": patient,
        "patient_query": query,  # not "query": the menu bar's search box shows that one
        "patients": list(patient_search(query=query)) if query and not patient else [],
        "choices": None,
    }
    if search.ready():
        context["choices"] = slot_choices(
            procedure_type=procedure_type,
            date_from=data["date_from"],
            date_to=data["date_to"],
            physician=data["physician"],
            patient=patient,
            sedated=data["sedated"],
            requested=data["start"],
        )
        context["base_query"] = _query(
            patient=patient.pk, procedure_type=procedure_type.pk, sedated="on" if data["sedated"] else ""
        )
    return render(request, "procedures/appointments/book.html", context)


# --- The appointment page and its changes ------------------------------------------------------------


def _detail_page(
    request: HttpRequest, appointment: Appointment, *, cancel_form: CancelForm | None = None
) -> HttpResponse:
    return render(
        request,
        "procedures/appointments/detail.html",
        {
            "appt": appointment,
            "history": list(appointment_history(appointment_id=appointment.pk)),
            "actions": appointment_actions(appointment=appointment),
            "waitlist_entries": list(waitlist_entries_for_appointment(appointment_id=appointment.pk)),
            "offers": list(waitlist_offers_freed_by(appointment_id=appointment.pk)),
            "cancel_form": cancel_form or CancelForm(),
            "appointment_messages": (
                list(messages_for_appointment(appointment_id=appointment.pk))
                if request.user.has_perm("procedures.view_message")
                else None
            ),
            "message_channel": message_channel(patient=appointment.patient),
        },
    )


@permission_required("procedures.view_appointment", raise_exception=True)
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    return _detail_page(request, appointment)


@require_POST
@permission_required("procedures.change_appointment", raise_exception=True)
def appointment_cancel_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id, perm="change")
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            appointment_cancel(
                appointment_id=appointment.pk, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except TransitionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Cancelled {appointment.procedure_type} for {appointment.patient.full_name} on "
                f"{_when(appointment)}.",
            )
            return redirect("appointment-detail", appointment_id=appointment.pk)
    return _detail_page(request, appointment, cancel_form=form)


def _transition(request: HttpRequest, appointment_id: int, *, to_status: str, done: str) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id, perm="change")
    try:
        appointment_transition(appointment_id=appointment.pk, to_status=to_status, actor=request.user)
    except TransitionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(patient=appointment.patient.full_name, when=_when(appointment)))
    return redirect("appointment-detail", appointment_id=appointment.pk)


@require_POST
@permission_required("procedures.change_appointment", raise_exception=True)
def appointment_confirm(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _transition(
        request,
        appointment_id,
        to_status=AppointmentStatus.CONFIRMED,
        done="{patient} confirmed for {when}.",
    )


@require_POST
@permission_required("procedures.change_appointment", raise_exception=True)
def appointment_no_show(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _transition(
        request,
        appointment_id,
        to_status=AppointmentStatus.NO_SHOW,
        done="{patient} marked as a no-show for {when}.",
    )


@permission_required("procedures.change_appointment", raise_exception=True)
def appointment_reschedule_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """GET: search free times (the appointment's own time counts as free), confirm one. POST: move it."""
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id, perm="change")
    if not appointment_actions(appointment=appointment)["reschedule"]:
        messages.error(request, CANNOT_RESCHEDULE.format(status=appointment.get_status_display().lower()))
        return redirect("appointment-detail", appointment_id=appointment.pk)

    if request.method == "POST":
        form = RescheduleForm(request.POST, user=request.user)
        if form.is_valid():
            old = _when(appointment)
            try:
                moved = appointment_reschedule(
                    appointment_id=appointment.pk,
                    start=form.cleaned_data["start"],
                    physician=form.cleaned_data["physician"],
                    overbook_reason=form.cleaned_data["overbook_reason"],
                    actor=request.user,
                )
            except (BookingConflict, BookingInvalid) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Moved {moved.patient.full_name} from {old} to {_when(moved)} with {moved.physician}.",
                )
                return redirect("appointment-detail", appointment_id=appointment.pk)
        data = form.cleaned_data
        return _reschedule_page(
            request, appointment, form=form, physician=data.get("physician"), start=data.get("start")
        )

    search = RescheduleSearchForm(request.GET, user=request.user, default_physician=appointment.physician)
    valid = search.is_valid()
    data = search.cleaned_data if valid else {}
    if valid and request.GET.get("step") == "confirm" and data.get("start") and data.get("physician"):
        form = RescheduleForm(
            initial=RescheduleForm.initial_from(start=data["start"], physician=data["physician"]),
            user=request.user,
        )
        return _reschedule_page(
            request, appointment, form=form, physician=data["physician"], start=data["start"]
        )
    choices = None
    if valid:
        choices = slot_choices(
            procedure_type=appointment.procedure_type,
            date_from=data["date_from"],
            date_to=data["date_to"],
            physician=data["physician"],
            patient=appointment.patient,
            sedated=appointment.sedation_planned,
            requested=data["start"],
            ignore_appointment_id=appointment.pk,
        )
    return render(
        request,
        "procedures/appointments/reschedule.html",
        {"appt": appointment, "search": search, "choices": choices, "base_query": ""},
    )


def _reschedule_page(
    request: HttpRequest, appointment: Appointment, *, form: RescheduleForm, physician, start
) -> HttpResponse:
    alternatives = None
    day = timezone.localdate(start) if start else None
    if form.is_bound and form.non_field_errors() and day:
        alternatives = slot_choices(
            procedure_type=appointment.procedure_type,
            date_from=day,
            date_to=day,
            physician=physician,
            patient=appointment.patient,
            sedated=appointment.sedation_planned,
            ignore_appointment_id=appointment.pk,
            limit=ALTERNATIVES_SHOWN,
        )
    back_query = _query(
        physician=physician.pk if physician else "",
        date_from=day.isoformat() if day else "",
        date_to=day.isoformat() if day else "",
    )
    return render(
        request,
        "procedures/appointments/reschedule_confirm.html",
        {
            "appt": appointment,
            "form": form,
            "alternatives": alternatives,
            "base_query": "",
            "back_query": back_query,
        },
    )
