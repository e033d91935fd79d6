import re
from datetime import date, datetime

from django.db.models import Q, QuerySet

from procedures.models import Patient

_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")


def _parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    return None


def patient_search(*, query: str, limit: int = 50) -> QuerySet[Patient]:
    """Patients matching a name (either order, prefix, any case), an MRN, or a date of birth."""
    query = query.strip()
    if not query:
        return Patient.objects.none()
    dob = _parse_date(query)
    if dob is not None:
        return Patient.objects.filter(date_of_birth=dob)[:limit]
    words = [w for w in re.split(r"[\s,]+", query) if w]
    condition = Q(mrn__iexact=query)
    name_match = Q()
    for word in words:
        name_match &= Q(last_name__istartswith=word) | Q(first_name__istartswith=word)
    return Patient.objects.filter(condition | name_match)[:limit]
