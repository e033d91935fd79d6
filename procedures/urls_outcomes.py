"""Outcomes: a patient's pain over time, the facet RFA pathway board, and the physician outcomes dashboard
with its CSV (procedures/views/outcomes.py)."""

from django.urls import path

from procedures.views import outcomes

urlpatterns = [
    path("patients/<int:patient_id>/pain/", outcomes.pain_timeline_view, name="pain-timeline"),
    path("outcomes/", outcomes.outcomes_dashboard_view, name="outcomes-dashboard"),
    path("outcomes/export.csv", outcomes.outcomes_dashboard_csv, name="outcomes-dashboard-csv"),
    path("outcomes/rfa/", outcomes.rfa_pathway_view, name="rfa-pathway"),
]
