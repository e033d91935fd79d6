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
    _compiled_instances,
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
    ]:
        assert _compiled(build, _shape(values)) is not None, build
    for build in (slots._active_physicians, slots._active_rooms, slots._active_bays):
        assert _compiled_instances(build, _shape({})) is not None, build
    for build, values in [
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


def _fields(instance) -> dict:
    return {k: v for k, v in instance.__dict__.items() if k != "_state"}


def _same_instances(got: list, expected: list, related: tuple[str, ...] = ()) -> None:
    assert [o.pk for o in got] == [o.pk for o in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert type(mine) is type(theirs)
        assert _fields(mine) == _fields(theirs)
        assert mine.get_deferred_fields() == theirs.get_deferred_fields()
        assert not mine._state.adding and mine._state.db == theirs._state.db
        for name in related:  # loaded with the row (select_related), or None for an empty nullable key
            assert name in mine._state.fields_cache
            mine_related, theirs_related = getattr(mine, name), getattr(theirs, name)
            assert (mine_related is None) == (theirs_related is None)
            if mine_related is not None:
                assert _fields(mine_related) == _fields(theirs_related)


def test_the_patient_pages_reads_give_the_orms_instances_with_their_related_rows(clinic, frontdesk, nurse):
    """The patient page reads the patient, the appointments (select_related and only()) and the medication
    list (select_related, one nullable key empty and one set) as the ORM would: same instances, same
    deferred fields, same related objects, and no further query when the page touches them."""
    from django.test.utils import CaptureQueriesContext

    from procedures.access import _patient_by_id, patient_get_for_user
    from procedures.models import Medication, PatientMedication
    from procedures.selectors.safety import _patient_medications, patient_medication_list
    from procedures.selectors.schedule import _patient_appointments, appointment_list_for_patient

    patient = clinic["patients"][0]
    book(clinic, hh=9)
    book(clinic, hh=11, physician="patel")
    PatientMedication.objects.create(
        patient=patient, medication=Medication.objects.get(generic_name="warfarin"), added_by=frontdesk
    )
    stopped = PatientMedication.objects.create(
        patient=patient, medication=Medication.objects.get(generic_name="apixaban"), added_by=frontdesk
    )
    PatientMedication.objects.filter(pk=stopped.pk).update(
        stopped_at=at(clinic["monday"], 8), stopped_by=nurse
    )

    _same_instances(
        [patient_get_for_user(user=frontdesk, patient_id=patient.pk)],
        list(_patient_by_id(patient_id=patient.pk)),
    )
    appointments = appointment_list_for_patient(patient_id=patient.pk)
    assert len(appointments) == 2 and appointments[0].get_deferred_fields()
    _same_instances(
        appointments, list(_patient_appointments(patient_id=patient.pk)), ("procedure_type", "physician")
    )
    medications = patient_medication_list(patient_id=patient.pk)
    _same_instances(
        medications,
        list(_patient_medications(patient_id=patient.pk)),
        ("medication", "added_by", "stopped_by"),
    )
    assert [m.medication.generic_name for m in medications] == ["apixaban", "warfarin"]
    with CaptureQueriesContext(connection) as queries:
        [(a.procedure_type.name, a.physician.display_name, a.status) for a in appointments]
        [(m.medication.generic_name, m.added_by.username, m.stopped_by) for m in medications]
    assert not queries.captured_queries
    if connection.vendor == "postgresql":
        for build in (_patient_by_id, _patient_appointments, _patient_medications):
            assert _compiled_instances(build, _shape({"patient_id": patient.pk})) is not None, build


def test_an_instance_read_django_would_do_more_for_goes_through_the_orm(clinic, frontdesk):
    from django.http import Http404

    from procedures.access import patient_get_for_user

    def prefetching(*, patient_id: int) -> QuerySet:
        return Appointment.objects.filter(patient_id=patient_id).prefetch_related("messages")

    booked = book(clinic, hh=9)
    got = fetch_instances(Appointment, prefetching, patient_id=booked.patient_id)
    assert [a.pk for a in got] == [booked.pk] and "messages" in got[0]._prefetched_objects_cache
    assert _compiled_instances(prefetching, _shape({"patient_id": 1})) is None
    for missing in (0, "not-a-number"):
        with pytest.raises(Http404):
            patient_get_for_user(user=frontdesk, patient_id=missing)
