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
    """Beat, every REMINDER_SWEEP_SECONDS: enqueue due messages."""
    from procedures.services import messaging

    return messaging.messages_enqueue_due()


@shared_task(name="procedures.tasks.followups_sweep")
def followups_sweep() -> int:
    """Beat, every REMINDER_SWEEP_SECONDS: check-ins unanswered too long go to the call list."""
    from django.utils import timezone

    from procedures.services.checkins import followups_mark_missed

    return followups_mark_missed(now=timezone.now())


@shared_task(bind=True, name="procedures.tasks.messages_send", max_retries=None)
def messages_send(self, message_ids: list[int]) -> dict[str, int]:
    """Send a batch of messages (the sweep hands them out 50 at a time). The claim makes a duplicate or
    retried task a no-op for rows already taken; rows that failed for a passing reason come back after a
    short backoff (the sweep would also find them)."""
    from django.conf import settings

    from procedures.services import messaging

    outcomes = messaging.messages_send(message_ids=message_ids)
    retry = [pk for pk, outcome in outcomes.items() if outcome == messaging.SendOutcome.RETRY]
    if retry and self.request.retries < settings.MESSAGE_MAX_ATTEMPTS:
        countdown = min(messaging.message_retry_delay(message_id=pk) for pk in retry)
        raise self.retry(args=[retry], countdown=countdown)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(name="procedures.tasks.rollups_sweep")
def rollups_sweep() -> int:
    """Beat, every ROLLUP_SWEEP_SECONDS: bring the outcomes dashboard's and the RFA board's rollups up to date
    for every patient the database triggers queued (services/rollups.py)."""
    from procedures.services import rollups

    return rollups.rollups_sweep()
