"""Who works when: weekly templates minus leave and closures, as aware datetime windows."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from procedures.models import ScheduleException, WorkingHours
from procedures.selectors.intervals import fetch_rows_of

Interval = tuple[datetime, datetime]
# physician id -> weekday -> (start, end) times, in start order.
WeeklyHours = dict[int, dict[int, list[tuple[time, time]]]]


def all_hours() -> QuerySet:
    return WorkingHours.objects.order_by("start_time").values_list(
        "physician_id", "weekday", "start_time", "end_time"
    )


def _exceptions_between(*, start: datetime, end: datetime) -> QuerySet:
    return ScheduleException.objects.filter(starts_at__lt=end, ends_at__gt=start).values_list(
        "physician_id", "starts_at", "ends_at", "reason", "kind"
    )


def weekly_hours(*, physician_ids: list[int] | None) -> WeeklyHours:
    """The physicians' weekly templates (None: everyone's), read once so callers can lay them over any
    days they visit."""
    template: WeeklyHours = defaultdict(lambda: defaultdict(list))
    wanted = None if physician_ids is None else set(physician_ids)
    # Every physician's template is a few rows: reading them all and keeping the wanted ones costs less
    # than a query with forty ids in it.
    for physician_id, weekday, start_time, end_time in fetch_rows_of(all_hours):
        if wanted is None or physician_id in wanted:
            template[physician_id][weekday].append((start_time, end_time))
    return template


def windows_on(*, hours: WeeklyHours, physician_ids: list[int], day: date) -> dict[int, list[Interval]]:
    """Each physician's working windows on one day, in order, before exceptions."""
    tz = timezone.get_default_timezone()
    weekday = day.weekday()
    return {
        pid: [
            (datetime.combine(day, start_time, tzinfo=tz), datetime.combine(day, end_time, tzinfo=tz))
            for start_time, end_time in hours[pid][weekday]
        ]
        for pid in physician_ids
    }


def working_windows(*, physician_ids: list[int], date_from: date, date_to: date) -> dict[int, list[Interval]]:
    """Each physician's working windows between two dates (inclusive), in order, before exceptions."""
    hours = weekly_hours(physician_ids=physician_ids)
    windows: dict[int, list[Interval]] = {pid: [] for pid in physician_ids}
    day = date_from
    while day <= date_to:
        for pid, found in windows_on(hours=hours, physician_ids=physician_ids, day=day).items():
            windows[pid].extend(found)
        day += timedelta(days=1)
    return windows


def exception_intervals(
    *, physician_ids: list[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime, str]]]:
    """Leave and clinic closures overlapping [start, end), per physician (closures apply to everyone)."""
    # Only the range in the query: the leave overlapping a fortnight is a few rows for the whole clinic,
    # and a list of forty physician ids cost more to send than those rows.
    rows = fetch_rows_of(_exceptions_between, start=start, end=end)
    kinds = dict(ScheduleException._meta.get_field("kind").flatchoices)
    result: dict[int, list] = {pid: [] for pid in physician_ids}
    for physician_id, starts_at, ends_at, reason, kind in rows:
        if physician_id is not None and physician_id not in result:
            continue
        label = reason or kinds.get(kind, kind)
        for pid in physician_ids if physician_id is None else [physician_id]:
            result[pid].append((starts_at, ends_at, label))
    return result
