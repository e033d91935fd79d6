import secrets

from django.conf import settings
from django.db import models


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class PhysicianProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="physician_profile"
    )
    display_name = models.CharField(max_length=100, help_text="As patients and staff see it, e.g. “Dr Lee”.")
    npi = models.CharField("NPI", max_length=10, blank=True)
    calendar_colour = models.CharField(max_length=7, default="#0d6efd")
    active = models.BooleanField(default=True)
    # The private iCal feed URL carries this token; revoking it means replacing it.
    calendar_feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name
