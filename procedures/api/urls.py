from django.urls import path
from rest_framework.routers import DefaultRouter

from procedures.api import messaging, outcomes, views

# Basenames start with "api-" where the pages already use the name (patient-list, patient-detail,
# patient-medication-stop): URL names are global, and a shared one makes {% url %} and the API root
# link to the wrong view.
router = DefaultRouter()
router.register("patients", views.PatientViewSet, basename="api-patient")
router.register(
    r"patients/(?P<patient_id>[0-9]+)/medications",
    views.PatientMedicationViewSet,
    basename="api-patient-medication",
)
router.register("procedure-types", views.ProcedureTypeViewSet, basename="procedure-type")
router.register("physicians", views.PhysicianViewSet, basename="physician")
router.register("rooms", views.RoomViewSet, basename="room")
router.register("appointments", views.AppointmentViewSet, basename="api-appointment")
router.register("pain-scores", views.PainScoreViewSet, basename="api-pain-score")
router.register("instrument-scores", views.InstrumentScoreViewSet, basename="api-instrument-score")
router.register("messages", messaging.MessageViewSet, basename="api-message")

urlpatterns = [
    path("slots/", views.SlotListView.as_view(), name="api-slot-list"),
    path("recovery-board/", views.RecoveryBoardView.as_view(), name="api-recovery-board"),
    path("outcomes/", outcomes.OutcomesDashboardView.as_view(), name="api-outcomes"),
    *router.urls,
]
