"""Celery tasks: thin wrappers that call services. Periodic ones are scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from procedures.services import system


@shared_task(name="procedures.tasks.heartbeat_record")
def heartbeat_record() -> None:
    system.heartbeat_record(name="worker")


@shared_task(name="procedures.tasks.sessions_clear_expired")
def sessions_clear_expired() -> int:
    return system.sessions_clear_expired()


@shared_task(name="procedures.tasks.messages_sweep")
def messages_sweep() -> int:
    """Beat, every REMINDER_SWEEP_SECONDS: enqueue due messages, mark missed check-ins."""
    from procedures.services import messaging

    return messaging.messages_enqueue_due()


@shared_task(bind=True, name="procedures.tasks.message_send", max_retries=None)
def message_send(self, message_id: int) -> str:
    """Send one message. The service's claim makes a duplicate or retried task a no-op; a temporary
    failure comes back after a short backoff (the sweep would also find it)."""
    from django.conf import settings

    from procedures.services import messaging

    outcome = messaging.message_send(message_id=message_id)
    if outcome == messaging.SendOutcome.RETRY and self.request.retries < settings.MESSAGE_MAX_ATTEMPTS:
        raise self.retry(countdown=messaging.message_retry_delay(message_id=message_id))
    return str(outcome)
