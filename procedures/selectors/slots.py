"""Slot search: the bookable starts for a procedure type, in order.

A start is bookable when, in the clinic's time zone and the physician's working hours:
the physician is free for the procedure minutes; a room whose imaging fits is free for the procedure
plus its turnover; a recovery bay is free for the monitoring minutes after the needle; the patient
(if given) has nothing overlapping; and the start is not before the patient's earliest safe start.

The search walks the range in start order and stops at the first slot past `limit` (enough to know the
list is truncated): a 14-day search whose first 200 slots fall in its first two days reads only those
days' bookings. Working days are read in chunks, one query each: first one day, then as many as the
slots found so far per day say are needed (at most twice the last chunk), so a sparse search still
costs a handful of queries; each chunk's bookings are checked in memory."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from procedures.models import (
    ACTIVE_STATUSES,
    Appointment,
    Patient,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
)
from procedures.selectors.availability import (
    WeeklyHours,
    all_hours,
    exception_intervals,
    weekly_hours,
    windows_on,
)
from procedures.selectors.intervals import (
    Epoch,
    Timeline,
    fetch_instances,
    fetch_rows_of,
    instance_rows,
    reads_digest,
)
from procedures.selectors.readiness import patient_earliest_safe_start
from procedures.selectors.schedule import day_bounds


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    room_until: datetime
    monitoring_until: datetime
    physician: PhysicianProfile
    room: ProcedureRoom
    recovery_bay: RecoveryBay


@dataclass
class SlotSearchResult:
    slots: list[Slot]
    earliest_safe_start: datetime | None
    earliest_safe_reason: str
    truncated: bool


# The search's reads, each built once per process (intervals.fetch_rows_of): on a busy clinic a search
# costs little more than building their SQL would.


def _active_physicians() -> QuerySet[PhysicianProfile]:
    return PhysicianProfile.objects.filter(active=True)


def _active_rooms() -> QuerySet[ProcedureRoom]:
    return ProcedureRoom.objects.filter(active=True)


def _active_bays() -> QuerySet[RecoveryBay]:
    return RecoveryBay.objects.filter(active=True)


@dataclass(frozen=True)
class _Catalogue:
    physicians: list[PhysicianProfile]
    rooms: list[ProcedureRoom]
    bays: list[RecoveryBay]
    hours: WeeklyHours


# The catalogue this process last read, by database and digest. Its instances are shared by every search
# in the process until the catalogue changes: read them, never change them.
_kept_catalogue: dict[tuple[str, str], _Catalogue] = {}


def _catalogue() -> _Catalogue:
    """Active physicians, rooms and bays, and every weekly template: a few hundred rows that change a few
    times a year, read again only when a digest of them (one query) differs from the kept one's."""
    reads = (
        instance_rows(_active_physicians),
        instance_rows(_active_rooms),
        instance_rows(_active_bays),
        all_hours,
    )
    digest = reads_digest(*reads)
    key = (connection.settings_dict["NAME"], digest or "")
    kept = _kept_catalogue.get(key) if digest else None
    if kept is None:
        kept = _Catalogue(
            physicians=fetch_instances(PhysicianProfile, _active_physicians),
            rooms=fetch_instances(ProcedureRoom, _active_rooms),
            bays=fetch_instances(RecoveryBay, _active_bays),
            hours=weekly_hours(physician_ids=None),
        )
        # Read after the digest: a change landing between the two is in the rows, and the next digest
        # (which will differ) reads again; never the other way round.
        if digest:
            _kept_catalogue.clear()
            _kept_catalogue[key] = kept
    return kept


def _busy_rows(*, lower: datetime, upper: datetime, busy_at: datetime, ignore_id: int | None) -> QuerySet:
    """Active bookings starting in [lower, upper) and still holding their room or bay at busy_at, as
    (physician, room, bay, patient, start, end, room_until, monitoring_until), times in epoch seconds (only
    compared). Unordered: the timelines sort them."""
    rows = Appointment.objects.filter(status__in=ACTIVE_STATUSES, start__gte=lower, start__lt=upper).filter(
        Q(room_until__gt=busy_at) | Q(monitoring_until__gt=busy_at)
    )
    if ignore_id is not None:
        rows = rows.exclude(pk=ignore_id)
    return rows.order_by().values_list(
        "physician_id",
        "room_id",
        "recovery_bay_id",
        "patient_id",
        Epoch("start"),
        Epoch("end"),
        Epoch("room_until"),
        Epoch("monitoring_until"),
    )


class _FreeOnDemand:
    """free() of a room's or bay's timeline, built when first asked: a candidate takes the first room and
    bay (in name order) that are free, so most of forty are never asked about. Built within the chunk that
    made it, before the next chunk's rows join the same list."""

    __slots__ = ("_busy", "_free")

    def __init__(self, busy: list) -> None:
        self._busy = busy
        self._free = None

    def __call__(self, start: float, end: float) -> bool:
        if self._free is None:
            self._free = Timeline(self._busy).free
        return self._free(start, end)


def slot_step() -> timedelta:
    return timedelta(minutes=settings.SCHEDULING_SLOT_MINUTES)


def _round_up(moment: datetime, step: timedelta) -> datetime:
    local = timezone.localtime(moment)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = local - midnight
    steps = -(-elapsed // step)  # ceiling division
    return midnight + steps * step


def _spans_on(
    *,
    windows: dict[int, list[tuple[datetime, datetime]]],
    names: dict[int, str],
    not_before_s: float,
    step_s: float,
    procedure_s: float,
) -> list[tuple[int, str, float, float]]:
    """One day's working windows that can hold a start, as (physician, name, first start, end) in epoch
    seconds, physician by physician in `names` order, window by window: the order ties keep."""
    spans = []
    for pid, name in names.items():
        for window_start, window_end in windows[pid]:
            start_s, end_limit = window_start.timestamp(), window_end.timestamp()
            if start_s < not_before_s:
                start_s += -(-(not_before_s - start_s) // step_s) * step_s
            if start_s + procedure_s <= end_limit:
                spans.append((pid, name, start_s, end_limit))
    return spans


def slot_search(
    *,
    procedure_type: ProcedureType,
    date_from: date,
    date_to: date,
    physician: PhysicianProfile | None = None,
    patient: Patient | None = None,
    sedated: bool = False,
    now: datetime | None = None,
    limit: int = 200,
    ignore_appointment_id: int | None = None,
) -> SlotSearchResult:
    now = now or timezone.now()
    step = slot_step()
    procedure = timedelta(minutes=procedure_type.procedure_minutes)
    monitoring = timedelta(minutes=procedure_type.monitoring_for(sedated=sedated))

    catalogue = _catalogue()
    physicians = [physician] if physician else catalogue.physicians
    rooms = [r for r in catalogue.rooms if r.fits(procedure_type.imaging)]
    bays = catalogue.bays
    earliest_safe, earliest_reason = (None, "")
    if patient is not None:
        earliest_safe, earliest_reason = patient_earliest_safe_start(
            patient=patient, procedure_type=procedure_type, now=now
        )
    if not physicians or not rooms or not bays or date_to < date_from:
        return SlotSearchResult([], earliest_safe, earliest_reason, False)

    not_before = _round_up(now, step)
    if earliest_safe is not None and earliest_safe > not_before:
        not_before = _round_up(earliest_safe, step)

    step_s = step.total_seconds()
    procedure_s = procedure.total_seconds()
    monitoring_s = monitoring.total_seconds()
    not_before_s = not_before.timestamp()
    physician_ids = [p.pk for p in physicians]
    by_id = {p.pk: p for p in physicians}
    patient_id = patient.pk if patient is not None else None
    hours = catalogue.hours

    # Appointments that could touch a chunk of days: those starting up to a day before it (no appointment
    # lasts a day) and still busy when it begins, and those starting before its last candidate's time ends
    # (`reach` after the chunk's last midnight at most). Each chunk reads only what the chunks before it
    # have not. Times come back as epoch seconds: only comparisons are needed.
    _, range_end = day_bounds(day=date_to)
    rows_until = range_end + timedelta(days=1)
    reach = procedure + max(monitoring, max(timedelta(minutes=r.turnover_minutes) for r in rooms))
    loaded_until: datetime | None = None
    away_loaded = False
    physician_busy: dict[int, list] = defaultdict(list)
    room_busy: dict[int, list] = defaultdict(list)
    bay_busy: dict[int, list] = defaultdict(list)
    patient_busy: list = []

    # Candidates are made physician by physician in name order (a stable sort keeps the physicians' own
    # order between equal names), so a stable sort by start alone orders them by start, then name.
    names = {p.pk: p.display_name for p in sorted(physicians, key=lambda p: p.display_name)}
    by_start = itemgetter(0)
    found: list[tuple[float, int, ProcedureRoom, RecoveryBay]] = []
    day = date_from
    chunk_days = 1
    days_done = 0
    while day <= date_to and len(found) <= limit:
        # The next days that can hold a start (weekends and days before the earliest start cost nothing).
        chunk: list[tuple[date, list[tuple[int, str, float, float]]]] = []
        while day <= date_to and len(chunk) < chunk_days:
            spans = _spans_on(
                windows=windows_on(hours=hours, physician_ids=physician_ids, day=day),
                names=names,
                not_before_s=not_before_s,
                step_s=step_s,
                procedure_s=procedure_s,
            )
            if spans:
                chunk.append((day, spans))
            day += timedelta(days=1)
        if not chunk:
            break
        chunk_start, _ = day_bounds(day=chunk[0][0])
        _, chunk_end = day_bounds(day=chunk[-1][0])

        lower = chunk_start - timedelta(days=1)
        if loaded_until is not None and loaded_until > lower:
            lower = loaded_until
        upper = min(rows_until, chunk_end.astimezone(UTC) + reach)  # elapsed time, even over a clock change
        if upper > lower:
            # Only what is still busy when the chunk begins: yesterday's list stays in the database.
            rows = fetch_rows_of(
                _busy_rows, lower=lower, upper=upper, busy_at=chunk_start, ignore_id=ignore_appointment_id
            )
            loaded_until = upper
            for phys_id, room_id, bay_id, row_patient_id, start, end, room_until, monitoring_until in rows:
                physician_busy[phys_id].append((start, end))
                room_busy[room_id].append((start, room_until))
                if bay_id is not None:
                    bay_busy[bay_id].append((end, monitoring_until))
                if row_patient_id == patient_id:
                    patient_busy.append((start, monitoring_until))
        if not away_loaded:
            # Leave and closures are a few rows for a whole range: read them once, from the first day searched.
            for pid, blocks in exception_intervals(
                physician_ids=physician_ids, start=chunk_start, end=range_end
            ).items():
                physician_busy[pid].extend((s.timestamp(), e.timestamp()) for s, e, _ in blocks)
            away_loaded = True

        physician_time = {pid: Timeline(physician_busy[pid]) for pid in physician_ids}
        room_free = [(room, room.turnover_minutes * 60, _FreeOnDemand(room_busy[room.pk])) for room in rooms]
        bay_free = [(bay, _FreeOnDemand(bay_busy[bay.pk])) for bay in bays]
        patient_free = Timeline(patient_busy).free
        for _, spans in chunk:
            # The physician's own time first: it rules out most starts on a busy day, before any sorting.
            starts = []
            for pid, name, start_s, end_limit in spans:
                starts.extend(
                    (start, name, pid)
                    for start in physician_time[pid].free_starts(start_s, end_limit, step_s, procedure_s)
                )
            # Then in result order (start, then physician name), so checking stops at exactly the slot past
            # `limit`. Every start of a day comes before the next day's: ordering day by day orders the
            # whole range.
            starts.sort(key=by_start)
            for start_s, _, pid in starts:
                end_s = start_s + procedure_s
                recovery_end = end_s + monitoring_s
                if not patient_free(start_s, recovery_end):
                    continue
                room = next((r for r, turn, free in room_free if free(start_s, end_s + turn)), None)
                if room is None:
                    continue
                bay = next((b for b, free in bay_free if free(end_s, recovery_end)), None)
                if bay is None:
                    continue
                found.append((start_s, pid, room, bay))
                if len(found) > limit:
                    break
            days_done += 1
            if len(found) > limit:
                break
        # The next chunk: as many days as this rate of slots per day needs to fill the list, at most double.
        wanted = limit + 1 - len(found)
        estimate = -(-wanted * days_done // len(found)) if found else chunk_days * 2
        chunk_days = max(1, min(chunk_days * 2, estimate))

    # Forty physicians' slots share a handful of times: each is made once (and is then the same object in
    # every slot, which the serializer's own memo finds at once).
    moments: dict[float, datetime] = {}

    def moment(seconds: float) -> datetime:
        found_moment = moments.get(seconds)
        if found_moment is None:
            found_moment = moments[seconds] = datetime.fromtimestamp(seconds, tz=UTC)
        return found_moment

    slots = []
    for start_s, pid, room, bay in found[:limit]:
        end_s = start_s + procedure_s
        slots.append(
            Slot(
                start=moment(start_s),
                end=moment(end_s),
                room_until=moment(end_s + room.turnover_minutes * 60),
                monitoring_until=moment(end_s + monitoring_s),
                physician=by_id[pid],
                room=room,
                recovery_bay=bay,
            )
        )
    return SlotSearchResult(slots, earliest_safe, earliest_reason, len(found) > limit)
