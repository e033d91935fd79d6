from django.db import models
from django.db.models import F, Q


class SpinalRegion(models.TextChoices):
    CERVICAL = "cervical", "Cervical"
    THORACIC = "thoracic", "Thoracic"
    LUMBAR = "lumbar", "Lumbar"
    SACRAL = "sacral", "Sacral / caudal"
    SACROILIAC = "sacroiliac", "Sacroiliac joint"
    MUSCULOSKELETAL = "musculoskeletal", "Muscle or peripheral joint"


class ProcedureFamily(models.TextChoices):
    """Groups procedure types the way coverage rules count them (clinical-reference.md §3)."""

    ESI_INTERLAMINAR = "esi_interlaminar", "Epidural steroid injection, interlaminar/caudal"
    ESI_TRANSFORAMINAL = "esi_transforaminal", "Epidural steroid injection, transforaminal"
    FACET_MBB = "facet_mbb", "Facet medial branch block"
    FACET_INTRA_ARTICULAR = "facet_ia", "Facet joint injection"
    FACET_RFA = "facet_rfa", "Radiofrequency ablation"
    SI_JOINT = "si_joint", "Sacroiliac joint injection"
    TRIGGER_POINT = "trigger_point", "Trigger point injection"
    REGENERATIVE = "regenerative", "Regenerative injection (PRP)"


class Purpose(models.TextChoices):
    DIAGNOSTIC = "diagnostic", "Diagnostic"
    THERAPEUTIC = "therapeutic", "Therapeutic"


class Imaging(models.TextChoices):
    FLUOROSCOPY = "fluoroscopy", "Fluoroscopy"
    ULTRASOUND = "ultrasound", "Ultrasound"
    NONE = "none", "None"


class BleedingRisk(models.TextChoices):
    """ASRA Pain Medicine 2018 procedure classes (Narouze et al.)."""

    LOW = "low", "Low"
    INTERMEDIATE = "intermediate", "Intermediate"
    HIGH = "high", "High"


class ProcedureType(models.Model):
    name = models.CharField(max_length=120, unique=True)
    cpt_code = models.CharField("CPT code", max_length=5)
    family = models.CharField(max_length=20, choices=ProcedureFamily)
    spinal_region = models.CharField(max_length=16, choices=SpinalRegion)
    purpose = models.CharField(max_length=12, choices=Purpose)
    imaging = models.CharField(max_length=12, choices=Imaging)
    uses_contrast = models.BooleanField(default=False)
    procedure_minutes = models.PositiveSmallIntegerField(help_text="Time in the room with the physician.")
    monitoring_minutes = models.PositiveSmallIntegerField(
        help_text="Observation after the procedure without sedation (clinics use 15–30 minutes)."
    )
    monitoring_minutes_sedated = models.PositiveSmallIntegerField(
        help_text="Observation after the procedure when sedation was given (clinics use 30)."
    )
    bleeding_risk = models.CharField("ASRA bleeding-risk class", max_length=12, choices=BleedingRisk)
    uses_steroid = models.BooleanField(default=False)
    sedation_allowed = models.BooleanField(default=False)
    diary_timepoints_minutes = models.JSONField(
        default=list,
        blank=True,
        help_text="Minutes after a diagnostic block at which pain is charted, e.g. [30, 60, 120, 240, 360]. "
        "Empty: no post-block diary.",
    )
    followup_days = models.JSONField(
        default=list,
        blank=True,
        help_text="Days after the procedure at which the patient is asked about pain and relief, "
        "e.g. [1, 14, 30, 90, 180, 365]. Empty: no check-ins.",
    )
    active = models.BooleanField(default=True)
    source_note = models.CharField(
        max_length=200, blank=True, help_text="Where the classification comes from, or “clinic setting”."
    )

    class Meta:
        ordering = ["family", "spinal_region", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(procedure_minutes__gte=5) & Q(procedure_minutes__lte=240),
                name="proctype_procedure_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(monitoring_minutes__gte=15) & Q(monitoring_minutes__lte=30),
                name="proctype_monitoring_15_to_30",
            ),
            models.CheckConstraint(
                condition=Q(monitoring_minutes_sedated__gte=F("monitoring_minutes")),
                name="proctype_sedated_monitoring_not_shorter",
            ),
            models.CheckConstraint(
                condition=Q(cpt_code__regex=r"^[0-9]{4}[0-9T]$"), name="proctype_cpt_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def monitoring_for(self, *, sedated: bool) -> int:
        return self.monitoring_minutes_sedated if sedated else self.monitoring_minutes
