"""Reads for the waitlist page: who is waiting for an earlier date, and which freed slots are on offer."""

from django.db.models import QuerySet

from procedures.models import OfferStatus, WaitlistEntry, WaitlistOffer, WaitlistStatus


def waitlist_waiting_entries() -> QuerySet[WaitlistEntry]:
    """Open requests, longest waiting first (the order offers are made in)."""
    return (
        WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING)
        .select_related("patient", "procedure_type", "physician", "appointment", "appointment__physician")
        .order_by("created_at", "id")
    )


def waitlist_open_offers() -> QuerySet[WaitlistOffer]:
    """Freed slots offered and not yet answered, soonest first."""
    return (
        WaitlistOffer.objects.filter(status=OfferStatus.OPEN)
        .select_related(
            "entry__patient",
            "entry__procedure_type",
            "entry__appointment",
            "physician",
            "room",
            "freed_by",
        )
        .order_by("start", "offered_at", "id")
    )


def waitlist_entries_for_appointment(*, appointment_id: int) -> QuerySet[WaitlistEntry]:
    return (
        WaitlistEntry.objects.filter(appointment_id=appointment_id)
        .select_related("procedure_type", "physician")
        .order_by("-created_at", "-id")
    )


def waitlist_offers_freed_by(*, appointment_id: int) -> QuerySet[WaitlistOffer]:
    """Offers this appointment's cancellation created, whatever became of them."""
    return (
        WaitlistOffer.objects.filter(freed_by_id=appointment_id)
        .select_related("entry__patient", "physician")
        .order_by("offered_at", "id")
    )
