import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from procedures.models import (
    RESCHEDULABLE_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    ExceptionKind,
    Patient,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    ScheduleException,
    WorkingHours,
)
from procedures.selectors.availability import working_windows
from procedures.selectors.intervals import Timeline, digest_query, fetch_instances
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


# What the patient page lists of each appointment.
PATIENT_LIST_FIELDS = (
    "id",
    "status",
    "start",
    "cancel_reason",
    "procedure_type__id",
    "procedure_type__name",
    "physician__id",
    "physician__display_name",
)


def _patient_appointments(*, patient_id: int) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(patient_id=patient_id)
        .select_related("procedure_type", "physician")
        .only(*PATIENT_LIST_FIELDS)
        .order_by("-start", "-id")
    )


def appointment_list_for_patient(*, patient_id: int) -> list[Appointment]:
    """The patient page's appointments, newest first, through a read built once per process."""
    return fetch_instances(Appointment, _patient_appointments, patient_id=patient_id)


# --- Front-desk grids ------------------------------------------------------------------------------
# Each grid reads everything it shows in a fixed number of queries (GridSources: the bookings, their
# patients, physicians, procedure types, rooms, working hours, leave and closures), then lays it out in
# memory: the number of queries never grows with the number of appointments, physicians or rows. The
# bookings come back as plain values with their labels formatted once (ScheduleEntry), not as model
# instances: the busiest day holds 400+ bookings and the week five times that.

BY_PHYSICIAN = "physicians"
BY_ROOM = "rooms"

# Grid cell kinds, also used as CSS class suffixes (.cell-free, .cell-off...).
CELL_APPOINTMENT = "appointment"
CELL_FREE = "free"  # working time, nothing booked, not past: a link to the booking page
CELL_PAST = "past"  # working time already gone
CELL_OFF = "off"  # outside the physician's working hours
CELL_AWAY = "away"  # leave or clinic closure
CELL_BUSY = "busy"  # a second lane beside an overlapping booking

STATUS_LABELS = dict(AppointmentStatus.choices)

# What the grids read of each booking; the names shown beside it are read once per patient, physician,
# procedure type and room (see GridSources).
BOOKING_FIELDS = (
    "id",
    "status",
    "start",
    "end",
    "room_until",
    "physician_overbooked",
    "cancel_reason",
    "patient_id",
    "procedure_type_id",
    "physician_id",
    "room_id",
)
PHYSICIAN_FIELDS = ("id", "display_name", "calendar_colour", "active")
EXCEPTION_FIELDS = ("id", "physician_id", "kind", "starts_at", "ends_at", "reason")


def grid_step() -> timedelta:
    return timedelta(minutes=settings.SCHEDULING_SLOT_MINUTES)


@dataclass(slots=True)
class ScheduleEntry:
    """One booking as the calendars show it."""

    pk: int
    status: str
    status_label: str
    start: datetime
    end: datetime
    room_until: datetime
    start_clock: str  # "09:00", local
    end_clock: str
    room_until_clock: str
    patient_name: str  # "Last, First"
    patient_last_name: str
    procedure_name: str
    physician_id: int
    physician_name: str
    room_id: int
    room_name: str
    overbooked: bool
    cancel_reason: str
    url: str  # the appointment page


def _appointment_url() -> Callable[[int], str]:
    """reverse("appointment-detail") for a week's 2,000 bookings at the price of one."""
    probe = 987654321
    head, tail = reverse("appointment-detail", args=[probe]).split(str(probe), 1)
    return lambda pk: f"{head}{pk}{tail}"


def _shown_on_grid(entry: ScheduleEntry) -> bool:
    """Cancelled bookings free their time, so the grid lists them apart instead of drawing a block."""
    return entry.status != AppointmentStatus.CANCELLED


@dataclass
class GridSources:
    """Every query a grid over [start, end) is drawn from, as values querysets. The grids read nothing
    else from the database (working_windows reads WorkingHours, all of which `hours` covers), so a digest
    of these rows (range_fingerprint) changes whenever anything a grid shows does."""

    bookings: QuerySet
    patients: QuerySet
    physicians: QuerySet
    procedure_types: QuerySet
    rooms: QuerySet
    hours: QuerySet
    exceptions: QuerySet

    def all(self) -> list[QuerySet]:
        return [
            self.bookings,
            self.patients,
            self.physicians,
            self.procedure_types,
            self.rooms,
            self.hours,
            self.exceptions,
        ]


def grid_sources(*, start: datetime, end: datetime) -> GridSources:
    bookings = Appointment.objects.filter(start__gte=start, start__lt=end)
    patient_ids = bookings.order_by().values("patient_id")
    if connection.vendor == "postgresql":
        # Probed by primary key: as a join or a plain IN, PostgreSQL's planner hashes all 100,000
        # patients for a week's 2,000 bookings (four times slower).
        ids_sql, ids_params = patient_ids.query.sql_with_params()
        patient_ids = RawSQL(f"SELECT unnest(ARRAY({ids_sql}))", ids_params)
    return GridSources(
        bookings=bookings.order_by("start", "id").values_list(*BOOKING_FIELDS),
        patients=Patient.objects.filter(pk__in=patient_ids)
        .order_by("pk")
        .values_list("id", "last_name", "first_name"),
        physicians=PhysicianProfile.objects.order_by("display_name", "pk").values_list(*PHYSICIAN_FIELDS),
        procedure_types=ProcedureType.objects.order_by("pk").values_list("id", "name"),
        rooms=ProcedureRoom.objects.order_by("name", "pk").values_list("id", "name", "active"),
        hours=WorkingHours.objects.order_by("pk").values_list(
            "id", "physician_id", "weekday", "start_time", "end_time"
        ),
        exceptions=_exceptions_query(start=start, end=end).values_list(*EXCEPTION_FIELDS),
    )


@dataclass
class GridData:
    """The rows of GridSources, read and labelled."""

    appointments: list[ScheduleEntry]
    physicians: list[PhysicianProfile]  # active ones, then any others with a booking in the range
    rooms: list[ProcedureRoom]  # likewise
    exceptions: list[ScheduleException]


def _grid_data(sources: GridSources) -> GridData:
    # The bookings first: a booking made meanwhile then finds its patient (and physician, room...) in
    # the later reads.
    bookings = list(sources.bookings)
    patients = {pk: (last, first) for pk, last, first in sources.patients}
    patient_of = BOOKING_FIELDS.index("patient_id")
    if missing := {row[patient_of] for row in bookings} - patients.keys():  # given to another patient
        patients.update(
            (pk, (last, first))
            for pk, last, first in Patient.objects.filter(pk__in=missing).values_list(
                "id", "last_name", "first_name"
            )
        )
    procedure_names = dict(sources.procedure_types)
    physicians = {
        pk: PhysicianProfile(pk=pk, display_name=name, calendar_colour=colour, active=active)
        for pk, name, colour, active in sources.physicians
    }
    rooms = {pk: ProcedureRoom(pk=pk, name=name, active=active) for pk, name, active in sources.rooms}
    tz = timezone.get_current_timezone()
    clocks: dict[datetime, str] = {}  # a day's bookings share a few dozen distinct times

    def clock(moment: datetime) -> str:
        label = clocks.get(moment)
        if label is None:
            label = clocks[moment] = f"{timezone.localtime(moment, tz):%H:%M}"
        return label

    url = _appointment_url()
    appointments = []
    for (
        pk,
        status,
        start,
        end,
        room_until,
        overbooked,
        cancel_reason,
        patient_id,
        procedure_type_id,
        physician_id,
        room_id,
    ) in bookings:
        last_name, first_name = patients[patient_id]
        appointments.append(
            ScheduleEntry(
                pk=pk,
                status=status,
                status_label=STATUS_LABELS.get(status, status),
                start=start,
                end=end,
                room_until=room_until,
                start_clock=clock(start),
                end_clock=clock(end),
                room_until_clock=clock(room_until),
                patient_name=f"{last_name}, {first_name}",
                patient_last_name=last_name,
                procedure_name=procedure_names[procedure_type_id],
                physician_id=physician_id,
                physician_name=physicians[physician_id].display_name,
                room_id=room_id,
                room_name=rooms[room_id].name,
                overbooked=overbooked,
                cancel_reason=cancel_reason,
                url=url(pk),
            )
        )
    # Physicians and rooms taken out of use still show the bookings left with them.
    shown_physicians = [p for p in physicians.values() if p.active]
    shown_physicians += [
        physicians[pk]
        for pk in dict.fromkeys(a.physician_id for a in appointments)
        if not physicians[pk].active
    ]
    shown_rooms = [r for r in rooms.values() if r.active]
    shown_rooms += [
        rooms[pk] for pk in dict.fromkeys(a.room_id for a in appointments) if not rooms[pk].active
    ]
    return GridData(
        appointments=appointments,
        physicians=shown_physicians,
        rooms=shown_rooms,
        exceptions=[
            ScheduleException(**dict(zip(EXCEPTION_FIELDS, row, strict=True))) for row in sources.exceptions
        ],
    )


def _exceptions_query(*, start: datetime, end: datetime) -> QuerySet[ScheduleException]:
    return ScheduleException.objects.filter(starts_at__lt=end, ends_at__gt=start).order_by("starts_at", "pk")


# Stand-ins for a range's bounds: the digest query of grid_sources is the same for every range but for
# its parameters, so it is built once per process (building it was a tenth of a kept day's time).
_FROM, _UNTIL = datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC)


@cache
def _range_digest_query() -> tuple[str, list]:
    return digest_query(grid_sources(start=_FROM, end=_UNTIL).all())


def range_fingerprint(*, start: datetime, end: datetime) -> str:
    """A digest of the rows grid_sources(start, end) return, read in one query: it changes whenever any
    of them does."""
    if connection.vendor == "postgresql":
        sql, template = _range_digest_query()
        params = [start if p == _FROM else end if p == _UNTIL else p for p in template]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            digests = [str(d) for d in cursor.fetchone()]
    else:
        digests = [repr(list(source)) for source in grid_sources(start=start, end=end).all()]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _inputs_label() -> str:
    """What else a grid depends on besides the rows: the slot step, the zone and the labels."""
    labels = sorted({**STATUS_LABELS, **dict(ExceptionKind.choices)}.items())
    return f"{settings.SCHEDULING_SLOT_MINUTES}|{timezone.get_current_timezone_name()}|{labels}"


def schedule_day_fingerprint(*, day: date) -> str:
    """Changes whenever anything `schedule_day_grid` shows for the day changes (a booking made, moved,
    cancelled or checked in, a patient renamed, hours, leave, a physician or room renamed), whoever
    wrote it and however; one query. The passing of time is not in it: see DayGrid.stale_at."""
    start, end = day_bounds(day=day)
    digest = range_fingerprint(start=start, end=end)
    return hashlib.sha256(f"day|{day}|{_inputs_label()}|{digest}".encode()).hexdigest()


def schedule_week_fingerprint(*, day: date) -> str:
    """As schedule_day_fingerprint, for the week holding `day` (see WeekGrid.stale_at for time)."""
    start, end = _week_bounds(day=day)
    digest = range_fingerprint(start=start, end=end)
    return hashlib.sha256(f"week|{start}|{_inputs_label()}|{digest}".encode()).hexdigest()


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


@dataclass(slots=True)
class GridCell:
    kind: str
    start: datetime
    column: GridColumn
    rowspan: int = 1
    appointment: ScheduleEntry | None = None
    label: str = ""
    first_of_run: bool = True
    # Free cells carry their clock label and booking link, appointment cells their time span and second
    # line, built once here rather than per cell in the template (the day view renders thousands of cells).
    clock: str = ""
    book_query: str = ""
    span_label: str = ""
    detail: str = ""


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
    appointments: list[ScheduleEntry]
    cancelled: list[ScheduleEntry]
    closures: list[str]
    status_counts: dict[str, int]
    # The first moment at which the grid would look different only because time passed (a free cell
    # turning past); None when no cell can. A grid kept for reuse is good until then.
    stale_at: datetime | None = None


def _clock_label(windows: list[tuple[datetime, datetime]]) -> str:
    return ", ".join(f"{timezone.localtime(s):%H:%M}–{timezone.localtime(e):%H:%M}" for s, e in windows)


EXCEPTION_LABELS = dict(ExceptionKind.choices)


def _exception_label(row: ScheduleException) -> str:
    return row.reason or EXCEPTION_LABELS.get(row.kind, row.kind)


def _lanes(items: list[tuple[int, int, ScheduleEntry]]) -> list[tuple[int, int, int, ScheduleEntry]]:
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

    data = _grid_data(grid_sources(start=day_start, end=day_end))
    appointments = data.appointments
    exceptions = data.exceptions
    # Hours of the active physicians only: one taken out of use shows as not working.
    active_ids = [p.pk for p in data.physicians if p.active]
    windows = working_windows(physician_ids=active_ids, date_from=day, date_to=day)

    if by == BY_ROOM:
        columns = [
            GridColumn(key=r.pk, label=r.name, colour="#6c757d", room=r)
            if r.active
            else GridColumn(key=r.pk, label=f"{r.name} (not in use)", colour="#adb5bd", room=r)
            for r in data.rooms
        ]
    else:
        columns = [
            GridColumn(
                key=p.pk,
                label=p.display_name,
                colour=p.calendar_colour,
                physician=p,
                hours=_clock_label(windows.get(p.pk, [])) or "Not working",
            )
            for p in data.physicians
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
    stale_at = None
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
        # A row turns past once now is beyond its start (`t < now`).
        upcoming = [t for t in times if t >= now]
        stale_at = upcoming[0] + timedelta.resolution if upcoming else None

    counts: dict[str, int] = {}
    for appointment in appointments:
        counts[appointment.status_label] = counts.get(appointment.status_label, 0) + 1
    return DayGrid(
        day=day,
        by=by,
        columns=columns,
        rows=rows,
        appointments=appointments,
        cancelled=[a for a in appointments if not _shown_on_grid(a)],
        closures=[_exception_label(x) for x in exceptions if x.physician_id is None],
        status_counts=counts,
        stale_at=stale_at,
    )


def _grid_rows(
    *,
    times: list[datetime],
    step: timedelta,
    columns: list[GridColumn],
    shown: list[ScheduleEntry],
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

    per_column: dict[int, list[tuple[int, int, ScheduleEntry]]] = {c.key: [] for c in columns}
    for appointment in shown:
        key = appointment.room_id if by == BY_ROOM else appointment.physician_id
        until = appointment.room_until if by == BY_ROOM else appointment.end
        first = max(0, row_of(appointment.start))
        last = min(n, max(first + 1, row_after(until)))
        per_column[key].append((first, last, appointment))

    starts: dict[tuple[int, int, int], tuple[int, ScheduleEntry]] = {}
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
                    if by == BY_ROOM:
                        span_label = f"{appointment.start_clock}–{appointment.room_until_clock}"
                        detail = f"{appointment.procedure_name} · {appointment.physician_name}"
                    else:
                        span_label = f"{appointment.start_clock}–{appointment.end_clock}"
                        detail = f"{appointment.procedure_name} · {appointment.room_name}"
                    cells.append(
                        GridCell(
                            kind=CELL_APPOINTMENT,
                            start=t,
                            column=column,
                            rowspan=span,
                            appointment=appointment,
                            span_label=span_label,
                            detail=detail,
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
    appointments: list[ScheduleEntry]
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
    # As DayGrid.stale_at: the next end of a working window, when a day may stop being bookable.
    stale_at: datetime | None = None


def week_start_of(*, day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_bounds(*, day: date) -> tuple[datetime, datetime]:
    monday = week_start_of(day=day)
    start, _ = day_bounds(day=monday)
    _, end = day_bounds(day=monday + timedelta(days=6))
    return start, end


def schedule_week_grid(*, day: date, now: datetime | None = None) -> WeekGrid:
    """Monday to Sunday of the week holding `day`: per active physician and day, their hours, leave and
    bookings (cancelled ones only counted). Weekend days nobody works or books are left out."""
    now = now or timezone.now()
    monday = week_start_of(day=day)
    sunday = monday + timedelta(days=6)
    range_start, range_end = _week_bounds(day=day)
    data = _grid_data(grid_sources(start=range_start, end=range_end))
    appointments = data.appointments
    physicians = data.physicians
    exceptions = data.exceptions
    windows = working_windows(physician_ids=[p.pk for p in physicians], date_from=monday, date_to=sunday)

    all_days = [monday + timedelta(days=i) for i in range(7)]
    by_cell: dict[tuple[int, date], list[ScheduleEntry]] = {}
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
    window_ends = [e for ws in windows.values() for _, e in ws if e > now]
    return WeekGrid(
        week_start=monday,
        days=headers,
        hidden_days=[d for d in all_days if d not in days],
        rows=rows,
        total=sum(1 for a in appointments if _shown_on_grid(a)),
        stale_at=min(window_ends, default=None),
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
