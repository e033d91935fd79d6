import re
from datetime import UTC, date

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from procedures.models import Appointment, Patient, PhysicianProfile, ProcedureRoom, ProcedureType, Side


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "preferred_channel",
            "consent_email",
            "consent_email_at",
            "consent_sms",
            "consent_sms_at",
            "language",
            "time_zone",
            "diabetes",
            "bleeding_disorder",
            "severe_liver_disease",
            "severe_kidney_disease",
            "allergy_contrast",
            "allergy_local_anaesthetic",
            "allergy_corticosteroid",
            "allergy_latex",
            "allergy_notes",
            "possible_pregnancy",
        ]
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


class SlotSearchResultSerializer(serializers.Serializer):
    results = SlotSerializer(many=True, source="slots")
    truncated = serializers.BooleanField(help_text="More slots matched than `limit`; narrow the search.")
    earliest_safe_start = ClinicDateTimeField(
        allow_null=True, help_text="With `patient`: no slot is offered before this (e.g. a medication hold)."
    )
    earliest_safe_reason = serializers.CharField(allow_blank=True)


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
