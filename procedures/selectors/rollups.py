"""Reads built from the rollups (services/rollups.py), reused while nothing they are built from changed."""

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from procedures.services.rollups import rollups_version

T = TypeVar("T")

# Kept a little past their minute (the key changes with the minute anyway).
REUSE_SECONDS = 120


def rollups_reuse(*, name: str, parts: tuple, build: Callable[[], tuple[T, bool]]) -> T:
    """What `build` returns, kept in the shared cache while the rollup version and the minute are unchanged:
    every physician opening the dashboard (page or API) sees the same figures, and building them costs
    more than reading them back. The version is read before the rollups are brought up to date, so any
    change queued since makes a new key; the minute bounds how long what moves with the clock alone ("not
    yet due", "overdue", a repeat falling due) can lag. `build` returns the value and whether it is
    complete (nothing still queued); an incomplete value is not kept. Where no version is kept (SQLite),
    nothing is reused. `parts` must say everything the value depends on beyond the rollups."""
    version = rollups_version()
    key = None
    if version is not None:
        digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
        minute = timezone.now().strftime("%Y%m%d%H%M")
        key = f"{name}:{connection.settings_dict['NAME']}:{version}:{minute}:{digest}"
        if (kept := cache.get(key)) is not None:
            return kept
    value, complete = build()
    if key is not None and complete:
        cache.set(key, value, REUSE_SECONDS)
    return value
