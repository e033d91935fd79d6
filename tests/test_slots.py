"""Slot search honours working hours, bookings, room fit, recovery bays, buffers and readiness."""

from datetime import UTC, time, timedelta

import pytest

from procedures.models import ScheduleException, WorkingHours
from procedures.selectors.intervals import Timeline
from procedures.selectors.readiness import _RULES, readiness_rule_register
from procedures.selectors.slots import slot_search
from procedures.services.booking import BookingRequest, appointment_book
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.django_db


def search(clinic, *, physician="lee", days=1, **kwargs):
    return slot_search(
        procedure_type=clinic[kwargs.pop("ptype", "tfesi")],
        date_from=clinic["monday"],
        date_to=clinic["monday"] + timedelta(days=days - 1),
        physician=clinic[physician] if physician else None,
        **kwargs,
    )


def starts(result):
    return [s.start for s in result.slots]


def test_an_empty_morning_offers_every_quarter_hour_that_fits(clinic):
    result = search(clinic)
    monday = clinic["monday"]
    assert starts(result)[0] == at(monday, 8)
    assert starts(result)[-1] == at(monday, 11, 30)  # 30 minutes must end by 12:00
    assert len(result.slots) == 15


def test_a_booking_removes_the_overlapping_starts(clinic):
    appointment_book(
        request=BookingRequest(
            patient=clinic["patients"][0],
            procedure_type=clinic["tfesi"],
            physician=clinic["lee"],
            start=at(clinic["monday"], 9),
        ),
        actor=None,
    )
    got = starts(search(clinic))
    monday = clinic["monday"]
    assert at(monday, 8, 30) in got and at(monday, 9, 30) in got
    for blocked in (at(monday, 8, 45), at(monday, 9), at(monday, 9, 15)):
        assert blocked not in got


def test_every_offered_slot_can_actually_be_booked(clinic):
    for slot in search(clinic, physician=None).slots[:6]:
        appt = appointment_book(
            request=BookingRequest(
                patient=clinic["patients"][0],
                procedure_type=clinic["tfesi"],
                physician=slot.physician,
                start=slot.start,
                room=slot.room,
            ),
            actor=None,
        )
        appt.delete()


def test_patient_busy_time_is_excluded(clinic):
    appointment_book(
        request=BookingRequest(
            patient=clinic["patients"][0],
            procedure_type=clinic["tfesi"],
            physician=clinic["patel"],
            start=at(clinic["monday"], 9),
        ),
        actor=None,
    )
    got = starts(search(clinic, patient=clinic["patients"][0]))
    assert (
        at(clinic["monday"], 9) not in got and at(clinic["monday"], 9, 30) not in got
    )  # monitoring until 09:45
    assert at(clinic["monday"], 9, 45) in got


def test_no_fitting_room_means_no_slots(clinic):
    clinic["us"].active = False
    clinic["us"].save()
    assert search(clinic, ptype="prp").slots == []


def test_leave_removes_the_day(clinic):
    ScheduleException.objects.create(
        physician=clinic["lee"],
        kind="leave",
        starts_at=at(clinic["monday"], 0),
        ends_at=at(clinic["monday"], 23),
    )
    assert search(clinic).slots == []
    assert search(clinic, physician="patel").slots


def test_readiness_moves_the_first_slot(clinic):
    patient = clinic["patients"][0]

    def rule(*, patient, procedure_type, now):
        return (at(clinic["monday"], 10, 5), "apixaban hold") if patient == clinic["patients"][0] else None

    readiness_rule_register(rule)
    try:
        result = search(clinic, patient=patient)
    finally:
        _RULES.remove(rule)
    assert starts(result)[0] == at(clinic["monday"], 10, 15)
    assert result.earliest_safe_reason == "apixaban hold"


def test_a_split_day_offers_both_halves_only(clinic):
    WorkingHours.objects.filter(physician=clinic["lee"], weekday=0).delete()
    WorkingHours.objects.create(physician=clinic["lee"], weekday=0, start_time=time(8), end_time=time(9))
    WorkingHours.objects.create(physician=clinic["lee"], weekday=0, start_time=time(13), end_time=time(14))
    got = starts(search(clinic))
    monday = clinic["monday"]
    assert got == [
        at(monday, 8),
        at(monday, 8, 15),
        at(monday, 8, 30),
        at(monday, 13),
        at(monday, 13, 15),
        at(monday, 13, 30),
    ]


def test_limit_truncates_and_says_so(clinic):
    result = search(clinic, physician=None, days=5, limit=10)
    assert len(result.slots) == 10 and result.truncated


def test_it_never_offers_the_past(clinic):
    import time_machine

    with time_machine.travel(at(clinic["monday"], 9, 7)):
        got = starts(search(clinic))
    assert got[0] == at(clinic["monday"], 9, 15)


class TestTimeline:
    def test_free_and_within(self):
        from datetime import datetime

        t = lambda h, m=0: datetime(2026, 1, 5, h, m, tzinfo=UTC)  # noqa: E731
        line = Timeline([(t(9), t(10)), (t(9, 30), t(11)), (t(13), t(14))])
        assert line.free(t(8), t(9)) and line.free(t(11), t(13))
        assert (
            not line.free(t(8), t(9, 1))
            and not line.free(t(10, 59), t(12))
            and not line.free(t(12), t(13, 30))
        )
        assert line.within(t(9, 15), t(11)) and not line.within(t(10), t(12))
