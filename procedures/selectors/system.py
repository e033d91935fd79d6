from datetime import datetime

from procedures.models import Heartbeat


def heartbeat_last(*, name: str) -> datetime | None:
    return Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
