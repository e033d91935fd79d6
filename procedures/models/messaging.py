from django.db import models
from django.db.models import F, Q

from procedures.models.followup import FollowUp
from procedures.models.patients import Patient
from procedures.models.scheduling import Appointment


class MessageKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Booking confirmation"
    RESCHEDULED = "rescheduled", "New time after a move"
    HOLD = "hold", "Medication hold reminder"
    CONFIRM_REQUEST = "confirm_request", "Please confirm (days before)"
    DAY_BEFORE = "day_before", "Day-before instructions"
    AFTER_CARE = "after_care", "After-care at discharge"
    CHECK_IN = "check_in", "Check-in on pain and relief"
    NUDGE = "nudge", "Check-in reminder"
    CANCELLATION = "cancellation", "Cancellation notice"
    STAFF_ALERT = "staff_alert", "Urgent alert to staff"


class Channel(models.TextChoices):
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"


class MessageStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"
    CANCELLED = "cancelled", "Cancelled"


# What has reached (or may have reached) the patient: never sent again.
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)


class Message(models.Model):
    """One message to a patient (or, for a red flag, to staff about a patient), from plan to delivery.

    A row is planned when the appointment's message plan is computed and is sent by the reminders sweep
    when due. `plan_key` names the row's place in the plan (e.g. ``hold:12``), so recomputing the plan
    updates or cancels rows instead of adding duplicates."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="messages")
    # No index of its own: message_once_per_plan_point and message_appt_due_idx both start with it, and
    # every index is one more write for each message the sweep sends.
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    followup = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    kind = models.CharField(max_length=16, choices=MessageKind)
    plan_key = models.CharField(max_length=80)
    channel = models.CharField(max_length=8, choices=Channel, blank=True, help_text="Chosen when sent.")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=MessageStatus, default=MessageStatus.PLANNED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The sweep's compare-and-set claim: a worker owns a row while claim_token is its own; a claim older
    # than the lease is a worker that died mid-send.
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, help_text="What was sent (text part), kept for the front desk.")
    message_id = models.CharField("email Message-ID", max_length=200, blank=True)
    provider_id = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "plan_key"], name="message_once_per_plan_point"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
            models.CheckConstraint(
                condition=~Q(status__in=SENT_STATUSES) | Q(sent_at__isnull=False, channel__in=Channel.values),
                name="message_sent_has_time_and_channel",
            ),
            models.CheckConstraint(
                condition=~Q(status=MessageStatus.SENDING)
                | Q(claim_token__isnull=False, claimed_at__isnull=False),
                name="message_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True)
                | Q(sent_at__isnull=False, delivered_at__gte=F("sent_at")),
                name="message_delivered_after_sent",
            ),
        ]
        indexes = [
            # The reminders sweep reads planned rows by due time (services/messaging.messages_due).
            models.Index(fields=["due_at"], name="message_planned_due_idx", condition=Q(status="planned")),
            # ...and finds claims left behind by a worker that died mid-send.
            models.Index(
                fields=["claimed_at"], name="message_sending_claim_idx", condition=Q(status="sending")
            ),
            # The appointment page and /api/v1/messages/?appointment= list one appointment's messages.
            models.Index(fields=["appointment", "due_at"], name="message_appt_due_idx"),
            # Provider status callbacks find their row by the provider's id.
            models.Index(fields=["provider_id"], name="message_provider_idx", condition=~Q(provider_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for appointment {self.appointment_id} ({self.status})"
