"""Outcome pages: one patient's pain over time (with a clinic entry form) and the facet RFA pathway board."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from procedures.access import patient_get_for_user
from procedures.forms.outcomes import PainScoreForm
from procedures.models import PainSource
from procedures.selectors.outcomes import pain_timeline, rfa_pathway
from procedures.services.outcomes import OutcomeError, pain_score_record


@permission_required("procedures.view_painscore", raise_exception=True)
def pain_timeline_view(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    can_add = request.user.has_perm("procedures.add_painscore")
    form = PainScoreForm(request.POST or None, patient=patient)
    if request.method == "POST":
        if not can_add:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                pain_score_record(
                    patient=patient,
                    score=data["score"],
                    percent_relief=data["percent_relief"],
                    recorded_at=data["recorded_at"],
                    appointment=data["appointment"],
                    source=PainSource.CLINIC,
                    actor=request.user,
                )
            except OutcomeError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, f"Pain score {data['score']}/10 recorded.")
                return redirect("pain-timeline", patient_id=patient.pk)
    timeline = pain_timeline(patient_id=patient.pk)
    return render(
        request,
        "procedures/outcomes/pain_timeline.html",
        {"patient": patient, "timeline": timeline, "form": form, "can_add": can_add},
    )


@permission_required("procedures.view_appointment", raise_exception=True)
def rfa_pathway_view(request: HttpRequest) -> HttpResponse:
    board = rfa_pathway(today=timezone.localdate())
    return render(request, "procedures/outcomes/rfa_pathway.html", {"board": board})
