"""Pages a patient opens from a message, without logging in (their appointment, a check-in, opting out),
and the staff call list. A tampered or expired link gets a kind page and records nothing."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from procedures import patient_links
from procedures.forms.checkins import CallResolveForm, CheckInForm
from procedures.models import (
    RESCHEDULABLE_STATUSES,
    Appointment,
    CallListItem,
    Channel,
    FollowUp,
    FollowUpKind,
    Instrument,
    Patient,
)
from procedures.rules import patient_text
from procedures.selectors.checkins import call_list
from procedures.selectors.instructions import instruction_sheet
from procedures.selectors.outcomes import outcome_settings
from procedures.services import checkins
from procedures.services.calendar import appointment_calendar


def _link_problem(request: HttpRequest, error: patient_links.LinkInvalid) -> HttpResponse:
    return render(
        request,
        "procedures/public/link_problem.html",
        {"expired": error.expired, "clinic_phone": settings.CLINIC_PHONE},
        status=410 if error.expired else 400,
    )


def _public(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, {"clinic_phone": settings.CLINIC_PHONE, **context}, status=status)
    # Links carry the patient's access: keep them out of caches and search engines. (The site-wide
    # same-origin referrer policy already keeps them from other sites; no-referrer would make browsers
    # send "Origin: null" with the form, which CSRF protection rightly refuses.)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_not_required
def patient_appointment_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment_id = patient_links.appointment_from_token(token)
    except patient_links.LinkInvalid as error:
        return _link_problem(request, error)
    appointment = get_object_or_404(
        Appointment.objects.select_related("patient", "procedure_type"), pk=appointment_id
    )
    notice = error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "confirm":
                checkins.appointment_patient_confirm(appointment_id=appointment.pk)
                notice = "Thank you. You are confirmed. We look forward to seeing you."
            elif action == "reschedule":
                checkins.appointment_reschedule_request(appointment_id=appointment.pk)
                notice = (
                    f"Thank you. We will call you to find a new time. If you do not hear from us within one "
                    f"working day, call {settings.CLINIC_PHONE}."
                )
            else:
                error = "Please use one of the two buttons."
        except checkins.CheckInError as exc:
            error = str(exc)
        appointment.refresh_from_db()
    sheet = instruction_sheet(appointment=appointment)
    return _public(
        request,
        "procedures/public/appointment.html",
        {
            "appointment": appointment,
            "sheet": sheet,
            "token": token,
            "notice": notice,
            "error": error,
            "can_answer": appointment.status in RESCHEDULABLE_STATUSES and appointment.start > timezone.now(),
        },
        status=400 if error else 200,
    )


@login_not_required
def patient_appointment_ics(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment_id = patient_links.appointment_from_token(token)
    except patient_links.LinkInvalid as error:
        return _link_problem(request, error)
    appointment = get_object_or_404(Appointment, pk=appointment_id)
    response = HttpResponse(appointment_calendar(appointment=appointment), content_type="text/calendar")
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    response["Cache-Control"] = "no-store"
    return response


@login_not_required
def patient_checkin_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        followup_id = patient_links.followup_from_token(token)
    except patient_links.LinkInvalid as error:
        return _link_problem(request, error)
    followup = get_object_or_404(
        FollowUp.objects.select_related("appointment__patient", "appointment__procedure_type"), pk=followup_id
    )
    closed = checkins.checkin_open(followup=followup)
    if closed:
        return _public(request, "procedures/public/checkin_closed.html", {"reason": closed})
    # PGIC asks about the change since the procedure: not for the hours-after-a-block diary points.
    ask_pgic = followup.kind == FollowUpKind.CHECK_IN and Instrument.PGIC in outcome_settings().instruments
    form = CheckInForm(request.POST or None, ask_pgic=ask_pgic)
    if request.method == "POST" and form.is_valid():
        try:
            response = checkins.checkin_submit(followup_id=followup.pk, answers=form.answers())
        except checkins.CheckInError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return _public(
                request,
                "procedures/public/checkin_thanks.html",
                {
                    "response": response,
                    "red_flag": response.has_red_flag,
                    "advice": patient_text.RED_FLAG_ADVICE.format(phone=settings.CLINIC_PHONE),
                },
            )
    return _public(
        request,
        "procedures/public/checkin.html",
        {"form": form, "followup": followup, "appointment": followup.appointment},
        status=400 if form.errors else 200,
    )


@login_not_required
def patient_opt_out_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        opt_out = patient_links.opt_out_from_token(token)
    except patient_links.LinkInvalid as error:
        return _link_problem(request, error)
    patient = get_object_or_404(Patient, pk=opt_out.patient_id)
    channel_name = "text messages" if opt_out.channel == Channel.SMS else "emails"
    done = False
    if request.method == "POST":
        checkins.patient_opt_out(patient_id=patient.pk, channel=opt_out.channel)
        done = True
    return _public(
        request,
        "procedures/public/opt_out.html",
        {"channel_name": channel_name, "done": done, "token": token},
    )


# --- staff: the call list ----------------------------------------------------------------------------


@permission_required("procedures.view_calllistitem", raise_exception=True)
def call_list_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "procedures/checkins/call_list.html",
        {"items": call_list(), "can_resolve": request.user.has_perm("procedures.change_calllistitem")},
    )


@require_POST
@permission_required("procedures.change_calllistitem", raise_exception=True)
def call_resolve_view(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(CallListItem, pk=item_id)
    form = CallResolveForm(request.POST)
    if form.is_valid():
        try:
            checkins.call_item_resolve(
                item_id=item.pk, actor=request.user, outcome=form.cleaned_data["outcome"]
            )
        except checkins.CheckInError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Call to {item.patient.full_name} marked as done.")
    else:
        messages.error(request, checkins.OUTCOME_REQUIRED)
    return redirect("call-list")
