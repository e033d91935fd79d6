from django.utils import timezone
from rest_framework import serializers

from procedures.models import Patient, PhysicianProfile, ProcedureRoom, ProcedureType


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
