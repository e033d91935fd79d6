"""The Celery app talks to the real broker: a task sent through Redis is run by a real worker."""

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun

from clinic.celery import app as celery_app
from procedures import tasks
from procedures.models import Heartbeat


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_task_sent_through_redis_is_run_by_a_worker():
    done = threading.Event()

    def on_done(sender=None, **kwargs):
        if sender is not None and sender.name == "procedures.tasks.heartbeat_record":
            done.set()

    task_postrun.connect(on_done, weak=False)
    celery_app.control.purge()
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            tasks.heartbeat_record.delay()
            assert done.wait(timeout=30), "the worker did not run the task within 30 s"
    finally:
        task_postrun.disconnect(on_done)
    assert Heartbeat.objects.filter(name="worker").exists()


@pytest.mark.django_db
def test_expired_sessions_are_cleared(client, frontdesk):
    from datetime import timedelta

    import time_machine
    from django.contrib.sessions.models import Session

    client.force_login(frontdesk)
    assert Session.objects.count() == 1
    with time_machine.travel(timedelta(days=1)):
        assert tasks.sessions_clear_expired() == 1
    assert Session.objects.count() == 0
