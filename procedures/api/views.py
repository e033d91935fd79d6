from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse
from rest_framework.views import APIView

from procedures.access import appointment_get_for_user, patient_get_for_user
from procedures.api.base import AuditActorMixin
from procedures.api.exceptions import service_errors
from procedures.api.serializers import (
    ID_MAX,
    AppointmentCancelSerializer,
    AppointmentCreateSerializer,
    AppointmentFilterSerializer,
    AppointmentRescheduleSerializer,
    AppointmentSerializer,
    ErrorDetailSerializer,
    PatientSerializer,
    PhysicianSerializer,
    ProcedureTypeSerializer,
    RoomSerializer,
    SlotQuerySerializer,
    SlotSearchResultSerializer,
)
from procedures.models import Appointment, Patient, PhysicianProfile, ProcedureRoom, ProcedureType
from procedures.selectors.patients import patient_search
from procedures.selectors.schedule import day_bounds
from procedures.selectors.slots import slot_search
from procedures.services.booking import (
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from procedures.services.calendar import appointment_calendar
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


# --- Scheduling -----------------------------------------------------------------------------------

CONFLICT = OpenApiResponse(ErrorDetailSerializer, description="Refused, nothing changed; `detail` says why.")
INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT, description="Invalid input: each offending field maps to a list of messages."
)
NOT_FOUND = OpenApiResponse(ErrorDetailSerializer, description="No appointment with that id.")


class SlotListView(AuditActorMixin, APIView):
    """Bookable starts for a procedure type, in order; each names the physician and the room it would use.
    Booking re-checks everything, so a slot taken in the meantime is refused with 409."""

    required_permissions = ["procedures.view_appointment"]

    @extend_schema(
        operation_id="v1_slots_list",
        parameters=[SlotQuerySerializer],
        responses={200: SlotSearchResultSerializer, 400: INVALID},
    )
    def get(self, request):
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        result = slot_search(
            procedure_type=params["procedure_type"],
            date_from=params["date_from"],
            date_to=params["date_to"],
            physician=params.get("physician"),
            patient=params.get("patient"),
            sedated=params["sedated"],
            limit=params["limit"],
        )
        return Response(SlotSearchResultSerializer(result).data)


class ICalendarRenderer(BaseRenderer):
    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else str(data).encode()


@extend_schema_view(
    list=extend_schema(
        description="Appointments in start order, filtered by patient, physician and clinic-local date.",
        parameters=[AppointmentFilterSerializer],
        responses={200: AppointmentSerializer(many=True), 400: INVALID},
    ),
    retrieve=extend_schema(
        description="One appointment, with its resources by id and its times.",
        responses={200: AppointmentSerializer, 404: NOT_FOUND},
    ),
)
class AppointmentViewSet(
    AuditActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Appointments. Times are ISO 8601 with the clinic's offset. Changes go through the actions
    (cancel, reschedule), never a PUT/PATCH, so every change passes the booking rules."""

    serializer_class = AppointmentSerializer
    queryset = Appointment.objects.all()
    lookup_value_regex = "[0-9]+"

    # Reads need view_appointment and booking add_appointment (RolePermission's model rules); cancelling
    # and moving are changes to an existing appointment.
    _action_permissions = {
        "cancel": ["procedures.change_appointment"],
        "reschedule": ["procedures.change_appointment"],
    }

    _action_serializers = {
        "create": AppointmentCreateSerializer,
        "cancel": AppointmentCancelSerializer,
        "reschedule": AppointmentRescheduleSerializer,
    }

    @property
    def required_permissions(self) -> list[str] | None:
        return self._action_permissions.get(self.action)

    def get_serializer_class(self):
        """The input serializer of each write (the browsable API's forms); replies use AppointmentSerializer."""
        return self._action_serializers.get(self.action, AppointmentSerializer)

    def get_queryset(self):
        # Related records appear by id, read from the row's own columns: one query for the whole page.
        return Appointment.objects.order_by("start", "id")

    def filter_queryset(self, queryset):
        # Not in get_queryset: the permission check calls that, and the filters must not answer (e.g.
        # "There is no patient with id …") before the caller is known to be allowed to list appointments.
        qs = super().filter_queryset(queryset)
        if self.action != "list":
            return qs
        filters = AppointmentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        if "patient" in params:
            qs = qs.filter(patient=params["patient"])
        if "physician" in params:
            qs = qs.filter(physician=params["physician"])
        if "date" in params:
            start, end = day_bounds(day=params["date"])
            qs = qs.filter(start__gte=start, start__lt=end)
        return qs

    def get_object(self) -> Appointment:
        appointment_id = int(self.kwargs["pk"])
        if appointment_id > ID_MAX:
            raise Http404("No appointment with that id.")
        perm = "change" if self.action in self._action_permissions else "view"
        return appointment_get_for_user(user=self.request.user, appointment_id=appointment_id, perm=perm)

    @extend_schema(
        description=(
            "Book a procedure. Without `room`, the first free room whose imaging fits is assigned, and a "
            "recovery bay is always assigned. A conflict (physician, room, bay or patient taken, patient not "
            "ready) is 409 with `detail`; bad input (past or out-of-hours start, unknown id, naive time) is "
            "400 naming the field. Nothing is written in either case."
        ),
        request=AppointmentCreateSerializer,
        responses={201: AppointmentSerializer, 400: INVALID, 409: CONFLICT},
    )
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        booking = BookingRequest(
            patient=data["patient"],
            procedure_type=data["procedure_type"],
            physician=data["physician"],
            start=data["start"],
            room=data["room"],
            sedated=data["sedation_planned"],
            side=data["side"],
            levels=data["levels"],
            notes=data["notes"],
            overbook_reason=data["overbook_reason"],
        )
        with service_errors():
            appointment = appointment_book(request=booking, actor=request.user)
        location = api_reverse("api-appointment-detail", args=[appointment.pk], request=request)
        return Response(
            AppointmentSerializer(appointment).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )

    @extend_schema(
        request=AppointmentCancelSerializer,
        responses={200: AppointmentSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel with a reason. A lifecycle refusal (already discharged, already cancelled) is 409."""
        appointment = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            appointment = appointment_cancel(
                appointment_id=appointment.pk, actor=request.user, reason=serializer.validated_data["reason"]
            )
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(
        request=AppointmentRescheduleSerializer,
        responses={200: AppointmentSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        """Move to a new start (optionally another physician or room); the booking rules apply as for a
        new booking. A confirmed appointment becomes scheduled again until the patient confirms."""
        appointment = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with service_errors():
            appointment = appointment_reschedule(
                appointment_id=appointment.pk,
                start=data["start"],
                actor=request.user,
                physician=data["physician"],
                room=data["room"],
                overbook_reason=data["overbook_reason"],
            )
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(
        request=None,
        responses={
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="RFC 5545 calendar file."),
            (404, "application/json"): NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[ICalendarRenderer, JSONRenderer])
    def ics(self, request, pk=None):
        """The appointment as an .ics file (the patient's version, as attached to the confirmation email)."""
        appointment = self.get_object()
        response = HttpResponse(
            appointment_calendar(appointment=appointment), content_type="text/calendar; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="appointment-{appointment.pk}.ics"'
        return response

    def handle_exception(self, exc):
        # An error from the .ics action is JSON like every other error, even for `Accept: text/calendar`.
        response = super().handle_exception(exc)
        if isinstance(getattr(self.request, "accepted_renderer", None), ICalendarRenderer):
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return response
