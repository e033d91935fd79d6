from django.conf import settings
from django.db import models


class PhysicianProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="physician_profile"
    )
    display_name = models.CharField(max_length=100, help_text="As patients and staff see it, e.g. “Dr Lee”.")
    npi = models.CharField("NPI", max_length=10, blank=True)
    calendar_colour = models.CharField(max_length=7, default="#0d6efd")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name
