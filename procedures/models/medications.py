from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models.patients import Patient


class DrugClass(models.TextChoices):
    VITAMIN_K_ANTAGONIST = "vka", "Vitamin K antagonist"
    DIRECT_ORAL_ANTICOAGULANT = "doac", "Direct oral anticoagulant"
    HEPARIN = "heparin", "Heparin / low-molecular-weight heparin"
    OTHER_ANTICOAGULANT = "anticoagulant", "Other anticoagulant"
    ANTIPLATELET = "antiplatelet", "Antiplatelet"
    NSAID = "nsaid", "NSAID"
    SSRI_SNRI = "ssri_snri", "SSRI / SNRI"
    SUPPLEMENT = "supplement", "Herbal supplement"
    OTHER = "other", "Other"


class Indication(models.TextChoices):
    PRIMARY_PREVENTION = "primary", "Primary prevention"
    SECONDARY_PREVENTION = "secondary", "Secondary prevention (heart attack, stroke, stent)"


class DoseIntent(models.TextChoices):
    PROPHYLACTIC = "prophylactic", "Prophylactic (preventive) dose"
    THERAPEUTIC = "therapeutic", "Therapeutic (treatment) dose"


class Medication(models.Model):
    """The clinic's medication catalogue: drugs that matter before a spinal injection."""

    generic_name = models.CharField(max_length=80, unique=True)
    brand_names = models.CharField(max_length=200, blank=True)
    drug_class = models.CharField(max_length=16, choices=DrugClass)
    asks_indication = models.BooleanField(
        default=False,
        help_text="The hold depends on why it is taken (aspirin: primary or secondary prevention).",
    )
    asks_dose_intent = models.BooleanField(
        default=False, help_text="The hold depends on the dose (heparins: prophylactic or therapeutic)."
    )
    needs_inr = models.BooleanField(
        default=False, help_text="An INR result is needed on the day (warfarin-type)."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["generic_name"]

    def __str__(self) -> str:
        return self.generic_name


class PatientMedication(models.Model):
    """A medication on a patient's list. Stopping keeps the row (the list's history is clinical data)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="+")
    indication = models.CharField(max_length=12, choices=Indication, blank=True)
    dose_intent = models.CharField(max_length=12, choices=DoseIntent, blank=True)
    dose = models.CharField(
        max_length=80, blank=True, help_text="As the patient takes it, e.g. 5 mg once daily."
    )
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["medication__generic_name", "added_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "medication"],
                condition=Q(stopped_at__isnull=True),
                name="patmed_one_active_per_drug",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.medication} for {self.patient.full_name}"

    @property
    def active(self) -> bool:
        return self.stopped_at is None
