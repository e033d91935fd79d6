from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from procedures.models import (
    RESCHEDULABLE_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    Patient,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    ScheduleException,
)
from procedures.selectors.availability import working_windows
from procedures.selectors.intervals import Timeline
from procedures.services.appointments import appointment_allowed_next


def day_bounds(*, day: date) -> tuple[datetime, datetime]:
    """The start and end of a calendar day in the clinic's zone, as aware datetimes."""
    tz = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


DAY_LIST_FIELDS = (
    "id",
    "status",
    "start",
    "end",
    "room_until",
    "monitoring_until",
    "sedation_planned",
    "levels",
    "physician_overbooked",
    "cancel_reason",
    "recovery_bay_id",
    "patient__id",
    "patient__mrn",
    "patient__first_name",
    "patient__last_name",
    "patient__date_of_birth",
    "procedure_type__id",
    "procedure_type__name",
    "physician__id",
    "physician__display_name",
    "physician__calendar_colour",
    "room__id",
    "room__name",
)


def appointment_list_for_day(
    *, day: date, physician: PhysicianProfile | None = None
) -> QuerySet[Appointment]:
    start, end = day_bounds(day=day)
    # The day's lists show these columns only; loading whole rows of five joined tables was most of the
    # day view's time on a busy day.
    qs = (
        Appointment.objects.filter(start__gte=start, start__lt=end)
        .select_related("patient", "procedure_type", "physician", "room")
        .only(*DAY_LIST_FIELDS)
    )
    if physician is not None:
        qs = qs.filter(physician=physician)
    return qs.order_by("start", "id")


def appointment_list_for_patient(*, patient_id: int) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(patient_id=patient_id)
        .select_related("procedure_type", "physician", "room")
        .order_by("-start", "-id")
    )


# --- Front-desk grids ------------------------------------------------------------------------------
# Each grid reads everything it shows in a fixed number of queries (physicians or rooms, working hours,
# leave and closures, the day's appointments), then lays it out in memory: the number of queries never
# grows with the number of appointments, physicians or rows.

BY_PHYSICIAN = "physicians"
BY_ROOM = "rooms"

# Grid cell kinds, also used as CSS class suffixes (.cell-free, .cell-off...).
CELL_APPOINTMENT = "appointment"
CELL_FREE = "free"  # working time, nothing booked, not past: a link to the booking page
CELL_PAST = "past"  # working time already gone
CELL_OFF = "off"  # outside the physician's working hours
CELL_AWAY = "away"  # leave or clinic closure
CELL_BUSY = "busy"  # a second lane beside an overlapping booking


def grid_step() -> timedelta:
    return timedelta(minutes=settings.SCHEDULING_SLOT_MINUTES)


def _shown_on_grid(appointment: Appointment) -> bool:
    """Cancelled bookings free their time, so the grid lists them apart instead of drawing a block."""
    return appointment.status != AppointmentStatus.CANCELLED


@dataclass
class GridColumn:
    key: int
    label: str
    colour: str
    lanes: int = 1
    physician: PhysicianProfile | None = None
    room: ProcedureRoom | None = None
    hours: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class GridCell:
    kind: str
    start: datetime
    column: GridColumn
    rowspan: int = 1
    appointment: Appointment | None = None
    label: str = ""
    first_of_run: bool = True
    # Free cells carry their clock label and booking link, built once here rather than per cell in the
    # template (the day view renders hundreds of cells).
    clock: str = ""
    book_query: str = ""


@dataclass
class GridRow:
    start: datetime
    on_the_hour: bool
    cells: list[GridCell]
    clock: str = ""


@dataclass
class DayGrid:
    day: date
    by: str
    columns: list[GridColumn]
    rows: list[GridRow]
    appointments: list[Appointment]
    cancelled: list[Appointment]
    closures: list[str]
    status_counts: dict[str, int]


def _clock_label(windows: list[tuple[datetime, datetime]]) -> str:
    return ", ".join(f"{timezone.localtime(s):%H:%M}–{timezone.localtime(e):%H:%M}" for s, e in windows)


def _exceptions_between(*, start: datetime, end: datetime) -> list[ScheduleException]:
    return list(ScheduleException.objects.filter(starts_at__lt=end, ends_at__gt=start).order_by("starts_at"))


def _exception_label(row: ScheduleException) -> str:
    return row.reason or row.get_kind_display()


def _lanes(items: list[tuple[int, int, Appointment]]) -> list[tuple[int, int, int, Appointment]]:
    """Give overlapping blocks side-by-side lanes: (first_row, end_row, lane, appointment)."""
    lane_ends: list[int] = []
    placed = []
    for first, last, appointment in sorted(items, key=lambda i: (i[0], -i[1], i[2].pk)):
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= first:
                lane_ends[lane] = last
                break
        else:
            lane = len(lane_ends)
            lane_ends.append(last)
        placed.append((first, last, lane, appointment))
    return placed


def schedule_day_grid(*, day: date, by: str = BY_PHYSICIAN, now: datetime | None = None) -> DayGrid:
    """The front desk's day: rows every slot step from the earliest working hour to the latest, one column
    per active physician (or room), bookings as blocks, free working time as cells to book from."""
    now = now or timezone.now()
    step = grid_step()
    day_start, day_end = day_bounds(day=day)
    tz = timezone.get_default_timezone()

    appointments = list(appointment_list_for_day(day=day))
    physicians = list(PhysicianProfile.objects.filter(active=True).order_by("display_name", "pk"))
    physician_ids = [p.pk for p in physicians]
    windows = working_windows(physician_ids=physician_ids, date_from=day, date_to=day)
    exceptions = _exceptions_between(start=day_start, end=day_end)

    if by == BY_ROOM:
        rooms = list(ProcedureRoom.objects.filter(active=True).order_by("name", "pk"))
        extra_rooms = {a.room_id: a.room for a in appointments if a.room_id not in {r.pk for r in rooms}}
        columns = [GridColumn(key=r.pk, label=r.name, colour="#6c757d", room=r) for r in rooms]
        columns += [
            GridColumn(key=r.pk, label=f"{r.name} (not in use)", colour="#adb5bd", room=r)
            for r in extra_rooms.values()
        ]
    else:
        extra = {
            a.physician_id: a.physician for a in appointments if a.physician_id not in set(physician_ids)
        }
        columns = [
            GridColumn(
                key=p.pk,
                label=p.display_name,
                colour=p.calendar_colour,
                physician=p,
                hours=_clock_label(windows[p.pk]) or "Not working",
            )
            for p in [*physicians, *extra.values()]
        ]
        for column in columns:
            column.notes = [
                f"{_exception_label(x)} {timezone.localtime(x.starts_at):%H:%M}–"
                f"{timezone.localtime(x.ends_at):%H:%M}"
                if timezone.localdate(x.starts_at) == day == timezone.localdate(x.ends_at)
                else _exception_label(x)
                for x in exceptions
                if x.physician_id == column.key
            ]

    # The grid spans the working day, widened to show any booking outside it.
    bounds = [w for ws in windows.values() for w in ws]
    shown = [a for a in appointments if _shown_on_grid(a)]
    bounds += [(a.start, a.room_until if by == BY_ROOM else a.end) for a in shown]
    rows: list[GridRow] = []
    if bounds:
        first = min(timezone.localtime(s, tz) for s, _ in bounds)
        last = max(timezone.localtime(e, tz) for _, e in bounds)
        first = max(first, day_start)
        last = min(last, day_end)
        origin = datetime.combine(day, time.min, tzinfo=tz)
        first_index = (first - origin) // step
        last_index = -(-(last - origin) // step)
        times = [origin + i * step for i in range(first_index, last_index)]
        rows = _grid_rows(
            times=times,
            step=step,
            columns=columns,
            shown=shown,
            by=by,
            windows=windows,
            exceptions=exceptions,
            now=now,
        )

    counts: dict[str, int] = {}
    for appointment in appointments:
        label = appointment.get_status_display()
        counts[label] = counts.get(label, 0) + 1
    return DayGrid(
        day=day,
        by=by,
        columns=columns,
        rows=rows,
        appointments=appointments,
        cancelled=[a for a in appointments if not _shown_on_grid(a)],
        closures=[_exception_label(x) for x in exceptions if x.physician_id is None],
        status_counts=counts,
    )


def _grid_rows(
    *,
    times: list[datetime],
    step: timedelta,
    columns: list[GridColumn],
    shown: list[Appointment],
    by: str,
    windows: dict[int, list[tuple[datetime, datetime]]],
    exceptions: list[ScheduleException],
    now: datetime,
) -> list[GridRow]:
    if not times:
        return []
    origin = times[0]
    n = len(times)

    def row_of(moment: datetime) -> int:
        return (timezone.localtime(moment, origin.tzinfo) - origin) // step

    def row_after(moment: datetime) -> int:
        return -(-(timezone.localtime(moment, origin.tzinfo) - origin) // step)

    per_column: dict[int, list[tuple[int, int, Appointment]]] = {c.key: [] for c in columns}
    for appointment in shown:
        key = appointment.room_id if by == BY_ROOM else appointment.physician_id
        until = appointment.room_until if by == BY_ROOM else appointment.end
        first = max(0, row_of(appointment.start))
        last = min(n, max(first + 1, row_after(until)))
        per_column[key].append((first, last, appointment))

    starts: dict[tuple[int, int, int], tuple[int, Appointment]] = {}
    covered: set[tuple[int, int, int]] = set()
    occupied: set[tuple[int, int]] = set()
    for column in columns:
        placed = _lanes(per_column[column.key])
        column.lanes = max([lane for _, _, lane, _ in placed], default=0) + 1
        for first, last, lane, appointment in placed:
            starts[(column.key, lane, first)] = (last - first, appointment)
            for r in range(first, last):
                covered.add((column.key, lane, r))
                occupied.add((column.key, r))

    away_by_key: dict[int | None, list[ScheduleException]] = {}
    for x in exceptions:
        away_by_key.setdefault(x.physician_id, []).append(x)

    def background(column: GridColumn, r: int) -> tuple[str, str]:
        t, t_end = times[r], times[r] + step
        own = away_by_key.get(column.key, []) if by == BY_PHYSICIAN else []
        for x in [*away_by_key.get(None, []), *own]:
            if x.starts_at < t_end and x.ends_at > t:
                return CELL_AWAY, _exception_label(x)
        if by == BY_PHYSICIAN and not any(s <= t and e >= t_end for s, e in windows.get(column.key, [])):
            return CELL_OFF, ""
        if (column.key, r) in occupied:
            return CELL_BUSY, ""
        if t < now:
            return CELL_PAST, ""
        return CELL_FREE, ""

    rows = []
    previous: dict[tuple[int, int], tuple[str, str]] = {}
    for r, t in enumerate(times):
        local = timezone.localtime(t)
        clock = f"{local:%H:%M}"
        stamp = f"{local:%Y-%m-%dT%H:%M}"
        cells = []
        for column in columns:
            for lane in range(column.lanes):
                if (column.key, lane, r) in starts:
                    span, appointment = starts[(column.key, lane, r)]
                    cells.append(
                        GridCell(
                            kind=CELL_APPOINTMENT,
                            start=t,
                            column=column,
                            rowspan=span,
                            appointment=appointment,
                        )
                    )
                    previous[(column.key, lane)] = (CELL_APPOINTMENT, "")
                elif (column.key, lane, r) not in covered:
                    kind, label = background(column, r)
                    # Leave and closures are labelled once, on the first row of the run.
                    first = previous.get((column.key, lane)) != (kind, label)
                    previous[(column.key, lane)] = (kind, label)
                    cell = GridCell(kind=kind, start=t, column=column, label=label, first_of_run=first)
                    if kind == CELL_FREE:
                        cell.clock = clock
                        who = f"physician={column.key}&" if column.physician else ""
                        cell.book_query = f"{who}start={stamp}"
                    cells.append(cell)
        rows.append(GridRow(start=t, on_the_hour=local.minute == 0, cells=cells, clock=clock))
    return rows


@dataclass
class WeekCell:
    day: date
    hours: str
    away: list[str]
    appointments: list[Appointment]
    cancelled: int
    bookable: bool


@dataclass
class WeekRow:
    physician: PhysicianProfile
    cells: list[WeekCell]


@dataclass
class WeekDay:
    day: date
    closures: list[str]


@dataclass
class WeekGrid:
    week_start: date
    days: list[WeekDay]
    hidden_days: list[date]
    rows: list[WeekRow]
    total: int


def week_start_of(*, day: date) -> date:
    return day - timedelta(days=day.weekday())


def schedule_week_grid(*, day: date, now: datetime | None = None) -> WeekGrid:
    """Monday to Sunday of the week holding `day`: per active physician and day, their hours, leave and
    bookings (cancelled ones only counted). Weekend days nobody works or books are left out."""
    now = now or timezone.now()
    monday = week_start_of(day=day)
    sunday = monday + timedelta(days=6)
    range_start, _ = day_bounds(day=monday)
    _, range_end = day_bounds(day=sunday)
    physicians = list(PhysicianProfile.objects.filter(active=True).order_by("display_name", "pk"))
    appointments = list(
        Appointment.objects.filter(start__gte=range_start, start__lt=range_end)
        .select_related("patient", "procedure_type", "physician", "room")
        .only(*DAY_LIST_FIELDS)
        .order_by("start", "id")
    )
    known = {p.pk for p in physicians}
    physicians += list(
        {a.physician_id: a.physician for a in appointments if a.physician_id not in known}.values()
    )
    physician_ids = [p.pk for p in physicians]
    windows = working_windows(physician_ids=physician_ids, date_from=monday, date_to=sunday)
    exceptions = _exceptions_between(start=range_start, end=range_end)

    all_days = [monday + timedelta(days=i) for i in range(7)]
    by_cell: dict[tuple[int, date], list[Appointment]] = {}
    for appointment in appointments:
        by_cell.setdefault((appointment.physician_id, timezone.localdate(appointment.start)), []).append(
            appointment
        )
    windows_by_cell: dict[tuple[int, date], list[tuple[datetime, datetime]]] = {}
    for pid, ws in windows.items():
        for s, e in ws:
            windows_by_cell.setdefault((pid, s.date()), []).append((s, e))

    def away_on(pid: int, d: date) -> list[ScheduleException]:
        s, e = day_bounds(day=d)
        return [x for x in exceptions if x.physician_id in (None, pid) and x.starts_at < e and x.ends_at > s]

    active_days = {d for (_, d) in windows_by_cell} | {d for (_, d) in by_cell}
    days = [d for d in all_days if d.weekday() < 5 or d in active_days]
    rows = []
    for physician in physicians:
        cells = []
        for d in days:
            ws = windows_by_cell.get((physician.pk, d), [])
            away = away_on(physician.pk, d)
            blocked = Timeline((x.starts_at, x.ends_at) for x in away)
            open_windows = [(s, e) for s, e in ws if e > now and not blocked.within(s, e)]
            booked = by_cell.get((physician.pk, d), [])
            cells.append(
                WeekCell(
                    day=d,
                    hours=_clock_label(ws) or "Not working",
                    away=[_exception_label(x) for x in away if x.physician_id is not None],
                    appointments=[a for a in booked if _shown_on_grid(a)],
                    cancelled=sum(1 for a in booked if not _shown_on_grid(a)),
                    bookable=bool(open_windows),
                )
            )
        rows.append(WeekRow(physician=physician, cells=cells))
    headers = []
    for d in days:
        s, e = day_bounds(day=d)
        closures = [
            _exception_label(x)
            for x in exceptions
            if x.physician_id is None and x.starts_at < e and x.ends_at > s
        ]
        headers.append(WeekDay(day=d, closures=closures))
    return WeekGrid(
        week_start=monday,
        days=headers,
        hidden_days=[d for d in all_days if d not in days],
        rows=rows,
        total=sum(1 for a in appointments if _shown_on_grid(a)),
    )


def physician_hours_label(*, physician: PhysicianProfile, day: date) -> str:
    """ "08:00–16:00" (or "Not working") for one physician's day, before leave."""
    windows = working_windows(physician_ids=[physician.pk], date_from=day, date_to=day)[physician.pk]
    return _clock_label(windows) or "Not working"


def appointment_history(*, appointment_id: int) -> QuerySet[AppointmentTransition]:
    return (
        AppointmentTransition.objects.filter(appointment_id=appointment_id)
        .select_related("by")
        .order_by("at", "id")
    )


def appointment_actions(*, appointment: Appointment) -> dict[str, bool]:
    """Which buttons the appointment page offers; the services still decide and explain a refusal."""
    allowed = set(appointment_allowed_next(appointment=appointment))
    return {
        "confirm": AppointmentStatus.CONFIRMED in allowed,
        "no_show": AppointmentStatus.NO_SHOW in allowed,
        "cancel": AppointmentStatus.CANCELLED in allowed,
        "reschedule": appointment.status in RESCHEDULABLE_STATUSES,
        "waitlist": appointment.status in RESCHEDULABLE_STATUSES,
    }


@dataclass
class SlotDay:
    day: date
    slots: list


@dataclass
class SlotCalendar:
    days: list[date]
    times: list[time]
    cells: list[tuple[time, list[list]]]


def slots_by_day(*, slots: list) -> list[SlotDay]:
    """Slot search results grouped by local date, in order (the list view)."""
    grouped: list[SlotDay] = []
    for slot in slots:
        d = timezone.localdate(slot.start)
        if not grouped or grouped[-1].day != d:
            grouped.append(SlotDay(day=d, slots=[]))
        grouped[-1].slots.append(slot)
    return grouped


def slot_calendar(*, slots: list, date_from: date, date_to: date) -> SlotCalendar:
    """The same slots on a calendar: one column per day of the range, one row per start time."""
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    table: dict[time, dict[date, list]] = {}
    for slot in slots:
        local = timezone.localtime(slot.start)
        table.setdefault(local.time(), {}).setdefault(local.date(), []).append(slot)
    times = sorted(table)
    cells = [(t, [table[t].get(d, []) for d in days]) for t in times]
    return SlotCalendar(days=days, times=times, cells=cells)


def slot_offered(*, slots: list, start: datetime | None, physician: PhysicianProfile | None) -> bool | None:
    """Whether the start the clerk clicked is among the bookable slots (None when none was asked for)."""
    if start is None:
        return None
    return any(s.start == start and (physician is None or s.physician.pk == physician.pk) for s in slots)


@dataclass
class SlotChoices:
    """Slot search results laid out for the booking and reschedule pages."""

    slots: list
    by_day: list[SlotDay]
    calendar: SlotCalendar
    truncated: bool
    earliest_safe_start: datetime | None
    earliest_safe_reason: str
    requested: datetime | None
    requested_offered: bool | None


def slot_choices(
    *,
    procedure_type: ProcedureType,
    date_from: date,
    date_to: date,
    physician: PhysicianProfile | None = None,
    patient: Patient | None = None,
    sedated: bool = False,
    requested: datetime | None = None,
    ignore_appointment_id: int | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> SlotChoices:
    from procedures.selectors.slots import slot_search  # slots reads day_bounds from this module

    result = slot_search(
        procedure_type=procedure_type,
        date_from=date_from,
        date_to=date_to,
        physician=physician,
        patient=patient,
        sedated=sedated,
        now=now,
        limit=limit,
        ignore_appointment_id=ignore_appointment_id,
    )
    return SlotChoices(
        slots=result.slots,
        by_day=slots_by_day(slots=result.slots),
        calendar=slot_calendar(slots=result.slots, date_from=date_from, date_to=date_to),
        truncated=result.truncated,
        earliest_safe_start=result.earliest_safe_start,
        earliest_safe_reason=result.earliest_safe_reason,
        requested=requested,
        requested_offered=slot_offered(slots=result.slots, start=requested, physician=physician),
    )
