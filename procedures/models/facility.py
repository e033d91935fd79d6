from django.db import models


class ProcedureRoom(models.Model):
    name = models.CharField(max_length=60, unique=True)
    has_fluoroscopy = models.BooleanField(default=False)
    has_ultrasound = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

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
