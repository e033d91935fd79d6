"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import worker_process_init

from clinic.runtime import collector_settle

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("spinedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _settle_collector(**_: object) -> None:
    # Each prefork child, once forked with the tasks already imported.
    collector_settle()
