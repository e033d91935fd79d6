import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


def _clinic_time_zone() -> str:
    return settings.CLINIC_TIME_ZONE


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"“{value}” is not a time zone name such as America/New_York.") from exc


mrn_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$", "An MRN is letters, digits and dashes (up to 32 characters)."
)
phone_validator = RegexValidator(
    r"^\+[1-9][0-9]{6,14}$", "Enter the phone number in international form, e.g. +15550102000."
)


# What staff may enter and change, on the page and through the API alike.
PATIENT_EDITABLE_FIELDS = [
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "preferred_channel",
    "consent_sms",
    "consent_email",
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
    "pain_started_on",
    "conservative_care_started_on",
]


class ContactChannel(models.TextChoices):
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone call from the clinic"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"


class Patient(models.Model):
    mrn = models.CharField("MRN", max_length=32, unique=True, validators=[mrn_validator])
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=16, blank=True, validators=[phone_validator])
    email = models.EmailField(blank=True)
    preferred_channel = models.CharField(max_length=8, choices=ContactChannel, default=ContactChannel.SMS)
    consent_sms = models.BooleanField("consents to text messages", default=False)
    consent_sms_at = models.DateTimeField(null=True, blank=True)
    consent_email = models.BooleanField("consents to email", default=False)
    consent_email_at = models.DateTimeField(null=True, blank=True)
    # Set when the patient opts out themselves (STOP by text, the link in an email); consent goes off too.
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    email_opted_out_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=8, choices=Language, default=Language.ENGLISH)
    time_zone = models.CharField(max_length=64, default=_clinic_time_zone, validators=[validate_time_zone])

    # Clinical flags that change what is safe (holds, imaging, steroid after-care).
    diabetes = models.BooleanField(default=False)
    bleeding_disorder = models.BooleanField("bleeding disorder / coagulopathy", default=False)
    severe_liver_disease = models.BooleanField(default=False)
    severe_kidney_disease = models.BooleanField(default=False)
    allergy_contrast = models.BooleanField("allergic to contrast", default=False)
    allergy_local_anaesthetic = models.BooleanField("allergic to local anaesthetic", default=False)
    allergy_corticosteroid = models.BooleanField("allergic to corticosteroids", default=False)
    allergy_latex = models.BooleanField("allergic to latex", default=False)
    allergy_notes = models.TextField(blank=True)
    possible_pregnancy = models.BooleanField(default=False)
    # For coverage rules: how long the pain has lasted and conservative care has been tried.
    pain_started_on = models.DateField(null=True, blank=True)
    conservative_care_started_on = models.DateField(
        null=True, blank=True, help_text="When physical therapy, medication or other conservative care began."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            # Patient search by name (case-insensitive prefix) and by date of birth.
            models.Index(Lower("last_name"), Lower("first_name"), name="patient_name_ci_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(consent_sms=False) | Q(consent_sms_at__isnull=False),
                name="patient_sms_consent_has_time",
            ),
            models.CheckConstraint(
                condition=Q(consent_email=False) | Q(consent_email_at__isnull=False),
                name="patient_email_consent_has_time",
            ),
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_mrn_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def allergy_labels(self) -> list[str]:
        flags = {
            "contrast": self.allergy_contrast,
            "local anaesthetic": self.allergy_local_anaesthetic,
            "corticosteroid": self.allergy_corticosteroid,
            "latex": self.allergy_latex,
        }
        return [label for label, present in flags.items() if present]
