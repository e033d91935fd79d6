"""Slot search: the bookable starts for a procedure type, in order.

A start is bookable when, in the clinic's time zone and the physician's working hours:
the physician is free for the procedure minutes; a room whose imaging fits is free for the procedure
plus its turnover; a recovery bay is free for the monitoring minutes after the needle; the patient
(if given) has nothing overlapping; and the start is not before the patient's earliest safe start.
Everything is read in a handful of queries, then checked in memory."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
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
from procedures.selectors.availability import exception_intervals, working_windows
from procedures.selectors.intervals import Epoch, Timeline, fetch_rows
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


def slot_step() -> timedelta:
    return timedelta(minutes=settings.SCHEDULING_SLOT_MINUTES)


def _round_up(moment: datetime, step: timedelta) -> datetime:
    local = timezone.localtime(moment)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = local - midnight
    steps = -(-elapsed // step)  # ceiling division
    return midnight + steps * step


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

    physicians = [physician] if physician else list(PhysicianProfile.objects.filter(active=True))
    rooms = [r for r in ProcedureRoom.objects.filter(active=True) if r.fits(procedure_type.imaging)]
    bays = list(RecoveryBay.objects.filter(active=True))
    earliest_safe, earliest_reason = (None, "")
    if patient is not None:
        earliest_safe, earliest_reason = patient_earliest_safe_start(
            patient=patient, procedure_type=procedure_type, now=now
        )
    if not physicians or not rooms or not bays or date_to < date_from:
        return SlotSearchResult([], earliest_safe, earliest_reason, False)

    range_start, _ = day_bounds(day=date_from)
    _, range_end = day_bounds(day=date_to)
    physician_ids = [p.pk for p in physicians]
    # Appointments that could touch the range: a recovery can run past midnight, so look a day either side.
    # Times come back as epoch seconds: thousands of rows, and only comparisons are needed.
    # (No appointment lasts a day, so bounding `start` on both sides lets the start index do the work.)
    queryset = (
        Appointment.objects.filter(
            status__in=ACTIVE_STATUSES,
            start__gte=range_start - timedelta(days=1),
            start__lt=range_end + timedelta(days=1),
            monitoring_until__gt=range_start - timedelta(days=1),
        )
        .exclude(pk=ignore_appointment_id)
        .values_list(
            "physician_id",
            "room_id",
            "recovery_bay_id",
            "patient_id",
            Epoch("start"),
            Epoch("end"),
            Epoch("room_until"),
            Epoch("monitoring_until"),
        )
    )
    rows = fetch_rows(queryset)
    physician_busy: dict[int, list] = defaultdict(list)
    room_busy: dict[int, list] = defaultdict(list)
    bay_busy: dict[int, list] = defaultdict(list)
    patient_busy: list = []
    patient_id = patient.pk if patient is not None else None
    for phys_id, room_id, bay_id, row_patient_id, start, end, room_until, monitoring_until in rows:
        physician_busy[phys_id].append((start, end))
        room_busy[room_id].append((start, room_until))
        if bay_id is not None:
            bay_busy[bay_id].append((end, monitoring_until))
        if row_patient_id == patient_id:
            patient_busy.append((start, monitoring_until))
    for pid, blocks in exception_intervals(
        physician_ids=physician_ids, start=range_start, end=range_end
    ).items():
        physician_busy[pid].extend((s.timestamp(), e.timestamp()) for s, e, _ in blocks)

    physician_line = {pid: Timeline(physician_busy[pid]) for pid in physician_ids}
    room_lines = [(room, room.turnover_minutes * 60, Timeline(room_busy[room.pk])) for room in rooms]
    bay_lines = [(bay, Timeline(bay_busy[bay.pk])) for bay in bays]
    patient_line = Timeline(patient_busy)
    windows = working_windows(physician_ids=physician_ids, date_from=date_from, date_to=date_to)

    not_before = _round_up(now, step)
    if earliest_safe is not None and earliest_safe > not_before:
        not_before = _round_up(earliest_safe, step)

    step_s = step.total_seconds()
    procedure_s = procedure.total_seconds()
    monitoring_s = monitoring.total_seconds()
    not_before_s = not_before.timestamp()
    found: list[tuple[float, str, int, ProcedureRoom, RecoveryBay]] = []
    by_id = {p.pk: p for p in physicians}
    for pid in physician_ids:
        line = physician_line[pid]
        name = by_id[pid].display_name
        for window_start, window_end in windows[pid]:
            start_s, end_limit = window_start.timestamp(), window_end.timestamp()
            if start_s < not_before_s:
                start_s += -(-(not_before_s - start_s) // step_s) * step_s
            while start_s + procedure_s <= end_limit:
                end_s = start_s + procedure_s
                recovery_end = end_s + monitoring_s
                if line.free(start_s, end_s) and patient_line.free(start_s, recovery_end):
                    room = next(
                        (r for r, turn, r_line in room_lines if r_line.free(start_s, end_s + turn)), None
                    )
                    if room is not None:
                        bay = next((b for b, b_line in bay_lines if b_line.free(end_s, recovery_end)), None)
                        if bay is not None:
                            found.append((start_s, name, pid, room, bay))
                start_s += step_s
    found.sort(key=lambda item: (item[0], item[1]))
    slots = []
    for start_s, _, pid, room, bay in found[:limit]:
        start = datetime.fromtimestamp(start_s, tz=UTC)
        end = start + procedure
        slots.append(
            Slot(
                start=start,
                end=end,
                room_until=end + timedelta(minutes=room.turnover_minutes),
                monitoring_until=end + monitoring,
                physician=by_id[pid],
                room=room,
                recovery_bay=bay,
            )
        )
    return SlotSearchResult(slots, earliest_safe, earliest_reason, len(found) > limit)
