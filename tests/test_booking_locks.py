"""What a booking locks, and when. Bookings for one physician do their work side by side, each holding only
its patient, the room and the bay it chose; they queue for the physician only at the final check, which
sees any overbooking committed meanwhile. A booking refused at that check changes nothing.

Each test holds one booking in flight inside its hooks (after its insert, before its final check) while
another runs in full, in two real PostgreSQL transactions."""

import threading
from contextlib import contextmanager

import pytest
from django.db import close_old_connections, connection

from procedures.models import Appointment, ChecklistItem, HoldPlan, Message
from procedures.selectors.safety import safety_settings
from procedures.services.booking import (
    _AFTER_BOOKING,
    BookingConflict,
    BookingRequest,
    after_booking_register,
    appointment_book,
)
from tests.factories import RoomFactory
from tests.scheduling_fixtures import at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds; only reached when something is wrongly blocked


@pytest.fixture(autouse=True)
def settings_row(db):
    """The clinic's safety settings exist, as they do after the first booking: a booking that had to create
    the row would make the next one wait for it."""
    safety_settings()


def book(clinic, *, patient, start, physician="lee", actor=None, **kwargs) -> Appointment:
    return appointment_book(
        request=BookingRequest(
            patient=clinic["patients"][patient],
            procedure_type=clinic["tfesi"],
            physician=clinic[physician],
            start=start,
            **kwargs,
        ),
        actor=actor,
    )


@contextmanager
def held_in_flight(clinic, *, patient, **kwargs):
    """Start booking for `patient` in a thread and hold it inside its hooks: its row is inserted, not
    committed, and it has not reached the physician's lock. Yields the thread's outcome (filled in once
    released): ("booked", appointment) or ("refused", message)."""
    reached, release = threading.Event(), threading.Event()
    outcome: list = []
    patient_pk = clinic["patients"][patient].pk

    def pause(*, appointment, change):
        if appointment.patient_id == patient_pk:
            reached.set()
            assert release.wait(WAIT), "never released"

    def run():
        close_old_connections()
        try:
            outcome.extend(["booked", book(clinic, patient=patient, **kwargs)])
        except BookingConflict as exc:
            outcome.extend(["refused", str(exc)])
        except BaseException as exc:  # surfaced by the assertion below
            outcome.extend(["error", repr(exc)])
        finally:
            reached.set()
            connection.close()

    after_booking_register(pause)
    thread = threading.Thread(target=run)
    try:
        thread.start()
        assert reached.wait(WAIT) and not outcome, outcome
        yield outcome
    finally:
        release.set()
        thread.join(WAIT)
        _AFTER_BOOKING.remove(pause)
    assert not thread.is_alive()


def in_thread(function):
    """Run `function` in its own thread and connection; returns its result, or fails if it is blocked."""
    result: list = []

    def run():
        close_old_connections()
        try:
            result.append(function())
        except BaseException as exc:
            result.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "blocked by the booking in flight"
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def test_bookings_for_one_physician_do_not_wait_for_each_other(clinic):
    """The second booking's room and bay are taken by the first (in flight, invisible): it takes the next
    free ones rather than queueing, and commits while the first is still at work."""
    monday = clinic["monday"]
    with held_in_flight(clinic, patient=0, start=at(monday, 9)) as first:
        second = in_thread(lambda: book(clinic, patient=1, start=at(monday, 9, 30)))
        assert second.room == clinic["fluoro2"] and second.recovery_bay == clinic["bays"][1]
    assert first[0] == "booked"
    assert first[1].room == clinic["fluoro1"] and first[1].recovery_bay == clinic["bays"][0]
    assert Appointment.objects.filter(physician=clinic["lee"]).count() == 2


def _overbooking_meanwhile(clinic, physician, *, plain_kwargs):
    """Dr Lee at 09:00 (committed); a booking at 09:30 in flight; meanwhile a physician knowingly overbooks
    09:15, overlapping both. Returns the in-flight booking's outcome."""
    monday = clinic["monday"]
    book(clinic, patient=0, start=at(monday, 9))
    RoomFactory(name="Fluoro 3", has_fluoroscopy=True, turnover_minutes=10)
    with held_in_flight(clinic, patient=1, start=at(monday, 9, 30), **plain_kwargs) as plain:
        overbooked = in_thread(
            lambda: book(
                clinic,
                patient=2,
                start=at(monday, 9, 15),
                actor=physician,
                overbook_reason="Short one between",
            )
        )
        assert overbooked.physician_overbooked
    return plain


def test_an_overbooking_committed_meanwhile_is_seen_at_the_final_check(clinic, physician):
    plain = _overbooking_meanwhile(clinic, physician, plain_kwargs={})
    assert plain[0] == "refused"
    assert plain[1].startswith("Dr Lee is already booked") and "09:15–09:45" in plain[1]
    # Refused after its hooks ran: nothing of it is left.
    patient = clinic["patients"][1]
    assert not Appointment.objects.filter(patient=patient).exists()
    assert not HoldPlan.objects.filter(appointment__patient=patient).exists()
    assert not ChecklistItem.objects.filter(appointment__patient=patient).exists()
    assert not Message.objects.filter(patient=patient).exists()


def test_with_a_reason_the_final_check_makes_it_a_knowing_overbooking(clinic, physician):
    plain = _overbooking_meanwhile(
        clinic, physician, plain_kwargs={"actor": physician, "overbook_reason": "Fits in after all"}
    )
    assert plain[0] == "booked"
    appointment = Appointment.objects.get(pk=plain[1].pk)
    assert appointment.physician_overbooked and appointment.overbook_reason == "Fits in after all"


def test_a_booking_for_another_patient_and_physician_is_not_held_up(clinic):
    monday = clinic["monday"]
    with held_in_flight(clinic, patient=0, start=at(monday, 9)) as first:
        other = in_thread(lambda: book(clinic, patient=1, physician="patel", start=at(monday, 9)))
        assert other.room == clinic["fluoro2"]
    assert first[0] == "booked"


def test_a_second_booking_for_the_same_patient_waits_and_then_sees_the_first(clinic):
    """The patient's row is the one lock held from the start: the second booking queues behind the first
    and then says the patient is busy."""
    monday = clinic["monday"]
    outcome: list = []
    with held_in_flight(clinic, patient=0, start=at(monday, 9)) as first:
        waiting = threading.Thread(
            target=lambda: outcome.append(
                _refusal(clinic, patient=0, physician="patel", start=at(monday, 9, 15))
            )
        )
        waiting.start()
        waiting.join(1)
        assert waiting.is_alive()  # queued on the patient's row while the first is in flight
    waiting.join(WAIT)
    assert first[0] == "booked"
    assert outcome and "already has an appointment" in outcome[0]


def _refusal(clinic, **kwargs) -> str:
    close_old_connections()
    try:
        book(clinic, **kwargs)
        return "booked"
    except BookingConflict as exc:
        return str(exc)
    finally:
        connection.close()


def test_a_booking_picked_as_a_deadlock_victim_runs_again(clinic):
    """Two bookings inserting overlapping rows at the same moment each wait, in the exclusion constraint's
    check, for the other; PostgreSQL ends one with a deadlock. That booking runs again from the start (where
    its fresh read finds the time taken and says so) instead of failing with a server error. Here the two
    transactions lock two patients in opposite orders, a real deadlock PostgreSQL resolves the same way."""
    from procedures.models import Patient
    from procedures.services.booking import _retrying

    first, second = (clinic["patients"][i].pk for i in (0, 1))
    both_hold_one = threading.Barrier(2)
    runs = {"a": 0, "b": 0}
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def attempt_for(name: str, mine: int, theirs: int):
        def attempt():
            runs[name] += 1
            Patient.objects.select_for_update().filter(pk=mine).values_list("pk").get()
            if runs[name] == 1:
                both_hold_one.wait(timeout=WAIT)
            Patient.objects.select_for_update().filter(pk=theirs).values_list("pk").get()
            return name

        return attempt

    def run(name: str, mine: int, theirs: int) -> None:
        try:
            results[name] = _retrying(attempt_for(name, mine, theirs))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [
        threading.Thread(target=run, args=("a", first, second)),
        threading.Thread(target=run, args=("b", second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not errors, errors
    assert results == {"a": "a", "b": "b"}
    assert sorted(runs.values()) == [1, 2]  # the victim ran again, once
