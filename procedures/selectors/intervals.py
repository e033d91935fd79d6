"""Busy time as sorted, merged [start, end) intervals, and the one question asked of them: is a span free?"""

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime


class Timeline:
    """Merged busy intervals of one resource, answering free(start, end) in O(log n)."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]] = ()) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1][1] = end
            else:
                merged.append([start, end])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def free(self, start: datetime, end: datetime) -> bool:
        i = bisect_right(self._starts, start) - 1
        if i >= 0 and self._ends[i] > start:
            return False
        return not (i + 1 < len(self._starts) and self._starts[i + 1] < end)

    def within(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) lies inside one interval (used for working windows)."""
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end
