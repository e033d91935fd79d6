"""The appointment lifecycle: every status change goes through appointment_transition, nowhere else."""

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from procedures.models import Appointment, AppointmentStatus, AppointmentTransition

S = AppointmentStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    # Back to scheduled when the time moves: the patient confirms the new time.
    S.CONFIRMED: frozenset({S.SCHEDULED, S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    # A checked-in patient can still be sent home (fever, missed hold): that is a cancellation with a reason.
    S.CHECKED_IN: frozenset({S.IN_PROCEDURE, S.CANCELLED}),
    S.IN_PROCEDURE: frozenset({S.IN_RECOVERY}),
    S.IN_RECOVERY: frozenset({S.DISCHARGED}),
    S.DISCHARGED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}

TRANSITION_NOT_ALLOWED = "An appointment that is {current} cannot become {target}."
REASON_REQUIRED = "Give a reason to {action} this appointment."
NO_SHOW_TOO_EARLY = "A patient can be marked as a no-show only after the appointment's start time."


class TransitionError(Exception):
    """A status change the lifecycle refuses; the message is meant for the person who asked."""


# Checks that later capabilities add before a status is entered (e.g. the pre-procedure checklist
# gate before "in procedure"). Each raises TransitionError to refuse.
TransitionGuard = Callable[..., None]
_GUARDS: dict[str, list[TransitionGuard]] = {}


# Hooks that follow an applied status change (the message plan), in the same transaction.
TransitionHook = Callable[..., None]
_APPLIED: list[TransitionHook] = []


def transition_applied_register(hook: TransitionHook) -> None:
    if hook not in _APPLIED:
        _APPLIED.append(hook)


def transition_guard_register(*, to_status: str, guard: TransitionGuard) -> None:
    guards = _GUARDS.setdefault(to_status, [])
    if guard not in guards:
        guards.append(guard)


def _guard_common(*, appointment: Appointment, to_status: str, reason: str, at: datetime) -> None:
    if to_status not in ALLOWED_TRANSITIONS[appointment.status]:
        raise TransitionError(
            TRANSITION_NOT_ALLOWED.format(
                current=S(appointment.status).label.lower(), target=S(to_status).label.lower()
            )
        )
    if to_status == S.CANCELLED and not reason.strip():
        raise TransitionError(REASON_REQUIRED.format(action="cancel"))
    if to_status == S.NO_SHOW and at < appointment.start:
        raise TransitionError(NO_SHOW_TOO_EARLY)


@transaction.atomic
def appointment_transition(
    *,
    appointment_id: int,
    to_status: str,
    actor: AbstractBaseUser | None,
    reason: str = "",
    at: datetime | None = None,
) -> Appointment:
    """Move an appointment to to_status, or raise TransitionError and change nothing.

    The row is locked for the change, so two staff pressing buttons at once are applied one after
    the other and the second sees the first's result."""
    at = at or timezone.now()
    appointment = Appointment.objects.select_for_update().get(pk=appointment_id)
    _guard_common(appointment=appointment, to_status=to_status, reason=reason, at=at)
    for guard in _GUARDS.get(to_status, []):
        guard(appointment=appointment, actor=actor, reason=reason, at=at)

    AppointmentTransition.objects.create(
        appointment=appointment,
        from_status=appointment.status,
        to_status=to_status,
        at=at,
        by=actor if actor is not None and actor.is_authenticated else None,
        reason=reason.strip(),
    )
    appointment.status = to_status
    appointment.status_changed_at = at
    update_fields = ["status", "status_changed_at", "updated_at"]
    if to_status == S.CANCELLED:
        appointment.cancel_reason = reason.strip()
        update_fields.append("cancel_reason")
    appointment.save(update_fields=update_fields)
    for hook in _APPLIED:
        hook(appointment=appointment, to_status=to_status)
    return appointment


def appointment_allowed_next(*, appointment: Appointment) -> list[str]:
    return sorted(ALLOWED_TRANSITIONS[appointment.status])
