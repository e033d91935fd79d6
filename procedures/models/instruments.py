"""Optional outcome instruments beside the pain score: a disability index and the patient's global impression
of change. clinical-reference.md §7 found no LOINC code for either, so each clinic turns them on itself
(OutcomeSettings) and the FHIR export codes them in a local code system."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models.outcomes import PainSource
from procedures.models.patients import Patient
from procedures.models.scheduling import Appointment


class Instrument(models.TextChoices):
    ODI = "odi", "Oswestry Disability Index"
    PGIC = "pgic", "Patient Global Impression of Change"


# (lowest, highest) whole-number value of each instrument. ODI: the questionnaire's total as a percentage of
# the maximum (0 = no disability); staff enter the total, rounded to a whole per cent.
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {Instrument.ODI: (0, 100), Instrument.PGIC: (1, 7)}

# PGIC as used in chronic-pain trials (Farrar et al., Pain 2001;94:149–158, "the standard seven-point
# PGIC"), worded as in the PhenX Toolkit protocol 860801 (phenx.org/protocols/view/860801), which cites
# Farrar: "Since the start of the study, my overall status is: 1 Very Much Improved … 7 Very Much Worse".
# The NINDS Common Data Element for the PGIC runs the same way ("1=very much improved" to "7=very much
# worse"). CDISC's PGI supplement notes that no single standard version exists (sponsors word the item and
# number the answers their own way), so a value recorded here always means this scale.
PGIC_ANCHORS: dict[int, str] = {
    1: "Very much improved",
    2: "Much improved",
    3: "Minimally improved",
    4: "No change",
    5: "Minimally worse",
    6: "Much worse",
    7: "Very much worse",
}


class InstrumentScore(models.Model):
    """One value of an optional instrument, on the same timeline as the pain scores. `appointment` is the
    procedure the value follows (or precedes, for a baseline), as for PainScore."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="instrument_scores")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="instrument_scores"
    )
    instrument = models.CharField(max_length=8, choices=Instrument)
    value = models.PositiveSmallIntegerField()
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=PainSource)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [models.Index(fields=["patient", "recorded_at"], name="instrument_patient_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(instrument__in=Instrument.values), name="instrument_known"),
            models.CheckConstraint(
                condition=~Q(instrument=Instrument.ODI) | Q(value__gte=0, value__lte=100),
                name="instrument_odi_0_100",
            ),
            models.CheckConstraint(
                condition=~Q(instrument=Instrument.PGIC) | Q(value__gte=1, value__lte=7),
                name="instrument_pgic_1_7",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.display_value} at {self.recorded_at:%Y-%m-%d %H:%M}"

    @property
    def display_value(self) -> str:
        if self.instrument == Instrument.ODI:
            return f"{self.value}%"
        if self.instrument == Instrument.PGIC and self.value in PGIC_ANCHORS:
            return f"{self.value} ({PGIC_ANCHORS[self.value].lower()})"
        return str(self.value)


class OutcomeSettings(models.Model):
    """Which optional instruments the clinic collects (one row). Both start off: no standard says a pain
    clinic must collect them, so the clinic decides."""

    collect_odi = models.BooleanField(
        "collect the Oswestry Disability Index",
        default=False,
        help_text="The clinic decides: staff enter the ODI total (0–100 %) on the patient's pain timeline; "
        "patients fill in the ten-section questionnaire on paper or in the clinic, not on the phone "
        "check-in. The clinical reference found no LOINC code: the FHIR export uses a local code.",
    )
    collect_pgic = models.BooleanField(
        "collect the Patient Global Impression of Change",
        default=False,
        help_text="The clinic decides: the phone check-in asks it (1 = very much improved … 7 = very much "
        "worse), and staff can enter it on the pain timeline. The clinical reference found no LOINC "
        "code: the FHIR export uses a local code.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "outcome settings"
        verbose_name_plural = "outcome settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="outcome_settings_single_row")]

    def __str__(self) -> str:
        return "Outcome settings"

    @property
    def instruments(self) -> list[str]:
        """The instruments turned on, in the order of Instrument."""
        on = {Instrument.ODI: self.collect_odi, Instrument.PGIC: self.collect_pgic}
        return [code for code in Instrument.values if on[code]]
