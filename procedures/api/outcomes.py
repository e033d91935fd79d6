"""`GET /api/v1/outcomes/`: the physician outcomes dashboard as JSON, with the page's filters and the same
figures (procedures.selectors.outcomes.outcomes_dashboard computes them for the page, the CSV and this).
Rates are shares from 0 to 1, null when nothing could be assessed; the CSV gives them as percentages."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from procedures.api.base import AuditActorMixin
from procedures.api.serializers import ClinicDateTimeField, ErrorDetailSerializer, IdField, StrictDateField
from procedures.models import PhysicianProfile, ProcedureType, SpinalRegion
from procedures.roles import outcomes_dashboard_allowed
from procedures.selectors.outcomes import (
    LASTING_RELIEF_PERCENT,
    MODERATE_NRS_DROP,
    MODERATE_RELIEF_PERCENT,
    SUBSTANTIAL_RELIEF_PERCENT,
    outcomes_dashboard,
)
from procedures.selectors.rollups import rollups_reuse

RANGE_BACKWARDS = "date_to ({date_to}) is before date_from ({date_from})."


class OutcomesDashboardPermission(BasePermission):
    """Physicians and clinic admins (procedures.roles.OUTCOMES_DASHBOARD_PERMISSIONS); anonymous callers get
    401 like the rest of the API, other staff 403."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user) and outcomes_dashboard_allowed(request.user)


class OutcomesQuerySerializer(serializers.Serializer):
    procedure_type = IdField(
        noun="procedure type",
        queryset=ProcedureType.objects.all(),
        required=False,
        help_text="Procedure type id.",
    )
    region = serializers.ChoiceField(
        choices=SpinalRegion.choices,
        required=False,
        help_text="Spinal region of the procedure type.",
        error_messages={"invalid_choice": "“{input}” is not a spinal region."},
    )
    physician = IdField(
        noun="physician", queryset=PhysicianProfile.objects.all(), required=False, help_text="Physician id."
    )
    date_from = StrictDateField(
        required=False, help_text="First day of the procedures, YYYY-MM-DD (clinic time zone)."
    )
    date_to = StrictDateField(required=False, help_text="Last day of the procedures, inclusive.")

    def validate(self, attrs):
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_to < date_from:
            raise serializers.ValidationError(
                {"date_to": RANGE_BACKWARDS.format(date_to=date_to, date_from=date_from)}
            )
        return attrs


class TimepointSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    first_day = serializers.IntegerField(help_text="Whole days after the end of the procedure, included.")
    last_day = serializers.IntegerField(help_text="Included.")


class ResponderRateSerializer(serializers.Serializer):
    timepoint = serializers.CharField(source="timepoint.key")
    with_score = serializers.IntegerField(help_text="Procedures with a report in the window.")
    assessed = serializers.IntegerField(
        help_text="Of those, the ones whose relief can be worked out: the denominator of the rates."
    )
    unassessed = serializers.IntegerField(help_text="A report, but neither a % relief nor a baseline.")
    no_score = serializers.IntegerField(help_text="Procedures done with no report in the window.")
    no_score_window_open = serializers.IntegerField(
        source="pending", help_text="Of no_score: the window has not closed yet."
    )
    substantial = serializers.IntegerField(help_text=f"≥ {SUBSTANTIAL_RELIEF_PERCENT} % relief.")
    substantial_rate = serializers.FloatField(allow_null=True)
    moderate = serializers.IntegerField(
        help_text=f"≥ {MODERATE_RELIEF_PERCENT} % relief or ≥ {MODERATE_NRS_DROP} points below baseline."
    )
    moderate_rate = serializers.FloatField(allow_null=True)


class KMStepSerializer(serializers.Serializer):
    day = serializers.FloatField(help_text="Days after the end of the procedure.")
    at_risk = serializers.IntegerField()
    events = serializers.IntegerField(help_text=f"First report under {LASTING_RELIEF_PERCENT} % relief.")
    censored = serializers.IntegerField(help_text=f"Last report, still at ≥ {LASTING_RELIEF_PERCENT} %.")
    survival = serializers.FloatField(
        help_text=f"Estimated share still at ≥ {LASTING_RELIEF_PERCENT} % relief."
    )


class ReliefDurationSerializer(serializers.Serializer):
    median_days = serializers.FloatField(
        allow_null=True, help_text="Null while the estimate stays above 0.5."
    )
    followed = serializers.IntegerField(
        help_text="Procedures with at least one report whose relief is known."
    )
    events = serializers.IntegerField()
    censored = serializers.IntegerField()
    no_report = serializers.IntegerField(help_text="Procedures done with no report at all: left out.")
    steps = KMStepSerializer(many=True)


class OutcomeGroupSerializer(serializers.Serializer):
    label = serializers.CharField()
    procedure_type = serializers.IntegerField(
        source="procedure_type_id", allow_null=True, help_text="Null for the total."
    )
    spinal_region = serializers.CharField(help_text="Empty for the total unless filtered by region.")
    procedures_done = serializers.IntegerField(source="done")
    baseline_count = serializers.IntegerField()
    baseline_mean = serializers.FloatField(allow_null=True, help_text="Mean baseline pain, 0–10.")
    responders = ResponderRateSerializer(many=True)
    relief_duration = ReliefDurationSerializer(source="relief")
    followups_answered = serializers.IntegerField()
    followups_missed = serializers.IntegerField()
    followups_sent_overdue = serializers.IntegerField(source="followups_overdue")
    followup_rate = serializers.FloatField(
        allow_null=True, help_text="answered / (answered + missed + sent and past due)."
    )
    complications = serializers.IntegerField(help_text="Procedures with a complication charted.")
    complication_rate = serializers.FloatField(allow_null=True)


class DashboardSerializer(serializers.Serializer):
    computed_at = ClinicDateTimeField()
    patients_waiting = serializers.IntegerField(
        source="waiting",
        help_text="Patients whose latest changes are not in these figures yet (usually 0; the rollups "
        "catch up within a minute).",
    )
    windows = TimepointSerializer(many=True)
    total = OutcomeGroupSerializer()
    groups = OutcomeGroupSerializer(many=True, help_text="One per procedure type, by name.")


class OutcomesDashboardView(AuditActorMixin, APIView):
    """Outcomes of the procedures done (in recovery or discharged): responder rates at 2 weeks, 1, 3 and 6
    months, Kaplan–Meier duration of relief, follow-up completion and complications, per procedure type and
    in total. Physicians and clinic admins."""

    permission_classes = [OutcomesDashboardPermission]

    @extend_schema(
        operation_id="v1_outcomes_retrieve",
        parameters=[OutcomesQuerySerializer],
        responses={
            200: DashboardSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="A bad filter: its field maps to messages."
            ),
            403: OpenApiResponse(ErrorDetailSerializer, description="Not a physician or clinic admin."),
        },
    )
    def get(self, request):
        query = OutcomesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        filters = {
            "procedure_type_id": params["procedure_type"].pk if "procedure_type" in params else None,
            "region": params.get("region") or None,
            "physician_id": params["physician"].pk if "physician" in params else None,
            "start": params.get("date_from"),
            "end": params.get("date_to"),
        }

        def build() -> tuple[dict, bool]:
            dashboard = outcomes_dashboard(**filters)
            # A plain dict: the serializer's ReturnDict would carry the serializer into the cache.
            return dict(DashboardSerializer(dashboard).data), not dashboard.waiting

        return Response(
            rollups_reuse(name="outcomes-api", parts=tuple(sorted(filters.items())), build=build)
        )
