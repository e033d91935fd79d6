from django.db import models
from django.db.models import F, Q

from procedures.models.staff import PhysicianProfile


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A physician's weekly template, in the clinic's local time. Several rows a day make a split day."""

    physician = models.ForeignKey(PhysicianProfile, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["physician", "weekday", "start_time"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(start_time__lt=F("end_time")), name="hours_start_before_end"),
            models.CheckConstraint(
                condition=Q(weekday__gte=0) & Q(weekday__lte=6), name="hours_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.physician} {self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class ExceptionKind(models.TextChoices):
    LEAVE = "leave", "Physician away"
    CLOSURE = "closure", "Clinic closed"


class ScheduleException(models.Model):
    """Time nobody can be booked: a physician's leave, or (without a physician) a clinic closure."""

    physician = models.ForeignKey(
        PhysicianProfile,
        on_delete=models.CASCADE,
        related_name="schedule_exceptions",
        null=True,
        blank=True,
        help_text="Leave empty for a clinic-wide closure.",
    )
    kind = models.CharField(max_length=10, choices=ExceptionKind, default=ExceptionKind.LEAVE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="exception_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="exception_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(kind="closure", physician__isnull=True)
                | Q(kind="leave", physician__isnull=False),
                name="exception_kind_matches_physician",
            ),
        ]

    def __str__(self) -> str:
        who = self.physician or "Clinic"
        return (
            f"{who}: {self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"
        )
