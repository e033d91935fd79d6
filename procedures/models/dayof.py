"""The day of the procedure: what was done, the recovery-bay observations, discharge, and the diary after a
diagnostic block. Times are the actual times charted (a nurse may chart a few minutes late)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from procedures.models.scheduling import Appointment, Side


class ImagingUsed(models.TextChoices):
    FLUOROSCOPY = "fluoroscopy", "Fluoroscopy"
    ULTRASOUND = "ultrasound", "Ultrasound"
    CT = "ct", "CT"
    NONE = "none", "None"


# What the physician charts about the procedure itself (the page, the API and the service agree on these).
RECORD_DETAIL_FIELDS = (
    "baseline_pain",
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
)


class ProcedureRecord(models.Model):
    """What the physician did, charted at the end of the procedure."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="record")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    baseline_pain = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Pain 0–10 just before the procedure (the day's baseline)."
    )
    levels = models.CharField(max_length=60, blank=True)
    side = models.CharField(max_length=10, choices=Side, blank=True)
    approach = models.CharField(
        max_length=60, blank=True, help_text="e.g. transforaminal, interlaminar, caudal"
    )
    imaging_used = models.CharField(max_length=12, choices=ImagingUsed, blank=True)
    contrast_ml = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    local_anaesthetic = models.CharField(max_length=80, blank=True, help_text="e.g. lidocaine 1% 3 mL")
    sedation_given = models.BooleanField(default=False)
    sedation_agent = models.CharField(max_length=80, blank=True)
    complications = models.TextField(blank=True, help_text="Empty when there were none.")
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")),
                name="record_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(baseline_pain__isnull=True) | Q(baseline_pain__lte=10), name="record_pain_0_10"
            ),
            models.CheckConstraint(
                condition=Q(contrast_ml__isnull=True) | Q(contrast_ml__gte=0), name="record_contrast_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Record of appointment {self.appointment_id}"


class LegStrength(models.TextChoices):
    NORMAL = "normal", "Normal"
    WEAK = "weak", "Weak"


class Numbness(models.TextChoices):
    NONE = "none", "None"
    EXPECTED = "expected", "Expected (from the local anaesthetic)"
    NEW = "new", "New or spreading"


class VitalsEntry(models.Model):
    """One round of observations in the recovery bay."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="vitals")
    taken_at = models.DateTimeField()
    systolic = models.PositiveSmallIntegerField()
    diastolic = models.PositiveSmallIntegerField()
    heart_rate = models.PositiveSmallIntegerField()
    spo2 = models.PositiveSmallIntegerField("SpO₂ %")
    pain = models.PositiveSmallIntegerField(help_text="0–10")
    leg_strength = models.CharField(max_length=8, choices=LegStrength, default=LegStrength.NORMAL)
    numbness = models.CharField(max_length=10, choices=Numbness, default=Numbness.NONE)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            # Plausibility bounds (typing errors), not clinical thresholds.
            models.CheckConstraint(
                condition=Q(systolic__gte=40, systolic__lte=300), name="vitals_systolic_range"
            ),
            models.CheckConstraint(
                condition=Q(diastolic__gte=20, diastolic__lte=200), name="vitals_diastolic_range"
            ),
            models.CheckConstraint(
                condition=Q(diastolic__lt=F("systolic")), name="vitals_diastolic_below_systolic"
            ),
            models.CheckConstraint(
                condition=Q(heart_rate__gte=20, heart_rate__lte=250), name="vitals_hr_range"
            ),
            models.CheckConstraint(condition=Q(spo2__gte=50, spo2__lte=100), name="vitals_spo2_range"),
            models.CheckConstraint(condition=Q(pain__lte=10), name="vitals_pain_0_10"),
        ]

    def __str__(self) -> str:
        return f"{self.systolic}/{self.diastolic} HR {self.heart_rate} SpO₂ {self.spo2} pain {self.pain}"


class Discharge(models.Model):
    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="discharge")
    discharged_at = models.DateTimeField()
    vitals_stable = models.BooleanField()
    walks_safely = models.BooleanField()
    pain_controlled = models.BooleanField()
    escort_present = models.BooleanField(null=True, help_text="Asked only after sedation.")
    early_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the patient left before the minimum monitoring time."
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"Discharge of appointment {self.appointment_id}"


class DiarySource(models.TextChoices):
    NURSE = "nurse", "Charted by a nurse"
    PATIENT = "patient", "Reported by the patient"


class BlockDiaryEntry(models.Model):
    """Pain after a diagnostic block at one of the procedure type's timepoints."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="diary")
    minutes_after = models.PositiveSmallIntegerField()
    pain = models.PositiveSmallIntegerField()
    relief_percent = models.PositiveSmallIntegerField()
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=DiarySource, default=DiarySource.NURSE)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["minutes_after"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "minutes_after"], name="diary_one_entry_per_timepoint"
            ),
            models.CheckConstraint(condition=Q(pain__lte=10), name="diary_pain_0_10"),
            models.CheckConstraint(condition=Q(relief_percent__lte=100), name="diary_relief_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.minutes_after} min: pain {self.pain}, relief {self.relief_percent}%"
