from django.conf import settings
from django.db import models
from django.db.models import F, Q

from procedures.models.catalogue import ProcedureType
from procedures.models.facility import ProcedureRoom, RecoveryBay
from procedures.models.patients import Patient
from procedures.models.staff import PhysicianProfile


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    IN_PROCEDURE = "in_procedure", "In procedure"
    IN_RECOVERY = "in_recovery", "In recovery"
    DISCHARGED = "discharged", "Discharged"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# Statuses in which an appointment still holds its physician, room, bay and patient time.
ACTIVE_STATUSES = (
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.IN_PROCEDURE,
    AppointmentStatus.IN_RECOVERY,
)
# Only a booking whose day has not started can move.
RESCHEDULABLE_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)
CLOSED_STATUSES = (AppointmentStatus.DISCHARGED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BILATERAL = "bilateral", "Bilateral"
    MIDLINE = "midline", "Midline / not applicable"


class Appointment(models.Model):
    """One procedure booking. Time ranges, all UTC:
    physician busy [start, end); room busy [start, room_until) (end + turnover);
    recovery bay [end, monitoring_until); patient [start, monitoring_until)."""

    # Patient, physician and room have no index of their own: (patient, start), (physician, start) and
    # (room, start) below serve every lookup by them, and each index is a write per booking and one more
    # plan the planner weighs on every read of this table.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.PROTECT, related_name="appointments")
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    room = models.ForeignKey(
        ProcedureRoom, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    recovery_bay = models.ForeignKey(
        RecoveryBay, on_delete=models.PROTECT, related_name="appointments", null=True, blank=True
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    room_until = models.DateTimeField()
    monitoring_until = models.DateTimeField()
    sedation_planned = models.BooleanField(default=False)
    side = models.CharField(max_length=10, choices=Side, default=Side.MIDLINE)
    levels = models.CharField(max_length=60, blank=True, help_text="e.g. L4-L5, L5-S1")
    prior_surgery_at_site = models.BooleanField(
        "previous surgery or radiation at the site",
        default=False,
        help_text="Raises the bleeding-risk class.",
    )
    # For diagnostic blocks: the best relief in the post-block diary (feeds RFA eligibility).
    block_peak_relief_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)

    # A physician may knowingly double-book themself (never a room, a bay or a patient): the reason is kept.
    physician_overbooked = models.BooleanField(default=False)
    overbook_reason = models.CharField(max_length=300, blank=True)

    status = models.CharField(max_length=16, choices=AppointmentStatus, default=AppointmentStatus.SCHEDULED)
    status_changed_at = models.DateTimeField()
    cancel_reason = models.CharField(max_length=300, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        permissions = [
            ("overbook_physician", "Can double-book a physician on purpose, with a reason"),
        ]
        indexes = [
            # Day views and slot search read appointments by time, per physician and per room.
            models.Index(fields=["start"], name="appt_start_idx"),
            models.Index(fields=["physician", "start"], name="appt_physician_start_idx"),
            models.Index(fields=["room", "start"], name="appt_room_start_idx"),
            models.Index(fields=["patient", "start"], name="appt_patient_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="appt_start_before_end"),
            models.CheckConstraint(condition=Q(room_until__gte=F("end")), name="appt_room_until_after_end"),
            models.CheckConstraint(
                condition=Q(monitoring_until__gt=F("end")), name="appt_monitoring_after_end"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values), name="appt_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=AppointmentStatus.CANCELLED) | ~Q(cancel_reason=""),
                name="appt_cancel_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(block_peak_relief_percent__isnull=True) | Q(block_peak_relief_percent__lte=100),
                name="appt_block_relief_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(physician_overbooked=False) | ~Q(overbook_reason=""),
                name="appt_overbook_has_reason",
            ),
            # No-overlap rules live in the database too, as PostgreSQL exclusion constraints: see
            # migration 0003_no_double_booking (physician, room, recovery bay, patient).
        ]

    def __str__(self) -> str:
        return f"{self.procedure_type} for {self.patient.full_name} at {self.start:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class AppointmentTransition(models.Model):
    """Every status change, with who made it, when and why: the appointment's lifecycle history."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=AppointmentStatus)
    to_status = models.CharField(max_length=16, choices=AppointmentStatus)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"
