from django.db import models


class ProcedureRoom(models.Model):
    name = models.CharField(max_length=60, unique=True)
    has_fluoroscopy = models.BooleanField(default=False)
    has_ultrasound = models.BooleanField(default=False)
    turnover_minutes = models.PositiveSmallIntegerField(
        default=10,
        help_text="Cleaning and set-up after each procedure before the next may start (clinic setting).",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(turnover_minutes__lte=120), name="room_turnover_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def fits(self, imaging: str) -> bool:
        """Whether a procedure needing this imaging can be done here (no imaging fits any room)."""
        return {"fluoroscopy": self.has_fluoroscopy, "ultrasound": self.has_ultrasound}.get(imaging, True)

    @property
    def imaging_label(self) -> str:
        kinds = [
            k
            for k, present in (("fluoroscopy", self.has_fluoroscopy), ("ultrasound", self.has_ultrasound))
            if present
        ]
        return " + ".join(kinds) or "no imaging"


class RecoveryBay(models.Model):
    name = models.CharField(max_length=60, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
