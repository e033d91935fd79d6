import os

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.celery import app as celery_app
from procedures.selectors.system import heartbeat_last

# A worker is stale after missing this many heartbeats.
MISSED_BEATS_BEFORE_STALE = 4


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not answering"; the text says why
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _broker_state() -> str:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        return "ok" if os.path.isdir(folder) and os.access(folder, os.W_OK) else "error: queue folder missing"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _worker_state() -> dict:
    beat = heartbeat_last(name="worker")
    if beat is None:
        return {"state": "unknown", "last_seen": None}
    age = (timezone.now() - beat).total_seconds()
    stale_after = MISSED_BEATS_BEFORE_STALE * settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]["schedule"]
    return {"state": "ok" if age <= stale_after else "stale", "last_seen": beat.isoformat()}


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 when the database and the broker both answer, else 503.
    The worker's last heartbeat is reported but does not fail the check (a web node can serve without it)."""
    database = _database_state()
    broker = _broker_state()
    body = {
        "status": "ok" if database == broker == "ok" else "error",
        "database": database,
        "broker": broker,
        "worker": _worker_state() if database == "ok" else {"state": "unknown", "last_seen": None},
    }
    return JsonResponse(
        body, status=200 if body["status"] == "ok" else 503, json_dumps_params={"indent": None}
    )
