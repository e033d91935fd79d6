from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models.followup import FollowUp
from procedures.models.patients import Patient
from procedures.models.scheduling import Appointment


class CheckInResponse(models.Model):
    """What a patient answered from a check-in link: one answer per follow-up point (the link is single-use)."""

    followup = models.OneToOneField(FollowUp, on_delete=models.CASCADE, related_name="response")
    pain_now = models.PositiveSmallIntegerField()
    percent_relief = models.PositiveSmallIntegerField()
    activity_interference = models.PositiveSmallIntegerField(
        help_text="How much pain limits daily activity, 0 (not at all) to 10 (completely)."
    )
    side_effects = models.JSONField(default=list, blank=True, help_text="Codes from rules/patient_text.py.")
    side_effects_other = models.CharField(max_length=500, blank=True)
    red_flags = models.JSONField(default=list, blank=True, help_text="Codes from rules/patient_text.py.")
    has_red_flag = models.BooleanField(default=False)
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.CheckConstraint(condition=Q(pain_now__lte=10), name="checkin_pain_0_10"),
            models.CheckConstraint(condition=Q(percent_relief__lte=100), name="checkin_relief_0_100"),
            models.CheckConstraint(
                condition=Q(activity_interference__lte=10), name="checkin_interference_0_10"
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.followup.label}: pain {self.pain_now}/10, relief {self.percent_relief} %"


class CallReason(models.TextChoices):
    RED_FLAG = "red_flag", "Red flag reported"
    MISSED_CHECK_IN = "missed_check_in", "Missed check-in"
    RESCHEDULE_REQUEST = "reschedule", "Asked to reschedule"
    HOLD_NOT_SENT = "hold_not_sent", "Hold reminder not sent"
    NOT_REACHABLE = "not_reachable", "Messages could not be sent"


class CallListItem(models.Model):
    """A patient the clinic must phone. Red flags are urgent and come first; resolving needs a note."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="call_items")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="call_items"
    )
    followup = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, null=True, blank=True, related_name="call_items"
    )
    reason = models.CharField(max_length=16, choices=CallReason)
    urgent = models.BooleanField(default=False)
    detail = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-urgent", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | ~Q(outcome=""), name="call_resolved_has_outcome"
            ),
            # One open item per reason and follow-up point (or appointment): a retried task adds nothing.
            models.UniqueConstraint(
                fields=["reason", "followup"],
                condition=Q(resolved_at__isnull=True, followup__isnull=False),
                name="call_open_once_per_followup",
            ),
            models.UniqueConstraint(
                fields=["reason", "appointment"],
                condition=Q(resolved_at__isnull=True, followup__isnull=True, appointment__isnull=False),
                name="call_open_once_per_appointment",
            ),
        ]
        indexes = [
            # The call list reads open items.
            models.Index(fields=["created_at"], name="call_open_idx", condition=Q(resolved_at__isnull=True)),
            # Every page's menu counts the open urgent ones (procedures/context_processors.py).
            models.Index(
                fields=["created_at"],
                name="call_urgent_open_idx",
                condition=Q(resolved_at__isnull=True, urgent=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.patient}"
