import re
from datetime import UTC, date
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from procedures.models import (
    Appointment,
    BleedingRisk,
    BlockDiaryEntry,
    ChecklistItem,
    ChecklistKind,
    ClearanceStatus,
    DiarySource,
    Discharge,
    DoseIntent,
    DrugClass,
    Evidence,
    HoldKind,
    HoldPlan,
    HoldPlanLine,
    ImagingUsed,
    Indication,
    Instrument,
    InstrumentScore,
    ItemState,
    LegStrength,
    Medication,
    Numbness,
    PainScore,
    PainSource,
    Patient,
    PatientMedication,
    PhysicianProfile,
    PlanStatus,
    ProcedureRecord,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    SafetyOverride,
    Side,
    SteroidDose,
    SteroidProduct,
    VitalsEntry,
)
from procedures.models.dayof import RECORD_DETAIL_FIELDS
from procedures.models.patients import PATIENT_EDITABLE_FIELDS
from procedures.selectors.eligibility import eligibility_warnings
from procedures.selectors.safety import fasting_for
from procedures.services.dayof import earliest_discharge


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", *PATIENT_EDITABLE_FIELDS, "consent_email_at", "consent_sms_at"]
        read_only_fields = ["id", "consent_email_at", "consent_sms_at"]

    def validate_date_of_birth(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("The date of birth cannot be in the future.")
        return value

    def validate(self, attrs):
        def current(name: str):
            return attrs.get(name, getattr(self.instance, name, None))

        if current("consent_sms") and not current("phone"):
            raise serializers.ValidationError({"phone": "Text-message consent needs a mobile number."})
        if current("consent_email") and not current("email"):
            raise serializers.ValidationError({"email": "Email consent needs an email address."})
        return attrs


class ProcedureTypeSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="cpt_code", read_only=True)

    class Meta:
        model = ProcedureType
        fields = [
            "id",
            "code",
            "name",
            "family",
            "spinal_region",
            "purpose",
            "imaging",
            "uses_contrast",
            "procedure_minutes",
            "monitoring_minutes",
            "monitoring_minutes_sedated",
            "bleeding_risk",
            "uses_steroid",
            "sedation_allowed",
            "active",
        ]


class PhysicianSerializer(serializers.ModelSerializer):
    class Meta:
        model = PhysicianProfile
        fields = ["id", "display_name", "npi", "active"]


class RoomSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProcedureRoom
        fields = ["id", "name", "has_fluoroscopy", "has_ultrasound", "active"]


# --- Scheduling -----------------------------------------------------------------------------------

ID_MAX = 2**63 - 1
DATE_FORMAT_EXAMPLE = "2026-03-02"
DATETIME_EXAMPLE = "2026-03-02T09:00:00-05:00"
# Dates and times outside these years are refused up front; near year 9999, adding a day or a
# procedure's minutes would overflow.
YEAR_MIN, YEAR_MAX = 1900, 2999


class IdField(serializers.PrimaryKeyRelatedField):
    """An id that must name an existing row; every refusal names the field and the id it was given."""

    def __init__(self, *, noun: str, **kwargs):
        self.noun = noun
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        # JSON gives numbers, query strings give digits; 1.5 or True must not quietly become id 1.
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and re.fullmatch(r"[0-9]+", data.strip()))
        ):
            raise serializers.ValidationError(
                f"{self.field_name} must be an id (a whole number); got {data!r}."
            )
        pk = int(data)
        if not 1 <= pk <= ID_MAX:
            raise serializers.ValidationError(f"There is no {self.noun} with id {pk}.")
        try:
            return self.get_queryset().get(pk=pk)
        except ObjectDoesNotExist as exc:
            raise serializers.ValidationError(f"There is no {self.noun} with id {pk}.") from exc


class ClinicDateTimeField(serializers.DateTimeField):
    """Writes times in ISO 8601 with the clinic's UTC offset, whatever zone a request activated."""

    def default_timezone(self):
        return timezone.get_default_timezone()


class AwareDateTimeField(ClinicDateTimeField):
    """An ISO 8601 date and time that carries its own offset (or Z): a naive time is ambiguous twice a year
    and depends on whose clock the caller means, so it is refused rather than guessed."""

    def to_internal_value(self, value):
        name = self.field_name
        if not isinstance(value, str):
            raise serializers.ValidationError(
                f"{name} must be a text date and time such as {DATETIME_EXAMPLE}."
            )
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise serializers.ValidationError(
                f"{name} needs a time of day and an offset as well as the date, e.g. {DATETIME_EXAMPLE}."
            )
        try:
            parsed = parse_datetime(text)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"{name} {text!r} is not a real date and time ({exc})."
            ) from exc
        if parsed is None:
            raise serializers.ValidationError(
                f"{name} must be an ISO 8601 date and time with an offset, e.g. {DATETIME_EXAMPLE}; "
                f"got {text!r}."
            )
        if timezone.is_naive(parsed):
            raise serializers.ValidationError(
                f"{name} must include a time zone offset (Z or ±HH:MM), e.g. {DATETIME_EXAMPLE}; got {text!r}."
            )
        try:
            year = parsed.astimezone(UTC).year
        except OverflowError:
            year = 0
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise serializers.ValidationError(
                f"{name} {text!r} is out of range (years {YEAR_MIN}–{YEAR_MAX})."
            )
        return parsed


class StrictDateField(serializers.DateField):
    """A YYYY-MM-DD date; a malformed value and an impossible one (Feb 30) get different messages."""

    def to_internal_value(self, value):
        name = self.field_name
        text = value.strip() if isinstance(value, str) else ""
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise serializers.ValidationError(
                f"{name} must be a date in YYYY-MM-DD form, e.g. {DATE_FORMAT_EXAMPLE}; got {value!r}."
            )
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise serializers.ValidationError(f"{name} {text} is not a real date ({exc}).") from exc
        if not YEAR_MIN <= day.year <= YEAR_MAX:
            raise serializers.ValidationError(f"{name} {text} is out of range (years {YEAR_MIN}–{YEAR_MAX}).")
        return day


def _patients():
    return IdField(noun="patient", queryset=Patient.objects.all())


def _procedure_types():
    return IdField(noun="active procedure type", queryset=ProcedureType.objects.filter(active=True))


def _physicians(**kwargs):
    return IdField(noun="active physician", queryset=PhysicianProfile.objects.filter(active=True), **kwargs)


def _rooms(**kwargs):
    return IdField(noun="active procedure room", queryset=ProcedureRoom.objects.filter(active=True), **kwargs)


class AppointmentSerializer(serializers.ModelSerializer):
    """An appointment as the API shows it: related records by id, times with the clinic's offset."""

    start = ClinicDateTimeField(read_only=True)
    end = ClinicDateTimeField(read_only=True)
    room_until = ClinicDateTimeField(read_only=True)
    monitoring_until = ClinicDateTimeField(read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "procedure_type",
            "physician",
            "room",
            "recovery_bay",
            "start",
            "end",
            "room_until",
            "monitoring_until",
            "status",
            "sedation_planned",
            "side",
            "levels",
            "cancel_reason",
            "physician_overbooked",
        ]
        read_only_fields = fields


class AppointmentCreateSerializer(serializers.Serializer):
    """What a booking needs. Without `room` the first free room whose imaging fits is assigned.
    `overbook_reason` lets a physician (permission overbook_physician) knowingly double-book themself."""

    patient = _patients()
    procedure_type = _procedure_types()
    physician = _physicians()
    start = AwareDateTimeField(help_text=f"With an offset or Z, e.g. {DATETIME_EXAMPLE}.")
    room = _rooms(required=False, allow_null=True, default=None)
    sedation_planned = serializers.BooleanField(default=False)
    side = serializers.ChoiceField(choices=Side.choices, default=Side.MIDLINE)
    levels = serializers.CharField(max_length=60, allow_blank=True, default="", help_text="e.g. L4-L5, L5-S1")
    notes = serializers.CharField(max_length=2000, allow_blank=True, default="")
    overbook_reason = serializers.CharField(max_length=300, allow_blank=True, default="")


class AppointmentRescheduleSerializer(serializers.Serializer):
    """A new start (and optionally another physician or room). A confirmed booking becomes scheduled again."""

    start = AwareDateTimeField(help_text=f"With an offset or Z, e.g. {DATETIME_EXAMPLE}.")
    physician = _physicians(required=False, allow_null=True, default=None)
    room = _rooms(required=False, allow_null=True, default=None)
    overbook_reason = serializers.CharField(max_length=300, allow_blank=True, default="")


class AppointmentCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=300,
        error_messages={
            "required": "Give a reason to cancel this appointment.",
            "blank": "Give a reason to cancel this appointment.",
        },
    )


class AppointmentFilterSerializer(serializers.Serializer):
    """Query parameters of the appointment list; all optional and combined with AND."""

    patient = IdField(noun="patient", queryset=Patient.objects.all(), required=False, help_text="Patient id.")
    physician = IdField(
        noun="physician", queryset=PhysicianProfile.objects.all(), required=False, help_text="Physician id."
    )
    date = StrictDateField(required=False, help_text="A day in the clinic's time zone, YYYY-MM-DD.")


SLOT_RANGE_MAX_DAYS = 93
SLOT_LIMIT_DEFAULT = 200
SLOT_LIMIT_MAX = 1000


class SlotQuerySerializer(serializers.Serializer):
    procedure_type = _procedure_types()
    date_from = StrictDateField(help_text="First day to search (clinic time zone), YYYY-MM-DD.")
    date_to = StrictDateField(
        required=False, help_text="Last day to search, inclusive (defaults to date_from); at most 93 days."
    )
    physician = _physicians(required=False)
    patient = IdField(
        noun="patient",
        queryset=Patient.objects.all(),
        required=False,
        help_text="Leave out the patient's other appointments and honour their earliest safe start.",
    )
    sedated = serializers.BooleanField(default=False, help_text="Sedation lengthens recovery.")
    limit = serializers.IntegerField(
        min_value=1,
        max_value=SLOT_LIMIT_MAX,
        default=SLOT_LIMIT_DEFAULT,
        error_messages={
            "invalid": f"limit must be a whole number from 1 to {SLOT_LIMIT_MAX}.",
            "min_value": f"limit must be a whole number from 1 to {SLOT_LIMIT_MAX}.",
            "max_value": f"limit must be a whole number from 1 to {SLOT_LIMIT_MAX}.",
        },
    )

    def validate(self, attrs):
        date_from = attrs["date_from"]
        date_to = attrs.setdefault("date_to", date_from)
        if date_to < date_from:
            raise serializers.ValidationError(
                {"date_to": f"date_to ({date_to}) is before date_from ({date_from})."}
            )
        days = (date_to - date_from).days + 1
        if days > SLOT_RANGE_MAX_DAYS:
            raise serializers.ValidationError(
                {
                    "date_to": f"The range {date_from} to {date_to} covers {days} days; "
                    f"search at most {SLOT_RANGE_MAX_DAYS} days at a time."
                }
            )
        return attrs


class SlotSerializer(serializers.Serializer):
    start = ClinicDateTimeField()
    end = ClinicDateTimeField()
    monitoring_until = ClinicDateTimeField(help_text="When the patient's recovery-bay observation ends.")
    physician = serializers.IntegerField(source="physician.pk", help_text="Physician id.")
    room = serializers.IntegerField(source="room.pk", help_text="Procedure room id.")

    def to_representation(self, instance):
        # Up to 1,000 slots an answer, where DRF's generic per-field path took a fifth of the request. Same
        # values: the fields above still describe the schema, and the times go through the same field,
        # once per distinct time (forty physicians' slots share a handful of start times).
        said = self.__dict__.setdefault("_said", {})
        write = self.fields["start"].to_representation

        def when(moment):
            text = said.get(moment)
            if text is None:
                text = said[moment] = write(moment)
            return text

        return {
            "start": when(instance.start),
            "end": when(instance.end),
            "monitoring_until": when(instance.monitoring_until),
            "physician": instance.physician.pk,
            "room": instance.room.pk,
        }


class SlotSearchResultSerializer(serializers.Serializer):
    results = SlotSerializer(many=True, source="slots")
    truncated = serializers.BooleanField(help_text="More slots matched than `limit`; narrow the search.")
    earliest_safe_start = ClinicDateTimeField(
        allow_null=True, help_text="With `patient`: no slot is offered before this (e.g. a medication hold)."
    )
    earliest_safe_reason = serializers.CharField(allow_blank=True)


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- Medications ------------------------------------------------------------------------------------


def _active_medications():
    return Medication.objects.filter(active=True)


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1}],
        "description": "The catalogue id, or the generic name (any case), e.g. 7 or “Warfarin”.",
        "example": "warfarin",
    }
)
class MedicationField(serializers.Field):
    """A catalogue medication by id or by generic name (case-insensitive); the reply shows the generic name."""

    def to_internal_value(self, data) -> Medication:
        name = self.field_name
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise serializers.ValidationError(
                f"{name} must be a catalogue id or a generic name; got {data!r}."
            )
        text = str(data).strip()
        if isinstance(data, int) or re.fullmatch(r"[0-9]+", text):
            pk = int(text)
            found = _active_medications().filter(pk=pk).first() if 1 <= pk <= ID_MAX else None
            if found is None:
                raise serializers.ValidationError(f"There is no medication with id {pk} in the catalogue.")
            return found
        generic_name = " ".join(text.split())
        if not generic_name:
            raise serializers.ValidationError(
                f"{name} must be a catalogue id or a generic name; got {data!r}."
            )
        matches = list(_active_medications().filter(generic_name__iexact=generic_name)[:2])
        if len(matches) > 1:
            matches = [m for m in matches if m.generic_name == generic_name]
        if len(matches) != 1:
            raise serializers.ValidationError(
                f"There is no medication named “{generic_name}” in the catalogue."
            )
        return matches[0]

    def to_representation(self, value: Medication) -> str:
        return value.generic_name


class PatientMedicationSerializer(serializers.ModelSerializer):
    """One entry of a patient's medication list. Stopped entries stay on the list with `stopped_at`."""

    medication = serializers.CharField(source="medication.generic_name", read_only=True)
    medication_id = serializers.IntegerField(read_only=True)
    drug_class = serializers.ChoiceField(
        source="medication.drug_class", choices=DrugClass.choices, read_only=True
    )
    added_at = ClinicDateTimeField(read_only=True)
    stopped_at = ClinicDateTimeField(read_only=True, allow_null=True, help_text="Null while active.")
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = PatientMedication
        fields = [
            "id",
            "medication",
            "medication_id",
            "drug_class",
            "indication",
            "dose_intent",
            "dose",
            "added_at",
            "stopped_at",
            "active",
        ]
        read_only_fields = fields


class PatientMedicationCreateSerializer(serializers.Serializer):
    """A drug for the patient's list. `indication` is needed for drugs whose hold depends on why they are
    taken (aspirin), `dose_intent` for those whose hold depends on the dose (enoxaparin); it is ignored
    for other drugs. Adding re-plans the holds of the patient's upcoming appointments."""

    medication = MedicationField()
    indication = serializers.ChoiceField(
        choices=Indication.choices,
        allow_blank=True,
        default="",
        help_text="Required when the drug asks for it (aspirin).",
    )
    dose_intent = serializers.ChoiceField(
        choices=DoseIntent.choices,
        allow_blank=True,
        default="",
        help_text="Required when the drug asks for it (enoxaparin).",
    )
    dose = serializers.CharField(
        max_length=80,
        allow_blank=True,
        default="",
        help_text="As the patient takes it, e.g. 5 mg once daily.",
    )


class OptionalBooleanField(serializers.BooleanField):
    """A query-string boolean that is simply absent when not given (an HTML form would read it as false)."""

    default_empty_html = serializers.empty


class PatientMedicationFilterSerializer(serializers.Serializer):
    active = OptionalBooleanField(
        required=False, help_text="true: only drugs still taken; false: only stopped ones. Default: both."
    )


# --- Pre-procedure safety on the appointment -----------------------------------------------------


def _user_name(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def inline_enum_field(name: str, choices: list[tuple[str, str]]) -> type[serializers.ChoiceField]:
    """A ChoiceField whose enum stays inline in the OpenAPI schema, with each value described.

    drf-spectacular names an enum after its field, and `status` and the bleeding-risk choices are already
    named elsewhere (StatusEnum, BleedingRiskEnum); a second choice set under the same name is a schema
    warning without ENUM_NAME_OVERRIDES. Wrapped in allOf, the enum is left where it is."""
    values = "; ".join(f"`{value}`: {label}" for value, label in choices)
    schema = {"allOf": [{"type": "string", "enum": [value for value, _ in choices]}], "description": values}

    def __init__(self, **kwargs):
        serializers.ChoiceField.__init__(self, choices=choices, **kwargs)

    return extend_schema_field(schema)(type(name, (serializers.ChoiceField,), {"__init__": __init__}))


OVERRIDDEN = "overridden"
HOLD_LINE_STATUSES = [
    (ClearanceStatus.PENDING.value, "Needs the prescriber's clearance: waiting for the answer"),
    (ClearanceStatus.CLEARED.value, "Needs the prescriber's clearance: the prescriber agreed"),
    (ClearanceStatus.REFUSED.value, "Needs the prescriber's clearance: the prescriber says do not stop"),
    (OVERRIDDEN, "A physician changed the proposed hold (see override_reason)"),
    (PlanStatus.PROPOSED.value, "As the protocol proposes; the plan waits for a physician"),
    (PlanStatus.CONFIRMED.value, "As the protocol proposes; a physician confirmed the plan"),
]
HoldLineStatusField = inline_enum_field("HoldLineStatusField", HOLD_LINE_STATUSES)
PlanStatusField = inline_enum_field("PlanStatusField", PlanStatus.choices)
RiskClassField = inline_enum_field("RiskClassField", BleedingRisk.choices)
ClearanceAnswerField = inline_enum_field(
    "ClearanceAnswerField",
    [
        (ClearanceStatus.CLEARED.value, ClearanceStatus.CLEARED.label),
        (ClearanceStatus.REFUSED.value, ClearanceStatus.REFUSED.label),
        (ClearanceStatus.PENDING.value, ClearanceStatus.PENDING.label),
    ],
)


class UserNameField(serializers.CharField):
    """A staff member, by name (users are not an API resource)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value) -> str:
        return _user_name(value)


class HoldLineSerializer(serializers.ModelSerializer):
    """One medication's hold for this appointment: what the patient is told, and where it comes from."""

    medication = serializers.CharField(
        source="medication.generic_name", read_only=True, help_text="Generic name."
    )
    medication_id = serializers.IntegerField(read_only=True, help_text="Catalogue id.")
    patient_medication_id = serializers.IntegerField(
        read_only=True, help_text="The entry on the patient's medication list."
    )
    hold_hours = serializers.IntegerField(
        read_only=True,
        help_text="The hold in force: the physician's override if there is one, else the proposal. 0 = no hold.",
    )
    hold_kind = serializers.ChoiceField(
        choices=HoldKind.choices, read_only=True, help_text="What the protocol row says."
    )
    last_dose_by = ClinicDateTimeField(
        read_only=True, allow_null=True, help_text="Last dose before this moment."
    )
    resume_after = ClinicDateTimeField(read_only=True, allow_null=True, help_text="Restart from this moment.")
    status = serializers.SerializerMethodField(
        help_text="The clearance status when the prescriber must agree, else `overridden` when a physician "
        "changed the hold, else the plan's status. "
        + "; ".join(f"`{value}`: {label}" for value, label in HOLD_LINE_STATUSES)
        + "."
    )
    evidence = serializers.ChoiceField(
        choices=Evidence.choices,
        read_only=True,
        help_text="V: read in the source; S: secondary transcription, verify locally; -: clinic setting.",
    )
    clearance_status = serializers.ChoiceField(choices=ClearanceStatus.choices, read_only=True)
    overridden_by = UserNameField()
    overridden_at = ClinicDateTimeField(read_only=True, allow_null=True)
    patient_confirmed_at = ClinicDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When staff recorded that the patient will follow this hold.",
    )

    class Meta:
        model = HoldPlanLine
        fields = [
            "id",
            "medication",
            "medication_id",
            "patient_medication_id",
            "hold_hours",
            "proposed_hold_hours",
            "hold_kind",
            "last_dose_by",
            "last_dose_day",
            "resume_after",
            "restart_hours",
            "requires_normal_inr",
            "needs_prescriber_clearance",
            "clearance_status",
            "clearance_note",
            "status",
            "source",
            "evidence",
            "override_reason",
            "overridden_by",
            "overridden_at",
            "patient_confirmed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(HoldLineStatusField())
    def get_status(self, line: HoldPlanLine) -> str:
        if line.needs_prescriber_clearance:
            return line.clearance_status
        if line.override_hold_hours is not None:
            return OVERRIDDEN
        return line.plan.status


class HoldPlanSerializer(serializers.ModelSerializer):
    risk_class = RiskClassField(
        read_only=True, help_text="The class the holds follow, after patient factors."
    )
    base_risk_class = RiskClassField(read_only=True, help_text="The procedure's class.")
    status = PlanStatusField(read_only=True)
    confirmed_by = UserNameField()
    confirmed_at = ClinicDateTimeField(read_only=True, allow_null=True)
    computed_at = ClinicDateTimeField(read_only=True)

    class Meta:
        model = HoldPlan
        fields = [
            "risk_class",
            "base_risk_class",
            "risk_raised_because",
            "status",
            "confirmed_by",
            "confirmed_at",
            "computed_at",
        ]
        read_only_fields = fields


class FastingSerializer(serializers.Serializer):
    """ASA fasting times (only when sedation is planned) and the escort and driving rules after sedation."""

    solids_until = ClinicDateTimeField(help_text="A light meal until then.")
    fatty_food_until = ClinicDateTimeField(help_text="Fried or fatty food or meat until then.")
    clear_liquids_until = ClinicDateTimeField(help_text="Clear liquids until then.")
    escort_required = serializers.BooleanField()
    no_driving_until = ClinicDateTimeField()
    source = serializers.CharField()


class ChecklistItemSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="get_kind_display", read_only=True)
    kind = serializers.ChoiceField(choices=ChecklistKind.choices, read_only=True)
    state = serializers.ChoiceField(choices=ItemState.choices, read_only=True)
    value = serializers.DecimalField(
        max_digits=6,
        decimal_places=1,
        read_only=True,
        allow_null=True,
        help_text="INR or blood glucose (mg/dL).",
    )
    done_by = UserNameField(help_text="Null when the app ticked it from the plan.")
    done_at = ClinicDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ChecklistItem
        fields = ["kind", "label", "required", "state", "why", "value", "note", "done_by", "done_at"]
        read_only_fields = fields


class EligibilityWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()
    source = serializers.CharField()
    overridden = serializers.BooleanField(help_text="A physician reviewed it and went ahead, with a reason.")


class AppointmentDetailSerializer(AppointmentSerializer):
    """One appointment with its pre-procedure safety: medication holds, fasting, the checklist and the
    eligibility warnings. Expects the plan's lines, the checklist and the overrides prefetched."""

    hold_plan = serializers.SerializerMethodField()
    holds = serializers.SerializerMethodField()
    fasting = serializers.SerializerMethodField()
    checklist = ChecklistItemSerializer(many=True, read_only=True)
    warnings = serializers.SerializerMethodField()

    class Meta(AppointmentSerializer.Meta):
        fields = [
            *AppointmentSerializer.Meta.fields,
            "hold_plan",
            "holds",
            "fasting",
            "checklist",
            "warnings",
        ]
        read_only_fields = fields

    @extend_schema_field(HoldPlanSerializer(allow_null=True))
    def get_hold_plan(self, appointment: Appointment) -> dict | None:
        plan = getattr(appointment, "hold_plan", None)
        return HoldPlanSerializer(plan).data if plan is not None else None

    @extend_schema_field(HoldLineSerializer(many=True))
    def get_holds(self, appointment: Appointment) -> list[dict]:
        plan = getattr(appointment, "hold_plan", None)
        return HoldLineSerializer(plan.lines.all(), many=True).data if plan is not None else []

    @extend_schema_field(FastingSerializer(allow_null=True))
    def get_fasting(self, appointment: Appointment) -> dict | None:
        fasting = fasting_for(appointment=appointment)
        return FastingSerializer(fasting).data if fasting is not None else None

    @extend_schema_field(EligibilityWarningSerializer(many=True))
    def get_warnings(self, appointment: Appointment) -> list[dict]:
        overridden = {
            o.code for o in appointment.safety_overrides.all() if o.scope == SafetyOverride.Scope.ELIGIBILITY
        }
        warnings = eligibility_warnings(
            patient=appointment.patient,
            procedure_type=appointment.procedure_type,
            start=appointment.start,
            exclude_appointment_id=appointment.pk,
        )
        return [
            {"code": w.code, "text": w.text, "source": w.source, "overridden": w.code in overridden}
            for w in warnings
        ]


class HoldOverrideSerializer(serializers.Serializer):
    hold_hours = serializers.IntegerField(
        help_text="The hold a physician decides, 0 (keep taking it) to 720 hours. A multiple of 24 on a "
        "day-based hold is counted in calendar days."
    )
    reason = serializers.CharField(max_length=300, allow_blank=True, default="", help_text="Required.")


class ClearanceSerializer(serializers.Serializer):
    status = ClearanceAnswerField(help_text="The prescriber's answer, as relayed by staff.")
    note = serializers.CharField(max_length=300, allow_blank=True, default="")


class ChecklistMarkSerializer(serializers.Serializer):
    done = serializers.BooleanField(default=True, help_text="false reopens the item.")
    value = serializers.DecimalField(
        max_digits=6,
        decimal_places=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="INR (required for `inr`) or blood glucose in mg/dL, 20–800 (required for `glucose`).",
    )
    note = serializers.CharField(max_length=300, allow_blank=True, default="")


class SafetyOverrideSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=SafetyOverride.Scope.choices,
        help_text="checklist: every open item; eligibility: every current warning.",
    )
    reason = serializers.CharField(max_length=400, allow_blank=True, default="", help_text="Required.")


# --- The day of the procedure ------------------------------------------------------------------------

AT_HELP = f"When it happened, with an offset or Z (e.g. {DATETIME_EXAMPLE}); default now. Not in the future."


def _at(**kwargs) -> AwareDateTimeField:
    return AwareDateTimeField(required=False, allow_null=True, default=None, help_text=AT_HELP, **kwargs)


def _pain(**kwargs) -> serializers.IntegerField:
    # The range (0–10) is the service's rule: its refusal is a 400 {"detail": message}.
    return serializers.IntegerField(help_text="0–10.", **kwargs)


class CheckInSerializer(serializers.Serializer):
    """Identity two ways: the patient says their full name (and staff tick that it matches), and gives a
    date of birth that must match the record."""

    name_confirmed = serializers.BooleanField(
        default=False, help_text="The patient said their full name and it matches. Required to be true."
    )
    date_of_birth = StrictDateField(help_text="As the patient gives it, YYYY-MM-DD.")
    at = _at()


class ProcedureStartSerializer(serializers.Serializer):
    at = _at()
    baseline_pain = _pain(required=False, allow_null=True, default=None)


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1}],
        "description": "The steroid's id, or its name (any case), e.g. “dexamethasone”.",
        "example": "dexamethasone",
    }
)
class SteroidField(serializers.Field):
    """A steroid product by id or by name (case-insensitive); the reply shows the name."""

    def to_internal_value(self, data) -> SteroidProduct:
        name = self.field_name
        if isinstance(data, bool) or not isinstance(data, int | str) or not str(data).strip():
            raise serializers.ValidationError(f"{name} must be a steroid's id or name; got {data!r}.")
        text = " ".join(str(data).split())
        if isinstance(data, int) or re.fullmatch(r"[0-9]+", text):
            pk = int(text)
            found = SteroidProduct.objects.filter(pk=pk).first() if 1 <= pk <= ID_MAX else None
            if found is None:
                raise serializers.ValidationError(f"There is no steroid with id {pk}.")
            return found
        found = SteroidProduct.objects.filter(name__iexact=text).first()
        if found is None:
            known = ", ".join(SteroidProduct.objects.values_list("name", flat=True))
            raise serializers.ValidationError(f"There is no steroid named “{text}” (known: {known}).")
        return found

    def to_representation(self, value: SteroidProduct) -> str:
        return value.name


class SteroidGivenSerializer(serializers.Serializer):
    steroid = SteroidField()
    dose_mg = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        help_text="mg given. Above the product's per-session ceiling it is "
        "charted and flagged in `record_warnings`.",
    )


class ProcedureFinishSerializer(serializers.Serializer):
    """What the physician did. Fields left out keep what was charted at the start (`baseline_pain`) or
    stay empty."""

    ended_at = _at()
    levels = serializers.CharField(max_length=60, allow_blank=True, required=False, help_text="e.g. L4-L5")
    side = serializers.ChoiceField(choices=Side.choices, allow_blank=True, required=False)
    approach = serializers.CharField(
        max_length=60, allow_blank=True, required=False, help_text="e.g. transforaminal, interlaminar, caudal"
    )
    imaging_used = serializers.ChoiceField(choices=ImagingUsed.choices, allow_blank=True, required=False)
    contrast_ml = serializers.DecimalField(
        max_digits=5, decimal_places=1, min_value=Decimal("0"), allow_null=True, required=False
    )
    local_anaesthetic = serializers.CharField(
        max_length=80, allow_blank=True, required=False, help_text="e.g. lidocaine 1% 3 mL"
    )
    sedation_given = serializers.BooleanField(required=False)
    sedation_agent = serializers.CharField(max_length=80, allow_blank=True, required=False)
    complications = serializers.CharField(
        max_length=4000, allow_blank=True, required=False, help_text="Empty when there were none."
    )
    notes = serializers.CharField(max_length=4000, allow_blank=True, required=False)
    baseline_pain = _pain(required=False, allow_null=True)
    steroids = SteroidGivenSerializer(many=True, required=False, default=list)

    DETAIL_FIELDS = (
        "levels",
        "side",
        "approach",
        "imaging_used",
        "contrast_ml",
        "local_anaesthetic",
        "sedation_given",
        "sedation_agent",
        "complications",
        "notes",
        "baseline_pain",
    )

    def service_arguments(self) -> dict:
        """procedure_finish's keyword arguments: `details` holds only the fields the caller gave."""
        data = self.validated_data
        return {
            "ended_at": data["ended_at"],
            "details": {name: data[name] for name in self.DETAIL_FIELDS if name in data},
            "steroids": [(given["steroid"], given["dose_mg"]) for given in data["steroids"]],
        }


class VitalsInputSerializer(serializers.Serializer):
    """One round of observations. Plausibility limits and the 0–10 pain scale are the service's rules."""

    taken_at = _at()
    systolic = serializers.IntegerField(help_text="mmHg.")
    diastolic = serializers.IntegerField(help_text="mmHg, below the systolic.")
    heart_rate = serializers.IntegerField(help_text="Beats a minute.")
    spo2 = serializers.IntegerField(help_text="SpO₂ %.")
    pain = _pain()
    leg_strength = serializers.ChoiceField(choices=LegStrength.choices, default=LegStrength.NORMAL)
    numbness = serializers.ChoiceField(choices=Numbness.choices, default=Numbness.NONE)
    note = serializers.CharField(max_length=300, allow_blank=True, default="")


class DischargeInputSerializer(serializers.Serializer):
    """Every criterion must be met; before the minimum observation time, `early_reason` is required."""

    at = _at()
    vitals_stable = serializers.BooleanField()
    walks_safely = serializers.BooleanField()
    pain_controlled = serializers.BooleanField()
    escort_present = serializers.BooleanField(
        allow_null=True, default=None, help_text="Asked only after sedation (planned or given)."
    )
    early_reason = serializers.CharField(
        max_length=300,
        allow_blank=True,
        default="",
        help_text="Why the patient leaves before the minimum observation time.",
    )


class DiaryInputSerializer(serializers.Serializer):
    """Pain and relief at one of the procedure type's diary times after a diagnostic block."""

    minutes_after = serializers.IntegerField(help_text="One of the procedure type's diary times.")
    pain = _pain()
    relief_percent = serializers.IntegerField(help_text="0–100.")
    source = serializers.ChoiceField(
        choices=DiarySource.choices,
        default=DiarySource.NURSE,
        help_text="`patient` when the patient reported it (e.g. on the phone).",
    )
    at = _at()


class AppointmentFinishedSerializer(AppointmentDetailSerializer):
    """The appointment detail after finishing, with what the physician should know about the charting."""

    record_warnings = serializers.SerializerMethodField(
        help_text="E.g. a steroid dose above its per-session ceiling (charted nonetheless)."
    )

    class Meta(AppointmentDetailSerializer.Meta):
        fields = [*AppointmentDetailSerializer.Meta.fields, "record_warnings"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_record_warnings(self, appointment: Appointment) -> list[str]:
        return list(self.context.get("record_warnings", []))


class VitalsEntrySerializer(serializers.ModelSerializer):
    taken_at = ClinicDateTimeField(read_only=True)
    recorded_by = UserNameField()
    recorded_at = ClinicDateTimeField(read_only=True)

    class Meta:
        model = VitalsEntry
        fields = [
            "id",
            "taken_at",
            "systolic",
            "diastolic",
            "heart_rate",
            "spo2",
            "pain",
            "leg_strength",
            "numbness",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class SteroidDoseSerializer(serializers.ModelSerializer):
    steroid = serializers.CharField(source="steroid.name", read_only=True)
    steroid_id = serializers.IntegerField(read_only=True)
    given_at = ClinicDateTimeField(read_only=True)
    recorded_by = UserNameField()

    class Meta:
        model = SteroidDose
        fields = ["steroid", "steroid_id", "dose_mg", "given_at", "recorded_by"]
        read_only_fields = fields


class DischargeSerializer(serializers.ModelSerializer):
    discharged_at = ClinicDateTimeField(read_only=True)
    by = UserNameField()

    class Meta:
        model = Discharge
        fields = [
            "discharged_at",
            "vitals_stable",
            "walks_safely",
            "pain_controlled",
            "escort_present",
            "early_reason",
            "by",
        ]
        read_only_fields = fields


class DiaryEntrySerializer(serializers.ModelSerializer):
    recorded_at = ClinicDateTimeField(read_only=True)
    recorded_by = UserNameField()

    class Meta:
        model = BlockDiaryEntry
        fields = ["minutes_after", "pain", "relief_percent", "recorded_at", "source", "recorded_by"]
        read_only_fields = fields


class ProcedureRecordSerializer(serializers.ModelSerializer):
    """What was done, the steroid given, the recovery observations, the discharge and the post-block
    diary. Expects the appointment's steroid doses, vitals, discharge and diary prefetched."""

    appointment = serializers.IntegerField(source="appointment_id", read_only=True)
    started_at = ClinicDateTimeField(read_only=True)
    ended_at = ClinicDateTimeField(read_only=True, allow_null=True, help_text="Null while in the room.")
    earliest_discharge = serializers.SerializerMethodField(
        help_text="The end of the minimum observation time; null until the procedure has ended."
    )
    recorded_by = UserNameField()
    steroid_doses = SteroidDoseSerializer(source="appointment.steroid_doses", many=True, read_only=True)
    vitals = VitalsEntrySerializer(source="appointment.vitals", many=True, read_only=True)
    discharge = serializers.SerializerMethodField()
    diary = DiaryEntrySerializer(source="appointment.diary", many=True, read_only=True)

    class Meta:
        model = ProcedureRecord
        fields = [
            "appointment",
            "started_at",
            "ended_at",
            "earliest_discharge",
            *RECORD_DETAIL_FIELDS,
            "recorded_by",
            "steroid_doses",
            "vitals",
            "discharge",
            "diary",
        ]
        read_only_fields = fields

    @extend_schema_field(ClinicDateTimeField(allow_null=True))
    def get_earliest_discharge(self, record: ProcedureRecord) -> str | None:
        if record.ended_at is None:
            return None
        moment = earliest_discharge(appointment=record.appointment, record=record)
        return ClinicDateTimeField().to_representation(moment)

    @extend_schema_field(DischargeSerializer(allow_null=True))
    def get_discharge(self, record: ProcedureRecord) -> dict | None:
        discharge = getattr(record.appointment, "discharge", None)
        return DischargeSerializer(discharge).data if discharge is not None else None


class RecoveryBoardRowSerializer(serializers.Serializer):
    """One patient in a recovery bay (a row of procedures.selectors.dayof.recovery_board)."""

    appointment = serializers.IntegerField(source="appointment.pk", help_text="Appointment id.")
    patient = serializers.CharField(source="appointment.patient.full_name", help_text="The patient's name.")
    bay = serializers.CharField(source="bay.name", allow_null=True, help_text="The recovery bay's name.")
    bay_id = serializers.IntegerField(source="bay.pk", allow_null=True)
    procedure = serializers.CharField(source="appointment.procedure_type.name")
    ended_at = ClinicDateTimeField(source="record.ended_at", help_text="When the procedure ended.")
    earliest_discharge = ClinicDateTimeField(help_text="The end of the minimum observation time.")
    seconds_left = serializers.IntegerField(help_text="Until earliest_discharge; 0 once it has passed.")
    last_vitals = VitalsEntrySerializer(allow_null=True, help_text="Null until observations are charted.")
    vitals_due_at = ClinicDateTimeField(help_text="The next round of observations is due then.")
    vitals_overdue = serializers.BooleanField()
    discharge_overdue = serializers.BooleanField(
        help_text="Past the earliest discharge by one observation interval: discharge or note why not."
    )
    alerts = serializers.ListField(child=serializers.CharField(), help_text="What needs attention now.")


class RecoveryBaySerializer(serializers.ModelSerializer):
    class Meta:
        model = RecoveryBay
        fields = ["id", "name"]
        read_only_fields = fields


class RecoveryBoardSerializer(serializers.Serializer):
    now = ClinicDateTimeField(help_text="The server's time the countdowns were computed at.")
    results = RecoveryBoardRowSerializer(many=True, source="rows")
    free_bays = RecoveryBaySerializer(many=True, help_text="Active bays nobody is in.")


class PainScoreSerializer(serializers.ModelSerializer):
    """Pain now, 0–10 (LOINC 72514-3). Integers only: 7.5 or "seven" is refused, not rounded."""

    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    appointment = serializers.PrimaryKeyRelatedField(
        queryset=Appointment.objects.all(), required=False, allow_null=True
    )
    score = serializers.IntegerField(min_value=0, max_value=10)
    percent_relief = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    recorded_at = AwareDateTimeField()
    source = serializers.ChoiceField(choices=PainSource.choices, default=PainSource.CLINIC)

    class Meta:
        model = PainScore
        fields = [
            "id",
            "patient",
            "appointment",
            "score",
            "percent_relief",
            "recorded_at",
            "source",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def to_internal_value(self, data):
        # A JSON 7.5 would otherwise be truncated to 7 by IntegerField: refuse anything but a whole number.
        for name in ("score", "percent_relief"):
            value = data.get(name) if hasattr(data, "get") else None
            if isinstance(value, float) and not value.is_integer():
                raise serializers.ValidationError({name: [f"{name} must be a whole number."]})
        return super().to_internal_value(data)


class InstrumentScoreSerializer(serializers.ModelSerializer):
    """An optional outcome instrument the clinic collects (Clinic settings → Outcome settings): `odi`,
    Oswestry Disability Index, 0–100 %; `pgic`, Patient Global Impression of Change, 1 (very much improved)
    to 7 (very much worse). Integers only."""

    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    appointment = serializers.PrimaryKeyRelatedField(
        queryset=Appointment.objects.all(), required=False, allow_null=True
    )
    instrument = serializers.ChoiceField(choices=Instrument.choices)
    # The range depends on the instrument: the service checks it and names this field.
    value = serializers.IntegerField(help_text="odi: 0–100 (%); pgic: 1–7 (1 = very much improved).")
    recorded_at = AwareDateTimeField()
    source = serializers.ChoiceField(choices=PainSource.choices, default=PainSource.CLINIC)

    class Meta:
        model = InstrumentScore
        fields = [
            "id",
            "patient",
            "appointment",
            "instrument",
            "value",
            "recorded_at",
            "source",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def to_internal_value(self, data):
        # As for pain scores: a JSON 2.5 is refused, not truncated to 2.
        value = data.get("value") if hasattr(data, "get") else None
        if isinstance(value, float) and not value.is_integer():
            raise serializers.ValidationError({"value": ["value must be a whole number."]})
        return super().to_internal_value(data)
