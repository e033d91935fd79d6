"""The front desk's day and week views and a physician's own list: what they show, who may see them, and
that the number of queries does not grow with the number of appointments shown."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedures.models import Appointment, AppointmentStatus, ScheduleException
from procedures.selectors.schedule import (
    BY_ROOM,
    CELL_APPOINTMENT,
    CELL_AWAY,
    CELL_FREE,
    CELL_OFF,
    CELL_PAST,
    schedule_day_grid,
    schedule_week_grid,
)
from tests.factories import AppointmentFactory, PatientFactory, RoomFactory
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.django_db


def appointment(clinic, *, physician="lee", hh=9, mm=0, room="fluoro1", day=None, **kwargs):
    """An appointment written straight to the table (the views only read)."""
    start = at(day or clinic["monday"], hh, mm)
    return AppointmentFactory(
        patient=kwargs.pop("patient", None) or PatientFactory(),
        procedure_type=clinic["tfesi"],
        physician=clinic[physician],
        room=clinic[room],
        recovery_bay=None,
        start=start,
        **kwargs,
    )


def fill_day(clinic, count: int, *, day=None) -> list:
    """`count` appointments that never collide: alternately Dr Lee and Dr Patel, every half hour from 08:00,
    each physician alternating between two rooms (so turnover never overlaps)."""
    if "fluoro3" not in clinic:
        clinic["fluoro3"] = RoomFactory(name="Fluoro 3")
    rooms = {"lee": ["fluoro1", "fluoro2"], "patel": ["us", "fluoro3"]}
    statuses = [AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED]
    made = []
    for i in range(count):
        physician = "lee" if i % 2 == 0 else "patel"
        slot = i // 2
        minutes = 8 * 60 + 30 * slot
        made.append(
            appointment(
                clinic,
                physician=physician,
                hh=minutes // 60,
                mm=minutes % 60,
                room=rooms[physician][slot % 2],
                day=day,
                status=statuses[i % 3],
                cancel_reason="Patient unwell" if statuses[i % 3] == AppointmentStatus.CANCELLED else "",
            )
        )
    return made


def day_url(day, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"date": f"{day:%Y-%m-%d}", **params}.items())
    return f"{reverse('schedule-day')}?{query}"


class TestDayGrid:
    def test_rows_run_every_quarter_hour_across_working_hours(self, clinic):
        grid = schedule_day_grid(day=clinic["monday"])
        assert [f"{r.start:%H:%M}" for r in grid.rows][:3] == ["08:00", "08:15", "08:30"]
        assert f"{grid.rows[-1].start:%H:%M}" == "11:45"
        assert [c.label for c in grid.columns] == ["Dr Lee", "Dr Patel"]
        assert grid.columns[0].hours == "08:00–12:00"

    def test_a_booking_is_one_block_spanning_its_rows_and_the_rest_is_free(self, clinic):
        appt = appointment(clinic, hh=9)
        grid = schedule_day_grid(day=clinic["monday"])
        nine = next(r for r in grid.rows if f"{r.start:%H:%M}" == "09:00")
        lee_cell = nine.cells[0]
        assert (
            lee_cell.kind == CELL_APPOINTMENT and lee_cell.appointment.pk == appt.pk and lee_cell.rowspan == 2
        )
        nine_fifteen = next(r for r in grid.rows if f"{r.start:%H:%M}" == "09:15")
        assert len(nine_fifteen.cells) == 1  # Dr Lee's column is covered by the block
        assert nine.cells[1].kind == CELL_FREE

    def test_cancelled_bookings_free_their_time_and_are_listed_apart(self, clinic):
        appt = appointment(clinic, hh=9, status=AppointmentStatus.CANCELLED, cancel_reason="Unwell")
        grid = schedule_day_grid(day=clinic["monday"])
        nine = next(r for r in grid.rows if f"{r.start:%H:%M}" == "09:00")
        assert nine.cells[0].kind == CELL_FREE
        assert [a.pk for a in grid.cancelled] == [appt.pk]

    def test_leave_and_closures_are_marked_and_labelled_once(self, clinic):
        ScheduleException.objects.create(
            physician=clinic["patel"],
            kind="leave",
            starts_at=at(clinic["monday"], 8),
            ends_at=at(clinic["monday"], 10),
            reason="Conference",
        )
        ScheduleException.objects.create(
            kind="closure",
            starts_at=at(clinic["monday"], 11),
            ends_at=at(clinic["monday"], 12),
            reason="Drill",
        )
        grid = schedule_day_grid(day=clinic["monday"])
        patel = [r.cells[1] for r in grid.rows[:8]]
        assert {c.kind for c in patel} == {CELL_AWAY}
        assert [c.first_of_run for c in patel] == [True] + [False] * 7
        assert grid.rows[-1].cells[0].kind == CELL_AWAY and grid.rows[-1].cells[0].label == "Drill"
        assert grid.closures == ["Drill"]
        assert grid.columns[1].notes == ["Conference 08:00–10:00"]

    def test_time_outside_working_hours_is_off_and_a_booking_there_widens_the_grid(self, clinic):
        ScheduleException.objects.all().delete()
        from procedures.models import WorkingHours

        WorkingHours.objects.filter(physician=clinic["patel"]).update(start_time="10:00")
        appointment(clinic, hh=12, mm=30)  # written directly, outside the hours
        grid = schedule_day_grid(day=clinic["monday"])
        assert f"{grid.rows[-1].start:%H:%M}" == "12:45"
        assert grid.rows[0].cells[1].kind == CELL_OFF  # Dr Patel starts at 10:00

    def test_past_time_is_not_offered(self, clinic):
        past_monday = clinic["monday"] - timedelta(days=14)
        grid = schedule_day_grid(day=past_monday)
        assert {c.kind for r in grid.rows for c in r.cells} == {CELL_PAST}

    def test_deliberate_double_booking_gets_a_second_lane(self, clinic):
        appointment(clinic, hh=9)
        appointment(
            clinic,
            hh=9,
            room="fluoro2",
            physician_overbooked=True,
            overbook_reason="Two short ones",
        )
        grid = schedule_day_grid(day=clinic["monday"])
        assert grid.columns[0].lanes == 2
        nine = next(r for r in grid.rows if f"{r.start:%H:%M}" == "09:00")
        assert [c.kind for c in nine.cells[:2]] == [CELL_APPOINTMENT, CELL_APPOINTMENT]

    def test_rooms_view_shows_room_time_with_turnover(self, clinic):
        appointment(clinic, hh=9)  # 09:00–09:30, room until 09:40
        grid = schedule_day_grid(day=clinic["monday"], by=BY_ROOM)
        assert [c.label for c in grid.columns] == ["Fluoro 1", "Fluoro 2", "Ultrasound"]
        nine = next(r for r in grid.rows if f"{r.start:%H:%M}" == "09:00")
        assert nine.cells[0].kind == CELL_APPOINTMENT and nine.cells[0].rowspan == 3


class TestDayPage:
    def test_it_shows_blocks_coloured_by_status_linking_to_the_appointment(self, client, frontdesk, clinic):
        appt = appointment(clinic, hh=9, status=AppointmentStatus.CONFIRMED)
        client.force_login(frontdesk)
        html = client.get(day_url(clinic["monday"])).content.decode()
        assert f'id="appt-{appt.pk}"' in html and "status-confirmed" in html
        assert reverse("appointment-detail", args=[appt.pk]) in html
        assert appt.patient.last_name in html and "Lumbar TFESI" in html

    def test_free_cells_link_to_booking_prefilled_with_physician_and_start(self, client, frontdesk, clinic):
        client.force_login(frontdesk)
        html = client.get(day_url(clinic["monday"])).content.decode()
        link = f"{reverse('appointment-new')}?physician={clinic['lee'].pk}&amp;start={clinic['monday']:%Y-%m-%d}T10:00"
        assert link in html
        assert 'aria-label="Book Dr Lee at 10:00"' in html

    def test_a_nurse_sees_the_day_but_no_booking_links(self, client, nurse, clinic):
        client.force_login(nurse)
        response = client.get(day_url(clinic["monday"]))
        assert response.status_code == 200
        assert reverse("appointment-new") not in response.content.decode()

    @pytest.mark.parametrize("bad", ["2025-02-30", "yesterday", "2025-13-01"])
    def test_a_malformed_or_impossible_date_says_so_and_shows_today(self, client, frontdesk, clinic, bad):
        client.force_login(frontdesk)
        response = client.get(reverse("schedule-day"), {"date": bad})
        assert response.status_code == 200
        text = response.content.decode()
        assert f"“{bad}”" in text and "Showing today instead." in text
        assert response.context["day"] == response.context["today"]

    def test_rooms_toggle(self, client, frontdesk, clinic):
        appointment(clinic, hh=9)
        client.force_login(frontdesk)
        html = client.get(day_url(clinic["monday"], by="rooms")).content.decode()
        assert html.index('data-testid="column-fluoro-1"') < html.index('data-testid="column-fluoro-2"')
        assert 'data-testid="column-dr-lee"' not in html

    def test_a_day_nobody_works_says_so(self, client, frontdesk, clinic):
        client.force_login(frontdesk)
        response = client.get(day_url(clinic["monday"] + timedelta(days=5)))
        assert "Nobody works on Saturday" in response.content.decode()

    def test_someone_without_a_role_is_refused(self, client, outsider, clinic):
        client.force_login(outsider)
        assert client.get(day_url(clinic["monday"])).status_code == 403


class TestWeek:
    def test_a_week_lists_bookings_per_physician_and_day(self, client, frontdesk, clinic):
        appt = appointment(clinic, hh=9)
        appointment(clinic, hh=10, status=AppointmentStatus.CANCELLED, cancel_reason="Unwell")
        client.force_login(frontdesk)
        response = client.get(
            reverse("schedule-week"), {"date": f"{clinic['monday'] + timedelta(days=2):%Y-%m-%d}"}
        )
        week = schedule_week_grid(day=clinic["monday"] + timedelta(days=2))
        assert week.week_start == clinic["monday"]
        assert [d.day.weekday() for d in week.days] == [0, 1, 2, 3, 4]  # nobody works the weekend
        monday_lee = week.rows[0].cells[0]
        assert [a.pk for a in monday_lee.appointments] == [appt.pk]
        assert monday_lee.cancelled == 1 and monday_lee.bookable
        html = response.content.decode()
        assert reverse("appointment-detail", args=[appt.pk]) in html
        assert "Saturday and Sunday not shown" in html

    def test_leave_all_day_is_not_bookable(self, clinic):
        ScheduleException.objects.create(
            physician=clinic["lee"],
            kind="leave",
            starts_at=at(clinic["monday"], 0),
            ends_at=at(clinic["monday"] + timedelta(days=1), 0),
            reason="Vacation",
        )
        week = schedule_week_grid(day=clinic["monday"])
        assert week.rows[0].cells[0].bookable is False and week.rows[0].cells[0].away == ["Vacation"]
        assert week.rows[0].cells[1].bookable is True


class TestMine:
    def test_a_physician_sees_only_their_own_list(self, client, physician, clinic):
        mine = appointment(clinic, hh=9)
        other = appointment(clinic, physician="patel", hh=9, room="fluoro2")
        client.force_login(physician)
        response = client.get(reverse("schedule-mine"), {"date": f"{clinic['monday']:%Y-%m-%d}"})
        assert response.context["appointments"] == [mine]
        html = response.content.decode()
        assert other.patient.last_name not in html
        assert "hours: 08:00–12:00" in html

    def test_staff_who_are_not_physicians_are_told_so(self, client, frontdesk, clinic):
        client.force_login(frontdesk)
        response = client.get(reverse("schedule-mine"))
        assert "not linked to a physician" in response.content.decode()


def _count(client, url) -> int:
    # The first request after logging in writes the session (SessionIdleMiddleware); the next ones within a
    # minute do not, so count one of those (another page first: a grid drawn once is kept).
    client.get(reverse("patient-list"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


PAGES = {
    # page: (who looks, address, how n appointments it shows are made)
    "day": ("frontdesk", lambda c, p: day_url(c["monday"]), lambda c, n, p: fill_day(c, n)),
    "rooms": ("frontdesk", lambda c, p: day_url(c["monday"], by="rooms"), lambda c, n, p: fill_day(c, n)),
    "week": (
        "frontdesk",
        lambda c, p: f"{reverse('schedule-week')}?date={c['monday']:%Y-%m-%d}",
        lambda c, n, p: fill_day(c, n),
    ),
    "mine": (
        "physician",
        lambda c, p: f"{reverse('schedule-mine')}?date={c['monday']:%Y-%m-%d}",
        lambda c, n, p: fill_day(c, 2 * n),  # every other one is Dr Lee's
    ),
    "home": (
        "physician",
        lambda c, p: reverse("home"),
        lambda c, n, p: fill_day(c, 2 * n, day=timezone.localdate()),
    ),
    "patient": (
        "frontdesk",
        lambda c, p: reverse("patient-detail", args=[p.pk]),
        lambda c, n, p: [
            appointment(c, hh=9, day=c["monday"] + timedelta(days=7 * i), patient=p) for i in range(n)
        ],
    ),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_queries_do_not_grow_with_the_appointments_shown(
    client, cast, clinic, page, django_assert_num_queries
):
    """A page showing 20 appointments makes exactly as many queries as one showing 2."""
    who, address, make = PAGES[page]
    patient = PatientFactory()
    client.force_login(cast[who])
    make(clinic, 2, patient)
    with_two = _count(client, address(clinic, patient))
    Appointment.objects.all().delete()
    made = [
        a
        for a in make(clinic, 20, patient)
        if a.status != AppointmentStatus.CANCELLED and (who != "physician" or a.physician == clinic["lee"])
    ]
    with django_assert_num_queries(with_two):
        response = client.get(address(clinic, patient))
    # The page really shows the twenty (the last one made is on it).
    assert reverse("appointment-detail", args=[made[-1].pk]) in response.content.decode()
    print(f"{page}: {with_two} queries with 2 and with 20 appointments")
