from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from procedures.access import patient_get_for_user
from procedures.forms.patients import PatientForm
from procedures.selectors.patients import patient_search
from procedures.selectors.schedule import appointment_list_for_patient
from procedures.services.patients import patient_create, patient_update


@permission_required("procedures.view_patient", raise_exception=True)
def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    patients = list(patient_search(query=query)) if query else []
    return render(request, "procedures/patients/list.html", {"query": query, "patients": patients})


@permission_required("procedures.view_patient", raise_exception=True)
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    appointments = appointment_list_for_patient(patient_id=patient.pk)
    return render(
        request, "procedures/patients/detail.html", {"patient": patient, "appointments": appointments}
    )


def _save_form(request: HttpRequest, form: PatientForm, save) -> HttpResponse | None:
    if not form.is_valid():
        return None
    try:
        patient = save(**form.cleaned_data)
    except ValidationError as exc:
        # Model-level rules the form could not see (e.g. a duplicate MRN raced in): show them on the form.
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    messages.success(request, f"Saved {patient.full_name} ({patient.mrn}).")
    return redirect("patient-detail", patient_id=patient.pk)


@permission_required("procedures.add_patient", raise_exception=True)
def patient_new(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None)
    if request.method == "POST" and (response := _save_form(request, form, patient_create)):
        return response
    return render(request, "procedures/patients/form.html", {"form": form, "title": "New patient"})


@permission_required("procedures.change_patient", raise_exception=True)
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST":

        def save(**fields):
            return patient_update(patient_id=patient.pk, **fields)

        if response := _save_form(request, form, save):
            return response
    return render(
        request,
        "procedures/patients/form.html",
        {"form": form, "title": f"Edit {patient.full_name}", "patient": patient},
    )
