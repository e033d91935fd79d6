"""Keeps the rollup tables (models/rollups.py) equal to what the live queries would say.

On PostgreSQL, triggers queue a patient in `RollupRefresh` whenever an appointment, procedure record, pain
score or follow-up of theirs changes (migration 0015). `rollups_refresh` takes queued patients and, for
them only, recomputes the per-procedure rows with the dashboard's own SQL (selectors/outcomes.
procedure_outcomes) and moves the monthly sums by the difference, then recomputes their RFA pathway rows.
A Celery beat sweep runs it continuously; the dashboard and the board also run one small batch before they
read, so what a clinician just charted is always in the figures.

Refreshes run one at a time (a transaction-scoped advisory lock): each one's reads start after the last
one's writes, so an older snapshot can never overwrite a newer result. SQLite keeps no rollups; there the
dashboard and the board compute live."""

import time
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from procedures.models import (
    WINDOW_FLAGS,
    WINDOW_KEYS,
    OutcomeMonth,
    OutcomeTotal,
    ProcedureOutcome,
    ReliefMonth,
    ReliefTotal,
    RfaPathwayState,
    RollupRefresh,
)
from procedures.selectors.outcomes import (
    MODERATE_NRS_DROP,
    MODERATE_RELIEF_PERCENT,
    SUBSTANTIAL_RELIEF_PERCENT,
    procedure_outcomes,
    rfa_pathway_rows,
    rfa_pathway_stage,
    rfa_rule,
)

# pg_advisory_xact_lock key: one refresh at a time across every worker and web process.
ROLLUP_LOCK = 0x5D_0011
# Patients per refresh transaction of the sweep (about 10 ms a patient): short enough that a page waiting
# on the lock waits little.
REFRESH_BATCH = 100
# Patients a page brings up to date itself before it reads; usually the queue holds fewer (the sweep runs
# every 15 s), and a page never spends long on a backlog: it says how many are still waiting.
CATCH_UP_BATCH = 20
# How long a page waits for a refresh already under way before it shows the figures as they are.
CATCH_UP_WAIT_MS = 2000
# SQLSTATE of lock_timeout expiring.
LOCK_NOT_AVAILABLE = "55P03"
# How long one beat sweep keeps taking batches before it leaves the rest to the next one.
SWEEP_SECONDS = 50.0

PO = ProcedureOutcome._meta.db_table
MONTH = OutcomeMonth._meta.db_table
TOTAL = OutcomeTotal._meta.db_table
RELIEF_MONTH = ReliefMonth._meta.db_table
RELIEF_TOTAL = ReliefTotal._meta.db_table
QUEUE = RollupRefresh._meta.db_table

WINDOW_COLUMNS = [f"w{key}_{part}" for key in WINDOW_KEYS for part in ("score", "pct", *WINDOW_FLAGS)]
# OutcomeMonth's columns and the sum over ProcedureOutcome rows that gives each.
MONTH_SUMS = {
    "done": "count(*)",
    "has_baseline": "sum(has_baseline)",
    "baseline_sum": "sum(coalesce(baseline, 0))",
    "complication": "sum(complication)",
    "fu_answered": "sum(fu_answered)",
    "fu_missed": "sum(fu_missed)",
    **{f"w{key}_{flag}": f"sum(w{key}_{flag})" for key in WINDOW_KEYS for flag in WINDOW_FLAGS},
}


def rollups_kept() -> bool:
    return connection.vendor == "postgresql"


def _flag(condition: str) -> str:
    # NULL (a missing score or baseline) counts as "no", as it did in the live aggregate's FILTER.
    return f"coalesce({condition}, false)::int"


def _window_sql(key: str) -> list[str]:
    score, pct = f"src.w{key}_score", f"src.w{key}_pct"
    worked_out = f"({pct} IS NULL AND {score} IS NOT NULL AND src.baseline > 0)"
    # relief ≥ p % ⇔ 100·score ≤ (100 − p)·baseline, in integers.
    return [
        score,
        pct,
        _flag(f"{score} IS NOT NULL"),
        _flag(f"{pct} IS NOT NULL OR {worked_out}"),
        _flag(
            f"{pct} >= {SUBSTANTIAL_RELIEF_PERCENT} OR ({worked_out} AND "
            f"{score} * 100 <= src.baseline * {100 - SUBSTANTIAL_RELIEF_PERCENT})"
        ),
        _flag(
            f"{pct} >= {MODERATE_RELIEF_PERCENT} OR ({worked_out} AND "
            f"{score} * 100 <= src.baseline * {100 - MODERATE_RELIEF_PERCENT}) "
            f"OR {score} <= src.baseline - {MODERATE_NRS_DROP}"
        ),
    ]


def _procedure_rows_insert(cursor, patient_ids: list[int] | None) -> None:
    """INSERT … SELECT of ProcedureOutcome rows from the dashboard's per-procedure query."""
    filters = {} if patient_ids is None else {"patient_id__in": patient_ids}
    inner, params = procedure_outcomes(**filters).order_by().query.sql_with_params()
    zone = timezone.get_default_timezone_name()
    reached = "coalesce(src.lost_at, src.last_at)"
    columns = {
        "appointment_id": "src.id",
        "patient_id": "src.patient_id",
        "procedure_type_id": "src.procedure_type_id",
        "physician_id": "src.physician_id",
        "start": "src.start",
        "month": "date_trunc('month', src.start AT TIME ZONE %s)::date",
        "ended": "src.ended",
        "baseline": "src.baseline",
        "has_baseline": "(src.baseline IS NOT NULL)::int",
        "complication": "(coalesce(src.complication_chars, 0) > 0)::int",
        "fu_answered": "src.fu_answered",
        "fu_missed": "src.fu_missed",
        # Whole days, as selectors/outcomes.km_whole_days counts them.
        "km_days": f"floor(extract(epoch FROM {reached} - src.ended) / 86400)::int",
        "km_lost": f"CASE WHEN {reached} IS NOT NULL THEN src.lost_at IS NOT NULL END",
    }
    for key in WINDOW_KEYS:
        columns.update(
            zip([c for c in WINDOW_COLUMNS if c.startswith(f"w{key}_")], _window_sql(key), strict=True)
        )
    # OFFSET 0 keeps the per-procedure query a subquery of its own: pulled up, each of its correlated
    # subqueries would run once for every column that reads it.
    cursor.execute(
        f"INSERT INTO {PO} ({', '.join(columns)}) SELECT {', '.join(columns.values())} "
        f"FROM ({inner} OFFSET 0) AS src",
        [zone, *params],
    )


def _cells_move(cursor, patient_ids: list[int] | None, *, sign: int) -> None:
    """Adds (sign 1) or takes away (sign −1) the patients' ProcedureOutcome rows from the monthly and all-time
    sums and the Kaplan–Meier counts."""
    where, params = ("WHERE patient_id = ANY(%s)", [patient_ids]) if patient_ids is not None else ("", [])
    month_columns = ", ".join(MONTH_SUMS)
    month_sums = ", ".join(f"{sign} * {expr}" for expr in MONTH_SUMS.values())
    month_add = ", ".join(f"{c} = {MONTH}.{c} + excluded.{c}" for c in MONTH_SUMS)
    cursor.execute(
        f"INSERT INTO {MONTH} (procedure_type_id, physician_id, month, {month_columns}) "
        f"SELECT procedure_type_id, physician_id, month, {month_sums} FROM {PO} {where} "
        "GROUP BY procedure_type_id, physician_id, month "
        f"ON CONFLICT (procedure_type_id, physician_id, month) DO UPDATE SET {month_add}",
        params,
    )
    total_add = ", ".join(f"{c} = {TOTAL}.{c} + excluded.{c}" for c in MONTH_SUMS)
    cursor.execute(
        f"INSERT INTO {TOTAL} (procedure_type_id, {month_columns}) "
        f"SELECT procedure_type_id, {month_sums} FROM {PO} {where} GROUP BY procedure_type_id "
        f"ON CONFLICT (procedure_type_id) DO UPDATE SET {total_add}",
        params,
    )
    relief_where = f"{where} {'AND' if where else 'WHERE'} km_days IS NOT NULL"
    cursor.execute(
        f"INSERT INTO {RELIEF_MONTH} (procedure_type_id, physician_id, month, days, lost, n) "
        f"SELECT procedure_type_id, physician_id, month, km_days, km_lost, {sign} * count(*) FROM {PO} "
        f"{relief_where} GROUP BY procedure_type_id, physician_id, month, km_days, km_lost "
        f"ON CONFLICT (procedure_type_id, physician_id, month, days, lost) DO UPDATE SET n = {RELIEF_MONTH}.n + excluded.n",
        params,
    )
    cursor.execute(
        f"INSERT INTO {RELIEF_TOTAL} (procedure_type_id, days, lost, n) "
        f"SELECT procedure_type_id, km_days, km_lost, {sign} * count(*) FROM {PO} "
        f"{relief_where} GROUP BY procedure_type_id, km_days, km_lost "
        f"ON CONFLICT (procedure_type_id, days, lost) DO UPDATE SET n = {RELIEF_TOTAL}.n + excluded.n",
        params,
    )


def _rfa_states_write(patient_ids: list[int] | None) -> None:
    rule = rfa_rule()
    if patient_ids is None:
        RfaPathwayState.objects.all().delete()
    else:
        RfaPathwayState.objects.filter(patient_id__in=patient_ids).delete()
    states = []
    for entry in rfa_pathway_rows(rule=rule, patient_ids=patient_ids):
        stage = rfa_pathway_stage(entry, rule=rule)
        if stage is None:
            continue
        states.append(
            RfaPathwayState(
                patient_id=entry.patient.pk,
                last_name=entry.patient.last_name,
                first_name=entry.patient.first_name,
                region=entry.region,
                stage=stage,
                qualifying=entry.qualifying,
                block_ids=[block.pk for block in entry.blocks],
                booked=entry.booked,
                last_rfa=entry.last_rfa,
                relief_percent=entry.relief[0] if entry.relief else None,
                relief_weeks=entry.relief[1] if entry.relief else None,
                relief_meets_rule=entry.relief_meets_rule,
                repeat_from=entry.repeat_from,
            )
        )
    RfaPathwayState.objects.bulk_create(states, batch_size=2000)


def _patients_refresh(cursor, patient_ids: list[int]) -> None:
    _cells_move(cursor, patient_ids, sign=-1)
    cursor.execute(f"DELETE FROM {PO} WHERE patient_id = ANY(%s)", [patient_ids])
    _procedure_rows_insert(cursor, patient_ids)
    _cells_move(cursor, patient_ids, sign=1)
    _rfa_states_write(patient_ids)


@dataclass(frozen=True)
class RefreshResult:
    patients: int  # brought up to date by this call
    waiting: bool  # patients still queued after it


class RollupBusy(Exception):
    """Another refresh (a rebuild, say) held the lock for longer than the caller would wait."""


def rollups_refresh(*, batch: int = REFRESH_BATCH, wait_ms: int | None = None) -> RefreshResult:
    """Brings the rollup rows of up to `batch` queued patients (the longest waiting first) up to date, in one
    transaction: if it fails, their queue rows stay and the next sweep tries again. With `wait_ms`, raises
    RollupBusy rather than wait longer than that for another refresh to finish."""
    if not rollups_kept():
        return RefreshResult(0, False)
    try:
        return _refresh(batch=batch, wait_ms=wait_ms)
    except OperationalError as exc:
        if wait_ms is not None and getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise RollupBusy from exc
        raise


def _refresh(*, batch: int, wait_ms: int | None) -> RefreshResult:
    with transaction.atomic(), connection.cursor() as cursor:
        if wait_ms is not None:
            cursor.execute(f"SET LOCAL lock_timeout = {int(wait_ms)}")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        if wait_ms is not None:
            cursor.execute("SET LOCAL lock_timeout = 0")
        cursor.execute(
            f"SELECT patient_id FROM {QUEUE} GROUP BY patient_id ORDER BY min(id) LIMIT %s", [batch]
        )
        patient_ids = [row[0] for row in cursor.fetchall()]
        if not patient_ids:
            return RefreshResult(0, False)
        # Taken under the lock and before the reads: a change committed from here on queues the patient
        # again, and the next refresh sees it.
        cursor.execute(f"DELETE FROM {QUEUE} WHERE patient_id = ANY(%s)", [patient_ids])
        _patients_refresh(cursor, patient_ids)
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {QUEUE})")
        return RefreshResult(len(patient_ids), cursor.fetchone()[0])


def rollups_version() -> int | None:
    """A number that grows with every change queued for the rollups (the queue's id sequence): equal
    numbers, with nothing waiting, mean equal figures. None where no rollups are kept."""
    if not rollups_kept():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {QUEUE}_id_seq")
        return cursor.fetchone()[0]


def rollups_catch_up() -> int:
    """Before the dashboard or the board reads: one batch when anything is queued. Returns how many queue
    rows are still waiting (0 in the usual case: the sweep keeps the queue short); the page says so when
    its figures do not include every change yet."""
    if not rollups_kept():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {QUEUE})")
        if not cursor.fetchone()[0]:
            return 0
    try:
        if not rollups_refresh(batch=CATCH_UP_BATCH, wait_ms=CATCH_UP_WAIT_MS).waiting:
            return 0
    except RollupBusy:
        pass  # a rebuild or a long sweep: show what is there, and say how much is not in it yet
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(DISTINCT patient_id) FROM {QUEUE}")
        return cursor.fetchone()[0]


def rollups_sweep(*, seconds: float = SWEEP_SECONDS) -> int:
    """The beat task's work: batches until the queue is empty or `seconds` have passed. Returns the number of
    patients refreshed."""
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = rollups_refresh()
        done += result.patients
        if not result.waiting:
            break
    return done


def rollups_rebuild() -> int:
    """Every rollup row again from the source tables, in one transaction (after a bulk load, or a change to
    the outcome windows). Returns the number of procedure rows."""
    if not rollups_kept():
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {QUEUE}")
        (upto,) = cursor.fetchone()
        # DELETE, not TRUNCATE: pages keep reading the old rows until this commits.
        for table in (PO, MONTH, TOTAL, RELIEF_MONTH, RELIEF_TOTAL):
            cursor.execute(f"DELETE FROM {table}")
        _procedure_rows_insert(cursor, None)
        _cells_move(cursor, None, sign=1)
        _rfa_states_write(None)
        cursor.execute(f"DELETE FROM {QUEUE} WHERE id <= %s", [upto])
        cursor.execute(f"SELECT count(*) FROM {PO}")
        (rows,) = cursor.fetchone()
    # Fresh statistics and visibility map, so that the planner reads the new rows from their indexes alone
    # from the first page on (VACUUM cannot run inside a transaction: a seed's caller gets ANALYZE and leaves
    # the rest to autovacuum).
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
    with connection.cursor() as cursor:
        for table in (PO, MONTH, TOTAL, RELIEF_MONTH, RELIEF_TOTAL, RfaPathwayState._meta.db_table):
            cursor.execute(f"{command} {table}")
    return rows


__all__ = [
    "RefreshResult",
    "RollupBusy",
    "rollups_catch_up",
    "rollups_kept",
    "rollups_rebuild",
    "rollups_refresh",
    "rollups_sweep",
    "rollups_version",
]
