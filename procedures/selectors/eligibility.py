"""Coverage and repeat limits (CoverageRule rows) and the rolling-year steroid dose, as warnings a
physician reviews: none of them blocks a booking by itself."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import (
    Appointment,
    AppointmentStatus,
    CoverageRule,
    Patient,
    ProcedureType,
    Purpose,
    SteroidDose,
)
from procedures.rules.safety import COUNT_TOGETHER
from procedures.selectors.safety import safety_settings

# Sessions that happened or will happen (cancelled and no-show ones do not count).
COUNTED_STATUSES = [
    s for s in AppointmentStatus.values if s not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
]

# Later capabilities (outcomes) tell how much relief a past procedure gave and for how long:
# returns (percent, weeks) or None when not documented.
ReliefEvidence = Callable[[Appointment], tuple[int, float] | None]
_RELIEF_SOURCES: list[ReliefEvidence] = []


def relief_source_register(source: ReliefEvidence) -> None:
    if source not in _RELIEF_SOURCES:
        _RELIEF_SOURCES.append(source)


def _documented_relief(appointment: Appointment) -> tuple[int, float] | None:
    for source in _RELIEF_SOURCES:
        found = source(appointment)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Warning:
    code: str
    text: str
    source: str


def _day(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j M Y")


def _families(procedure_type: ProcedureType) -> list[str]:
    group = COUNT_TOGETHER.get(procedure_type.family)
    if group is None:
        return [procedure_type.family]
    return [family for family, g in COUNT_TOGETHER.items() if g == group]


def coverage_rule_for(procedure_type: ProcedureType) -> CoverageRule | None:
    rules = CoverageRule.objects.filter(
        family=procedure_type.family, purpose__in=[procedure_type.purpose, ""]
    )
    return max(rules, key=lambda r: bool(r.purpose), default=None)


def eligibility_warnings(
    *,
    patient: Patient,
    procedure_type: ProcedureType,
    start: datetime,
    exclude_appointment_id: int | None = None,
) -> list[Warning]:
    warnings: list[Warning] = []
    rule = coverage_rule_for(procedure_type)
    region = procedure_type.spinal_region
    history = (
        Appointment.objects.filter(patient=patient, status__in=COUNTED_STATUSES, start__lt=start)
        .exclude(pk=exclude_appointment_id)
        .select_related("procedure_type")
        .order_by("start")
    )
    same_group = [
        a
        for a in history
        if a.procedure_type.family in _families(procedure_type) and a.procedure_type.spinal_region == region
    ]
    if rule is not None:
        source = f"{rule.source} [{rule.evidence}]"
        year_ago = start - timedelta(days=365)
        # A rule for one purpose (diagnostic blocks, say) counts only sessions of that purpose.
        in_year = [
            a
            for a in same_group
            if a.start >= year_ago and (not rule.purpose or a.procedure_type.purpose == rule.purpose)
        ]
        if rule.max_sessions_12_months is not None and len(in_year) + 1 > rule.max_sessions_12_months:
            warnings.append(
                Warning(
                    "sessions_12_months",
                    f"This would be session {len(in_year) + 1} of {procedure_type.get_family_display().lower()} in the "
                    f"{procedure_type.get_spinal_region_display().lower()} region within 12 months "
                    f"(limit {rule.max_sessions_12_months}).",
                    source,
                )
            )
        if not same_group:
            warnings.extend(_first_injection_warnings(patient, rule, start, source))
        elif rule.repeat_min_relief_percent:
            previous = same_group[-1]
            relief = _documented_relief(previous)
            needed = (
                f"≥ {rule.repeat_min_relief_percent}% relief lasting ≥ {rule.repeat_min_relief_weeks} weeks"
            )
            if relief is None:
                warnings.append(
                    Warning(
                        "repeat_relief_undocumented",
                        f"Relief after the previous {previous.procedure_type.name} on {_day(previous.start)} is not "
                        f"documented; a repeat needs {needed}.",
                        source,
                    )
                )
            elif relief[0] < rule.repeat_min_relief_percent or relief[1] < (
                rule.repeat_min_relief_weeks or 0
            ):
                warnings.append(
                    Warning(
                        "repeat_relief_insufficient",
                        f"The previous {previous.procedure_type.name} on {_day(previous.start)} gave {relief[0]}% relief "
                        f"for {relief[1]:.0f} weeks; a repeat needs {needed}.",
                        source,
                    )
                )
        if rule.diagnostic_blocks_required:
            warnings.extend(_diagnostic_block_warnings(patient, procedure_type, rule, start, source))
    if patient.allergy_contrast and procedure_type.uses_contrast:
        warnings.append(
            Warning(
                "contrast_allergy",
                "Contrast allergy recorded, and this procedure uses contrast.",
                "patient record",
            )
        )
    if patient.possible_pregnancy and procedure_type.imaging == "fluoroscopy":
        warnings.append(
            Warning(
                "pregnancy_fluoroscopy",
                "Possible pregnancy recorded: fluoroscopy is blocked until pregnancy is excluded.",
                "patient record",
            )
        )
    if procedure_type.uses_steroid:
        warnings.extend(_steroid_warnings(patient, start))
    return warnings


def _first_injection_warnings(
    patient: Patient, rule: CoverageRule, start: datetime, source: str
) -> list[Warning]:
    found = []
    on = timezone.localdate(start)
    if rule.min_pain_weeks_before_first:
        weeks = rule.min_pain_weeks_before_first
        if patient.pain_started_on is None:
            found.append(
                Warning(
                    "pain_duration_unknown",
                    f"When the pain began is not recorded (needs ≥ {weeks} weeks).",
                    source,
                )
            )
        elif (on - patient.pain_started_on).days < weeks * 7:
            found.append(
                Warning(
                    "pain_duration_short",
                    f"Pain since {patient.pain_started_on:%d %b %Y}: less than the {weeks} weeks required before a first injection.",
                    source,
                )
            )
    if rule.min_conservative_care_weeks:
        weeks = rule.min_conservative_care_weeks
        if patient.conservative_care_started_on is None:
            found.append(
                Warning(
                    "conservative_care_unknown",
                    f"Conservative care is not recorded (needs ≥ {weeks} weeks).",
                    source,
                )
            )
        elif (on - patient.conservative_care_started_on).days < weeks * 7:
            found.append(
                Warning(
                    "conservative_care_short",
                    f"Conservative care since {patient.conservative_care_started_on:%d %b %Y}: less than {weeks} weeks.",
                    source,
                )
            )
    elif rule.conservative_care_must_have_failed and patient.conservative_care_started_on is None:
        found.append(
            Warning("conservative_care_unknown", "Failed conservative care is not recorded.", source)
        )
    return found


def _diagnostic_block_warnings(
    patient: Patient, procedure_type: ProcedureType, rule: CoverageRule, start: datetime, source: str
) -> list[Warning]:
    """RFA after qualifying medial branch blocks (SI therapy after a qualifying SI block), same region."""
    family = "facet_mbb" if procedure_type.family == "facet_rfa" else procedure_type.family
    blocks = list(
        Appointment.objects.filter(
            patient=patient,
            status=AppointmentStatus.DISCHARGED,
            start__lt=start,
            procedure_type__family=family,
            procedure_type__purpose=Purpose.DIAGNOSTIC,
            procedure_type__spinal_region=procedure_type.spinal_region,
            block_peak_relief_percent__gte=rule.diagnostic_min_relief_percent or 0,
        ).order_by("start")
    )
    needed = rule.diagnostic_blocks_required or 0
    qualifying = 0
    last = None
    for block in blocks:
        if last is None or (block.start - last.start).days >= (rule.diagnostic_min_gap_days or 0):
            qualifying += 1
            last = block
    if qualifying >= needed:
        return []
    gap = (
        f", the second ≥ {rule.diagnostic_min_gap_days} days after the first"
        if needed > 1 and rule.diagnostic_min_gap_days
        else ""
    )
    return [
        Warning(
            "diagnostic_blocks",
            f"{qualifying} of {needed} qualifying diagnostic block(s) found (each ≥ {rule.diagnostic_min_relief_percent}% "
            f"relief{gap}).",
            source,
        )
    ]


def steroid_year_total(*, patient: Patient, until: datetime) -> tuple[dict[str, Decimal], Decimal | None]:
    """Steroid given in the 365 days before `until`: mg per product, and the methylprednisolone-equivalent
    total when every product involved has an equivalence factor set (else None)."""
    rows = (
        SteroidDose.objects.filter(
            appointment__patient=patient, given_at__gt=until - timedelta(days=365), given_at__lte=until
        )
        .values("steroid__name", "steroid__mpe_per_mg")
        .annotate(total=Sum("dose_mg"))
    )
    per_product = {row["steroid__name"]: row["total"] for row in rows}
    if any(row["steroid__mpe_per_mg"] is None for row in rows):
        return per_product, None
    return per_product, sum((row["total"] * row["steroid__mpe_per_mg"] for row in rows), Decimal(0))


def _mg(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.1")).normalize(), "f")


def _steroid_warnings(patient: Patient, start: datetime) -> list[Warning]:
    per_product, mpe = steroid_year_total(patient=patient, until=start)
    if not per_product:
        return []
    limit = safety_settings().steroid_yearly_limit_mpe_mg
    source = "Kerezoudis, Pain Med 2018 [V]"
    listed = ", ".join(f"{name} {_mg(mg)} mg" for name, mg in per_product.items())
    if mpe is None:
        return [
            Warning(
                "steroid_year_unconverted",
                f"Steroid in the last 12 months: {listed}. Set equivalence factors (Clinic settings → steroids) "
                f"to compare with the {limit} mg methylprednisolone-equivalent limit.",
                source,
            )
        ]
    if mpe >= limit:
        return [
            Warning(
                "steroid_year_limit",
                f"{_mg(mpe)} mg methylprednisolone-equivalent in the last 12 months ({listed}); ≥ {limit} mg was linked "
                "to lower bone density.",
                source,
            )
        ]
    return []
