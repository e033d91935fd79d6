"""The Celery app the benchmark's worker runs: the product's app and tasks, plus the no-op task that is
the floor of the reminder sweep (`celery -A bench.worker worker`)."""

from clinic.celery import app


@app.task(name="bench.noop")
def noop() -> None:
    return None


__all__ = ["app", "noop"]
