"""How a long-lived SpineDesk process (a gunicorn worker, a Celery worker process) treats Python's cyclic
garbage collector once everything it needs is loaded."""

import gc

# A request's or a task's objects mostly die with it, by reference counting: collecting the youngest
# generation after 700 new objects walked them for nothing (the slot search's thousand-row reads and 200
# slots set off three collections a request; a batch of 50 reminders, a dozen).
YOUNG_GENERATION_THRESHOLD = 10_000


def collector_settle() -> None:
    """Call once the process has loaded what it keeps until it exits (Django, the apps, their modules:
    about 130,000 objects). Frozen, they are no longer walked by every full collection, each of which took
    tens of milliseconds (the slow tail of the benchmark's slot search)."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)
