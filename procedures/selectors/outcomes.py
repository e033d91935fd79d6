"""Reads over the pain timeline."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from procedures.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    CoverageRule,
    PainScore,
    PainSource,
    Patient,
    ProcedureRecord,
    Purpose,
    SpinalRegion,
)

# Relief counts as lasting while reports stay at or above this share (the "responder" threshold, IMMACT).
LASTING_RELIEF_PERCENT = 50
# Sources in which a patient or clinician reports relief after a procedure.
RELIEF_SOURCES = [PainSource.CHECK_IN, PainSource.CLINIC, PainSource.DIARY]
# Used when no facet_rfa CoverageRule row exists: the Medicare LCD values (procedures/rules/safety.py).
RFA_DEFAULTS = {
    "diagnostic_blocks_required": 2,
    "diagnostic_min_relief_percent": 80,
    "diagnostic_min_gap_days": 14,
    "repeat_min_relief_percent": 50,
    "repeat_min_relief_weeks": 26,
}


def pain_scores_for_patient(*, patient_id: int) -> QuerySet[PainScore]:
    return PainScore.objects.filter(patient_id=patient_id).select_related("appointment__procedure_type")


def _relief_from(reports: list[PainScore], ended: datetime) -> tuple[int, float] | None:
    """Best relief and weeks from `ended` to the last report at ≥ 50 % relief, from reports in time order."""
    if not reports:
        return None
    lasting = [r for r in reports if r.percent_relief >= LASTING_RELIEF_PERCENT]
    weeks = (lasting[-1].recorded_at - ended).total_seconds() / (7 * 24 * 3600) if lasting else 0.0
    return max(r.percent_relief for r in reports), max(weeks, 0.0)


def documented_relief(appointment: Appointment) -> tuple[int, float] | None:
    """How much relief a procedure gave and for how long, from the patient's reports after it: the best
    relief reported, and the weeks from the procedure to the last report still at ≥ 50 % relief.
    None when nothing after the procedure reports relief (the eligibility rules then say "not documented")."""
    reports = list(
        PainScore.objects.filter(
            appointment=appointment,
            percent_relief__isnull=False,
            source__in=RELIEF_SOURCES,
        ).order_by("recorded_at")
    )
    if not reports:
        return None
    record = ProcedureRecord.objects.filter(appointment=appointment).first()
    ended = record.ended_at if record and record.ended_at else appointment.end
    return _relief_from(reports, ended)


# --- Patient pain timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePoint:
    score: PainScore
    # The procedure the score is attributed to, and whether the score named it ("recorded") or it was the
    # most recent discharged procedure before the score ("most recent").
    procedure: Appointment | None
    attribution: str


@dataclass(frozen=True)
class PainTimeline:
    points: list[TimelinePoint]
    procedures: list[Appointment]  # discharged appointments, oldest first: the markers on the chart


def pain_timeline(*, patient_id: int) -> PainTimeline:
    """Every pain score of the patient in time order, each attributed to a procedure, and the discharged
    procedures to mark on the chart. Two queries.

    Attribution: the score's own `appointment` when it names one. Otherwise the most recent discharged
    procedure that started before the score. The issue asks for "the most recent procedure in the same
    region", but a pain score carries no spinal region, so the region cannot be matched: any region counts.
    A score before the first procedure is attributed to none."""
    scores = list(pain_scores_for_patient(patient_id=patient_id).order_by("recorded_at", "id"))
    procedures = list(
        Appointment.objects.filter(patient_id=patient_id, status=AppointmentStatus.DISCHARGED)
        .select_related("procedure_type")
        .order_by("start", "id")
    )
    points = []
    for score in scores:
        if score.appointment_id is not None:
            points.append(TimelinePoint(score, score.appointment, "recorded"))
            continue
        before = [a for a in procedures if a.start < score.recorded_at]
        points.append(TimelinePoint(score, before[-1] if before else None, "most recent" if before else ""))
    return PainTimeline(points=points, procedures=procedures)


# --- RFA pathway board -------------------------------------------------------------------------------


@dataclass
class RfaPathwayRow:
    patient: Patient
    region: str
    blocks: list[Appointment] = field(default_factory=list)  # discharged diagnostic MBBs, oldest first
    qualifying: int = 0  # blocks at the rule's relief, the rule's gap apart
    booked: Appointment | None = None  # the next active RFA in the region
    last_rfa: Appointment | None = None  # the last discharged RFA in the region
    relief: tuple[int, float] | None = None  # documented relief after last_rfa
    relief_meets_rule: bool = False
    repeat_from: date | None = None  # the first day a repeat RFA is due

    @property
    def region_label(self) -> str:
        return SpinalRegion(self.region).label if self.region in SpinalRegion.values else self.region


@dataclass
class RfaPathway:
    one_block: list[RfaPathwayRow]
    eligible: list[RfaPathwayRow]
    booked: list[RfaPathwayRow]
    due_repeat: list[RfaPathwayRow]
    rule: dict


def _rfa_rule() -> dict:
    rules = CoverageRule.objects.filter(family="facet_rfa", purpose__in=[Purpose.THERAPEUTIC, ""])
    rule = max(rules, key=lambda r: bool(r.purpose), default=None)
    if rule is None:
        return dict(RFA_DEFAULTS, source="defaults")
    found = {name: getattr(rule, name) for name in RFA_DEFAULTS}
    return {name: value if value is not None else RFA_DEFAULTS[name] for name, value in found.items()} | {
        "source": f"{rule.source} [{rule.evidence}]"
    }


def rfa_pathway(*, today: date) -> RfaPathway:
    """The facet RFA pathway per patient and spinal region, in a fixed number of queries (five):

    - one qualifying block: some, but fewer than the rule's required, qualifying diagnostic medial branch
      blocks (peak relief ≥ the rule's percent, each the rule's gap after the previous counted one);
    - eligible: enough qualifying blocks, no RFA done or booked in the region yet;
    - booked: an active (not yet discharged) facet RFA appointment in the region;
    - due for a repeat: the last RFA in the region was ≥ repeat_min_relief_weeks ago and nothing is booked;
      `relief_meets_rule` tells whether the documented relief (≥ repeat_min_relief_percent lasting ≥
      repeat_min_relief_weeks) supports it. A patient with an RFA done is on the repeat track only."""
    rule = _rfa_rule()
    rows: dict[tuple[int, str], RfaPathwayRow] = {}

    def row(appointment: Appointment) -> RfaPathwayRow:
        key = (appointment.patient_id, appointment.procedure_type.spinal_region)
        if key not in rows:
            rows[key] = RfaPathwayRow(patient=appointment.patient, region=key[1])
        return rows[key]

    blocks = Appointment.objects.filter(
        status=AppointmentStatus.DISCHARGED,
        procedure_type__family="facet_mbb",
        procedure_type__purpose=Purpose.DIAGNOSTIC,
    ).select_related("patient", "procedure_type")
    for block in blocks.order_by("start", "id"):
        row(block).blocks.append(block)
    rfas = Appointment.objects.filter(
        status__in=[*ACTIVE_STATUSES, AppointmentStatus.DISCHARGED], procedure_type__family="facet_rfa"
    ).select_related("patient", "procedure_type")
    for rfa in rfas.order_by("start", "id"):
        entry = row(rfa)
        if rfa.status == AppointmentStatus.DISCHARGED:
            entry.last_rfa = rfa
        elif entry.booked is None:
            entry.booked = rfa

    last_rfas = {r.last_rfa.pk: r.last_rfa for r in rows.values() if r.last_rfa is not None}
    reports: dict[int, list[PainScore]] = defaultdict(list)
    ended: dict[int, datetime] = {}
    if last_rfas:
        for score in PainScore.objects.filter(
            appointment_id__in=last_rfas, percent_relief__isnull=False, source__in=RELIEF_SOURCES
        ).order_by("recorded_at", "id"):
            reports[score.appointment_id].append(score)
        ended = dict(
            ProcedureRecord.objects.filter(appointment_id__in=last_rfas, ended_at__isnull=False).values_list(
                "appointment_id", "ended_at"
            )
        )

    board = RfaPathway(one_block=[], eligible=[], booked=[], due_repeat=[], rule=rule)
    interval = timedelta(weeks=rule["repeat_min_relief_weeks"])
    for entry in sorted(rows.values(), key=lambda r: (r.patient.last_name, r.patient.first_name, r.region)):
        last = None
        for block in entry.blocks:
            if (block.block_peak_relief_percent or 0) < rule["diagnostic_min_relief_percent"]:
                continue
            if last is None or (block.start - last.start).days >= rule["diagnostic_min_gap_days"]:
                entry.qualifying += 1
                last = block
        if entry.booked is not None:
            board.booked.append(entry)
        elif entry.last_rfa is not None:
            rfa = entry.last_rfa
            entry.repeat_from = timezone.localdate(rfa.start + interval)
            entry.relief = _relief_from(reports[rfa.pk], ended.get(rfa.pk, rfa.end))
            entry.relief_meets_rule = entry.relief is not None and (
                entry.relief[0] >= rule["repeat_min_relief_percent"]
                and entry.relief[1] >= rule["repeat_min_relief_weeks"]
            )
            if entry.repeat_from <= today:
                board.due_repeat.append(entry)
        elif entry.qualifying >= rule["diagnostic_blocks_required"]:
            board.eligible.append(entry)
        elif entry.qualifying:
            board.one_block.append(entry)
    return board
