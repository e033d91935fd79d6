"""The day and week grids are kept for reuse under a fingerprint of everything they show: an unchanged day
is drawn once, and any change — a booking made, moved, cancelled, checked in or confirmed, a patient
renamed, leave added, even a row written straight to the table — shows on the very next request, as does
time passing (free time turning past, a day's hours running out)."""

import hashlib
import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from procedures.models import Appointment, AppointmentStatus, ScheduleException
from procedures.services.appointments import appointment_transition
from procedures.services.booking import (
    appointment_cancel,
    appointment_reschedule,
)
from procedures.services.dayof import appointment_check_in
from procedures.services.patients import patient_update
from procedures.views.schedule import _kept_grid
from tests.scheduling_fixtures import at, book

pytestmark = pytest.mark.django_db


def day_page(client, clinic, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"date": f"{clinic['monday']:%Y-%m-%d}", **params}.items())
    response = client.get(f"{reverse('schedule-day')}?{query}")
    assert response.status_code == 200
    return response.content.decode()


def week_page(client, clinic) -> str:
    response = client.get(reverse("schedule-week"), {"date": f"{clinic['monday']:%Y-%m-%d}"})
    assert response.status_code == 200
    return response.content.decode()


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def not_drawn_again():
    """Fails the request if a grid is drawn instead of the kept one being served."""
    return mock.patch.multiple(
        "procedures.views.schedule",
        schedule_day_grid=mock.Mock(side_effect=AssertionError("the day was drawn again")),
        schedule_week_grid=mock.Mock(side_effect=AssertionError("the week was drawn again")),
    )


@pytest.fixture
def desk(client, frontdesk):
    client.force_login(frontdesk)
    return client


def test_an_unchanged_day_and_week_are_drawn_once_and_served_the_same(desk, clinic):
    book(clinic)
    day, week = day_page(desk, clinic), week_page(desk, clinic)
    with not_drawn_again():
        assert without_csrf(day_page(desk, clinic)) == without_csrf(day)
        assert without_csrf(week_page(desk, clinic)) == without_csrf(week)


def _move(clinic, appt):
    appointment_reschedule(appointment_id=appt.pk, start=at(clinic["monday"], 10, 30), actor=None)


def _cancel(clinic, appt):
    appointment_cancel(appointment_id=appt.pk, actor=None, reason="Flu")


def _check_in(clinic, appt):
    appointment_check_in(
        appointment_id=appt.pk, actor=None, name_confirmed=True, date_of_birth=appt.patient.date_of_birth
    )


def _confirm(clinic, appt):
    appointment_transition(appointment_id=appt.pk, to_status=AppointmentStatus.CONFIRMED, actor=None)


def _rename(clinic, appt):
    patient = appt.patient
    patient_update(
        patient_id=patient.pk,
        **{f: getattr(patient, f) for f in ("mrn", "first_name", "date_of_birth")},
        last_name="Renamedson",
    )


def _leave(clinic, appt):
    ScheduleException.objects.create(
        physician=clinic["lee"],
        kind="leave",
        starts_at=at(clinic["monday"], 11),
        ends_at=at(clinic["monday"], 12),
        reason="Dentist",
    )


def _written_straight_to_the_table(clinic, appt):
    # No service, no save(), no updated_at: the fingerprint reads the rows themselves.
    Appointment.objects.filter(pk=appt.pk).update(status=AppointmentStatus.NO_SHOW)


def _book_another(clinic, appt):
    book(clinic, patient=1, hh=10)


CHANGES = {
    # change: (what it does, what the day grid then shows, what it no longer shows)
    "book": (_book_another, lambda c, a: c["patients"][1].last_name, None),
    "move": (_move, lambda c, a: "10:30–11:00", lambda c, a: "09:00–09:30"),
    "cancel": (_cancel, lambda c, a: "Cancelled on this day", lambda c, a: 'data-testid="appointment-block"'),
    "check in": (_check_in, lambda c, a: "cell-appointment status-checked_in", None),
    "confirm": (_confirm, lambda c, a: "cell-appointment status-confirmed", None),
    "rename": (_rename, lambda c, a: "Renamedson", lambda c, a: a.patient.last_name),
    "leave": (_leave, lambda c, a: "Dentist 11:00–12:00", None),
    "raw write": (_written_straight_to_the_table, lambda c, a: "cell-appointment status-no_show", None),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_shows_on_the_next_look_at_the_day(desk, clinic, change):
    appt = book(clinic)
    make, shows, gone = CHANGES[change]
    before = day_page(desk, clinic)
    assert shows(clinic, appt) not in before
    make(clinic, appt)
    after = day_page(desk, clinic)
    assert shows(clinic, appt) in after
    if gone:
        assert gone(clinic, appt) not in after


@pytest.mark.parametrize("change", ["book", "cancel", "rename", "raw write"])
def test_a_change_shows_on_the_next_look_at_the_week(desk, clinic, change):
    appt = book(clinic)
    make, _, _ = CHANGES[change]
    before = week_page(desk, clinic)
    make(clinic, appt)
    after = week_page(desk, clinic)
    assert after != before
    expected = {
        "book": clinic["patients"][1].last_name,
        "cancel": "1 cancelled",
        "rename": "Renamedson",
        "raw write": "week-chip status-row status-no_show",
    }[change]
    assert expected not in before and expected in after


def test_the_rooms_view_and_a_clerk_who_may_not_book_get_their_own_grid(client, frontdesk, nurse, clinic):
    book(clinic)
    client.force_login(frontdesk)
    assert reverse("appointment-new") in day_page(client, clinic)
    by_room = day_page(client, clinic, by="rooms")
    assert 'data-testid="column-fluoro-1"' in by_room and 'data-testid="column-dr-lee"' not in by_room
    client.force_login(nurse)
    assert reverse("appointment-new") not in day_page(client, clinic)
    assert reverse("appointment-new") not in week_page(client, clinic)


def test_free_time_turns_past_as_the_clock_moves_though_nothing_was_written(client, frontdesk, clinic):
    link = f"start={clinic['monday']:%Y-%m-%d}T09:15"
    with time_machine.travel(at(clinic["monday"], 9, 7), tick=False):
        client.force_login(frontdesk)
        assert link in day_page(client, clinic)
    with time_machine.travel(at(clinic["monday"], 9, 14), tick=False), not_drawn_again():
        assert link in day_page(client, clinic)  # still the kept grid: nothing turned past
    with time_machine.travel(at(clinic["monday"], 9, 16), tick=False):
        assert link not in day_page(client, clinic)


def test_a_day_stops_being_bookable_on_the_week_when_its_hours_run_out(client, frontdesk, clinic):
    book_monday = f"?physician={clinic['lee'].pk}&amp;date_from={clinic['monday']:%Y-%m-%d}&amp;"
    with time_machine.travel(at(clinic["monday"], 11, 50), tick=False):
        client.force_login(frontdesk)
        assert book_monday in week_page(client, clinic)
    with time_machine.travel(at(clinic["monday"], 12, 1), tick=False):
        assert book_monday not in week_page(client, clinic)


def test_a_grid_drawn_while_a_write_landed_is_not_kept(db):
    now = timezone.now()
    fingerprints = iter(["before", "after", "after", "after"])
    draw = mock.Mock(return_value=("<p>drawn</p>", None))
    for _ in range(2):
        html = _kept_grid(parts=("test", now), fingerprint=lambda: next(fingerprints), now=now, draw=draw)
        assert html == "<p>drawn</p>"
    # The first drawing straddled a change, so it was not kept; the second was, and serves the third.
    assert draw.call_count == 2
    _kept_grid(parts=("test", now), fingerprint=lambda: "after", now=now, draw=draw)
    assert draw.call_count == 2


@pytest.mark.postgres
def test_the_prebuilt_fingerprint_query_reads_the_asked_range(clinic):
    """The digest query is built once with stand-in bounds; each range gets its own rows digested."""
    from django.db import connection

    from procedures.selectors.intervals import digest_query
    from procedures.selectors.schedule import day_bounds, grid_sources, range_fingerprint

    book(clinic)
    monday, tuesday = day_bounds(day=clinic["monday"]), day_bounds(day=clinic["monday"] + timedelta(days=1))
    for start, end in (monday, tuesday):
        sql, params = digest_query(grid_sources(start=start, end=end).all())
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fresh = hashlib.sha256("\n".join(str(d) for d in cursor.fetchone()).encode()).hexdigest()
        assert range_fingerprint(start=start, end=end) == fresh
    assert range_fingerprint(start=monday[0], end=monday[1]) != range_fingerprint(
        start=tuesday[0], end=tuesday[1]
    )
