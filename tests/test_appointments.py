"""The appointment lifecycle: allowed moves succeed and are recorded; every other move is refused
and changes nothing."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from procedures.models import AppointmentStatus, AppointmentTransition, SafetyOverride
from procedures.services.appointments import (
    ALLOWED_TRANSITIONS,
    NO_SHOW_TOO_EARLY,
    TransitionError,
    appointment_transition,
)
from procedures.services.safety import safety_override
from tests.factories import AppointmentFactory

S = AppointmentStatus
ALL_PAIRS = [(a, b) for a in S.values for b in S.values if a != b]


def _at_status(status: str, **kwargs):
    if status == S.CANCELLED:
        kwargs.setdefault("cancel_reason", "Patient called")
    return AppointmentFactory(status=status, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_every_status_pair_is_allowed_or_refused_as_the_table_says(current, target, frontdesk, physician):
    start = timezone.now() - timedelta(hours=1)  # past start, so no-show is timely
    appt = _at_status(current, start=start)
    allowed = target in ALLOWED_TRANSITIONS[current]
    if allowed and target == S.IN_PROCEDURE:
        # The lifecycle is under test here, not the checklist gate (tests/test_safety.py covers it).
        safety_override(
            appointment_id=appt.pk,
            scope=SafetyOverride.Scope.CHECKLIST,
            actor=physician,
            reason="Lifecycle test",
        )
    if allowed:
        result = appointment_transition(
            appointment_id=appt.pk, to_status=target, actor=frontdesk, reason="Patient asked"
        )
        assert result.status == target
        transition = AppointmentTransition.objects.get(appointment=appt)
        assert (transition.from_status, transition.to_status, transition.by) == (current, target, frontdesk)
    else:
        with pytest.raises(TransitionError) as excinfo:
            appointment_transition(appointment_id=appt.pk, to_status=target, actor=frontdesk, reason="x")
        assert S(current).label.lower() in str(excinfo.value)
        appt.refresh_from_db()
        assert appt.status == current
        assert not AppointmentTransition.objects.filter(appointment=appt).exists()


@pytest.mark.django_db
def test_it_walks_the_whole_day_of_a_procedure(nurse, physician):
    appt = _at_status(S.SCHEDULED)
    for status in (S.CONFIRMED, S.CHECKED_IN, S.IN_PROCEDURE, S.IN_RECOVERY, S.DISCHARGED):
        if status == S.IN_PROCEDURE:
            safety_override(
                appointment_id=appt.pk,
                scope=SafetyOverride.Scope.CHECKLIST,
                actor=physician,
                reason="Lifecycle test",
            )
        appointment_transition(appointment_id=appt.pk, to_status=status, actor=nurse)
    appt.refresh_from_db()
    assert appt.status == S.DISCHARGED
    assert list(appt.transitions.values_list("to_status", flat=True)) == [
        S.CONFIRMED,
        S.CHECKED_IN,
        S.IN_PROCEDURE,
        S.IN_RECOVERY,
        S.DISCHARGED,
    ]


@pytest.mark.django_db
def test_cancel_needs_a_reason_and_keeps_it(frontdesk):
    appt = _at_status(S.SCHEDULED)
    with pytest.raises(TransitionError, match="reason"):
        appointment_transition(appointment_id=appt.pk, to_status=S.CANCELLED, actor=frontdesk, reason="  ")
    appointment_transition(
        appointment_id=appt.pk, to_status=S.CANCELLED, actor=frontdesk, reason=" Patient has flu "
    )
    appt.refresh_from_db()
    assert (appt.status, appt.cancel_reason) == (S.CANCELLED, "Patient has flu")


@pytest.mark.django_db
def test_no_show_is_refused_before_the_start_time(frontdesk):
    appt = _at_status(S.SCHEDULED, start=timezone.now() + timedelta(hours=2))
    with pytest.raises(TransitionError) as excinfo:
        appointment_transition(appointment_id=appt.pk, to_status=S.NO_SHOW, actor=frontdesk)
    assert str(excinfo.value) == NO_SHOW_TOO_EARLY


@pytest.mark.django_db
def test_database_refuses_a_cancelled_row_without_reason():
    appt = _at_status(S.SCHEDULED)
    appt.status = S.CANCELLED
    with pytest.raises(IntegrityError), transaction.atomic():
        appt.save()


@pytest.mark.django_db
def test_database_refuses_an_unknown_status():
    appt = _at_status(S.SCHEDULED)
    appt.status = "teleported"
    with pytest.raises(IntegrityError), transaction.atomic():
        appt.save()


@pytest.mark.django_db
def test_database_refuses_an_end_before_the_start():
    appt = _at_status(S.SCHEDULED)
    appt.end = appt.start - timedelta(minutes=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        appt.save()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_check_in_and_no_show_pressed_at_once_leave_exactly_one_outcome(frontdesk, nurse):
    """The patient walks in as the front desk marks a no-show: the row lock serialises the two changes,
    the second sees the first and is refused, and the history holds exactly one transition."""
    appt = _at_status(S.CONFIRMED, start=timezone.now() - timedelta(minutes=20))
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def press(name, to_status, actor):
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            appointment_transition(appointment_id=appt.pk, to_status=to_status, actor=actor)
            outcomes[name] = "ok"
        except TransitionError as exc:
            outcomes[name] = str(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=press, args=("checkin", S.CHECKED_IN, nurse)),
        threading.Thread(target=press, args=("noshow", S.NO_SHOW, frontdesk)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()).count("ok") == 1, outcomes
    appt.refresh_from_db()
    transitions = list(appt.transitions.all())
    assert len(transitions) == 1
    assert appt.status == transitions[0].to_status
    loser = "noshow" if outcomes["checkin"] == "ok" else "checkin"
    assert "cannot become" in outcomes[loser]
