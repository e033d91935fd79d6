from django.db import transaction

from procedures.models import ProcedureType
from procedures.rules.catalogue import (
    CATALOGUE,
    DIAGNOSTIC_DIARY_MINUTES,
    MONITORING_MINUTES_DEFAULT,
    MONITORING_MINUTES_SEDATED_DEFAULT,
    THERAPEUTIC_FOLLOWUP_DAYS,
)


@transaction.atomic
def catalogue_seed() -> int:
    """Add the starting procedure types that are missing (by name); never overwrite a clinic's edits.
    Returns how many were added."""
    added = 0
    for row in CATALOGUE:
        defaults = {
            "monitoring_minutes": MONITORING_MINUTES_DEFAULT,
            "monitoring_minutes_sedated": MONITORING_MINUTES_SEDATED_DEFAULT,
            "diary_timepoints_minutes": DIAGNOSTIC_DIARY_MINUTES if row["purpose"] == "diagnostic" else [],
            "followup_days": THERAPEUTIC_FOLLOWUP_DAYS if row["purpose"] == "therapeutic" else [],
            **{k: v for k, v in row.items() if k != "name"},
        }
        _, created = ProcedureType.objects.get_or_create(name=row["name"], defaults=defaults)
        added += int(created)
    return added
