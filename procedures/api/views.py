from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError

from procedures.access import patient_get_for_user
from procedures.api.base import AuditActorMixin
from procedures.api.serializers import (
    PatientSerializer,
    PhysicianSerializer,
    ProcedureTypeSerializer,
    RoomSerializer,
)
from procedures.models import Patient, PhysicianProfile, ProcedureRoom, ProcedureType
from procedures.selectors.patients import patient_search
from procedures.services.patients import patient_create, patient_update


class PatientViewSet(
    AuditActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients. `?search=` matches a name, an MRN or a date of birth (YYYY-MM-DD)."""

    serializer_class = PatientSerializer
    queryset = Patient.objects.all()

    def get_queryset(self):
        query = self.request.query_params.get("search", "").strip()
        if query and self.action == "list":
            ids = patient_search(query=query, limit=200).values_list("id", flat=True)
            return Patient.objects.filter(id__in=list(ids))
        return Patient.objects.all()

    def get_object(self):
        return patient_get_for_user(user=self.request.user, patient_id=self.kwargs["pk"])

    def perform_create(self, serializer):
        try:
            serializer.instance = patient_create(**serializer.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc

    def perform_update(self, serializer):
        try:
            serializer.instance = patient_update(
                patient_id=serializer.instance.pk, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc


class ProcedureTypeViewSet(AuditActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ProcedureTypeSerializer
    queryset = ProcedureType.objects.filter(active=True)


class PhysicianViewSet(AuditActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PhysicianSerializer
    queryset = PhysicianProfile.objects.filter(active=True)


class RoomViewSet(AuditActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RoomSerializer
    queryset = ProcedureRoom.objects.filter(active=True)
