"""How the services' refusals reach API callers: nothing here needs a custom exception handler.

BookingConflict and TransitionError become 409 {"detail": message}; BookingInvalid becomes 400
{field: [message]}, naming the field the message is about; Http404 stays DRF's 404 {"detail": message}.
MedicationError, SafetyError and DayOfError carry only a message: `safety_errors` and `dayof_errors` map
each of the services' message constants to a status on purpose (see MEDICATION_ERRORS, SAFETY_ERRORS and
DAYOF_ERRORS below)."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError

from procedures.models import Appointment, HoldPlan, ProcedureRecord
from procedures.services import booking
from procedures.services import dayof as dayof_services
from procedures.services import medications as medication_services
from procedures.services import safety as safety_services
from procedures.services.appointments import TransitionError


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current schedule; nothing was changed."
    default_code = "conflict"


@contextmanager
def service_errors() -> Iterator[None]:
    """Translate the services' exceptions into API errors; the services have already changed nothing."""
    try:
        yield
    except (booking.BookingConflict, TransitionError) as exc:
        raise Conflict(str(exc)) from exc
    except booking.BookingInvalid as exc:
        raise ValidationError({exc.field: [str(exc)]}) from exc


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A service message template ("{drug} is already on the list.") as a pattern matching its messages."""
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile(".+?".join(re.escape(part) for part in parts), re.DOTALL)


# (message template, HTTP status, field). Where the message is about one input field, the 400 names it
# (like BookingInvalid); otherwise the body is {"detail": message}. A message not listed is a 400.
_VALIDATION = status.HTTP_400_BAD_REQUEST
_FORBIDDEN = status.HTTP_403_FORBIDDEN
_NOT_FOUND = status.HTTP_404_NOT_FOUND
_CONFLICT = status.HTTP_409_CONFLICT

MEDICATION_ERRORS: list[tuple[str, int, str]] = [
    (medication_services.INDICATION_NEEDED, _VALIDATION, "indication"),
    (medication_services.DOSE_INTENT_NEEDED, _VALIDATION, "dose_intent"),
    (medication_services.ALREADY_ON_LIST, _CONFLICT, ""),
    (medication_services.ALREADY_STOPPED, _CONFLICT, ""),
]

SAFETY_ERRORS: list[tuple[str, int, str]] = [
    # The caller may not decide this; the same request from a physician succeeds.
    (safety_services.NOT_A_PHYSICIAN, _FORBIDDEN, ""),
    (safety_services.INR_NO_LIMIT, _FORBIDDEN, ""),
    # The URL names a checklist item this appointment does not have.
    (safety_services.NO_SUCH_ITEM, _NOT_FOUND, ""),
    # Well-formed, but the appointment or plan is not in a state that allows it.
    (safety_services.CLOSED_APPOINTMENT, _CONFLICT, ""),
    (safety_services.UNSET_LINES, _CONFLICT, ""),
    (safety_services.NOTHING_TO_OVERRIDE, _CONFLICT, ""),
    (safety_services.NO_CLEARANCE_NEEDED, _CONFLICT, ""),
    # Bad input: REASON_NEEDED, HOLD_HOURS_RANGE, INR_NEEDS_VALUE, INR_ABOVE_LIMIT, GLUCOSE_NEEDS_VALUE,
    # an unknown clearance answer, a derived checklist item ticked by hand — the default below.
]

NO_PLAN = "This appointment has no hold plan yet."

# The day of the procedure. A refusal about the appointment's state (not checked in yet, already in
# recovery, every bay full, nothing charted yet) is 409: the same request may succeed later. Everything
# else is bad input, a 400 {"detail": message}: a time in the future or before another one, a pain score
# out of range, a date of birth that does not match, a discharge criterion not met, an early discharge
# without a reason.
DAYOF_ERRORS: list[tuple[str, int, str]] = [
    (dayof_services.NOT_STATUS, _CONFLICT, ""),
    (dayof_services.NO_FREE_BAY, _CONFLICT, ""),
    (dayof_services.NO_VITALS, _CONFLICT, ""),
    (dayof_services.NOT_DIAGNOSTIC, _CONFLICT, ""),
    (dayof_services.DIARY_BEFORE_END, _CONFLICT, ""),
]
NO_RECORD = "This appointment has no procedure record: the procedure was never started here."


def _raise_mapped(message: str, table: list[tuple[str, int, str]]) -> None:
    code, field = next(
        ((code, field) for template, code, field in table if _pattern(template).fullmatch(message)),
        (_VALIDATION, ""),
    )
    if code == _FORBIDDEN:
        raise PermissionDenied(message)
    if code == _NOT_FOUND:
        raise NotFound(message)
    if code == _CONFLICT:
        raise Conflict(message)
    raise ValidationError({field: [message]} if field else {"detail": message})


@contextmanager
def safety_errors() -> Iterator[None]:
    """Translate MedicationError and SafetyError (and a missing hold plan) into API errors. The services
    run in a transaction, so a refusal has changed nothing."""
    try:
        yield
    except medication_services.MedicationError as exc:
        _raise_mapped(str(exc), MEDICATION_ERRORS)
    except safety_services.SafetyError as exc:
        _raise_mapped(str(exc), SAFETY_ERRORS)
    except HoldPlan.DoesNotExist as exc:
        raise Conflict(NO_PLAN) from exc


@contextmanager
def dayof_errors() -> Iterator[None]:
    """Translate DayOfError (and the checklist gate's TransitionError) into API errors. The day-of services
    run in a transaction, so a refusal has changed nothing."""
    try:
        yield
    except dayof_services.DayOfError as exc:
        _raise_mapped(str(exc), DAYOF_ERRORS)
    except TransitionError as exc:
        raise Conflict(str(exc)) from exc
    except ProcedureRecord.DoesNotExist as exc:
        raise Conflict(NO_RECORD) from exc
    except Appointment.DoesNotExist as exc:
        raise NotFound("No appointment with that id.") from exc
