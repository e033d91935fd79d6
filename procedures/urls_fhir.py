"""FHIR R4 export, mounted at /fhir/ (procedures/fhir/views.py). The Patient's FHIR id is "patient-12";
the bare patient number (12) is accepted too, as the API uses it."""

from django.urls import path, re_path

from procedures.fhir import views

everything = views.PatientEverythingView.as_view()

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("Patient/patient-<int:patient_id>/$everything", everything, name="fhir-patient-everything"),
    path("Patient/<int:patient_id>/$everything", everything, name="fhir-patient-everything-by-number"),
    re_path(r"^(?P<path>.*)$", views.UnknownView.as_view(), name="fhir-unknown"),
]
