"""How the scheduling services' refusals reach API callers: nothing here needs a custom exception handler.

BookingConflict and TransitionError become 409 {"detail": message}; BookingInvalid becomes 400
{field: [message]}, naming the field the message is about; Http404 stays DRF's 404 {"detail": message}."""

from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from procedures.services import booking
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
