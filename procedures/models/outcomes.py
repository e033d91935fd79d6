from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models.patients import Patient
from procedures.models.scheduling import Appointment


class PainSource(models.TextChoices):
    BASELINE = "baseline", "Baseline (booking or clinic visit)"
    DAY_OF = "day_of", "Just before the procedure"
    DIARY = "diary", "Post-block diary"
    CHECK_IN = "check_in", "Patient check-in"
    CLINIC = "clinic", "Clinic entry"


class PainScore(models.Model):
    """Pain now, 0–10 (LOINC 72514-3), from any source, on one timeline per patient. `appointment` is the
    procedure the score follows (or precedes, for a baseline)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pain_scores")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="pain_scores"
    )
    score = models.PositiveSmallIntegerField()
    percent_relief = models.PositiveSmallIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=PainSource)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        permissions = [("view_outcomes_dashboard", "Can view the outcomes dashboard (all patients' results)")]
        indexes = [models.Index(fields=["patient", "recorded_at"], name="pain_patient_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=10), name="pain_score_0_10"),
            models.CheckConstraint(
                condition=Q(percent_relief__isnull=True) | Q(percent_relief__lte=100),
                name="pain_relief_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score}/10 at {self.recorded_at:%Y-%m-%d %H:%M} ({self.source})"
