from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Prefetch, prefetch_related_objects
from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse
from rest_framework.views import APIView

from procedures.access import appointment_get_for_user, patient_get_for_user
from procedures.api.base import AuditActorMixin
from procedures.api.exceptions import dayof_errors, safety_errors, service_errors
from procedures.api.serializers import (
    ID_MAX,
    AppointmentCancelSerializer,
    AppointmentCreateSerializer,
    AppointmentDetailSerializer,
    AppointmentFilterSerializer,
    AppointmentFinishedSerializer,
    AppointmentRescheduleSerializer,
    AppointmentSerializer,
    CheckInSerializer,
    ChecklistMarkSerializer,
    ClearanceSerializer,
    DiaryInputSerializer,
    DischargeInputSerializer,
    ErrorDetailSerializer,
    HoldOverrideSerializer,
    InstrumentScoreSerializer,
    PainScoreSerializer,
    PatientMedicationCreateSerializer,
    PatientMedicationFilterSerializer,
    PatientMedicationSerializer,
    PatientSerializer,
    PhysicianSerializer,
    ProcedureFinishSerializer,
    ProcedureRecordSerializer,
    ProcedureStartSerializer,
    ProcedureTypeSerializer,
    RecoveryBoardSerializer,
    RoomSerializer,
    SafetyOverrideSerializer,
    SlotQuerySerializer,
    SlotSearchResultSerializer,
    VitalsInputSerializer,
)
from procedures.models import (
    Appointment,
    BlockDiaryEntry,
    ChecklistItem,
    ChecklistKind,
    HoldPlan,
    HoldPlanLine,
    InstrumentScore,
    PainScore,
    Patient,
    PatientMedication,
    PhysicianProfile,
    ProcedureRecord,
    ProcedureRoom,
    ProcedureType,
    SteroidDose,
    VitalsEntry,
)
from procedures.selectors.dayof import free_bays, recovery_board
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
from procedures.services.dayof import (
    appointment_check_in,
    diary_record,
    patient_discharge,
    procedure_finish,
    procedure_start,
    vitals_record,
)
from procedures.services.instruments import instrument_score_record
from procedures.services.medications import patient_medication_add, patient_medication_stop
from procedures.services.outcomes import OutcomeError, pain_score_record
from procedures.services.patients import patient_create, patient_update
from procedures.services.safety import (
    checklist_mark,
    clearance_record,
    hold_line_override,
    hold_plan_confirm,
    holds_patient_confirm,
    safety_override,
)


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

# --- Pre-procedure safety: shared pieces ---

FORBIDDEN = OpenApiResponse(
    ErrorDetailSerializer,
    description="Not allowed: `detail` says who may (e.g. “Only a physician can confirm a hold plan.”).",
)
SAFETY_INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "Refused, nothing changed. A malformed field maps to a list of messages; a safety rule answers "
        '{"detail": message} (no reason given, a hold outside 0–720 hours, an INR above the clinic\'s '
        "limit, a missing or impossible value)."
    ),
)
SAFETY_CONFLICT = OpenApiResponse(
    ErrorDetailSerializer,
    description=(
        "The appointment or its plan does not allow this now (closed appointment, no hold plan yet, a drug "
        "without a clinic rule, nothing open to override); `detail` says why."
    ),
)
NO_HOLD_LINE = "No hold line with that id on this appointment."
LINE_ID = OpenApiParameter(
    "line_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="A hold line's id (from `holds`)."
)
CHECKLIST_KIND = OpenApiParameter(
    "kind",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=ChecklistKind.values,
    description="The checklist item (`kind` in `checklist`).",
)
# --- The day of the procedure: shared pieces ---

DAYOF_INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "Refused, nothing changed. A malformed field (a time without an offset, an unknown steroid) maps to "
        'a list of messages; a day-of rule answers {"detail": message} (a time in the future or before '
        "another one, a pain score out of range, a date of birth that does not match, an unmet discharge "
        "criterion, an early discharge without a reason)."
    ),
)
DAYOF_CONFLICT = OpenApiResponse(
    ErrorDetailSerializer,
    description=(
        "The appointment is not at this step (e.g. finishing before the start), the checklist gate is open "
        "(naming the items), every recovery bay is occupied, or nothing is charted yet; `detail` says why."
    ),
)
NO_RECORD_YET = "This appointment has no procedure record yet: the procedure has not started."
NO_RECORD_RESPONSE = OpenApiResponse(
    ErrorDetailSerializer, description="No appointment with that id, or its procedure has not started."
)
DETAIL_RELATED = ("patient", "procedure_type", "physician", "room", "recovery_bay")


def _with_safety(appointment: Appointment) -> Appointment:
    """Load what the detail shows in a fixed number of queries, however many drugs and items there are."""
    prefetch_related_objects(
        [appointment],
        Prefetch("hold_plan", queryset=HoldPlan.objects.select_related("confirmed_by")),
        Prefetch(
            "hold_plan__lines",
            queryset=HoldPlanLine.objects.select_related("medication", "overridden_by"),
        ),
        Prefetch("checklist", queryset=ChecklistItem.objects.select_related("done_by")),
        "safety_overrides",
    )
    return appointment


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
        description=(
            "One appointment, with its resources by id and its times, and its pre-procedure safety: the "
            "medication holds (`holds`, one line per drug on the patient's list, and `hold_plan`), the "
            "fasting times (`fasting`, null when no sedation is planned), the `checklist` that gates the "
            "procedure, and the eligibility `warnings` a physician reviews."
        ),
        responses={200: AppointmentDetailSerializer, 404: NOT_FOUND},
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
        # The day's first two steps change the appointment itself (its status).
        "check_in": ["procedures.change_appointment"],
        "start": ["procedures.add_procedurerecord"],
    }
    # The safety actions change the plan and the checklist, not the appointment. Confirming, changing a
    # hold and overriding are a physician's: the service checks confirm_hold_plan / override_safety and
    # its refusal ("Only a physician can …") is a 403 that says so.
    _safety_permissions = {
        "confirm_hold_plan": ["procedures.view_holdplan"],
        "override_hold": ["procedures.view_holdplan"],
        "record_clearance": ["procedures.view_holdplan", "procedures.change_checklistitem"],
        "confirm_holds_with_patient": ["procedures.view_holdplan", "procedures.change_checklistitem"],
        "mark_checklist_item": ["procedures.change_checklistitem"],
        "override_safety": ["procedures.view_safetyoverride", "procedures.change_checklistitem"],
    }
    # The day of the procedure after the start: what each step charts. Finishing (the procedure record)
    # is a physician's; observations, discharge and the diary are the nurses' too.
    _dayof_permissions = {
        "finish": ["procedures.add_procedurerecord"],
        "vitals": ["procedures.add_vitalsentry"],
        "discharge": ["procedures.add_discharge"],
        "diary": ["procedures.add_blockdiaryentry"],
        "record": ["procedures.view_procedurerecord"],
    }

    _action_serializers = {
        "create": AppointmentCreateSerializer,
        "cancel": AppointmentCancelSerializer,
        "reschedule": AppointmentRescheduleSerializer,
        "override_hold": HoldOverrideSerializer,
        "record_clearance": ClearanceSerializer,
        "mark_checklist_item": ChecklistMarkSerializer,
        "override_safety": SafetyOverrideSerializer,
        "check_in": CheckInSerializer,
        "start": ProcedureStartSerializer,
        "finish": ProcedureFinishSerializer,
        "vitals": VitalsInputSerializer,
        "discharge": DischargeInputSerializer,
        "diary": DiaryInputSerializer,
        "record": ProcedureRecordSerializer,
    }

    @property
    def required_permissions(self) -> list[str] | None:
        return (
            self._action_permissions.get(self.action)
            or self._safety_permissions.get(self.action)
            or self._dayof_permissions.get(self.action)
        )

    def get_serializer_class(self):
        """The input serializer of each write (the browsable API's forms); replies use AppointmentSerializer,
        or AppointmentDetailSerializer for the detail and the safety actions."""
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

    def retrieve(self, request, pk=None):
        return Response(AppointmentDetailSerializer(_with_safety(self.get_object())).data)

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

    # --- Pre-procedure safety: the physician's and the nurse's steps. Each replies with the detail. ---

    def _safety_reply(self, appointment_id: int) -> Response:
        appointment = Appointment.objects.select_related(*DETAIL_RELATED).get(pk=appointment_id)
        return Response(AppointmentDetailSerializer(_with_safety(appointment)).data)

    def _hold_line_id(self, appointment: Appointment, line_id: str) -> int:
        """The id of a hold line of this appointment; any other id (another appointment's line) is 404."""
        pk = int(line_id)
        if pk > ID_MAX or not HoldPlanLine.objects.filter(pk=pk, plan__appointment=appointment).exists():
            raise Http404(NO_HOLD_LINE)
        return pk

    @extend_schema(
        request=None,
        responses={
            200: AppointmentDetailSerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: SAFETY_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"], url_path="hold-plan/confirm", url_name="hold-plan-confirm")
    def confirm_hold_plan(self, request, pk=None):
        """A physician confirms the proposed hold plan (permission confirm_hold_plan). A drug the clinic
        has no rule for needs a physician's hold first (409)."""
        appointment = self.get_object()
        with safety_errors():
            hold_plan_confirm(appointment_id=appointment.pk, actor=request.user)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        parameters=[LINE_ID],
        request=HoldOverrideSerializer,
        responses={
            200: AppointmentDetailSerializer,
            400: SAFETY_INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: SAFETY_CONFLICT,
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"holds/(?P<line_id>[0-9]+)/override",
        url_name="hold-override",
    )
    def override_hold(self, request, pk=None, line_id=None):
        """A physician changes one drug's hold (0 = keep taking it), with a reason. The patient is asked
        to confirm that hold again."""
        appointment = self.get_object()
        line = self._hold_line_id(appointment, line_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with safety_errors():
            hold_line_override(line_id=line, actor=request.user, **serializer.validated_data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        parameters=[LINE_ID],
        request=ClearanceSerializer,
        responses={
            200: AppointmentDetailSerializer,
            400: SAFETY_INVALID,
            404: NOT_FOUND,
            409: SAFETY_CONFLICT,
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"holds/(?P<line_id>[0-9]+)/clearance",
        url_name="hold-clearance",
    )
    def record_clearance(self, request, pk=None, line_id=None):
        """The prescriber's answer on a shared decision, as relayed by staff. A drug that needs no
        clearance is 409."""
        appointment = self.get_object()
        line = self._hold_line_id(appointment, line_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with safety_errors():
            clearance_record(line_id=line, actor=request.user, **serializer.validated_data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=None,
        responses={200: AppointmentDetailSerializer, 404: NOT_FOUND, 409: SAFETY_CONFLICT},
    )
    @action(
        detail=True, methods=["post"], url_path="holds/patient-confirmed", url_name="holds-patient-confirmed"
    )
    def confirm_holds_with_patient(self, request, pk=None):
        """Staff record that the patient understood and will follow every hold (e.g. on the phone)."""
        appointment = self.get_object()
        with safety_errors():
            holds_patient_confirm(appointment_id=appointment.pk, actor=request.user)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        parameters=[CHECKLIST_KIND],
        request=ChecklistMarkSerializer,
        responses={
            200: AppointmentDetailSerializer,
            400: SAFETY_INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: SAFETY_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"], url_path=r"checklist/(?P<kind>[a-z_]+)", url_name="checklist-mark")
    def mark_checklist_item(self, request, pk=None, kind=None):
        """Tick (or, with `done: false`, reopen) a checklist item. `inr` and `glucose` take a `value`; an INR
        above the clinic's limit is 400 and the item stays open; without a clinic limit only a physician
        may accept an INR (403). The plan's items (hold_plan, holds_confirmed, clearances, eligibility) are
        ticked by the app, not by hand (400)."""
        appointment = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with safety_errors():
            checklist_mark(
                appointment_id=appointment.pk, kind=kind, actor=request.user, **serializer.validated_data
            )
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=SafetyOverrideSerializer,
        responses={
            200: AppointmentDetailSerializer,
            400: SAFETY_INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: SAFETY_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"], url_path="safety-override", url_name="safety-override")
    def override_safety(self, request, pk=None):
        """A physician goes ahead despite what is open (permission override_safety), with a reason:
        `checklist` records every open item, `eligibility` every current warning. Nothing open is 409."""
        appointment = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with safety_errors():
            safety_override(appointment_id=appointment.pk, actor=request.user, **serializer.validated_data)
        return self._safety_reply(appointment.pk)

    # --- The day of the procedure: each step replies with the detail (finish adds `record_warnings`). ---

    def _dayof_input(self, request) -> dict:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        request=CheckInSerializer,
        responses={200: AppointmentDetailSerializer, 400: DAYOF_INVALID, 404: NOT_FOUND, 409: DAYOF_CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="check-in", url_name="check-in")
    def check_in(self, request, pk=None):
        """Check the patient in (scheduled or confirmed): the name said and ticked, and a date of birth that
        matches the record (else 400). Permission change_appointment."""
        appointment = self.get_object()
        data = self._dayof_input(request)
        with dayof_errors():
            appointment_check_in(appointment_id=appointment.pk, actor=request.user, **data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=ProcedureStartSerializer,
        responses={200: AppointmentDetailSerializer, 400: DAYOF_INVALID, 404: NOT_FOUND, 409: DAYOF_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """The patient goes into the room (checked in only). The checklist gate applies: an open required
        item that no physician overrode is 409 naming the items. Not before check-in, not in the future
        (400). Permission change_appointment."""
        appointment = self.get_object()
        data = self._dayof_input(request)
        with dayof_errors():
            procedure_start(appointment_id=appointment.pk, actor=request.user, **data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=ProcedureFinishSerializer,
        responses={
            200: AppointmentFinishedSerializer,
            400: DAYOF_INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: DAYOF_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        """The physician charts what was done (permission add_procedurerecord) and the patient moves to a
        recovery bay: the booked one, or another free one. The end must be after the start and not in the
        future (400); every bay occupied is 409. A steroid dose above its per-session ceiling is charted
        and named in `record_warnings`. An unknown steroid is 400 naming `steroids`."""
        appointment = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with dayof_errors():
            _, warnings = procedure_finish(
                appointment_id=appointment.pk, actor=request.user, **serializer.service_arguments()
            )
        appointment = Appointment.objects.select_related(*DETAIL_RELATED).get(pk=appointment.pk)
        return Response(
            AppointmentFinishedSerializer(
                _with_safety(appointment), context={"record_warnings": warnings}
            ).data
        )

    @extend_schema(
        request=VitalsInputSerializer,
        responses={200: AppointmentDetailSerializer, 400: DAYOF_INVALID, 404: NOT_FOUND, 409: DAYOF_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def vitals(self, request, pk=None):
        """Chart a round of recovery observations (in recovery only; permission add_vitalsentry). Not in the
        future nor before the end of the procedure; implausible values and pain outside 0–10 are 400."""
        appointment = self.get_object()
        data = self._dayof_input(request)
        taken_at = data.pop("taken_at") or timezone.now()
        with dayof_errors():
            vitals_record(appointment_id=appointment.pk, actor=request.user, taken_at=taken_at, **data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=DischargeInputSerializer,
        responses={200: AppointmentDetailSerializer, 400: DAYOF_INVALID, 404: NOT_FOUND, 409: DAYOF_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None):
        """Discharge from recovery (permission add_discharge). Every criterion must be met (400 naming the
        unmet ones); before the minimum observation time only with `early_reason` (400). No observations
        charted yet is 409."""
        appointment = self.get_object()
        data = self._dayof_input(request)
        with dayof_errors():
            patient_discharge(appointment_id=appointment.pk, actor=request.user, **data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=DiaryInputSerializer,
        responses={200: AppointmentDetailSerializer, 400: DAYOF_INVALID, 404: NOT_FOUND, 409: DAYOF_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def diary(self, request, pk=None):
        """Chart the pain and relief at one of the diagnostic block's diary times (permission
        add_blockdiaryentry); charting a time again replaces it. A time that is not one of the procedure's
        is 400; a procedure without a diary, or one not yet ended, is 409."""
        appointment = self.get_object()
        data = self._dayof_input(request)
        with dayof_errors():
            diary_record(appointment_id=appointment.pk, actor=request.user, **data)
        return self._safety_reply(appointment.pk)

    @extend_schema(
        request=None,
        responses={200: ProcedureRecordSerializer, 404: NO_RECORD_RESPONSE},
    )
    @action(detail=True, methods=["get"])
    def record(self, request, pk=None):
        """The procedure record: what was done, the steroids given, the recovery observations, the
        discharge and the post-block diary (permission view_procedurerecord). 404 before the start."""
        appointment = self.get_object()
        record = (
            ProcedureRecord.objects.select_related(
                "recorded_by",
                "appointment__procedure_type",
                "appointment__discharge__by",
            )
            .prefetch_related(
                Prefetch(
                    "appointment__steroid_doses",
                    queryset=SteroidDose.objects.select_related("steroid", "recorded_by"),
                ),
                Prefetch(
                    "appointment__vitals",
                    queryset=VitalsEntry.objects.select_related("recorded_by").order_by("taken_at", "id"),
                ),
                Prefetch(
                    "appointment__diary", queryset=BlockDiaryEntry.objects.select_related("recorded_by")
                ),
            )
            .filter(appointment=appointment)
            .first()
        )
        if record is None:
            raise Http404(NO_RECORD_YET)
        return Response(ProcedureRecordSerializer(record).data)

    def handle_exception(self, exc):
        # An error from the .ics action is JSON like every other error, even for `Accept: text/calendar`.
        response = super().handle_exception(exc)
        if isinstance(getattr(self.request, "accepted_renderer", None), ICalendarRenderer):
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return response


class RecoveryBoardView(AuditActorMixin, APIView):
    """Everyone in a recovery bay: the countdown to the earliest discharge, the last observations, what is
    overdue, and the free bays. Permission view_vitalsentry."""

    required_permissions = ["procedures.view_vitalsentry"]

    @extend_schema(operation_id="v1_recovery_board_retrieve", responses={200: RecoveryBoardSerializer})
    def get(self, request):
        now = timezone.now()
        rows = recovery_board(now=now)
        board = {"now": now, "rows": rows, "free_bays": free_bays(rows=rows).order_by("name")}
        return Response(RecoveryBoardSerializer(board).data)


# --- Pre-procedure safety: the patient's medication list ----------------------------------------------

PATIENT_ID = OpenApiParameter(
    "patient_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Patient id."
)
NO_PATIENT = OpenApiResponse(ErrorDetailSerializer, description="No patient with that id.")
NO_ENTRY = "No medication with that id on this patient's list."


@extend_schema_view(
    list=extend_schema(
        description="The patient's medications: those still taken first (by name), then stopped ones, most "
        "recently stopped first.",
        parameters=[PATIENT_ID, PatientMedicationFilterSerializer],
        responses={200: PatientMedicationSerializer(many=True), 400: INVALID, 404: NO_PATIENT},
    ),
    create=extend_schema(
        description=(
            "Add a drug to the patient's list, by catalogue id or generic name. The holds of the patient's "
            "upcoming appointments are re-planned at once (a confirmed plan that changes goes back to "
            "proposed). 400 names the field (an unknown drug, a missing or unknown `indication` or "
            "`dose_intent`); a drug already on the list is 409."
        ),
        parameters=[PATIENT_ID],
        request=PatientMedicationCreateSerializer,
        responses={201: PatientMedicationSerializer, 400: INVALID, 404: NO_PATIENT, 409: CONFLICT},
    ),
    stop=extend_schema(
        description=(
            "The patient no longer takes this drug: the entry stays on the list with `stopped_at`, and the "
            "upcoming appointments' holds are re-planned. Stopping it again is 409."
        ),
        parameters=[PATIENT_ID],
        request=None,
        responses={200: PatientMedicationSerializer, 404: NO_PATIENT, 409: CONFLICT},
    ),
)
class PatientMedicationViewSet(
    AuditActorMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """A patient's medication list (nested under the patient). Reading needs view_patientmedication,
    adding add_patientmedication, stopping change_patientmedication, and each the patient's view_patient."""

    serializer_class = PatientMedicationSerializer
    queryset = PatientMedication.objects.all()
    lookup_value_regex = "[0-9]+"

    _action_serializers = {"create": PatientMedicationCreateSerializer}

    @property
    def required_permissions(self) -> list[str] | None:
        return {"stop": ["procedures.change_patientmedication"]}.get(self.action)

    def get_serializer_class(self):
        return self._action_serializers.get(self.action, PatientMedicationSerializer)

    def get_queryset(self):
        # The patient is fetched (and its read audited) by the actions, after the permission check.
        return PatientMedication.objects.select_related("medication").order_by(
            F("stopped_at").desc(nulls_first=True), "medication__generic_name", "added_at"
        )

    def _patient(self) -> Patient:
        patient_id = int(self.kwargs["patient_id"])
        if patient_id > ID_MAX:
            raise Http404("No patient with that id.")
        return patient_get_for_user(user=self.request.user, patient_id=patient_id)

    def list(self, request, patient_id=None):
        patient = self._patient()
        filters = PatientMedicationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = self.get_queryset().filter(patient=patient)
        if "active" in filters.validated_data:
            entries = entries.filter(stopped_at__isnull=filters.validated_data["active"])
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(PatientMedicationSerializer(page, many=True).data)

    def create(self, request, patient_id=None):
        patient = self._patient()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with safety_errors():
            entry = patient_medication_add(
                patient_id=patient.pk, actor=request.user, **serializer.validated_data
            )
        return Response(PatientMedicationSerializer(entry).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def stop(self, request, patient_id=None, pk=None):
        patient = self._patient()
        entry_id = int(pk)
        if entry_id > ID_MAX or not PatientMedication.objects.filter(pk=entry_id, patient=patient).exists():
            raise Http404(NO_ENTRY)
        with safety_errors():
            entry = patient_medication_stop(patient_medication_id=entry_id, actor=request.user)
        return Response(PatientMedicationSerializer(entry).data)


class _PatientTimelineViewSet(
    AuditActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """One patient's scores in time order: list needs `?patient=`; create goes through `record` (a service
    that raises OutcomeError naming the field)."""

    def get_queryset(self):
        queryset = self.queryset.model.objects.order_by("recorded_at", "id")
        patient = self.request.query_params.get("patient")
        if self.action == "list":
            if not patient or not patient.isdigit():
                raise ValidationError({"patient": ["Give the patient's id: ?patient=<id>."]})
            patient_get_for_user(user=self.request.user, patient_id=int(patient))
            queryset = queryset.filter(patient_id=int(patient))
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter("patient", int, required=True, description="The patient's id")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        try:
            serializer.instance = self.record(serializer.validated_data)
        except OutcomeError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from exc


class PainScoreViewSet(_PatientTimelineViewSet):
    """Pain scores on one timeline per patient. List with `?patient=`; create with `patient`, `score` (0–10),
    `recorded_at` (not in the future), optional `appointment` and `percent_relief`."""

    serializer_class = PainScoreSerializer
    queryset = PainScore.objects.all()

    def record(self, data: dict) -> PainScore:
        return pain_score_record(
            patient=data["patient"],
            appointment=data.get("appointment"),
            score=data["score"],
            percent_relief=data.get("percent_relief"),
            recorded_at=data["recorded_at"],
            source=data["source"],
            actor=self.request.user,
        )


class InstrumentScoreViewSet(_PatientTimelineViewSet):
    """Optional outcome instruments on the pain timeline, as pain scores are. List with `?patient=`; create
    with `patient`, `instrument` (`odi` or `pgic`, only those the clinic collects), `value`, `recorded_at`
    (not in the future), optional `appointment` and `source`."""

    serializer_class = InstrumentScoreSerializer
    queryset = InstrumentScore.objects.all()

    def record(self, data: dict) -> InstrumentScore:
        return instrument_score_record(
            patient=data["patient"],
            appointment=data.get("appointment"),
            instrument=data["instrument"],
            value=data["value"],
            recorded_at=data["recorded_at"],
            source=data["source"],
            actor=self.request.user,
        )
