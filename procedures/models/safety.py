"""Pre-procedure safety: the clinic's hold protocol (data with sources), each appointment's hold plan,
the checklist that gates the procedure, and the clinic's safety settings."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models.catalogue import BleedingRisk, ProcedureFamily, Purpose
from procedures.models.medications import DoseIntent, Indication, Medication, PatientMedication
from procedures.models.scheduling import Appointment


class Evidence(models.TextChoices):
    VERIFIED = "V", "Read in the source"
    SECONDARY = "S", "Secondary transcription — verify locally"
    NONE = "-", "No published number — clinic setting"


class HoldKind(models.TextChoices):
    NONE = "none", "No hold"
    HOURS = "hours", "Hold for hours"
    DAYS = "days", "Hold for days"
    SHARED = "shared", "Shared decision with the prescriber"
    UNSET = "unset", "Not set by the clinic"


class HoldRule(models.Model):
    """One row of the clinic's hold protocol: for a drug (and, where it matters, its indication or dose)
    and a procedure's bleeding-risk class, how long to hold before and when to restart."""

    medication = models.ForeignKey(Medication, on_delete=models.CASCADE, related_name="hold_rules")
    indication = models.CharField(max_length=12, choices=Indication, blank=True, help_text="Empty: any.")
    dose_intent = models.CharField(max_length=12, choices=DoseIntent, blank=True, help_text="Empty: any.")
    risk_class = models.CharField(max_length=12, choices=BleedingRisk)
    hold_kind = models.CharField(max_length=8, choices=HoldKind)
    hold_value = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Hours or days, as the kind says. Days: no dose on that many days before.",
    )
    hold_value_renal = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Used instead when the patient has severe kidney disease."
    )
    requires_normal_inr = models.BooleanField(default=False)
    restart_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="After the procedure ends."
    )
    restart_note = models.CharField(
        max_length=80, blank=True, help_text="The source's wording, e.g. “12–24 h”."
    )
    evidence = models.CharField(max_length=1, choices=Evidence)
    source = models.CharField(max_length=200)
    note = models.CharField(max_length=300, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Goes up with every edit; plans record it.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["medication__generic_name", "indication", "dose_intent", "risk_class"]
        constraints = [
            models.UniqueConstraint(
                fields=["medication", "indication", "dose_intent", "risk_class"], name="holdrule_unique_case"
            ),
            models.CheckConstraint(
                condition=Q(hold_kind__in=["hours", "days"], hold_value__isnull=False)
                | (~Q(hold_kind__in=["hours", "days"]) & Q(hold_value__isnull=True)),
                name="holdrule_value_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        qualifier = self.get_indication_display() if self.indication else self.get_dose_intent_display() or ""
        return f"{self.medication} {qualifier} / {self.risk_class} risk".replace("  ", " ")


class SafetySettings(models.Model):
    """The clinic's safety numbers (one row). Empty means the clinic has not set it, and the app says so."""

    inr_limit = models.DecimalField(
        "INR limit on the day",
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="The guideline asks for a “normal INR” without a number: the clinic sets it.",
    )
    older_age_years = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Age at which the bleeding-risk class goes up one step. No published number: clinic setting.",
    )
    clear_liquids_hours = models.PositiveSmallIntegerField(default=2)
    light_meal_hours = models.PositiveSmallIntegerField(default=6)
    fatty_meal_hours = models.PositiveSmallIntegerField(default=8)
    fasting_source = models.CharField(max_length=200, default="ASA preoperative fasting guideline 2017")
    arrival_minutes_before = models.PositiveSmallIntegerField(
        default=30, help_text="How early patients are asked to arrive (clinic logistics)."
    )
    no_driving_hours = models.PositiveSmallIntegerField(
        default=24, help_text="After sedation. Institutional sheets use 12–24 hours."
    )
    vitals_every_minutes = models.PositiveSmallIntegerField(
        default=15,
        help_text="How often recovery observations are due (no published interval: clinic setting).",
    )
    steroid_yearly_limit_mpe_mg = models.PositiveSmallIntegerField(
        "yearly steroid limit (methylprednisolone-equivalent mg)",
        default=200,
        help_text="≥ 200 mg a year was linked to lower bone density (Kerezoudis, Pain Med 2018).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "safety settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="safety_settings_single_row")]

    def __str__(self) -> str:
        return "Safety settings"


class SteroidProduct(models.Model):
    """Injectable corticosteroids: per-session ceilings and the factor to methylprednisolone-equivalents."""

    name = models.CharField(max_length=40, unique=True)
    session_ceiling_mg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    ceiling_source = models.CharField(max_length=200, blank=True)
    mpe_per_mg = models.DecimalField(
        "methylprednisolone-equivalent mg per mg",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Not in the clinic's reference: set it from your pharmacy's equivalence table.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SteroidDose(models.Model):
    """A steroid actually given (recorded with the procedure); feeds the rolling-year dose."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="steroid_doses")
    steroid = models.ForeignKey(SteroidProduct, on_delete=models.PROTECT, related_name="+")
    dose_mg = models.DecimalField(max_digits=6, decimal_places=2)
    given_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["given_at"]
        constraints = [models.CheckConstraint(condition=Q(dose_mg__gt=0), name="steroid_dose_positive")]

    def __str__(self) -> str:
        return f"{self.steroid} {self.dose_mg:g} mg"


class PlanStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed — waiting for a physician"
    CONFIRMED = "confirmed", "Confirmed by a physician"


class HoldPlan(models.Model):
    """The appointment's hold plan, proposed from the protocol and confirmed (or changed) by a physician."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="hold_plan")
    base_risk_class = models.CharField(max_length=12, choices=BleedingRisk)
    risk_class = models.CharField(max_length=12, choices=BleedingRisk)
    risk_raised_because = models.CharField(max_length=300, blank=True)
    computed_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=PlanStatus, default=PlanStatus.PROPOSED)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Hold plan for appointment {self.appointment_id}"


class ClearanceStatus(models.TextChoices):
    NOT_NEEDED = "not_needed", "Not needed"
    PENDING = "pending", "Waiting for the prescriber"
    CLEARED = "cleared", "Prescriber agreed"
    REFUSED = "refused", "Prescriber says do not stop"


class HoldPlanLine(models.Model):
    plan = models.ForeignKey(HoldPlan, on_delete=models.CASCADE, related_name="lines")
    patient_medication = models.ForeignKey(PatientMedication, on_delete=models.CASCADE, related_name="+")
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(HoldRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    hold_kind = models.CharField(max_length=8, choices=HoldKind)
    proposed_hold_hours = models.PositiveIntegerField(default=0)
    requires_normal_inr = models.BooleanField(default=False)
    restart_hours = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)
    evidence = models.CharField(max_length=1, choices=Evidence, default=Evidence.NONE)
    needs_prescriber_clearance = models.BooleanField(default=False)
    clearance_status = models.CharField(
        max_length=12, choices=ClearanceStatus, default=ClearanceStatus.NOT_NEEDED
    )
    clearance_note = models.CharField(max_length=300, blank=True)
    # A physician's change to the proposal, with the reason (audited).
    override_hold_hours = models.PositiveIntegerField(null=True, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)
    # What the patient is told: computed from the hold and the appointment's time.
    last_dose_by = models.DateTimeField(null=True, blank=True)
    last_dose_day = models.DateField(null=True, blank=True)
    resume_after = models.DateTimeField(null=True, blank=True)
    patient_confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["medication__generic_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "patient_medication"], name="holdline_one_per_medication"
            ),
            models.CheckConstraint(
                condition=Q(override_hold_hours__isnull=True) | ~Q(override_reason=""),
                name="holdline_override_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.medication}: hold {self.hold_hours} h"

    @property
    def hold_hours(self) -> int:
        return self.override_hold_hours if self.override_hold_hours is not None else self.proposed_hold_hours


class ChecklistKind(models.TextChoices):
    CONSENT = "consent", "Consent form signed"
    HOLD_PLAN = "hold_plan", "Physician confirmed the medication hold plan"
    ELIGIBILITY = "eligibility", "Eligibility warnings reviewed by a physician"
    HOLDS_CONFIRMED = "holds_confirmed", "Patient confirms the medication holds"
    CLEARANCES = "clearances", "Prescriber clearances received"
    FASTING = "fasting", "Fasting confirmed"
    ESCORT = "escort", "Escort to drive home arranged"
    ALLERGIES = "allergies", "Allergies reviewed"
    INR = "inr", "INR checked on the day"
    GLUCOSE = "glucose", "Blood glucose checked"
    PREGNANCY = "pregnancy", "Pregnancy excluded"
    NO_INFECTION = "no_infection", "No fever or active infection"


class ItemState(models.TextChoices):
    OPEN = "open", "To do"
    DONE = "done", "Done"


class ChecklistItem(models.Model):
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="checklist")
    kind = models.CharField(max_length=16, choices=ChecklistKind)
    required = models.BooleanField(default=True)
    why = models.CharField(max_length=200, blank=True, help_text="Why this item applies to this patient.")
    state = models.CharField(max_length=6, choices=ItemState, default=ItemState.OPEN)
    value = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind"], name="checklist_one_item_per_kind"),
            models.CheckConstraint(
                condition=Q(state="open") | Q(done_at__isnull=False), name="checklist_done_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_state_display()}"


class SafetyOverride(models.Model):
    """A physician's decision to go ahead despite an open checklist item or an eligibility warning."""

    class Scope(models.TextChoices):
        CHECKLIST = "checklist", "Checklist gate"
        ELIGIBILITY = "eligibility", "Eligibility warning"

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="safety_overrides")
    scope = models.CharField(max_length=12, choices=Scope)
    code = models.CharField(max_length=40, help_text="Which warning or item, e.g. esi_sessions or inr.")
    text = models.CharField(max_length=400, help_text="What the physician was shown.")
    reason = models.CharField(max_length=400)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the item was reopened afterwards: the override no longer counts.",
    )

    class Meta:
        ordering = ["at"]
        permissions = [
            ("confirm_hold_plan", "Can confirm or change a hold plan"),
            ("override_safety", "Can go ahead despite an open checklist item or eligibility warning"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="safety_override_has_reason")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} override ({self.code}) by {self.by}"


class CoverageRule(models.Model):
    """Eligibility and repeat limits for one family of procedures (Medicare LCDs by default; payer- or
    clinic-editable). Breaking one is a warning at booking that a physician may override with a reason."""

    family = models.CharField(max_length=20, choices=ProcedureFamily)
    purpose = models.CharField(max_length=12, choices=Purpose, blank=True, help_text="Empty: either.")
    max_sessions_12_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Per spinal region."
    )
    min_pain_weeks_before_first = models.PositiveSmallIntegerField(null=True, blank=True)
    min_conservative_care_weeks = models.PositiveSmallIntegerField(null=True, blank=True)
    conservative_care_must_have_failed = models.BooleanField(default=True)
    repeat_min_relief_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    repeat_min_relief_weeks = models.PositiveSmallIntegerField(null=True, blank=True)
    diagnostic_blocks_required = models.PositiveSmallIntegerField(null=True, blank=True)
    diagnostic_min_relief_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    diagnostic_min_gap_days = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=200)
    evidence = models.CharField(max_length=1, choices=Evidence)

    class Meta:
        ordering = ["family", "purpose"]
        constraints = [models.UniqueConstraint(fields=["family", "purpose"], name="coverage_rule_unique")]

    def __str__(self) -> str:
        return f"{self.get_family_display()} {self.purpose}".strip()
