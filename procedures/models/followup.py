from django.db import models
from django.db.models import Q

from procedures.models.scheduling import Appointment


class FollowUpKind(models.TextChoices):
    DIARY = "diary", "Post-block pain diary"
    CHECK_IN = "check_in", "Check-in on pain and relief"


class FollowUpStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENT = "sent", "Sent"
    ANSWERED = "answered", "Answered"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


class FollowUp(models.Model):
    """One point of the follow-up plan that discharge starts: when the patient is asked how they are.
    The reminders capability sends them (a sweep over planned rows that are due)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="followups")
    kind = models.CharField(max_length=10, choices=FollowUpKind)
    label = models.CharField(max_length=40, help_text="e.g. 2 hours, Day 1, Week 2, Month 3")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=FollowUpStatus, default=FollowUpStatus.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind", "label"], name="followup_once_per_point"),
        ]
        indexes = [
            # The reminders sweep reads planned follow-ups by due time.
            models.Index(fields=["due_at"], name="followup_planned_due_idx", condition=Q(status="planned")),
            # The outcomes dashboard counts follow-ups sent, due and not answered yet.
            models.Index(fields=["due_at"], name="followup_sent_due_idx", condition=Q(status="sent")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label} for appointment {self.appointment_id}"
