"""Celery tasks: thin wrappers that call services. Periodic ones are scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from procedures.services import system


@shared_task(name="procedures.tasks.heartbeat_record")
def heartbeat_record() -> None:
    system.heartbeat_record(name="worker")


@shared_task(name="procedures.tasks.sessions_clear_expired")
def sessions_clear_expired() -> int:
    return system.sessions_clear_expired()
