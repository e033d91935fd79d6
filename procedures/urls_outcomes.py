"""Outcomes: a patient's pain over time and the facet RFA pathway board (procedures/views/outcomes.py)."""

from django.urls import path

from procedures.views import outcomes

urlpatterns = [
    path("patients/<int:patient_id>/pain/", outcomes.pain_timeline_view, name="pain-timeline"),
    path("outcomes/rfa/", outcomes.rfa_pathway_view, name="rfa-pathway"),
]
