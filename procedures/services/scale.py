"""A clinic network's worth of history for benchmarks, generated inside PostgreSQL.

`scale_seed(patients=100_000)` writes about a million appointments over ten years for 40 physicians, with
their procedure records and discharges, five million pain scores, three and a half million messages and
the follow-up points of the last FOLLOWUP_WINDOW_DAYS days. Every table is filled by one `INSERT … SELECT` over `generate_series`: no row passes
through Python, so memory stays flat and the load is bound by PostgreSQL alone.

The rows are consistent by construction, so the exclusion constraints of migration 0004 hold without a
check per row: each physician works in their own room with their own recovery bay, their list is a chain
of back-to-back procedures from 08:00 (turnover after each, ten more minutes after a sedated case so the
bay is free again), and patients are dealt to appointments in time order as `(rank × K) mod N` with K prime
to N, so a patient's next appointment is N bookings (months) later and never overlaps the last.

Random choices are hashes of the row's key (`hashint8`), so a seed is reproducible and later statements can
recompute the choice an earlier one made (the diary's relief in both the diary and the pain scores).
"""

import json
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import timezone

from procedures.models import (
    Appointment,
    BlockDiaryEntry,
    CheckInResponse,
    Discharge,
    FollowUp,
    Message,
    PainScore,
    Patient,
    PhysicianProfile,
    ProcedureRecord,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    ScheduleException,
    WorkingHours,
)
from procedures.roles import Role
from procedures.services.catalogue import catalogue_seed
from procedures.services.roles import roles_sync
from procedures.services.rollups import rollups_rebuild

MRN_PREFIX = "S"
PHYSICIAN_USERNAME = "scale-dr-{:02d}"
NURSE_USERNAME = "scale-nurse"
# Ten years of history for 100,000 patients: about ten appointments each.
YEARS_PER_100K = 10
DAYS_AHEAD = 90
# Follow-up points (and their check-in messages) exist for procedures discharged this recently; older
# check-ins survive as pain scores only, as if they predate the follow-up feature.
FOLLOWUP_WINDOW_DAYS = 200
DAY_START_MINUTES = 8 * 60
DAY_MINUTES = 8 * 60
SLOTS_PER_DAY = 20

NOT_POSTGRES = "seed_scale needs PostgreSQL (DATABASE_URL); the embedded SQLite database is for a demo."
NOT_EMPTY = (
    "This database already holds {patients} patients and {appointments} appointments that seed_scale did not "
    "write. It loads only into an empty database (for example spinedesk_bench), never a clinic's."
)
OTHER_SIZE = (
    "This database already holds a scale data set of {existing} patients; drop the database to load "
    "{wanted} instead."
)
TOO_FEW_PATIENTS = "Give at least {minimum} patients for {physicians} physicians, so that no patient is booked twice at once."

# Share of bookings per procedure type (by catalogue name); a type not listed, or added by the clinic, gets 1.
TYPE_WEIGHTS = {
    "Lumbar transforaminal ESI": 18,
    "Lumbar interlaminar ESI": 8,
    "Caudal ESI": 3,
    "Cervical interlaminar ESI": 6,
    "Cervical transforaminal ESI": 1,
    "Thoracic interlaminar ESI": 2,
    "Lumbar medial branch block": 12,
    "Cervical medial branch block": 5,
    "Thoracic medial branch block": 1,
    "Lumbar radiofrequency ablation": 8,
    "Cervical radiofrequency ablation": 3,
    "Thoracic radiofrequency ablation": 1,
    "Lumbar facet joint injection": 6,
    "Sacroiliac joint injection": 7,
    "Sacroiliac joint diagnostic block": 3,
    "Trigger point injections, 1–2 muscles": 8,
    "Trigger point injections, 3 or more muscles": 4,
    "Platelet-rich plasma injection, joint": 2,
    "Platelet-rich plasma injection, epidural": 2,
}
FIRST_NAMES = [
    "Ana", "Ben", "Cora", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jude", "Kai", "Lena", "Milo", "Nia",
    "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Vic", "Wes", "Yara", "Zoe", "Luis", "Mei", "Noah",
]  # fmt: skip
LAST_NAMES = [
    "Reyes", "Shaw", "Tran", "Usman", "Vega", "Wolfe", "Xu", "Young", "Zhou", "Abbott", "Baker", "Cole",
    "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan", "Lopez", "Moreau", "Nguyen",
    "Okafor", "Patel", "Quist", "Rossi", "Silva", "Taylor", "Ueda", "Varga", "Walsh", "Yilmaz", "Zimmer",
    "Adler", "Brooks", "Castro", "Dubois", "Eriksen", "Flores",
]  # fmt: skip
LEVELS = {
    "lumbar": ["L4-L5", "L5-S1", "L3-L4, L4-L5", "L4-L5, L5-S1"],
    "cervical": ["C5-C6", "C6-C7", "C4-C5, C5-C6"],
    "thoracic": ["T6-T7", "T8-T9"],
    "sacral": ["caudal"],
}


@dataclass(frozen=True)
class ScalePlan:
    patients: int
    physicians: int
    first_day: date
    last_day: date  # exclusive
    now: datetime

    @property
    def multiplier(self) -> int:
        """A step prime to the patient count near its golden section, so consecutive bookings go to
        patients far apart in the list (and every patient comes round once per N bookings)."""
        k = max(1, int(self.patients * 0.618))
        while math.gcd(k, self.patients) != 1:
            k += 1
        return k


def scale_plan(
    *, patients: int, physicians: int = 40, years: float | None = None, now: datetime | None = None
) -> ScalePlan:
    """Ten years of history per 100,000 patients (at least a quarter of a year), and DAYS_AHEAD days of
    bookings ahead."""
    now = now or timezone.now()
    years = years if years is not None else max(0.25, YEARS_PER_100K * patients / 100_000)
    today = timezone.localdate(now)
    first_day = today - timedelta(days=round(years * 365.25))
    last_day = today + timedelta(days=DAYS_AHEAD)
    return ScalePlan(
        patients=patients, physicians=physicians, first_day=first_day, last_day=last_day, now=now
    )


# --- SQL helpers -------------------------------------------------------------------------------------


def _u(key: str, salt: int) -> str:
    """A uniform number in [0, 1) from a row's key: the same key and salt always give the same number."""
    return f"((hashint8(({key})::bigint * 1000003 + {salt}) & 2147483647)::float8 / 2147483648.0)"


def _pick(values: list[str], key: str, salt: int) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"(ARRAY[{quoted}]::text[])[1 + floor({_u(key, salt)} * {len(values)})::int]"


def _insert(model: type[models.Model], exprs: dict[str, str], tail: str) -> str:
    """`INSERT INTO <table> (…) SELECT <exprs> <tail>`. Columns without an expression get their field's
    default (as a literal) or NULL, so a field added later with a default does not break the seed."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = field.column
        if column in exprs:
            expr = exprs.pop(column)
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expr = "%(now)s"
        elif field.null:
            continue
        elif field.has_default() or field.empty_strings_allowed:
            expr = _literal(field)
        else:
            raise ValueError(f"scale seed gives no value for {model.__name__}.{field.name}")
        columns.append(connection.ops.quote_name(column))
        values.append(expr)
    if exprs:
        raise ValueError(f"{model.__name__} has no columns {sorted(exprs)}")
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {tail}"


def _literal(field: models.Field) -> str:
    value = field.get_default()
    if isinstance(field, models.JSONField):
        return "'" + json.dumps(value).replace("'", "''").replace("%", "%%") + "'::jsonb"
    value = field.get_db_prep_save(value, connection)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''").replace("%", "%%") + "'"


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# --- the rows that are few -----------------------------------------------------------------------------


def _staff(plan: ScalePlan) -> None:
    """Physicians (each with a room and a bay of their own, weekdays 08:00–16:00) and the nurse who
    discharges; kept in temporary tables the big statements join."""
    User = get_user_model()
    physician_group = Group.objects.get(name=Role.PHYSICIAN)
    nurse, _ = User.objects.get_or_create(username=NURSE_USERNAME, defaults={"last_name": "Scale nurse"})
    nurse.groups.add(Group.objects.get(name=Role.NURSE))
    doctors = []
    for i in range(plan.physicians):
        last = LAST_NAMES[i % len(LAST_NAMES)] + (
            "" if i < len(LAST_NAMES) else f" {i // len(LAST_NAMES) + 1}"
        )
        user, _ = User.objects.get_or_create(
            username=PHYSICIAN_USERNAME.format(i), defaults={"first_name": "Dr", "last_name": last}
        )
        user.groups.add(physician_group)
        profile, created = PhysicianProfile.objects.get_or_create(
            user=user,
            defaults={"display_name": f"Dr {last}", "calendar_colour": f"#{(i * 2654435761) % 0xFFFFFF:06x}"},
        )
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(physician=profile, weekday=d, start_time=dt_time(8), end_time=dt_time(16))
                for d in range(5)
            )
        room, _ = ProcedureRoom.objects.get_or_create(
            name=f"Room {i + 1:02d}", defaults={"has_fluoroscopy": True, "has_ultrasound": True}
        )
        bay, _ = RecoveryBay.objects.get_or_create(name=f"Bay {i + 1:02d}")
        doctors.append((i, profile.pk, user.pk, room.pk, room.turnover_minutes, bay.pk))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scale_doctor (idx int PRIMARY KEY, physician_id bigint, user_id int, "
            "room_id bigint, turnover int, bay_id bigint) ON COMMIT DROP"
        )
        cursor.executemany("INSERT INTO scale_doctor VALUES (%s, %s, %s, %s, %s, %s)", doctors)
        cursor.execute("CREATE TEMP TABLE scale_staff (nurse_id int) ON COMMIT DROP")
        cursor.execute("INSERT INTO scale_staff VALUES (%s)", [nurse.pk])


def _types() -> list[int]:
    """The procedure types in a temporary table, and the weighted pick list of their indexes."""
    types = list(ProcedureType.objects.filter(active=True).order_by("pk"))
    rows, picks = [], []
    for i, t in enumerate(types, start=1):
        rows.append(
            (
                i,
                t.pk,
                t.name,
                t.family,
                t.spinal_region,
                t.purpose == "diagnostic",
                t.imaging,
                t.uses_contrast,
                t.procedure_minutes,
                t.monitoring_minutes,
                t.monitoring_minutes_sedated,
                t.sedation_allowed,
                [int(m) for m in t.diary_timepoints_minutes or []],
                [int(d) for d in t.followup_days or []],
            )
        )
        picks += [i] * TYPE_WEIGHTS.get(t.name, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scale_type (idx int PRIMARY KEY, type_id bigint, name text, family text, "
            "region text, diagnostic bool, imaging text, contrast bool, minutes int, monitoring int, "
            "monitoring_sedated int, sedation_allowed bool, diary int[], followup_days int[]) ON COMMIT DROP"
        )
        cursor.executemany(
            "INSERT INTO scale_type VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows
        )
    return picks


# --- the rows that are many --------------------------------------------------------------------------


def _patients_sql() -> str:
    n = "g"
    channel = _u(n, 3)
    exprs = {
        "mrn": f"'{MRN_PREFIX}' || lpad(g::text, 8, '0')",
        "first_name": _pick(FIRST_NAMES, n, 1),
        "last_name": _pick(LAST_NAMES, n, 2),
        "date_of_birth": f"date '1935-01-01' + floor({_u(n, 4)} * 365.25 * 70)::int",
        "phone": "'+1555' || lpad((g %% 10000000)::text, 7, '0')",
        "email": "'patient' || g || '@example.org'",
        # Most prefer texts, a third email, a few only a phone call (reminders are then skipped).
        "preferred_channel": f"CASE WHEN {channel} < 0.6 THEN 'sms' WHEN {channel} < 0.95 THEN 'email' ELSE 'phone' END",
        "consent_sms": f"{channel} < 0.6",
        "consent_sms_at": f"CASE WHEN {channel} < 0.6 THEN %(first)s::timestamptz END",
        "consent_email": f"{channel} >= 0.6 AND {channel} < 0.95",
        "consent_email_at": f"CASE WHEN {channel} >= 0.6 AND {channel} < 0.95 THEN %(first)s::timestamptz END",
        "language": f"CASE WHEN {_u(n, 5)} < 0.15 THEN 'es' ELSE 'en' END",
        "time_zone": "%(tz)s",
        "diabetes": f"{_u(n, 6)} < 0.12",
        "bleeding_disorder": f"{_u(n, 7)} < 0.01",
        "severe_kidney_disease": f"{_u(n, 8)} < 0.02",
        "allergy_contrast": f"{_u(n, 9)} < 0.03",
        "allergy_latex": f"{_u(n, 10)} < 0.02",
        "pain_started_on": f"%(first_day)s::date - floor({_u(n, 11)} * 700)::int",
        "created_at": "%(first)s::timestamptz",
        "updated_at": "%(first)s::timestamptz",
    }
    return _insert(Patient, exprs, "FROM generate_series(1, %(patients)s) AS g ORDER BY g")


def _appointments_sql() -> str:
    slot = "s.slot_key"
    past = "s.start < %(now)s"
    roll = _u(slot, 23)
    sedated = f"(t.sedation_allowed AND {_u(slot, 22)} < 0.15)"
    # Booked 2–60 days ahead (never after now).
    booked = f"LEAST(%(now)s, s.start - ((2 + floor({_u(slot, 24)} * 58)) * interval '1 day') - interval '3 hours')"
    status = (
        f"CASE WHEN {past} THEN (CASE WHEN {roll} < 0.05 THEN 'cancelled' WHEN {roll} < 0.08 THEN 'no_show' "
        f"ELSE 'discharged' END) WHEN s.start < %(now)s + interval '7 days' AND {roll} < 0.7 THEN 'confirmed' "
        "ELSE 'scheduled' END"
    )
    levels = (
        "CASE t.region "
        + " ".join(f"WHEN '{region}' THEN {_pick(values, slot, 25)}" for region, values in LEVELS.items())
        + " ELSE '' END"
    )
    exprs = {
        "patient_id": "p.id",
        "procedure_type_id": "t.type_id",
        "physician_id": "d.physician_id",
        "room_id": "d.room_id",
        "recovery_bay_id": "d.bay_id",
        "start": "s.start",
        "end": "s.start + t.minutes * interval '1 minute'",
        "room_until": "s.start + (t.minutes + d.turnover) * interval '1 minute'",
        "monitoring_until": f"s.start + (t.minutes + CASE WHEN {sedated} THEN t.monitoring_sedated ELSE t.monitoring END) * interval '1 minute'",
        "sedation_planned": sedated,
        "side": f"CASE WHEN t.family IN ('esi_interlaminar', 'trigger_point', 'regenerative') OR t.region = 'sacral' THEN 'midline' ELSE {_pick(['left', 'left', 'right', 'right', 'bilateral'], slot, 26)} END",
        "levels": levels,
        "prior_surgery_at_site": f"{_u(slot, 27)} < 0.04",
        # The best relief of a diagnostic block's diary: two in five qualify (≥ 80 %).
        "block_peak_relief_percent": f"CASE WHEN {past} AND t.diagnostic AND {roll} >= 0.08 THEN floor(20 + {_u(slot, 28)} * 80)::int END",
        "status": status,
        "status_changed_at": (
            f"CASE WHEN NOT {past} THEN {booked} WHEN {roll} < 0.05 THEN {booked} + (s.start - {booked}) * {_u(slot, 29)} "
            f"WHEN {roll} < 0.08 THEN s.start + interval '30 minutes' "
            f"ELSE LEAST(%(now)s, s.start + (t.minutes + 35) * interval '1 minute') END"
        ),
        "cancel_reason": f"CASE WHEN {past} AND {roll} < 0.05 THEN {_pick(['Patient request', 'Unwell on the day', 'Insurance not approved', 'Transport fell through'], slot, 30)} ELSE '' END",
        "created_at": booked,
        "updated_at": booked,
    }
    tail = f"""
    FROM (
        SELECT c.*, row_number() OVER (ORDER BY c.start, c.doc) AS rank
        FROM (
            SELECT x.doc, x.slot_key, x.type_idx,
                   ((x.day + time '00:00') AT TIME ZONE %(tz)s)
                     + ({DAY_START_MINUTES} + x.offset_minutes) * interval '1 minute' AS start
            FROM (
                SELECT y.*, COALESCE(sum(y.step) OVER (
                    PARTITION BY y.doc, y.day ORDER BY y.k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                ), 0) AS offset_minutes
                FROM (
                    SELECT d.idx AS doc, days.day, k, z.slot_key, z.type_idx,
                           t.minutes + d.turnover
                             + CASE WHEN t.sedation_allowed AND {_u("z.slot_key", 22)} < 0.15 THEN 10 ELSE 0 END AS step,
                           t.minutes
                    FROM (
                        SELECT day::date AS day FROM generate_series(%(first_day)s::date, %(last_day)s::date - 1, interval '1 day') AS day
                        WHERE extract(isodow FROM day) < 6
                    ) AS days
                    CROSS JOIN scale_doctor AS d
                    CROSS JOIN generate_series(0, {SLOTS_PER_DAY - 1}) AS k
                    CROSS JOIN LATERAL (
                        SELECT ((days.day - date '2000-01-01')::bigint * 4096 + d.idx) * 32 + k AS slot_key
                    ) AS keyed
                    CROSS JOIN LATERAL (
                        SELECT keyed.slot_key,
                               (%(picks)s::int[])[1 + floor({_u("keyed.slot_key", 21)} * cardinality(%(picks)s::int[]))::int] AS type_idx
                    ) AS z
                    JOIN scale_type AS t ON t.idx = z.type_idx
                    WHERE NOT EXISTS (SELECT 1 FROM scale_leave AS l WHERE l.doc = d.idx AND l.week = date_trunc('week', days.day)::date)
                ) AS y
            ) AS x
            WHERE x.offset_minutes + x.minutes <= {DAY_MINUTES}
              -- Some slots stay empty; the further ahead, the emptier the book, as in a real clinic.
              AND {_u("x.slot_key", 20)} >= CASE WHEN x.day <= %(today)s THEN 0.08
                    ELSE LEAST(0.85, 0.1 + (x.day - %(today)s) / 75.0) END
        ) AS c
    ) AS s
    JOIN scale_doctor AS d ON d.idx = s.doc
    JOIN scale_type AS t ON t.idx = s.type_idx
    JOIN {_table(Patient)} AS p ON p.mrn = '{MRN_PREFIX}' || lpad((1 + ((s.rank - 1) * %(k)s) %% %(patients)s)::text, 8, '0')
    ORDER BY s.start, s.doc
    """
    return _insert(Appointment, exprs, tail)


def _leave_sql() -> str:
    """About four weeks of leave a year per physician, whole weeks (the appointments skip them)."""
    return f"""
    CREATE TEMP TABLE scale_leave ON COMMIT DROP AS
    SELECT d.idx AS doc, w::date AS week
    FROM scale_doctor AS d
    CROSS JOIN generate_series(date_trunc('week', %(first_day)s::date), %(last_day)s::date, interval '7 days') AS w
    WHERE {_u("(w::date - date '2000-01-01') * 4096 + d.idx", 40)} < 1.0 / 13
    """


def _exceptions_sql() -> str:
    exprs = {
        "physician_id": "d.physician_id",
        "kind": "'leave'",
        "starts_at": "(l.week + time '00:00') AT TIME ZONE %(tz)s",
        "ends_at": "(l.week + 5 + time '00:00') AT TIME ZONE %(tz)s",
        "reason": "'Annual leave'",
    }
    return _insert(ScheduleException, exprs, "FROM scale_leave AS l JOIN scale_doctor AS d ON d.idx = l.doc")


# The appointments seed_scale wrote, with what the later statements need from each.
_DONE = f"""
    FROM {_table(Appointment)} AS a
    JOIN scale_doctor AS d ON d.physician_id = a.physician_id
    JOIN scale_type AS t ON t.type_id = a.procedure_type_id
"""
BASE_PAIN = f"(5 + floor({_u('a.id', 50)} * 5)::int)"


def _records_sql() -> str:
    exprs = {
        "appointment_id": "a.id",
        "started_at": "a.start + interval '2 minutes'",
        "ended_at": 'a."end"',
        "baseline_pain": f"LEAST(10, {BASE_PAIN} + floor({_u('a.id', 51)} * 3)::int - 1)",
        "levels": "a.levels",
        "side": "a.side",
        "approach": "CASE t.family WHEN 'esi_transforaminal' THEN 'transforaminal' WHEN 'esi_interlaminar' THEN "
        "CASE WHEN t.region = 'sacral' THEN 'caudal' ELSE 'interlaminar' END ELSE '' END",
        "imaging_used": "t.imaging",
        "contrast_ml": f"CASE WHEN t.contrast THEN round((1 + {_u('a.id', 52)} * 2)::numeric, 1) END",
        "local_anaesthetic": "'lidocaine 1%% 3 mL'",
        "sedation_given": "a.sedation_planned",
        "sedation_agent": "CASE WHEN a.sedation_planned THEN 'midazolam 2 mg IV' ELSE '' END",
        "complications": f"CASE WHEN {_u('a.id', 53)} < 0.01 THEN 'Vasovagal episode, resolved lying flat.' ELSE '' END",
        "recorded_by_id": "d.user_id",
    }
    return _insert(ProcedureRecord, exprs, _DONE + " WHERE a.status = 'discharged' ORDER BY a.id")


def _discharges_sql() -> str:
    exprs = {
        "appointment_id": "a.id",
        "discharged_at": "a.monitoring_until + interval '5 minutes'",
        "vitals_stable": "true",
        "walks_safely": "true",
        "pain_controlled": "true",
        "escort_present": "CASE WHEN a.sedation_planned THEN true END",
        "early_reason": "''",
        "by_id": "(SELECT nurse_id FROM scale_staff)",
    }
    return _insert(Discharge, exprs, _DONE + " WHERE a.status = 'discharged' ORDER BY a.id")


def _pain_sql(source: str) -> str:
    """Pain scores by source: a baseline when booked, one just before the procedure, the diagnostic
    block's diary, and the patient's check-ins (answered a little under half the time)."""
    exprs = {
        "patient_id": "a.patient_id",
        "appointment_id": "a.id",
        "source": f"'{source}'",
        "created_at": "%(now)s",
    }
    if source == "baseline":
        exprs |= {"score": BASE_PAIN, "recorded_at": "a.created_at"}
        return _insert(PainScore, exprs, _DONE + " ORDER BY a.id")
    if source == "day_of":
        exprs |= {
            "score": f"LEAST(10, {BASE_PAIN} + floor({_u('a.id', 51)} * 3)::int - 1)",
            "recorded_at": "a.start - interval '20 minutes'",
        }
        return _insert(PainScore, exprs, _DONE + " WHERE a.status = 'discharged' ORDER BY a.id")
    if source == "diary":
        exprs |= {"score": DIARY_PAIN, "percent_relief": DIARY_RELIEF, "recorded_at": DIARY_AT}
        return _insert(PainScore, exprs, DIARY_FROM + " ORDER BY a.id, m.minutes")
    exprs |= {"score": CHECKIN_PAIN, "percent_relief": CHECKIN_RELIEF, "recorded_at": CHECKIN_AT}
    return _insert(PainScore, exprs, CHECKIN_FROM + f" AND {CHECKIN_ANSWERED} ORDER BY a.id, f.ord")


# Every second diary timepoint (hourly with the catalogue's half-hourly list), each once due.
DIARY_FROM = (
    _DONE
    + """
    CROSS JOIN LATERAL unnest(t.diary) WITH ORDINALITY AS m(minutes, ord)
    WHERE a.status = 'discharged' AND t.diagnostic AND m.ord %% 2 = 0
      AND a."end" + m.minutes * interval '1 minute' <= %(now)s
"""
)
# Relief holds at the block's peak for two hours, then wears off as the local anaesthetic does.
DIARY_RELIEF = "GREATEST(0, COALESCE(a.block_peak_relief_percent, 0) - GREATEST(0, m.minutes - 120) / 30 * 4)"
DIARY_PAIN = f"round({BASE_PAIN} * (100 - {DIARY_RELIEF}) / 100.0)::int"
DIARY_AT = "a.\"end\" + m.minutes * interval '1 minute'"

CHECKIN_FROM = (
    _DONE
    + """
    CROSS JOIN LATERAL unnest(t.followup_days) WITH ORDINALITY AS f(days, ord)
    WHERE a.status = 'discharged' AND NOT t.diagnostic
"""
)
CHECKIN_KEY = "a.id * 16 + f.ord"
CHECKIN_ANSWERED = f"({_u(CHECKIN_KEY, 60)} < 0.45 AND a.\"end\" + f.days * interval '1 day' + interval '20 hours' <= %(now)s)"
# Responders (a little over half) keep 55–95 % relief for three months, then lose ground month by month.
CHECKIN_RELIEF = (
    f"GREATEST(0, CASE WHEN {_u('a.id', 61)} < 0.55 THEN floor(55 + {_u('a.id', 62)} * 40)::int "
    f"- GREATEST(0, f.days - 90) / 30 * 8 ELSE floor({_u(CHECKIN_KEY, 63)} * 40)::int END)"
)
CHECKIN_PAIN = f"round({BASE_PAIN} * (100 - {CHECKIN_RELIEF}) / 100.0)::int"
CHECKIN_AT = (
    f"a.\"end\" + f.days * interval '1 day' + (2 + floor({_u(CHECKIN_KEY, 64)} * 18)) * interval '1 hour'"
)


def _diary_entries_sql() -> str:
    exprs = {
        "appointment_id": "a.id",
        "minutes_after": "m.minutes",
        "pain": DIARY_PAIN,
        "relief_percent": DIARY_RELIEF,
        "recorded_at": DIARY_AT,
        "source": "CASE WHEN m.ord = 2 THEN 'nurse' ELSE 'patient' END",
        "recorded_by_id": "CASE WHEN m.ord = 2 THEN (SELECT nurse_id FROM scale_staff) END",
    }
    return _insert(BlockDiaryEntry, exprs, DIARY_FROM + " ORDER BY a.id, m.minutes")


FOLLOWUP_LABEL = (
    "CASE WHEN f.days = 365 THEN 'Month 12' WHEN f.days >= 30 AND f.days %% 30 = 0 THEN 'Month ' || f.days / 30 "
    "WHEN f.days >= 7 AND f.days %% 7 = 0 THEN 'Week ' || f.days / 7 ELSE 'Day ' || f.days END"
)
RECENT = 'AND a."end" >= %(now)s - interval \'' + str(FOLLOWUP_WINDOW_DAYS) + " days'"


def _followups_sql() -> str:
    due = "a.\"end\" + f.days * interval '1 day'"
    exprs = {
        "appointment_id": "a.id",
        "kind": "'check_in'",
        "label": FOLLOWUP_LABEL,
        "due_at": due,
        "status": f"CASE WHEN {CHECKIN_ANSWERED} THEN 'answered' WHEN {due} + interval '7 days' <= %(now)s THEN 'missed' "
        f"WHEN {due} <= %(now)s THEN 'sent' ELSE 'planned' END",
        "created_at": "a.monitoring_until + interval '5 minutes'",
    }
    return _insert(FollowUp, exprs, CHECKIN_FROM + RECENT + " ORDER BY a.id, f.ord")


def _checkin_responses_sql() -> str:
    exprs = {
        "followup_id": "fu.id",
        "pain_now": CHECKIN_PAIN,
        "percent_relief": CHECKIN_RELIEF,
        "activity_interference": f"LEAST(10, {CHECKIN_PAIN} + 1)",
        "side_effects": "'[]'::jsonb",
        "side_effects_other": "''",
        "red_flags": "'[]'::jsonb",
        "has_red_flag": "false",
        "submitted_at": CHECKIN_AT,
    }
    # The follow-up row joins before the WHERE of CHECKIN_FROM.
    from_part, where_part = (CHECKIN_FROM + RECENT + f" AND {CHECKIN_ANSWERED}").split("WHERE", 1)
    tail = (
        f"{from_part} JOIN {_table(FollowUp)} AS fu ON fu.appointment_id = a.id AND fu.kind = 'check_in' "
        f"AND fu.label = {FOLLOWUP_LABEL} WHERE {where_part}"
    )
    return _insert(CheckInResponse, exprs, tail)


MESSAGE_KINDS = ("confirmation", "day_before", "after_care", "cancellation", "check_in")


def _messages_sql(kind: str) -> str:
    """One kind of message per statement: the booking confirmation, the evening-before reminder, the
    after-care sheet at discharge, the cancellation notice, and the check-ins of the follow-up window.
    Due ones went out by the patient's channel (texts delivered, a few failed; phone-only patients
    skipped); the rest wait in `planned`. Each row's due time and fate are worked out once, in `m`."""
    key = "fu.id * 8 + 4" if kind == "check_in" else f"a.id * 8 + {MESSAGE_KINDS.index(kind)}"
    local_start = "d0.local_start"
    due = {
        "confirmation": "a.created_at",
        "day_before": f"GREATEST(a.created_at, ({local_start}::date - 1 + %(day_before_at)s::time) AT TIME ZONE p.time_zone)",
        "after_care": "a.monitoring_until + interval '5 minutes'",
        "cancellation": "a.status_changed_at",
        "check_in": "fu.due_at",
    }[kind]
    where = {
        "confirmation": "",
        "day_before": "WHERE NOT (a.status = 'cancelled' AND a.status_changed_at < m.due)",
        "after_care": "WHERE a.status = 'discharged'",
        "cancellation": "WHERE a.status = 'cancelled'",
        "check_in": "",
    }[kind]
    body = {
        "confirmation": f"'You are booked for ' || t.name || ' on ' || to_char({local_start}, 'Dy DD Mon at HH24:MI') "
        "|| '. Reply C to confirm or call (555) 010-2000.'",
        "day_before": f"'Reminder: ' || t.name || ' tomorrow at ' || to_char({local_start}, 'HH24:MI') "
        "|| '. Arrive 30 minutes early and bring your medication list.'",
        "after_care": "'After your ' || t.name || ': rest today, no driving if you had sedation, call (555) 010-2000 "
        "for fever, weakness or severe pain.'",
        "cancellation": f"'Your ' || t.name || ' on ' || to_char({local_start}, 'Dy DD Mon') "
        "|| ' is cancelled. Call (555) 010-2000 to book again.'",
        "check_in": "'How is your pain since your ' || t.name || '? Two questions: "
        "https://spinedesk.example.org/c/' || substr(md5(fu.id::text), 1, 20)",
    }[kind]
    exprs = {
        "patient_id": "a.patient_id",
        "appointment_id": "a.id",
        "followup_id": "fu.id" if kind == "check_in" else "NULL",
        "kind": f"'{kind}'",
        "plan_key": "'check_in:' || fu.id" if kind == "check_in" else f"'{kind}'",
        "channel": "CASE WHEN m.tried THEN p.preferred_channel ELSE '' END",
        "due_at": "m.due",
        "status": "CASE WHEN NOT m.due_now THEN 'planned' WHEN NOT m.tried THEN 'skipped' "
        "WHEN NOT m.went THEN 'failed' WHEN p.preferred_channel = 'sms' THEN 'delivered' ELSE 'sent' END",
        "attempts": "CASE WHEN m.tried THEN 1 ELSE 0 END",
        "enqueued_at": "CASE WHEN m.due_now THEN m.due END",
        "sent_at": "CASE WHEN m.went THEN m.due + interval '4 seconds' END",
        "delivered_at": "CASE WHEN m.went AND p.preferred_channel = 'sms' THEN m.due + interval '30 seconds' END",
        "recipient": "CASE WHEN NOT m.tried THEN '' WHEN p.preferred_channel = 'sms' THEN p.phone ELSE p.email END",
        "subject": "CASE WHEN m.tried AND p.preferred_channel = 'email' "
        "THEN 'SpineDesk Pain Clinic: your ' || t.name ELSE '' END",
        "body": f"CASE WHEN m.tried THEN {body} ELSE '' END",
        "message_id": "CASE WHEN m.tried AND p.preferred_channel = 'email' "
        "THEN '<message-' || m.key || '@spinedesk.invalid>' ELSE '' END",
        "provider_id": "CASE WHEN m.went AND p.preferred_channel = 'sms' THEN 'SM' || md5(m.key::text) ELSE '' END",
        "error": "CASE WHEN NOT m.due_now THEN '' "
        "WHEN NOT m.tried THEN 'No way to reach the patient: no consent to texts or email.' "
        "WHEN NOT m.went THEN 'The provider refused the number.' ELSE '' END",
        "created_at": "a.created_at",
        "updated_at": "LEAST(%(now)s, GREATEST(a.created_at, m.due))",
    }
    joins = _DONE + f" JOIN {_table(Patient)} AS p ON p.id = a.patient_id"
    if kind == "check_in":
        joins += f" JOIN {_table(FollowUp)} AS fu ON fu.appointment_id = a.id"
    fate = f"""
    CROSS JOIN LATERAL (SELECT a.start AT TIME ZONE p.time_zone AS local_start) AS d0
    CROSS JOIN LATERAL (SELECT {due} AS due, {key} AS key) AS d1
    CROSS JOIN LATERAL (
        SELECT d1.due, d1.key, d1.due <= %(now)s AS due_now,
               d1.due <= %(now)s AND p.preferred_channel <> 'phone' AS tried,
               d1.due <= %(now)s AND p.preferred_channel <> 'phone' AND {_u("d1.key", 70)} >= 0.01 AS went
    ) AS m
    """
    return _insert(Message, exprs, f"{joins} {fate} {where} ORDER BY a.id")


# --- bulk load ------------------------------------------------------------------------------------------

# The tables seed_scale fills by the million.
BULK_MODELS = (
    Patient,
    Appointment,
    ProcedureRecord,
    Discharge,
    PainScore,
    BlockDiaryEntry,
    FollowUp,
    CheckInResponse,
    Message,
    ScheduleException,
)


@contextmanager
def _keys_and_indexes_set_aside(log: Callable[[str], None]):
    """Drop the foreign keys and the plain indexes of the tables being filled, and put them back after,
    with their definitions read from the catalogue. A foreign key re-added is checked by one join and an
    index rebuilt by one sort, where keeping them costs a trigger and an index insert per row (Django's
    keys are deferred, so those ten million checks all ran at COMMIT). Primary keys, unique and exclusion
    constraints stay: they are what proves the generated rows right. All inside the seed's transaction."""
    tables = [model._meta.db_table for model in BULK_MODELS]
    with connection.cursor() as cursor:
        # A table with deferred checks still pending (the staff rows just written) cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid, conname",
            [tables],
        )
        keys = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index AS i "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid) ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _ in keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
    log(f"  {f'{len(indexes)} indexes rebuilt':24} {'':>16} {time.perf_counter() - started:8.1f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table, name, definition in keys:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            )
    log(f"  {f'{len(keys)} foreign keys checked':24} {'':>16} {time.perf_counter() - started:8.1f} s")


@contextmanager
def _rollup_triggers_off():
    """The rollup triggers (migration 0015) would queue every patient once per bulk statement, through
    transition tables of millions of rows; the seed rebuilds the rollups once at the end instead."""
    tables = [model._meta.db_table for model in BULK_MODELS]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    yield
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


# --- the seed ----------------------------------------------------------------------------------------


def scale_existing() -> dict[str, int]:
    """What is in the database already: the scale data set's patients, and rows anyone else wrote."""
    scale_patients = Patient.objects.filter(mrn__startswith=MRN_PREFIX, mrn__regex=r"^S[0-9]{8}$").count()
    return {
        "scale_patients": scale_patients,
        "other_patients": Patient.objects.count() - scale_patients,
        "other_appointments": Appointment.objects.exclude(
            physician__user__username__startswith="scale-dr-"
        ).count(),
    }


def scale_counts() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "physicians": PhysicianProfile.objects.filter(user__username__startswith="scale-dr-").count(),
        "appointments": Appointment.objects.count(),
        "procedure records": ProcedureRecord.objects.count(),
        "pain scores": PainScore.objects.count(),
        "messages": Message.objects.count(),
        "follow-ups": FollowUp.objects.count(),
    }


class ScaleSeedRefused(Exception):
    """The database is not one seed_scale may write to (or already holds another size)."""


def scale_seed(
    *,
    patients: int,
    physicians: int = 40,
    years: float | None = None,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, int]:
    """Load the data set, all or nothing (one transaction). Running it again on the same database adds
    nothing; a database with anyone else's patients or appointments is refused."""
    if connection.vendor != "postgresql":
        raise ScaleSeedRefused(NOT_POSTGRES)
    if patients < 20 * physicians:
        raise ScaleSeedRefused(TOO_FEW_PATIENTS.format(minimum=20 * physicians, physicians=physicians))
    existing = scale_existing()
    if existing["other_patients"] or existing["other_appointments"]:
        raise ScaleSeedRefused(
            NOT_EMPTY.format(patients=existing["other_patients"], appointments=existing["other_appointments"])
        )
    if existing["scale_patients"]:
        if existing["scale_patients"] != patients:
            raise ScaleSeedRefused(OTHER_SIZE.format(existing=existing["scale_patients"], wanted=patients))
        log(f"Already loaded ({existing['scale_patients']:,} patients); nothing added.")
        return {"created": 0, **scale_counts()}

    plan = scale_plan(patients=patients, physicians=physicians, years=years, now=now)
    params = {
        "now": plan.now,
        "today": timezone.localdate(plan.now),
        "first_day": plan.first_day,
        "last_day": plan.last_day,
        "first": datetime.combine(
            plan.first_day, datetime.min.time(), tzinfo=timezone.get_default_timezone()
        ),
        "tz": settings.CLINIC_TIME_ZONE,
        "day_before_at": getattr(settings, "REMINDER_DAY_BEFORE_AT", "18:00"),
        "patients": plan.patients,
        "k": plan.multiplier,
    }
    log(
        f"Seeding {plan.patients:,} patients, {plan.physicians} physicians, "
        f"{plan.first_day} to {plan.last_day} (one transaction)"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Sorts and hash joins over millions of rows stay in memory; the commit is the only sync.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
        roles_sync()
        catalogue_seed()
        _staff(plan)
        params["picks"] = _types()
        steps: list[tuple[str, str]] = [
            ("patients", _patients_sql()),
            ("leave weeks", _leave_sql()),
            ("leave", _exceptions_sql()),
            ("appointments", _appointments_sql()),
            ("procedure records", _records_sql()),
            ("discharges", _discharges_sql()),
            ("pain scores: baseline", _pain_sql("baseline")),
            ("pain scores: day of", _pain_sql("day_of")),
            ("pain scores: diary", _pain_sql("diary")),
            ("pain scores: check-in", _pain_sql("check_in")),
            ("diary entries", _diary_entries_sql()),
            ("follow-ups", _followups_sql()),
            ("check-in answers", _checkin_responses_sql()),
            *((f"messages: {kind}", _messages_sql(kind)) for kind in MESSAGE_KINDS),
        ]
        with _keys_and_indexes_set_aside(log), _rollup_triggers_off():
            for label, sql in steps:
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    rows = cursor.rowcount
                log(f"  {label:24} {rows:>11,} rows {time.perf_counter() - started:8.1f} s")
        started = time.perf_counter()
        rows = rollups_rebuild()
        log(f"  {'outcome rollups':24} {rows:>11,} rows {time.perf_counter() - started:8.1f} s")
        started = time.perf_counter()
    log(f"  {'commit':24} {'':>16} {time.perf_counter() - started:8.1f} s")
    return {"created": 1, **scale_counts()}
