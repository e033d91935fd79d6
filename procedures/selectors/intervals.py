"""Busy time as sorted, merged [start, end) intervals, and the one question asked of them: is a span free?"""

from bisect import bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple, TypeVar

from django.db import connections
from django.db.models import FloatField, Func, Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators

M = TypeVar("M", bound=Model)


class Timeline:
    """Merged busy intervals of one resource, answering free(start, end) in O(log n). Works on any
    ordered values: aware datetimes, or epoch seconds where speed matters."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Iterable[tuple[Any, Any]] = ()) -> None:
        # Built straight into the two lists: a slot search builds a few hundred of these per answer.
        starts: list[Any] = []
        ends: list[Any] = []
        last_end = None
        for start, end in sorted(intervals):
            if starts and start <= last_end:
                if end > last_end:
                    ends[-1] = last_end = end
            else:
                starts.append(start)
                ends.append(end)
                last_end = end
        self._starts = starts
        self._ends = ends

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
    selector reads thousands of intervals. date_part, not EXTRACT: since PostgreSQL 14 EXTRACT works in
    numeric, and casting four of those to float8 per row cost a busy day's read twice its time."""

    output_field = FloatField()

    @property
    def convert_value(self):
        # The SQL already gives a float (float8, REAL): Django's float() of every value is not needed.
        return self._convert_value_noop

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="date_part('epoch', %(expressions)s)", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS REAL)", **extra_context
        )


# --- reads built once per process ------------------------------------------------------------------------
# Building a queryset's SQL costs a few tenths of a millisecond: more than running a small indexed read.
# A hot read is written once, as a function of its parameters returning a queryset; on PostgreSQL its SQL
# is built once per process with stand-in values, and each call only puts the real values in their places.

_STAND_IN_YEAR = 1901
_STAND_IN_TEXT = "\ue000stand-in "


def _stand_in(value: Any, n: int) -> Any:
    """A value of value's type that no real parameter equals, so that it can be found among the compiled
    parameters; None for a type without one."""
    if isinstance(value, datetime):
        return datetime(_STAND_IN_YEAR, 1, 1, tzinfo=UTC) + timedelta(seconds=n + 1)
    if isinstance(value, date):
        return date(_STAND_IN_YEAR, 1, 1) + timedelta(days=n + 1)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return -7_300_000_000_000 - n
    if isinstance(value, float):
        return -7.3e15 - n
    if isinstance(value, str):
        return f"{_STAND_IN_TEXT}{n}"
    return None


def _changed_stand_in(param: Any) -> bool:
    """A constant that a lookup made out of a stand-in (a date out of a datetime, a LIKE pattern)."""
    if isinstance(param, date):
        return param.year == _STAND_IN_YEAR
    return isinstance(param, str) and _STAND_IN_TEXT in param


def _stand_ins(shape: tuple) -> dict[str, Any] | None:
    """A stand-in for each value that is not None; None when a value's type has none."""
    stand_ins = {}
    for n, (name, example) in enumerate(shape):
        if example is not None:
            stand_ins[name] = _stand_in(example, n)
            if stand_ins[name] is None:
                return None
    return stand_ins


def _with_stand_ins(build: Callable[..., QuerySet], shape: tuple, stand_ins: dict[str, Any]) -> QuerySet:
    return build(**{name: stand_ins.get(name) for name, _ in shape})


@cache
def _compiled(build: Callable[..., QuerySet], shape: tuple) -> tuple[str, str, list] | None:
    """The database build reads from, build's SQL, and its parameters with (True, name) where a value goes
    and (False, constant) elsewhere; None off PostgreSQL, or when that cannot be told for sure (the caller
    then goes through the ORM)."""
    stand_ins = _stand_ins(shape)
    if stand_ins is None:
        return None
    queryset = _with_stand_ins(build, shape, stand_ins)
    alias = queryset.db  # the router's choice depends on the model and the settings, not on the values
    if connections[alias].vendor != "postgresql":
        return None
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    template, seen = [], set()
    for param in params:
        name = next((k for k, v in stand_ins.items() if type(param) is type(v) and param == v), None)
        if name is None and _changed_stand_in(param):
            return None
        template.append((True, name) if name else (False, param))
        seen.add(name)
    if not seen.issuperset(stand_ins):
        return None
    # Rows that need Django's converters (a JSON or a time zone conversion, say) go through the ORM.
    if compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]]):
        return None
    return alias, sql, template


_SHAPE_EXAMPLES = (
    (datetime, datetime(2000, 1, 1, tzinfo=UTC)),
    (date, date(2000, 1, 1)),
    (bool, True),
    (int, 1),
    (float, 1.0),
    (str, "s"),
)


def _shape(values: dict[str, Any]) -> tuple:
    """What the SQL depends on besides the values: which are None (pk=None is IS NULL) and their types.
    One example per type, so that the cache holds an entry per shape, not per value."""
    found = []
    for name, value in sorted(values.items()):
        example = value
        if value is not None:
            example = next((e for kind, e in _SHAPE_EXAMPLES if isinstance(value, kind)), value)
        found.append((name, example))
    return tuple(found)


def fetch_rows_of(build: Callable[..., QuerySet], **values: Any) -> list[tuple]:
    """The rows of build(**values), a values_list() read (keyword values only), with its SQL built once
    per process on PostgreSQL; elsewhere, and for rows that need converting, through the ORM each time."""
    compiled = _compiled(build, _shape(values))
    if compiled is None:
        return list(build(**values))
    alias, sql, template = compiled
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [values[p] if named else p for named, p in template])
        return cursor.fetchall()


@cache
def _concrete_attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


@cache
def instance_rows(build: Callable[..., QuerySet]) -> Callable[..., QuerySet]:
    """build, reading every concrete column as values (what a digest hashes)."""

    def rows(**values: Any) -> QuerySet:
        queryset = build(**values)
        return queryset.values_list(*_concrete_attnames(queryset.model))

    return rows


class _InstanceRead(NamedTuple):
    alias: str
    sql: str
    template: list
    model: type[Model]
    # Where the model's own columns lie in a row, their attribute names (fewer under only()), and Django's
    # populators for the select_related() objects, all as its ModelIterable works them out per query.
    own: slice
    names: list[str]
    related: list


@cache
def _compiled_instances(build: Callable[..., QuerySet], shape: tuple) -> _InstanceRead | None:
    """build's model read, compiled once: None where Django's iterable would do more than make the
    instances and their select_related() objects (prefetches, annotations, extra columns, values())."""
    compiled = _compiled(build, shape)
    if compiled is None:
        return None
    alias, sql, template = compiled
    queryset = _with_stand_ins(build, shape, _stand_ins(shape) or {})
    query = queryset.query
    if (
        queryset._iterable_class is not ModelIterable
        or queryset._prefetch_related_lookups
        or queryset._known_related_objects
        or query.annotation_select
        or query.extra_select
    ):
        return None
    compiler = query.get_compiler(using=alias)
    if compiler.as_sql()[0] != sql:  # the columns below must be the ones the kept SQL reads
        return None
    klass_info, select = compiler.klass_info, compiler.select
    fields = klass_info["select_fields"]
    own = slice(fields[0], fields[-1] + 1)
    names = [column[0].target.attname for column in select[own]]
    related = get_related_populators(klass_info, select, alias)
    return _InstanceRead(alias, sql, template, klass_info["model"], own, names, related)


def fetch_instances(model: type[M], build: Callable[..., QuerySet[M]], **values: Any) -> list[M]:
    """The model instances build(**values) gives, with their select_related() objects and only() fields,
    read as fetch_rows_of reads: the ORM's own instances, without building the SQL each time. Anything
    more (prefetches, annotations) goes through the ORM."""
    read = _compiled_instances(build, _shape(values))
    if read is None or read.model is not model:
        return list(build(**values))
    with connections[read.alias].cursor() as cursor:
        cursor.execute(read.sql, [values[p] if named else p for named, p in read.template])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        instance = model.from_db(read.alias, read.names, row[read.own])
        for populator in read.related:
            populator.populate(row, instance)
        found.append(instance)
    return found


# --- digests: has anything a read returns changed? ------------------------------------------------------
# Each source's rows reduced to a count and an order-free sum of 64-bit row hashes, by the database: the
# rows never reach Python.
_SOURCE_DIGEST = (
    "SELECT count(*) || ':' || coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) FROM ({}) t"
)


def digest_query(sources: list[QuerySet]) -> tuple[str, list]:
    """One query giving each source's digest (PostgreSQL)."""
    parts, params = [], []
    for source in sources:
        sql, source_params = source.order_by().query.sql_with_params()  # the digest ignores order
        parts.append(f"({_SOURCE_DIGEST.format(sql)})")
        params.extend(source_params)
    return "SELECT " + ", ".join(parts), params


@cache
def _reads_digest_query(builds: tuple[Callable[[], QuerySet], ...]) -> tuple[str, str, list] | None:
    sources = [build() for build in builds]
    alias = sources[0].db
    if connections[alias].vendor != "postgresql":
        return None
    return (alias, *digest_query(sources))


def reads_digest(*builds: Callable[[], QuerySet]) -> str | None:
    """A digest of every row the reads (functions of no values) return, in one query built once per
    process: equal digests, equal rows. None off PostgreSQL."""
    query = _reads_digest_query(builds)
    if query is None:
        return None
    alias, sql, params = query
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return "|".join(str(part) for part in cursor.fetchone())
