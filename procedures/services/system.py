from datetime import datetime

from django.contrib.sessions.models import Session
from django.utils import timezone

from procedures.models import Heartbeat


def heartbeat_record(*, name: str, at: datetime | None = None) -> Heartbeat:
    beat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": at or timezone.now()})
    return beat


def sessions_clear_expired(*, now: datetime | None = None) -> int:
    """Delete sessions past their expiry, so idle logins do not pile up in the database."""
    deleted, _ = Session.objects.filter(expire_date__lt=now or timezone.now()).delete()
    return deleted
