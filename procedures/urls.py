from django.urls import path

from procedures.views import home, patients

urlpatterns = [
    path("", home.home, name="home"),
    path("patients/", patients.patient_list, name="patient-list"),
    path("patients/new/", patients.patient_new, name="patient-new"),
    path("patients/<int:patient_id>/", patients.patient_detail, name="patient-detail"),
    path("patients/<int:patient_id>/edit/", patients.patient_edit, name="patient-edit"),
]
