"""The waitlist: patients who want an earlier date, and the freed slots offered to them."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from procedures.access import (
    appointment_get_for_user,
    patient_get_for_user,
    waitlist_entry_get_for_user,
    waitlist_offer_get_for_user,
)
from procedures.forms.waitlist import WaitlistAddForm
from procedures.selectors.waitlist import waitlist_open_offers, waitlist_waiting_entries
from procedures.services.waitlist import (
    WaitlistError,
    waitlist_add,
    waitlist_offer_accept,
    waitlist_offer_decline,
    waitlist_remove,
)


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def waitlist_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "procedures/waitlist/index.html",
        {"offers": list(waitlist_open_offers()), "entries": list(waitlist_waiting_entries())},
    )


@permission_required("procedures.add_appointment", raise_exception=True)
def waitlist_add_view(request: HttpRequest) -> HttpResponse:
    """`/waitlist/add/?patient=<id>` or `?appointment=<id>` (from the patient or appointment page)."""
    if request.method == "POST":
        form = WaitlistAddForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                waitlist_add(
                    patient=data["patient"],
                    procedure_type=data["procedure_type"],
                    physician=data["physician"],
                    appointment=data["appointment"],
                    notes=data["notes"],
                    actor=request.user,
                )
            except WaitlistError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"{data['patient'].full_name} is on the waitlist for {data['procedure_type']}."
                )
                return redirect("waitlist")
        patient = form.cleaned_data.get("patient")
        appointment = form.cleaned_data.get("appointment")
    else:
        appointment = None
        if request.GET.get("appointment", "").isdigit():
            appointment = appointment_get_for_user(
                user=request.user, appointment_id=int(request.GET["appointment"])
            )
            patient = appointment.patient
        else:
            patient_id = request.GET.get("patient", "")
            patient = patient_get_for_user(
                user=request.user, patient_id=int(patient_id) if patient_id.isdigit() else 0
            )
        initial = {"patient": patient.pk}
        if appointment is not None:
            initial.update(appointment=appointment.pk, procedure_type=appointment.procedure_type_id)
        form = WaitlistAddForm(initial=initial, user=request.user)
    return render(
        request,
        "procedures/waitlist/add.html",
        {"form": form, "patient": patient, "appt": appointment},
    )


@require_POST
@permission_required("procedures.add_appointment", raise_exception=True)
def waitlist_offer_accept_view(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = waitlist_offer_get_for_user(user=request.user, offer_id=offer_id, perm="add")
    try:
        appointment = waitlist_offer_accept(offer_id=offer.pk, actor=request.user)
    except WaitlistError as exc:
        messages.error(request, f"{offer.entry.patient.full_name}: {exc}")
        return redirect("waitlist")
    when = date_format(timezone.localtime(appointment.start), "l j F Y, H:i")
    messages.success(
        request, f"{appointment.patient.full_name} is booked for {when} with {appointment.physician}."
    )
    return redirect("appointment-detail", appointment_id=appointment.pk)


@require_POST
@permission_required("procedures.change_appointment", raise_exception=True)
def waitlist_offer_decline_view(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = waitlist_offer_get_for_user(user=request.user, offer_id=offer_id)
    try:
        waitlist_offer_decline(offer_id=offer.pk, actor=request.user)
    except WaitlistError as exc:
        messages.error(request, f"{offer.entry.patient.full_name}: {exc}")
    else:
        messages.info(
            request, f"{offer.entry.patient.full_name} declined the offer; they stay on the waitlist."
        )
    return redirect("waitlist")


@require_POST
@permission_required("procedures.change_appointment", raise_exception=True)
def waitlist_remove_view(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = waitlist_entry_get_for_user(user=request.user, entry_id=entry_id)
    waitlist_remove(entry_id=entry.pk)
    messages.info(request, f"{entry.patient.full_name} is off the waitlist for {entry.procedure_type}.")
    return redirect("waitlist")
