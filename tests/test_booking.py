"""Booking: every rule refuses with a message naming the problem and changes nothing; concurrent bookings
of the same physician, room, last bay or patient yield exactly one appointment."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction

from procedures.models import Appointment, AppointmentStatus, ScheduleException
from procedures.selectors.readiness import _RULES, readiness_rule_register
from procedures.services.appointments import appointment_transition
from procedures.services.booking import (
    BookingConflict,
    BookingInvalid,
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.django_db


def book(clinic, *, patient=0, physician="lee", start=None, ptype="tfesi", actor=None, **kwargs):
    request = BookingRequest(
        patient=clinic["patients"][patient],
        procedure_type=clinic[ptype],
        physician=clinic[physician],
        start=start or at(clinic["monday"], 9),
        **kwargs,
    )
    return appointment_book(request=request, actor=actor)


def test_it_books_physician_room_and_bay_in_order(clinic, frontdesk):
    appt = book(clinic, actor=frontdesk)
    monday = clinic["monday"]
    assert (appt.start, appt.end) == (at(monday, 9), at(monday, 9, 30))
    assert appt.room == clinic["fluoro1"] and appt.room_until == at(monday, 9, 40)
    assert appt.recovery_bay == clinic["bays"][0] and appt.monitoring_until == at(monday, 9, 45)
    assert appt.status == AppointmentStatus.SCHEDULED and appt.created_by == frontdesk


def test_sedation_lengthens_monitoring(clinic):
    appt = book(clinic, sedated=True)
    assert appt.monitoring_until - appt.end == timedelta(minutes=30)


def test_ultrasound_procedure_goes_to_an_ultrasound_room(clinic):
    assert book(clinic, ptype="prp").room == clinic["us"]


def test_physician_double_booking_is_refused_with_a_clear_message(clinic):
    book(clinic, patient=0)
    with pytest.raises(BookingConflict) as exc:
        book(clinic, patient=1, start=at(clinic["monday"], 9, 15))
    assert str(exc.value).startswith("Dr Lee is already booked")
    assert "09:00–09:30" in str(exc.value)
    assert Appointment.objects.count() == 1


def test_the_physician_is_free_again_when_the_needle_part_ends(clinic):
    book(clinic, patient=0)
    second = book(clinic, patient=1, start=at(clinic["monday"], 9, 30))
    assert second.room == clinic["fluoro2"]  # Fluoro 1 is still being turned over until 09:40


def test_room_turnover_is_respected(clinic):
    book(clinic, patient=0, room=clinic["fluoro1"])
    with pytest.raises(BookingConflict, match="Fluoro 1 is in use"):
        book(clinic, patient=1, physician="patel", start=at(clinic["monday"], 9, 35), room=clinic["fluoro1"])


def test_unfit_room_is_refused(clinic):
    with pytest.raises(BookingInvalid, match="Ultrasound has no fluoroscopy"):
        book(clinic, room=clinic["us"])


def test_a_full_recovery_area_refuses_the_booking(clinic):
    book(clinic, patient=0, physician="lee", start=at(clinic["monday"], 9))
    book(clinic, patient=1, physician="patel", start=at(clinic["monday"], 9))
    clinic["us"].has_fluoroscopy = True
    clinic["us"].save()
    third = PhysicianFactory_with_hours(clinic)
    with pytest.raises(BookingConflict, match="Every recovery bay is taken"):
        book(clinic, patient=2, physician=third, start=at(clinic["monday"], 9))


def PhysicianFactory_with_hours(clinic):
    from datetime import time

    from procedures.models import WorkingHours
    from tests.factories import PhysicianFactory

    clinic["third"] = PhysicianFactory(display_name="Dr Third")
    WorkingHours.objects.create(physician=clinic["third"], weekday=0, start_time=time(8), end_time=time(12))
    return "third"


def test_a_patient_cannot_hold_two_overlapping_appointments(clinic):
    book(clinic, patient=0)
    with pytest.raises(BookingConflict, match="already has an appointment"):
        book(clinic, patient=0, physician="patel", start=at(clinic["monday"], 9, 30))


@pytest.mark.parametrize(
    ("hh", "mm", "message"),
    [(7, 30, "does not work at"), (11, 45, "does not work at"), (13, 0, "does not work at")],
)
def test_outside_working_hours_is_refused_naming_the_hours(clinic, hh, mm, message):
    with pytest.raises(BookingInvalid) as exc:
        book(clinic, start=at(clinic["monday"], hh, mm))
    assert message in str(exc.value) and "08:00–12:00" in str(exc.value)


def test_weekend_has_no_hours(clinic):
    with pytest.raises(BookingInvalid, match="No working hours that day"):
        book(clinic, start=at(clinic["monday"] + timedelta(days=5), 9))


def test_leave_and_closures_block_booking(clinic):
    ScheduleException.objects.create(
        physician=clinic["lee"],
        kind="leave",
        starts_at=at(clinic["monday"], 8),
        ends_at=at(clinic["monday"], 10),
        reason="Conference",
    )
    with pytest.raises(BookingInvalid, match="Conference"):
        book(clinic)
    ScheduleException.objects.create(
        kind="closure",
        starts_at=at(clinic["monday"], 10),
        ends_at=at(clinic["monday"], 12),
        reason="Fire drill",
    )
    with pytest.raises(BookingInvalid, match="Fire drill"):
        book(clinic, physician="patel", start=at(clinic["monday"], 10, 30))


def test_a_start_in_the_past_is_refused(clinic):
    with pytest.raises(BookingInvalid, match="is in the past"):
        book(clinic, start=at(clinic["monday"] - timedelta(days=14), 9))


def test_sedation_not_offered_is_refused(clinic):
    clinic["tfesi"].sedation_allowed = False
    clinic["tfesi"].save()
    with pytest.raises(BookingInvalid, match="Sedation is not offered"):
        book(clinic, sedated=True)


def test_a_physician_may_overbook_only_with_permission_and_a_reason(clinic, frontdesk, physician):
    book(clinic, patient=0)
    with pytest.raises(BookingConflict, match="Only a physician"):
        book(clinic, patient=1, actor=frontdesk, overbook_reason="Quick TPI", room=clinic["fluoro2"])
    second = book(
        clinic, patient=1, actor=physician, overbook_reason="Two short ones together", room=clinic["fluoro2"]
    )
    assert second.physician_overbooked and second.overbook_reason == "Two short ones together"


def test_earliest_safe_start_from_readiness_rules_is_enforced(clinic):
    limit = at(clinic["monday"], 10)

    def hold_rule(*, patient, procedure_type, now):
        return (limit, "warfarin must be stopped 5 days before") if patient == clinic["patients"][0] else None

    readiness_rule_register(hold_rule)
    try:
        with pytest.raises(BookingConflict, match="warfarin must be stopped"):
            book(clinic, patient=0, start=at(clinic["monday"], 9))
        assert book(clinic, patient=0, start=at(clinic["monday"], 10)).start == limit
    finally:
        _RULES.remove(hold_rule)


def test_reschedule_moves_and_unconfirms(clinic, frontdesk):
    appt = book(clinic)
    appointment_transition(appointment_id=appt.pk, to_status=AppointmentStatus.CONFIRMED, actor=frontdesk)
    moved = appointment_reschedule(appointment_id=appt.pk, start=at(clinic["monday"], 10), actor=frontdesk)
    assert moved.start == at(clinic["monday"], 10) and moved.status == AppointmentStatus.SCHEDULED
    assert moved.transitions.last().reason.startswith("Moved from")


def test_reschedule_onto_a_taken_time_changes_nothing(clinic):
    first = book(clinic, patient=0, start=at(clinic["monday"], 9))
    second = book(clinic, patient=1, start=at(clinic["monday"], 10))
    with pytest.raises(BookingConflict, match="Dr Lee is already booked"):
        appointment_reschedule(appointment_id=second.pk, start=at(clinic["monday"], 9, 15), actor=None)
    second.refresh_from_db()
    assert second.start == at(clinic["monday"], 10)
    assert first.start == at(clinic["monday"], 9)


def test_a_reschedule_may_overlap_its_own_old_time(clinic):
    appt = book(clinic)
    assert appointment_reschedule(
        appointment_id=appt.pk, start=at(clinic["monday"], 9, 15), actor=None
    ).start == at(clinic["monday"], 9, 15)


def test_cancelled_time_is_free_again(clinic, frontdesk):
    appt = book(clinic, patient=0)
    appointment_cancel(appointment_id=appt.pk, actor=frontdesk, reason="Patient unwell")
    assert book(clinic, patient=1).start == appt.start


@pytest.mark.postgres
def test_the_database_itself_refuses_overlaps_that_bypass_the_service(clinic):
    appt = book(clinic, patient=0)
    for field, value in [("physician", appt.physician), ("room", appt.room), ("patient", appt.patient)]:
        clone = Appointment(
            patient=clinic["patients"][1] if field != "patient" else value,
            procedure_type=appt.procedure_type,
            physician=clinic["patel"] if field != "physician" else value,
            room=clinic["fluoro2"] if field != "room" else value,
            recovery_bay=clinic["bays"][1],
            start=appt.start,
            end=appt.end,
            room_until=appt.room_until,
            monitoring_until=appt.monitoring_until,
            status_changed_at=appt.status_changed_at,
        )
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            clone.save()
        assert "appt_no_" in str(exc.value)


RESOURCE_CASES = {
    # what two schedulers race for: (second booking's patient, physician, room)
    "same physician": (1, "lee", "fluoro2"),
    "same room": (1, "patel", "fluoro1"),
    "same patient": (0, "patel", "fluoro2"),
}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(RESOURCE_CASES))
def test_concurrent_bookings_of_one_resource_yield_exactly_one(clinic, case):
    """Two schedulers press Book at the same instant, in two real database transactions."""
    patient_b, physician_b, room_b = RESOURCE_CASES[case]
    requests = [
        dict(patient=0, physician="lee", room=clinic["fluoro1"]),
        dict(patient=patient_b, physician=physician_b, room=clinic[room_b]),
    ]
    assert race(clinic, requests) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_for_the_last_recovery_bay_yield_exactly_one(clinic):
    clinic["bays"][1].active = False
    clinic["bays"][1].save()
    requests = [
        dict(patient=0, physician="lee", room=clinic["fluoro1"]),
        dict(patient=1, physician="patel", room=clinic["fluoro2"]),
    ]
    assert race(clinic, requests) == 1


def race(clinic, requests) -> int:
    barrier = threading.Barrier(len(requests))
    results: list[str] = []

    def worker(spec):
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            book(clinic, start=at(clinic["monday"], 9), **spec)
            results.append("booked")
        except BookingConflict as exc:
            results.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(spec,)) for spec in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == len(requests)
    refused = [r for r in results if r != "booked"]
    assert all(r for r in refused), results  # every refusal says why
    return Appointment.objects.filter(status=AppointmentStatus.SCHEDULED).count()
