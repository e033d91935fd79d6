"""Busy time as sorted, merged [start, end) intervals, and the one question asked of them: is a span free?"""

from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.db.models import FloatField, Func


class Timeline:
    """Merged busy intervals of one resource, answering free(start, end) in O(log n). Works on any
    ordered values: aware datetimes, or epoch seconds where speed matters."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Iterable[tuple[Any, Any]] = ()) -> None:
        merged: list[list[Any]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1][1] = end
            else:
                merged.append([start, end])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def free(self, start: Any, end: Any) -> bool:
        i = bisect_right(self._starts, start) - 1
        if i >= 0 and self._ends[i] > start:
            return False
        return not (i + 1 < len(self._starts) and self._starts[i + 1] < end)

    def free_starts(self, first: float, last_end: float, step: float, length: float) -> list[float]:
        """The starts first, first + step, … whose [start, start + length) is free and ends by last_end:
        the same starts as asking free() of each, found by walking the gaps between busy intervals (a
        busy day's search asks about thousands of starts, most of them inside a booking)."""
        starts_at, ends_at = self._starts, self._ends
        count = len(starts_at)
        found: list[float] = []
        start = first
        while start + length <= last_end:
            i = bisect_right(starts_at, start) - 1
            if i >= 0 and ends_at[i] > start:
                # Inside a busy interval: on to the first step at or after its end.
                start += -(-(ends_at[i] - start) // step) * step
                continue
            if i + 1 < count and starts_at[i + 1] < start + length:
                # The next busy interval begins before this start's span would end: past it too.
                start += -(-(ends_at[i + 1] - start) // step) * step
                continue
            # A gap: every step in it whose span ends before the next busy interval (and last_end) is free.
            limit = min(starts_at[i + 1], last_end) if i + 1 < count else last_end
            while start + length <= limit:
                found.append(start)
                start += step
        return found

    def within(self, start: Any, end: Any) -> bool:
        """Whether [start, end) lies inside one interval (used for working windows)."""
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end


class Epoch(Func):
    """Seconds since 1970 (UTC) computed by the database: far cheaper to fetch than datetimes when a
    selector reads thousands of intervals."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS REAL)", **extra_context
        )


def fetch_rows(queryset) -> list[tuple]:
    """Run a values_list() queryset and return its raw rows, skipping Django's per-value converters.
    Only for hot read paths whose columns are ids and Epoch() floats, which need no conversion."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
