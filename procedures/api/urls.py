from django.urls import path
from rest_framework.routers import DefaultRouter

from procedures.api import views

router = DefaultRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("procedure-types", views.ProcedureTypeViewSet, basename="procedure-type")
router.register("physicians", views.PhysicianViewSet, basename="physician")
router.register("rooms", views.RoomViewSet, basename="room")
router.register("appointments", views.AppointmentViewSet, basename="api-appointment")

urlpatterns = [
    path("slots/", views.SlotListView.as_view(), name="api-slot-list"),
    *router.urls,
]
