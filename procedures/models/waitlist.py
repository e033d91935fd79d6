from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models.catalogue import ProcedureType
from procedures.models.facility import ProcedureRoom
from procedures.models.patients import Patient
from procedures.models.scheduling import Appointment
from procedures.models.staff import PhysicianProfile


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    BOOKED = "booked", "Moved to an earlier slot"
    REMOVED = "removed", "Removed"


class WaitlistEntry(models.Model):
    """A patient who wants an earlier date for a procedure (usually one already booked later)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist_entries")
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.PROTECT, related_name="+")
    physician = models.ForeignKey(
        PhysicianProfile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Leave empty if any physician will do.",
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        help_text="The later booking this patient would move from.",
    )
    notes = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=WaitlistStatus, default=WaitlistStatus.WAITING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One open request per patient and procedure type.
            models.UniqueConstraint(
                fields=["patient", "procedure_type"],
                condition=Q(status="waiting"),
                name="waitlist_one_open_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient.full_name} — {self.procedure_type}"


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    TAKEN = "taken", "Slot taken by someone else"


class WaitlistOffer(models.Model):
    """A freed slot offered to a waiting patient who can still be ready by then."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    freed_by = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="freed_offers")
    start = models.DateTimeField()
    physician = models.ForeignKey(PhysicianProfile, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(ProcedureRoom, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=OfferStatus, default=OfferStatus.OPEN)
    offered_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["start", "offered_at"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "freed_by"], name="offer_once_per_freed_slot"),
        ]

    def __str__(self) -> str:
        return f"Offer {self.start:%Y-%m-%d %H:%M} to {self.entry.patient.full_name}"
