import pytest
from django.urls import reverse

from clinic.celery import app as celery_app
from procedures.services.system import heartbeat_record

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == body["database"] == body["broker"] == "ok"
    assert body["worker"] == {"state": "unknown", "last_seen": None}


def test_healthz_shows_the_workers_last_heartbeat(client):
    beat = heartbeat_record(name="worker")
    body = client.get(reverse("healthz")).json()
    assert body["worker"]["state"] == "ok"
    assert body["worker"]["last_seen"] == beat.beat_at.isoformat()


@pytest.mark.redis
def test_healthz_is_503_when_the_broker_does_not_answer(client, settings):
    # A real connection attempt to a port where nothing listens: the broker is genuinely unreachable.
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get(reverse("healthz"))
    finally:
        celery_app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")


def test_healthz_refuses_post(client):
    assert client.post(reverse("healthz")).status_code == 405
