"""Reads over the pain timeline."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connections, router
from django.db.models import (
    BooleanField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Length, Trim
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from procedures.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    CoverageRule,
    FollowUp,
    FollowUpStatus,
    InstrumentScore,
    OutcomeMonth,
    OutcomeSettings,
    PainScore,
    PainSource,
    Patient,
    ProcedureRecord,
    Purpose,
    RfaPathwayState,
    RfaStage,
    SpinalRegion,
)
from procedures.selectors.schedule import day_bounds

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


# What the pain page shows of a score, and of the procedure a score or a chart marker names: the page reads
# only these, so the rest of each row (and of the appointment's two dozen columns) is not loaded.
TIMELINE_SCORE_FIELDS = ("id", "appointment_id", "score", "percent_relief", "recorded_at", "source")
TIMELINE_INSTRUMENT_FIELDS = ("id", "appointment_id", "instrument", "value", "recorded_at", "source")
TIMELINE_PROCEDURE_FIELDS = ("id", "patient_id", "status", "start", "levels", "side", "procedure_type__name")


def pain_scores_for_patient(*, patient_id: int) -> QuerySet[PainScore]:
    """The patient's pain scores with the columns the timeline shows (`appointment` is not joined:
    pain_timeline attaches the procedures it loads once)."""
    return PainScore.objects.filter(patient_id=patient_id).only(*TIMELINE_SCORE_FIELDS)


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


def _in_time_order(rows: Iterable, *, at: str) -> list:
    """Oldest first, ties by id: the timeline's order. Sorted here, not by the database: a patient's rows are
    a few dozen, and building the ORDER BY cost more than sorting them."""
    return sorted(rows, key=lambda row: (getattr(row, at), row.pk))


def _timeline_appointments(rows: QuerySet[Appointment]) -> dict[int, Appointment]:
    """`rows` with the columns the timeline shows, by id, oldest first."""
    loaded = rows.select_related("procedure_type").only(*TIMELINE_PROCEDURE_FIELDS).order_by()
    return {a.pk: a for a in _in_time_order(loaded, at="start")}


def _attributed(
    moment: datetime, named: int | None, procedures: list[Appointment], by_id: Mapping[int, Appointment]
) -> tuple[Appointment | None, str]:
    """The timeline's attribution rule (see pain_timeline) for one value recorded at `moment`."""
    if named is not None:
        return by_id[named], "recorded"
    before = [a for a in procedures if a.start < moment]
    return (before[-1], "most recent") if before else (None, "")


def pain_timeline(*, patient_id: int) -> PainTimeline:
    """Every pain score of the patient in time order, each attributed to a procedure, and the discharged
    procedures to mark on the chart. Two queries (three when a score names another patient's appointment).

    Attribution: the score's own `appointment` when it names one. Otherwise the most recent discharged
    procedure that started before the score. The issue asks for "the most recent procedure in the same
    region", but a pain score carries no spinal region, so the region cannot be matched: any region counts.
    A score before the first procedure is attributed to none."""
    scores = _in_time_order(pain_scores_for_patient(patient_id=patient_id).order_by(), at="recorded_at")
    # The patient's appointments: the discharged ones are the chart's markers, and the scores name theirs
    # (another patient's only by mistake, loaded on their own then).
    by_id = _timeline_appointments(Appointment.objects.filter(patient_id=patient_id))
    if missing := {s.appointment_id for s in scores if s.appointment_id is not None} - by_id.keys():
        by_id |= _timeline_appointments(Appointment.objects.filter(pk__in=missing))
    procedures = [
        a for a in by_id.values() if a.patient_id == patient_id and a.status == AppointmentStatus.DISCHARGED
    ]
    points = []
    for score in scores:
        procedure, attribution = _attributed(score.recorded_at, score.appointment_id, procedures, by_id)
        if procedure is not None and attribution == "recorded":
            score.appointment = procedure  # the one loaded above: reading it costs no query
        points.append(TimelinePoint(score, procedure, attribution))
    return PainTimeline(points=points, procedures=procedures)


# --- Optional instruments on the same timeline (ODI, PGIC) ------------------------------------------


def outcome_settings() -> OutcomeSettings:
    """Which optional instruments the clinic collects. The single row is made, with every instrument off,
    the first time anything asks."""
    row, _ = OutcomeSettings.objects.get_or_create(pk=1)
    return row


@dataclass(frozen=True)
class InstrumentPoint:
    score: InstrumentScore
    # As for TimelinePoint: the procedure the value names ("recorded"), else the most recent discharged one
    # before it ("most recent").
    procedure: Appointment | None
    attribution: str


def instrument_timeline(*, patient_id: int, procedures: list[Appointment]) -> list[InstrumentPoint]:
    """Every instrument value of the patient in time order, attributed by the pain timeline's rule.
    `procedures` is that timeline's list of discharged procedures, oldest first, so this adds one query (two
    when a value names a procedure not on that list)."""
    scores = _in_time_order(
        InstrumentScore.objects.filter(patient_id=patient_id).only(*TIMELINE_INSTRUMENT_FIELDS).order_by(),
        at="recorded_at",
    )
    by_id = {a.pk: a for a in procedures}
    if missing := {s.appointment_id for s in scores if s.appointment_id is not None} - by_id.keys():
        by_id |= _timeline_appointments(Appointment.objects.filter(pk__in=missing))
    points = []
    for score in scores:
        procedure, attribution = _attributed(score.recorded_at, score.appointment_id, procedures, by_id)
        if procedure is not None and attribution == "recorded":
            score.appointment = procedure
        points.append(InstrumentPoint(score, procedure, attribution))
    return points


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


def rfa_rule() -> dict:
    rules = CoverageRule.objects.filter(family="facet_rfa", purpose__in=[Purpose.THERAPEUTIC, ""])
    rule = max(rules, key=lambda r: bool(r.purpose), default=None)
    if rule is None:
        return dict(RFA_DEFAULTS, source="defaults")
    found = {name: getattr(rule, name) for name in RFA_DEFAULTS}
    return {name: value if value is not None else RFA_DEFAULTS[name] for name, value in found.items()} | {
        "source": f"{rule.source} [{rule.evidence}]"
    }


def rfa_pathway_rows(*, rule: dict, patient_ids: Iterable[int] | None = None) -> list[RfaPathwayRow]:
    """Where each patient stands on the facet RFA pathway per spinal region (all patients, or those named),
    in a fixed number of queries (four), before sorting into the board's columns by `rfa_pathway_stage`.
    `qualifying` counts diagnostic medial branch blocks at the rule's peak relief, each the rule's gap after
    the previous one counted; `booked` is the next active facet RFA in the region, `last_rfa` the last
    discharged one, with the documented relief after it."""
    rows: dict[tuple[int, str], RfaPathwayRow] = {}
    patients = {} if patient_ids is None else {"patient_id__in": list(patient_ids)}

    def row(appointment: Appointment) -> RfaPathwayRow:
        key = (appointment.patient_id, appointment.procedure_type.spinal_region)
        if key not in rows:
            rows[key] = RfaPathwayRow(patient=appointment.patient, region=key[1])
        return rows[key]

    blocks = Appointment.objects.filter(
        status=AppointmentStatus.DISCHARGED,
        procedure_type__family="facet_mbb",
        procedure_type__purpose=Purpose.DIAGNOSTIC,
        **patients,
    ).select_related("patient", "procedure_type")
    for block in blocks.order_by("start", "id"):
        row(block).blocks.append(block)
    rfas = Appointment.objects.filter(
        status__in=[*ACTIVE_STATUSES, AppointmentStatus.DISCHARGED],
        procedure_type__family="facet_rfa",
        **patients,
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

    interval = timedelta(weeks=rule["repeat_min_relief_weeks"])
    for entry in rows.values():
        last = None
        for block in entry.blocks:
            if (block.block_peak_relief_percent or 0) < rule["diagnostic_min_relief_percent"]:
                continue
            if last is None or (block.start - last.start).days >= rule["diagnostic_min_gap_days"]:
                entry.qualifying += 1
                last = block
        if entry.booked is None and entry.last_rfa is not None:
            rfa = entry.last_rfa
            entry.repeat_from = timezone.localdate(rfa.start + interval)
            entry.relief = _relief_from(reports[rfa.pk], ended.get(rfa.pk, rfa.end))
            entry.relief_meets_rule = entry.relief is not None and (
                entry.relief[0] >= rule["repeat_min_relief_percent"]
                and entry.relief[1] >= rule["repeat_min_relief_weeks"]
            )
    return list(rows.values())


def rfa_pathway_stage(entry: RfaPathwayRow, *, rule: dict) -> str | None:
    """The board's column for a row (RfaStage values); None for a row on no column (no qualifying block,
    nothing booked or done). A patient with an RFA done is on the repeat track only."""
    if entry.booked is not None:
        return RfaStage.BOOKED
    if entry.last_rfa is not None:
        return RfaStage.REPEAT
    if entry.qualifying >= rule["diagnostic_blocks_required"]:
        return RfaStage.ELIGIBLE
    if entry.qualifying:
        return RfaStage.ONE_BLOCK
    return None


def rfa_pathway(*, today: date) -> RfaPathway:
    """The facet RFA pathway board, worked out live from the source tables (used where the rollup table is
    not kept, and in tests as the reference for it):

    - one qualifying block: some, but fewer than the rule's required, qualifying diagnostic medial branch
      blocks (peak relief ≥ the rule's percent, each the rule's gap after the previous counted one);
    - eligible: enough qualifying blocks, no RFA done or booked in the region yet;
    - booked: an active (not yet discharged) facet RFA appointment in the region;
    - due for a repeat: the last RFA in the region was ≥ repeat_min_relief_weeks ago and nothing is booked;
      `relief_meets_rule` tells whether the documented relief (≥ repeat_min_relief_percent lasting ≥
      repeat_min_relief_weeks) supports it."""
    rule = rfa_rule()
    board = RfaPathway(one_block=[], eligible=[], booked=[], due_repeat=[], rule=rule)
    columns = {
        RfaStage.ONE_BLOCK: board.one_block,
        RfaStage.ELIGIBLE: board.eligible,
        RfaStage.BOOKED: board.booked,
    }
    rows = rfa_pathway_rows(rule=rule)
    for entry in sorted(rows, key=lambda r: (r.patient.last_name, r.patient.first_name, r.region)):
        stage = rfa_pathway_stage(entry, rule=rule)
        if stage == RfaStage.REPEAT:
            if entry.repeat_from <= today:
                board.due_repeat.append(entry)
        elif stage is not None:
            columns[stage].append(entry)
    return board


RFA_BOARD_COLUMNS = (
    ("one-block", "One qualifying block", RfaStage.ONE_BLOCK),
    ("eligible", "Eligible for RFA — not yet booked", RfaStage.ELIGIBLE),
    ("booked", "RFA booked", RfaStage.BOOKED),
    ("due-repeat", "Due for a repeat", RfaStage.REPEAT),
)


@dataclass
class RfaBoardColumn:
    key: str
    title: str
    rows: list[RfaPathwayRow]
    count: int  # rows in the column; `rows` holds one page of them, by patient name
    offset: int
    per_page: int

    @property
    def page(self) -> int:
        return self.offset // self.per_page + 1

    @property
    def last_shown(self) -> int:
        return self.offset + len(self.rows)

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.offset + len(self.rows) < self.count else None


@dataclass
class RfaBoard:
    columns: list[RfaBoardColumn]
    rule: dict
    waiting: int = 0  # patients whose latest changes are not on the board yet


def rfa_board(*, today: date, per_column: int, column: str | None = None, offset: int = 0) -> RfaBoard:
    """The RFA pathway board as the page shows it: each column's count and one page of its rows by patient
    name (`offset` applies to `column` only). On PostgreSQL it reads RfaPathwayState, the rollup of
    rfa_pathway_rows, after bringing queued patients up to date; elsewhere it sorts the live rows."""
    from procedures.services.rollups import rollups_catch_up, rollups_kept  # built on this module

    rule = rfa_rule()
    if not rollups_kept():
        board = rfa_pathway(today=today)
        live = dict(
            zip(
                [key for key, _, _ in RFA_BOARD_COLUMNS],
                [board.one_block, board.eligible, board.booked, board.due_repeat],
                strict=True,
            )
        )
        return RfaBoard(
            columns=[
                RfaBoardColumn(
                    key,
                    title,
                    live[key][(start := offset if key == column else 0) : start + per_column],
                    len(live[key]),
                    start,
                    per_column,
                )
                for key, title, _ in RFA_BOARD_COLUMNS
            ],
            rule=rule,
        )
    waiting = rollups_catch_up()
    states = RfaPathwayState.objects.all()
    due = Q(stage=RfaStage.REPEAT, repeat_from__lte=today)
    in_column = {
        key: (due if stage == RfaStage.REPEAT else Q(stage=stage)) for key, _, stage in RFA_BOARD_COLUMNS
    }
    counts = {key: 0 for key, _, _ in RFA_BOARD_COLUMNS}
    stage_keys = {stage: key for key, _, stage in RFA_BOARD_COLUMNS}
    for stage, due_now, n in (
        states.annotate(due_now=ExpressionWrapper(Q(repeat_from__lte=today), output_field=BooleanField()))
        .values_list("stage", "due_now")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        if stage != RfaStage.REPEAT or due_now:
            counts[stage_keys[stage]] += n
    pages = {}
    for key, _, _ in RFA_BOARD_COLUMNS:
        start = offset if key == column else 0
        pages[key] = list(
            states.filter(in_column[key])
            .select_related("patient", "booked", "last_rfa")
            .order_by("last_name", "first_name", "region", "pk")[start : start + per_column]
        )
    block_ids = [pk for page in pages.values() for state in page for pk in state.block_ids]
    blocks = (
        Appointment.objects.using(states.db)
        .only("pk", "start", "block_peak_relief_percent")
        .in_bulk(block_ids)
    )

    def row(state: RfaPathwayState) -> RfaPathwayRow:
        return RfaPathwayRow(
            patient=state.patient,
            region=state.region,
            blocks=[blocks[pk] for pk in state.block_ids if pk in blocks],
            qualifying=state.qualifying,
            booked=state.booked,
            last_rfa=state.last_rfa,
            relief=(state.relief_percent, state.relief_weeks) if state.relief_percent is not None else None,
            relief_meets_rule=state.relief_meets_rule,
            repeat_from=state.repeat_from,
        )

    return RfaBoard(
        columns=[
            RfaBoardColumn(
                key,
                title,
                [row(s) for s in pages[key]],
                counts[key],
                offset if key == column else 0,
                per_column,
            )
            for key, title, _ in RFA_BOARD_COLUMNS
        ],
        rule=rule,
        waiting=waiting,
    )


# --- Physician outcomes dashboard --------------------------------------------------------------------


@dataclass(frozen=True)
class Timepoint:
    key: str
    label: str
    first_day: int  # whole days after the procedure ended, both ends included
    last_day: int

    @property
    def days(self) -> str:
        return f"{self.first_day}–{self.last_day}"


# Clinic conventions, not published definitions: studies name the timepoints (2 weeks, 1, 3 and 6 months;
# clinical-reference.md §7) but not how far from the day a report may fall and still count. The windows do
# not overlap, so one report counts at one timepoint at most. Change them here; the page, the CSV and the
# API all show the windows they were computed with.
OUTCOME_WINDOWS: tuple[Timepoint, ...] = (
    Timepoint("2w", "2 weeks", 10, 20),
    Timepoint("1m", "1 month", 21, 45),
    Timepoint("3m", "3 months", 75, 105),
    Timepoint("6m", "6 months", 150, 210),
)
# Substantial improvement ("responder"), and moderately important improvement: IMMPACT (Dworkin 2008;
# Farrar 2001), clinical-reference.md §7.
SUBSTANTIAL_RELIEF_PERCENT = 50
MODERATE_RELIEF_PERCENT = 30
MODERATE_NRS_DROP = 2
# A procedure is done once the physician has finished it: the patient is in recovery or has gone home.
DONE_STATUSES = (AppointmentStatus.IN_RECOVERY, AppointmentStatus.DISCHARGED)
BASELINE_SOURCES = (PainSource.BASELINE, PainSource.DAY_OF)
# Stands in for "no later procedure" so that one comparison bounds a patient's unlinked reports.
_NO_LATER_PROCEDURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ResponderRate:
    """Responders at one timepoint. The denominator (`assessed`) is the procedures with a report in the
    window whose relief can be worked out: a % relief, or a score and a baseline above 0."""

    timepoint: Timepoint
    with_score: int  # a report in the window (the latest one counts)
    assessed: int
    no_score: int  # done, but no report in the window
    pending: int  # of no_score: the window has not closed yet
    substantial: int  # ≥ 50 % relief
    moderate: int  # ≥ 30 % relief or ≥ 2 points lower than baseline

    @property
    def unassessed(self) -> int:
        """A report, but neither a % relief nor a baseline to compare it with."""
        return self.with_score - self.assessed

    @property
    def substantial_rate(self) -> float | None:
        return self.substantial / self.assessed if self.assessed else None

    @property
    def moderate_rate(self) -> float | None:
        return self.moderate / self.assessed if self.assessed else None


@dataclass(frozen=True)
class KMStep:
    day: float  # days after the procedure ended
    at_risk: int  # still followed, relief not yet lost, just before `day`
    events: int  # first report below 50 % relief on `day`
    censored: int  # last report on `day`, still at ≥ 50 %
    survival: float  # estimated share still at ≥ 50 % relief after `day`


@dataclass(frozen=True)
class ReliefDuration:
    """Kaplan–Meier estimate of how long relief stays at ≥ 50 %, over the procedures with at least one report
    whose relief can be worked out. `median_days` is None while the estimate stays above 50 %."""

    steps: list[KMStep]
    median_days: float | None
    followed: int
    events: int
    censored: int
    no_report: int  # done procedures left out: no report after them at all


@dataclass(frozen=True)
class OutcomeGroup:
    label: str
    procedure_type_id: int | None  # None: the total of every group
    spinal_region: str
    done: int
    baseline_count: int  # procedures with a baseline score
    baseline_mean: float | None
    responders: list[ResponderRate]
    relief: ReliefDuration
    followups_answered: int
    followups_missed: int
    followups_overdue: int  # sent, due, and not answered yet
    complications: int

    @property
    def spinal_region_label(self) -> str:
        return SpinalRegion(self.spinal_region).label if self.spinal_region in SpinalRegion.values else ""

    @property
    def followups_expected(self) -> int:
        return self.followups_answered + self.followups_missed + self.followups_overdue

    @property
    def followup_rate(self) -> float | None:
        return self.followups_answered / self.followups_expected if self.followups_expected else None

    @property
    def complication_rate(self) -> float | None:
        return self.complications / self.done if self.done else None


@dataclass(frozen=True)
class Dashboard:
    groups: list[OutcomeGroup]  # one per procedure type, by name
    total: OutcomeGroup
    windows: tuple[Timepoint, ...]
    computed_at: datetime
    # Patients whose latest changes are not in these figures yet (queued for the rollup refresh).
    waiting: int = 0


def kaplan_meier(*, pairs: Iterable[tuple[float, bool]]) -> list[KMStep]:
    """The product-limit estimate from one (days, event) pair per procedure: event True when relief was lost
    on that day, False when the procedure was censored there (last report, relief still held). At a day with
    both, the censored ones count as at risk, as usual."""
    return kaplan_meier_counts(counts=Counter(pairs))


def kaplan_meier_counts(*, counts: Mapping[tuple[float, bool], int]) -> list[KMStep]:
    """The same estimate from how many procedures had each (days, event) pair."""
    at_risk = sum(counts.values())
    survival = 1.0
    steps = []
    for day in sorted({day for day, _ in counts}):
        events, censored = counts.get((day, True), 0), counts.get((day, False), 0)
        if not events and not censored:
            continue
        if events:
            survival *= 1 - events / at_risk
        steps.append(KMStep(day, at_risk, events, censored, survival))
        at_risk -= events + censored
    return steps


def kaplan_meier_median(*, steps: list[KMStep]) -> float | None:
    """The first day on which the estimate reaches 50 % or below; None if it never does."""
    return next((step.day for step in steps if step.events and step.survival <= 0.5), None)


def _procedure_end() -> Coalesce:
    # A procedure charted through the day-of pages has its actual end; an older one only its booked end.
    return Coalesce(F("record__ended_at"), F("end"))


def _done(**filters) -> QuerySet[Appointment]:
    return Appointment.objects.filter(status__in=DONE_STATUSES, **filters).annotate(ended=_procedure_end())


def _reports() -> QuerySet[PainScore]:
    """Reports after the outer procedure that belong to it: linked to it, or linked to none and before the
    patient's next procedure (as on the pain timeline)."""
    return PainScore.objects.filter(
        Q(appointment_id=OuterRef("pk"))
        | Q(
            appointment__isnull=True,
            patient_id=OuterRef("patient_id"),
            recorded_at__lte=OuterRef("next_end"),
        ),
        source__in=RELIEF_SOURCES,
        recorded_at__gt=OuterRef("ended"),
    )


def _relief_known() -> Q:
    return Q(percent_relief__isnull=False) | Q(GreaterThan(OuterRef("baseline"), 0))


def _relief_lost() -> Q:
    """Relief under 50 %: as reported, or else worked out from the baseline (100·score > 50·baseline)."""
    worked_out = Q(percent_relief__isnull=True) & Q(GreaterThan(OuterRef("baseline"), 0))
    return Q(percent_relief__lt=LASTING_RELIEF_PERCENT) | (
        worked_out & Q(GreaterThan(F("score") * 100, OuterRef("baseline") * (100 - LASTING_RELIEF_PERCENT)))
    )


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("appointment_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _per_procedure(**filters) -> QuerySet[Appointment]:
    """One row per done procedure with what the dashboard needs from it, every value worked out in SQL."""
    later = (
        _done(patient_id=OuterRef("patient_id"))
        .filter(ended__gt=OuterRef("ended"))
        .order_by("ended")
        .values("ended")[:1]
    )
    baseline = (
        PainScore.objects.filter(
            appointment_id=OuterRef("pk"), source__in=BASELINE_SOURCES, recorded_at__lte=OuterRef("ended")
        )
        .order_by("-recorded_at", "-id")
        .values("score")[:1]
    )
    return _done(**filters).annotate(
        next_end=Coalesce(Subquery(later), Value(_NO_LATER_PROCEDURE)),
        # The last baseline or day-of score before the procedure, else the baseline charted on the record.
        baseline=Coalesce(Subquery(baseline), F("record__baseline_pain")),
    )


def _window_scores(timepoint: Timepoint) -> dict[str, Subquery]:
    latest = (
        _reports()
        .filter(
            recorded_at__gte=OuterRef("ended") + timedelta(days=timepoint.first_day),
            recorded_at__lt=OuterRef("ended") + timedelta(days=timepoint.last_day + 1),
        )
        .order_by("-recorded_at", "-id")
    )
    return {
        f"w{timepoint.key}_score": Subquery(latest.values("score")[:1]),
        f"w{timepoint.key}_pct": Subquery(latest.values("percent_relief")[:1]),
    }


def procedure_outcomes(**filters) -> QuerySet[Appointment]:
    """One row per done procedure matching `filters`, with every value the dashboard reads from it worked out
    in SQL: the definition behind both the live dashboard and the rollup tables (services/rollups.py copies
    these rows into ProcedureOutcome). `lost_at` is the first report under 50 % relief, `last_at` the last one
    whose relief can be worked out; the window columns hold the latest report in each window."""
    relief_lost_at = _reports().filter(_relief_lost()).order_by("recorded_at", "id").values("recorded_at")[:1]
    last_report_at = (
        _reports().filter(_relief_known()).order_by("-recorded_at", "-id").values("recorded_at")[:1]
    )
    return _per_procedure(**filters).annotate(
        lost_at=Subquery(relief_lost_at),
        last_at=Subquery(last_report_at),
        complication_chars=Length(Trim("record__complications")),
        fu_answered=_count(
            FollowUp.objects.filter(appointment_id=OuterRef("pk"), status=FollowUpStatus.ANSWERED)
        ),
        fu_missed=_count(
            FollowUp.objects.filter(appointment_id=OuterRef("pk"), status=FollowUpStatus.MISSED)
        ),
        **{name: query for t in OUTCOME_WINDOWS for name, query in _window_scores(t).items()},
    )


def km_whole_days(elapsed: timedelta) -> float:
    """Kaplan–Meier counts whole days after the procedure ended, as the windows do: a report 14 days and 3
    hours after the end is on day 14."""
    return float(elapsed // timedelta(days=1))


def _group_aggregates(prefix: str, group: Q, *, now: datetime) -> dict:
    """SQL aggregates over the per-procedure rows of one group; they read the rows' columns, so each
    subquery of a row runs once however many figures use it. Named as the rollup's columns
    (models/rollups.OutcomeMonth) so that one builder reads either."""
    figures = {
        f"{prefix}done": Count("pk", filter=group),
        f"{prefix}has_baseline": Count("baseline", filter=group),
        f"{prefix}baseline_sum": Coalesce(Sum("baseline", filter=group), 0),
        f"{prefix}complication": Count("pk", filter=group & Q(complication_chars__gt=0)),
        f"{prefix}fu_answered": Coalesce(Sum("fu_answered", filter=group), 0),
        f"{prefix}fu_missed": Coalesce(Sum("fu_missed", filter=group), 0),
        f"{prefix}fu_overdue": Coalesce(Sum("fu_overdue", filter=group), 0),
    }
    for timepoint in OUTCOME_WINDOWS:
        score, pct = F(f"w{timepoint.key}_score"), F(f"w{timepoint.key}_pct")
        reported = Q(**{f"w{timepoint.key}_pct__isnull": False})
        worked_out = Q(
            **{f"w{timepoint.key}_pct__isnull": True, f"w{timepoint.key}_score__isnull": False},
            baseline__gt=0,
        )
        scored = Q(**{f"w{timepoint.key}_score__isnull": False})
        closes = now - timedelta(days=timepoint.last_day + 1)
        # Integer arithmetic: relief ≥ p % ⇔ 100·(baseline − score) ≥ p·baseline ⇔ 100·score ≤ (100 − p)·baseline.
        # services/rollups.py writes the same conditions in SQL for the rollup's 0/1 columns.
        substantial = Q(GreaterThanOrEqual(pct, SUBSTANTIAL_RELIEF_PERCENT)) | (
            worked_out & Q(LessThanOrEqual(score * 100, F("baseline") * (100 - SUBSTANTIAL_RELIEF_PERCENT)))
        )
        moderate = (
            Q(GreaterThanOrEqual(pct, MODERATE_RELIEF_PERCENT))
            | (worked_out & Q(LessThanOrEqual(score * 100, F("baseline") * (100 - MODERATE_RELIEF_PERCENT))))
            | Q(LessThanOrEqual(score, F("baseline") - MODERATE_NRS_DROP))
        )
        key = f"{prefix}w{timepoint.key}_"
        figures |= {
            f"{key}scored": Count("pk", filter=group & scored),
            f"{key}assessed": Count("pk", filter=group & (reported | worked_out)),
            f"{key}pending": Count("pk", filter=group & ~scored & Q(ended__gt=closes)),
            f"{key}substantial": Count("pk", filter=group & substantial),
            f"{key}moderate": Count("pk", filter=group & moderate),
        }
    return figures


def _outcome_group(
    label: str,
    type_id: int | None,
    region: str,
    sums: Mapping[str, int],
    km: Mapping[tuple[float, bool], int],
) -> OutcomeGroup:
    """One row of the dashboard from its sums (named as the rollup's columns, plus fu_overdue and
    w<key>_pending) and its Kaplan–Meier counts."""
    done = sums.get("done", 0)
    steps = kaplan_meier_counts(counts=km)
    followed = sum(km.values())
    events = sum(n for (_, lost), n in km.items() if lost)
    return OutcomeGroup(
        label=label,
        procedure_type_id=type_id,
        spinal_region=region,
        done=done,
        baseline_count=sums.get("has_baseline", 0),
        baseline_mean=sums["baseline_sum"] / sums["has_baseline"] if sums.get("has_baseline") else None,
        responders=[
            ResponderRate(
                timepoint=t,
                with_score=sums.get(f"w{t.key}_scored", 0),
                assessed=sums.get(f"w{t.key}_assessed", 0),
                no_score=done - sums.get(f"w{t.key}_scored", 0),
                pending=sums.get(f"w{t.key}_pending", 0),
                substantial=sums.get(f"w{t.key}_substantial", 0),
                moderate=sums.get(f"w{t.key}_moderate", 0),
            )
            for t in OUTCOME_WINDOWS
        ],
        relief=ReliefDuration(
            steps=steps,
            median_days=kaplan_meier_median(steps=steps),
            followed=followed,
            events=events,
            censored=followed - events,
            no_report=done - followed,
        ),
        followups_answered=sums.get("fu_answered", 0),
        followups_missed=sums.get("fu_missed", 0),
        followups_overdue=sums.get("fu_overdue", 0),
        complications=sums.get("complication", 0),
    )


@dataclass(frozen=True)
class DashboardFilters:
    procedure_type_id: int | None = None
    region: str | None = None
    physician_id: int | None = None
    start: date | None = None  # first and last day of the procedure, in the clinic's zone
    end: date | None = None


def outcomes_dashboard(
    *,
    procedure_type_id: int | None = None,
    region: str | None = None,
    physician_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
    live: bool = False,
) -> Dashboard:
    """Outcomes of the procedures done (in recovery or discharged) that match the filters, per procedure type
    and in total; `start` and `end` are the first and last day of the procedure, in the clinic's zone.

    Baseline: the last baseline or day-of score linked to the procedure at or before its end, else the
    baseline pain on its record. Reports: check-in, clinic and diary scores after the procedure's end, linked
    to it or (unlinked) before the patient's next procedure. Relief of a report: its % relief, else
    100·(baseline − score)/baseline when the baseline is above 0.

    On PostgreSQL the figures are sums over the rollup tables (services/rollups.py), a fixed handful of
    queries whatever the number of procedures; first, anything queued for a refresh is brought up to date,
    so a change just charted is in the figures. Elsewhere, or with `live`, they are worked out from the
    source tables in two queries: the reference the rollups are checked against."""
    now = now or timezone.now()
    filters = DashboardFilters(procedure_type_id, region, physician_id, start, end)
    # Imported here: the rollup service is built on this module's per-procedure query.
    from procedures.services.rollups import rollups_catch_up, rollups_kept

    if rollups_kept() and not live:
        return _dashboard_from_rollups(filters, now=now, waiting=rollups_catch_up())
    lookups: dict = {}
    if procedure_type_id is not None:
        lookups["procedure_type_id"] = procedure_type_id
    if region:
        lookups["procedure_type__spinal_region"] = region
    if physician_id is not None:
        lookups["physician_id"] = physician_id
    if start is not None:
        lookups["start__gte"] = day_bounds(day=start)[0]
    if end is not None:
        lookups["start__lt"] = day_bounds(day=end)[1]
    return _dashboard(_done(**lookups), region=region, now=now)


def _dashboard(rows: QuerySet[Appointment], *, region: str | None, now: datetime) -> Dashboard:
    """The live dashboard: every figure worked out from the source tables in two queries. Used where the
    rollup tables are not kept (SQLite) and, in the tests, as the reference the rollups must match."""
    per_procedure = procedure_outcomes(pk__in=rows.values("pk"))
    pairs = list(
        per_procedure.annotate(
            km_days=ExpressionWrapper(
                Coalesce(F("lost_at"), F("last_at")) - F("ended"), output_field=DurationField()
            ),
            km_event=ExpressionWrapper(Q(lost_at__isnull=False), output_field=BooleanField()),
        )
        .order_by()
        .values_list(
            "procedure_type_id",
            "procedure_type__name",
            "procedure_type__spinal_region",
            "km_days",
            "km_event",
        )
    )
    types = {type_id: (name, region_) for type_id, name, region_, _, _ in pairs}
    ordered = sorted(types, key=lambda type_id: (types[type_id][0], type_id))
    figures: dict = {}
    if pairs:
        per_procedure = per_procedure.annotate(
            fu_overdue=_count(
                FollowUp.objects.filter(
                    appointment_id=OuterRef("pk"), status=FollowUpStatus.SENT, due_at__lt=now
                )
            ),
        )
        aggregates = _group_aggregates("all_", Q(), now=now)
        for type_id in ordered:
            aggregates |= _group_aggregates(f"t{type_id}_", Q(procedure_type_id=type_id), now=now)
        # DISTINCT (harmless: each row has its own id) keeps the per-procedure rows a subquery of their own:
        # otherwise PostgreSQL pulls it up into the aggregate and runs every row's subqueries once per figure.
        figures = per_procedure.distinct().aggregate(**aggregates)

    def sums(prefix: str) -> dict:
        return {
            name.removeprefix(prefix): value for name, value in figures.items() if name.startswith(prefix)
        }

    def km(type_id: int | None) -> Counter:
        return Counter(
            (km_whole_days(days), event)
            for pair_type, _, _, days, event in pairs
            if days is not None and (type_id is None or pair_type == type_id)
        )

    return Dashboard(
        groups=[_outcome_group(types[t][0], t, types[t][1], sums(f"t{t}_"), km(t)) for t in ordered],
        total=_outcome_group("Total", None, region or "", sums("all_"), km(None)),
        windows=OUTCOME_WINDOWS,
        computed_at=now,
    )


# --- The same figures from the rollup tables (PostgreSQL) ---------------------------------------------


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class _Where:
    sql: str
    params: list


def _and(*parts: _Where) -> _Where:
    kept = [p for p in parts if p.sql]
    return _Where(" AND ".join(f"({p.sql})" for p in kept) or "TRUE", [x for p in kept for x in p.params])


def _rollup_conditions(filters: DashboardFilters, *, table: str = "") -> tuple[_Where, _Where, _Where | None]:
    """WHERE clauses (on columns of `table`, when named): for the monthly sums (the whole months inside the
    date range); for every ProcedureOutcome row the filters match; and for the rows of the range's partial
    months at either end, None when there is no date filter (the monthly sums alone answer)."""
    column = f"{table}." if table else ""
    common = []
    if filters.procedure_type_id is not None:
        common.append(_Where(f"{column}procedure_type_id = %s", [filters.procedure_type_id]))
    if filters.region:
        common.append(
            _Where(
                f"{column}procedure_type_id IN (SELECT id FROM procedures_proceduretype WHERE spinal_region = %s)",
                [filters.region],
            )
        )
    if filters.physician_id is not None:
        common.append(_Where(f"{column}physician_id = %s", [filters.physician_id]))
    if filters.start is None and filters.end is None:
        return _and(*common), _and(*common), None
    # Whole months: from the first month that starts on or after `start` to the last that ends on or before
    # `end`; the days outside them come from the per-procedure rows.
    whole = []
    if filters.start is not None:
        first = filters.start if filters.start.day == 1 else _next_month(filters.start)
        whole.append(_Where(f"{column}month >= %s", [first]))
    if filters.end is not None:
        last = _first_of_month(filters.end)
        if _next_month(filters.end) != filters.end + timedelta(days=1):
            last = _first_of_month(last - timedelta(days=1))
        whole.append(_Where(f"{column}month <= %s", [last]))
    in_whole = _and(*whole)
    in_range = []
    if filters.start is not None:
        in_range.append(_Where(f"{column}start >= %s", [day_bounds(day=filters.start)[0]]))
    if filters.end is not None:
        in_range.append(_Where(f"{column}start < %s", [day_bounds(day=filters.end)[1]]))
    edges = _and(*common, *in_range, _Where(f"NOT ({in_whole.sql})", in_whole.params))
    return _and(*common, in_whole), _and(*common, *in_range), edges


def _dashboard_from_rollups(filters: DashboardFilters, *, now: datetime, waiting: int) -> Dashboard:
    from procedures.services.rollups import MONTH_SUMS  # the rollup's columns and how each is summed

    months, rows, edges = _rollup_conditions(filters)
    joined = _rollup_conditions(filters, table="po")[1]
    # The whole clinic's all-time sums and curve when only the procedure type narrows them.
    whole_clinic = edges is None and filters.physician_id is None
    columns = list(MONTH_SUMS)
    per_row = {name: expr.removeprefix("sum(").removesuffix(")") for name, expr in MONTH_SUMS.items()}
    per_row["done"] = "1"
    sums_table = "procedures_outcometotal" if whole_clinic else "procedures_outcomemonth"
    parts = [f"SELECT procedure_type_id, {', '.join(columns)} FROM {sums_table} WHERE {months.sql}"]
    params = list(months.params)
    if edges is not None:
        parts.append(
            f"SELECT procedure_type_id, {', '.join(per_row[c] for c in columns)} "
            f"FROM procedures_procedureoutcome WHERE {edges.sql}"
        )
        params += edges.params
    # The rollups' database: a read replica when one is configured (clinic/routers.py).
    with connections[router.db_for_read(OutcomeMonth)].cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.name, t.spinal_region, {', '.join(f'sum(x.{c})' for c in columns)} "
            f"FROM ({' UNION ALL '.join(parts)}) x JOIN procedures_proceduretype t ON t.id = x.procedure_type_id "
            "GROUP BY t.id, t.name, t.spinal_region HAVING sum(x.done) > 0",
            params,
        )
        found = cursor.fetchall()
        types = {row[0]: (row[1], row[2]) for row in found}
        sums: dict[int, dict[str, int]] = {
            row[0]: dict(zip(columns, map(int, row[3:]), strict=True)) for row in found
        }

        if whole_clinic:
            cursor.execute(
                f"SELECT procedure_type_id, days, lost, n FROM procedures_relieftotal WHERE {months.sql} AND n > 0",
                months.params,
            )
        else:
            km_parts = [
                f"SELECT procedure_type_id, days, lost, n FROM procedures_reliefmonth WHERE {months.sql}"
            ]
            km_params = list(months.params)
            if edges is not None:
                km_parts.append(
                    "SELECT procedure_type_id, km_days, km_lost, 1 FROM procedures_procedureoutcome "
                    f"WHERE {edges.sql} AND km_days IS NOT NULL"
                )
                km_params += edges.params
            cursor.execute(
                f"SELECT procedure_type_id, days, lost, sum(n) FROM ({' UNION ALL '.join(km_parts)}) x "
                "GROUP BY procedure_type_id, days, lost HAVING sum(n) > 0",
                km_params,
            )
        km: dict[int, Counter] = defaultdict(Counter)
        for type_id, days, lost, n in cursor.fetchall():
            km[type_id][(float(days), lost)] += int(n)

        # What depends on today: windows not closed yet, and check-ins sent, due and unanswered.
        oldest_open = now - timedelta(days=max(t.last_day for t in OUTCOME_WINDOWS) + 1)
        pending = ", ".join(
            f"count(*) FILTER (WHERE w{t.key}_score IS NULL AND ended > %s)" for t in OUTCOME_WINDOWS
        )
        cursor.execute(
            f"SELECT procedure_type_id, {pending} FROM procedures_procedureoutcome "
            f"WHERE ended > %s AND {rows.sql} GROUP BY procedure_type_id",
            [*(now - timedelta(days=t.last_day + 1) for t in OUTCOME_WINDOWS), oldest_open, *rows.params],
        )
        for type_id, *counts in cursor.fetchall():
            for t, n in zip(OUTCOME_WINDOWS, counts, strict=True):
                sums.get(type_id, {})[f"w{t.key}_pending"] = n
        cursor.execute(
            "SELECT po.procedure_type_id, count(*) FROM procedures_followup f "
            "JOIN procedures_procedureoutcome po ON po.appointment_id = f.appointment_id "
            f"WHERE f.status = %s AND f.due_at < %s AND {joined.sql} GROUP BY po.procedure_type_id",
            [FollowUpStatus.SENT, now, *joined.params],
        )
        for type_id, n in cursor.fetchall():
            sums.get(type_id, {})["fu_overdue"] = n

    ordered = sorted(types, key=lambda type_id: (types[type_id][0], type_id))
    total: Counter = Counter()
    total_km: Counter = Counter()
    for type_id in ordered:
        total.update(sums[type_id])
        total_km.update(km[type_id])
    return Dashboard(
        groups=[_outcome_group(types[t][0], t, types[t][1], sums[t], km[t]) for t in ordered],
        total=_outcome_group("Total", None, filters.region or "", total, total_km),
        windows=OUTCOME_WINDOWS,
        computed_at=now,
        waiting=waiting,
    )
