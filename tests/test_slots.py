"""Slot search honours working hours, bookings, room fit, recovery bays, buffers and readiness."""

import random
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


# --- stopping at `limit`: the search walks the range in start order and reads only the days it needs ------


def _busy_fortnight(clinic):
    """Two physicians with bookings scattered over two weeks, a day of leave and a closure, so that where
    `limit` cuts falls anywhere: mid-day, between days, between physicians at the same start."""
    monday = clinic["monday"]
    for i, (day, hh, mm, who) in enumerate(
        [(0, 8, 30, "lee"), (0, 10, 0, "patel"), (1, 9, 15, "lee"), (3, 11, 0, "patel"), (8, 8, 0, "lee")]
    ):
        appointment_book(
            request=BookingRequest(
                patient=clinic["patients"][i],
                procedure_type=clinic["tfesi"],
                physician=clinic[who],
                start=at(monday + timedelta(days=day), hh, mm),
            ),
            actor=None,
        )
    ScheduleException.objects.create(
        physician=clinic["patel"],
        kind="leave",
        starts_at=at(monday + timedelta(days=2), 0),
        ends_at=at(monday + timedelta(days=3), 0),
    )
    ScheduleException.objects.create(
        kind="closure",
        starts_at=at(monday + timedelta(days=9), 10),
        ends_at=at(monday + timedelta(days=9), 11),
    )


def _slots(result):
    return [(s.start, s.physician.pk, s.room.pk, s.recovery_bay.pk, s.monitoring_until) for s in result.slots]


@pytest.mark.parametrize("patient", [None, 5])
def test_any_limit_gives_the_first_slots_of_the_whole_range(clinic, patient):
    _busy_fortnight(clinic)
    kwargs = {"physician": None, "days": 14}
    if patient is not None:
        kwargs["patient"] = clinic["patients"][patient]
    everything = search(clinic, limit=1000, **kwargs)
    assert not everything.truncated and len(everything.slots) > 100
    for limit in [1, 2, 7, 15, 16, 29, 30, 31, 60, 61, 99, len(everything.slots) - 1, len(everything.slots)]:
        cut = search(clinic, limit=limit, **kwargs)
        assert _slots(cut) == _slots(everything)[:limit], limit
        assert cut.truncated == (len(everything.slots) > limit), limit


def test_physicians_with_the_same_name_keep_their_order_at_the_cut(clinic):
    clinic["patel"].display_name = clinic["lee"].display_name
    clinic["patel"].save()
    everything = search(clinic, physician=None, days=2, limit=1000)
    first = everything.slots[0].start
    assert [s.start for s in everything.slots[:2]] == [first, first]
    assert _slots(search(clinic, physician=None, days=2, limit=1)) == _slots(everything)[:1]
    assert _slots(search(clinic, physician=None, days=2, limit=3)) == _slots(everything)[:3]


def test_a_recovery_past_midnight_still_blocks_the_next_morning(clinic):
    """Read by an earlier day's chunk or by the day's own: either way the late booking counts."""
    monday, tuesday = clinic["monday"], clinic["monday"] + timedelta(days=1)
    for weekday in (0, 1):
        WorkingHours.objects.create(
            physician=clinic["lee"], weekday=weekday, start_time=time(0), end_time=time(2)
        )
        WorkingHours.objects.create(
            physician=clinic["lee"], weekday=weekday, start_time=time(22), end_time=time(23, 59)
        )
    patient = clinic["patients"][0]
    late = appointment_book(
        request=BookingRequest(
            patient=patient, procedure_type=clinic["tfesi"], physician=clinic["lee"], start=at(monday, 23, 15)
        ),
        actor=None,
    )
    assert late.monitoring_until == at(tuesday, 0)
    late.monitoring_until = at(tuesday, 0, 15)  # a longer recovery than the catalogue's, set by hand
    late.save()

    def tuesday_starts(date_from):
        result = slot_search(
            procedure_type=clinic["tfesi"],
            date_from=date_from,
            date_to=tuesday,
            physician=clinic["lee"],
            patient=patient,
            limit=1000,
        )
        return [s for s in starts(result) if s >= at(tuesday, 0)]

    assert tuesday_starts(monday) == tuesday_starts(tuesday)
    assert tuesday_starts(tuesday)[0] == at(tuesday, 0, 15)  # not 00:00: the patient is still in recovery


def test_the_search_reads_only_the_days_it_needs(clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def appointment_reads(**kwargs):
        with CaptureQueriesContext(connection) as queries:
            result = search(clinic, physician=None, days=14, **kwargs)
        return result, [q["sql"] for q in queries if 'FROM "procedures_appointment"' in q["sql"]]

    result, reads = appointment_reads(limit=5)
    assert len(result.slots) == 5 and result.truncated
    assert len(reads) == 1  # the first working day answered it
    _, reads = appointment_reads(limit=1000)
    assert 1 < len(reads) <= 5  # ten working days, read in a few growing chunks


def test_free_starts_are_the_starts_free_says_are_free():
    """Timeline.free_starts walks the gaps; asking free() of every step must give the same starts, for any
    busy intervals (overlapping, touching, empty, shorter than a step) and any step and length."""
    rng = random.Random(8)
    for _ in range(3000):
        busy = []
        for _ in range(rng.randrange(0, 8)):
            start = rng.randrange(0, 600)
            busy.append((start, start + rng.choice([0, 1, 5, 15, 30, 45, 90, 200])))
        line = Timeline(busy)
        first = rng.randrange(-30, 300)
        last_end = first + rng.randrange(0, 700)
        step = rng.choice([5, 10, 15, 30])
        length = rng.choice([1, 10, 15, 20, 45, 60])
        expected = []
        start = first
        while start + length <= last_end:
            if line.free(start, start + length):
                expected.append(start)
            start += step
        got = line.free_starts(first, last_end, step, length)
        assert got == expected, (busy, first, last_end, step, length)


def test_a_catalogue_change_reaches_the_very_next_search(clinic):
    """The search keeps the catalogue it read while a digest of it is unchanged; every way of changing it
    (a save, a bulk update, a new template, a room added) shows in the next search."""
    from procedures.models import PhysicianProfile, ProcedureRoom

    assert {s.room for s in search(clinic, physician=None).slots} == {clinic["fluoro1"]}
    ProcedureRoom.objects.filter(pk=clinic["fluoro1"].pk).update(active=False)  # no save(), no signal
    assert {s.room for s in search(clinic, physician=None).slots} == {clinic["fluoro2"]}

    WorkingHours.objects.filter(physician=clinic["patel"]).update(start_time=time(10))
    patel_starts = [s.start for s in search(clinic, physician="patel").slots]
    assert patel_starts[0] == at(clinic["monday"], 10)

    PhysicianProfile.objects.filter(pk=clinic["lee"].pk).update(active=False)
    assert {s.physician for s in search(clinic, physician=None).slots} == {clinic["patel"]}


def test_a_change_rolled_back_leaves_no_trace_in_the_next_search(clinic):
    from django.db import transaction

    from procedures.models import ProcedureRoom

    before = starts(search(clinic, physician=None))
    with pytest.raises(RuntimeError), transaction.atomic():
        ProcedureRoom.objects.update(active=False)
        assert search(clinic, physician=None).slots == []  # seen inside the change
        raise RuntimeError("undo")
    assert starts(search(clinic, physician=None)) == before
