"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("spinedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
