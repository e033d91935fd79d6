"""Reads built once per process (selectors/intervals.py): the same rows and instances as the ORM gives, for
any values; the slot search's reads take that path on PostgreSQL, and a read that cannot goes through the
ORM rather than answer wrongly."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet

from procedures.models import Appointment, PhysicianProfile, ProcedureRoom, ScheduleException
from procedures.selectors import availability, slots
from procedures.selectors.intervals import (
    _compiled,
    _shape,
    fetch_instances,
    fetch_rows_of,
    instance_rows,
)
from tests.scheduling_fixtures import at, book

pytestmark = pytest.mark.django_db


def _rows_through_orm(build, **values) -> list[tuple]:
    return list(build(**values))


def test_the_busy_rows_are_the_orms_rows_for_any_values(clinic):
    first = book(clinic, hh=9)
    book(clinic, hh=11, physician="patel", patient=1)
    monday = at(clinic["monday"], 0, 0)
    for lower, upper, busy_at, ignore_id in [
        (monday, monday + timedelta(days=1), monday, None),
        (monday, monday + timedelta(days=1), monday, first.pk),
        (monday + timedelta(hours=10), monday + timedelta(days=1), monday, None),
        (monday - timedelta(days=3), monday - timedelta(days=2), monday, None),
    ]:
        values = {"lower": lower, "upper": upper, "busy_at": busy_at, "ignore_id": ignore_id}
        got = fetch_rows_of(slots._busy_rows, **values)
        assert sorted(got) == sorted(_rows_through_orm(slots._busy_rows, **values))
    # The values really reach the query: leaving the first booking out drops exactly its row.
    everything = fetch_rows_of(
        slots._busy_rows, lower=monday, upper=monday + timedelta(days=1), busy_at=monday, ignore_id=None
    )
    without_first = fetch_rows_of(
        slots._busy_rows, lower=monday, upper=monday + timedelta(days=1), busy_at=monday, ignore_id=first.pk
    )
    assert len(everything) == 2 and len(without_first) == 1


def test_instances_are_the_orms_instances(clinic):
    ProcedureRoom.objects.create(name="Closed room", active=False)
    for model, build in [
        (PhysicianProfile, slots._active_physicians),
        (ProcedureRoom, slots._active_rooms),
    ]:
        got = fetch_instances(model, build)
        expected = list(build())
        assert [(o.pk, o.__dict__.keys() - {"_state"}) for o in got] == [
            (o.pk, o.__dict__.keys() - {"_state"}) for o in expected
        ]
        for mine, theirs in zip(got, expected, strict=True):
            assert {k: v for k, v in mine.__dict__.items() if k != "_state"} == {
                k: v for k, v in theirs.__dict__.items() if k != "_state"
            }
            assert not mine._state.adding and mine._state.db == theirs._state.db
    assert "Closed room" not in [r.name for r in fetch_instances(ProcedureRoom, slots._active_rooms)]


def test_leave_read_once_built_is_the_leave_in_the_range(clinic):
    monday = at(clinic["monday"], 0, 0)
    ScheduleException.objects.create(
        physician=clinic["lee"], starts_at=monday + timedelta(hours=8), ends_at=monday + timedelta(hours=12)
    )
    inside = availability.exception_intervals(
        physician_ids=[clinic["lee"].pk], start=monday, end=monday + timedelta(days=1)
    )
    outside = availability.exception_intervals(
        physician_ids=[clinic["lee"].pk], start=monday + timedelta(days=1), end=monday + timedelta(days=2)
    )
    assert len(inside[clinic["lee"].pk]) == 1 and outside[clinic["lee"].pk] == []


@pytest.mark.postgres
def test_the_slot_searchs_reads_are_built_once(clinic):
    """Each of the search's reads takes the once-built path on PostgreSQL. A change that made one need
    Django's per-value converters (or hid a value from the stand-ins) would quietly cost the search its
    speed; this says so instead."""
    monday = at(clinic["monday"], 0, 0)
    for build, values in [
        (instance_rows(slots._active_physicians), {}),
        (instance_rows(slots._active_rooms), {}),
        (instance_rows(slots._active_bays), {}),
        (availability.all_hours, {}),
        (availability._exceptions_between, {"start": monday, "end": monday}),
        (slots._busy_rows, {"lower": monday, "upper": monday, "busy_at": monday, "ignore_id": None}),
        (slots._busy_rows, {"lower": monday, "upper": monday, "busy_at": monday, "ignore_id": 7}),
    ]:
        assert _compiled(build, _shape(values)) is not None, build


def _appointments_on(*, day) -> QuerySet:
    # A value compared with a transformed column: the value itself is a parameter.
    return Appointment.objects.filter(start__date=day).values_list("pk")


def _physicians_named(*, text) -> QuerySet:
    # A lookup that wraps its value in a pattern: the stand-in would be left inside a constant.
    return PhysicianProfile.objects.filter(display_name__icontains=text).values_list("pk")


def test_a_read_whose_values_cannot_be_placed_goes_through_the_orm(clinic):
    booked = book(clinic, hh=9)
    assert fetch_rows_of(_appointments_on, day=clinic["monday"]) == [(booked.pk,)]
    assert fetch_rows_of(_physicians_named, text=clinic["lee"].display_name[-3:]) == [(clinic["lee"].pk,)]
    if connection.vendor == "postgresql":
        assert _compiled(_appointments_on, _shape({"day": clinic["monday"]})) is not None
        assert _compiled(_physicians_named, _shape({"text": "x"})) is None
