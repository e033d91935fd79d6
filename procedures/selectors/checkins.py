"""Reads for the staff call list."""

from django.db.models import QuerySet

from procedures.models import CallListItem


def call_list() -> QuerySet[CallListItem]:
    """Open items, urgent (red flags) first, oldest first within each."""
    return (
        CallListItem.objects.filter(resolved_at__isnull=True)
        .select_related("patient", "appointment__procedure_type", "followup")
        .order_by("-urgent", "created_at", "id")
    )


def urgent_call_count() -> int:
    return CallListItem.objects.filter(resolved_at__isnull=True, urgent=True).count()
