from django.db import models


class Heartbeat(models.Model):
    """Last time a background process proved it was alive (the worker records one every 30 s via beat)."""

    name = models.CharField(max_length=40, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
