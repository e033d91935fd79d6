#!/usr/bin/env python
"""`make bench`: build a year of a 10-physician clinic (once) and time the hot paths in-process.

Each figure is the median and 95th percentile of repeated requests through Django's test client (the
whole request: middleware, auth, view, template, queries), plus the number of queries per request.
Runs against PostgreSQL when DATABASE_URL is set or the local port answers (a separate database,
spinedesk_bench), else against an embedded SQLite file."""

import os
import socket
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _configure() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings_test")
    os.environ.setdefault("SPINEDESK_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    if not os.environ.get("DATABASE_URL") and _answers(5432):
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'spinedesk_bench'").fetchone():
                conn.execute("CREATE DATABASE spinedesk_bench")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/spinedesk_bench"
    return os.environ.get("DATABASE_URL", "SQLite (embedded)").split("@")[-1]


def _p95(sorted_times: list[float]) -> float:
    return sorted_times[min(len(sorted_times) - 1, round(0.95 * len(sorted_times)) - 1)]


def _timed(client, url: str) -> tuple[list[float], int, int]:
    from django.db import connection

    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    status = response.status_code
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return times, len(executed), status


def main() -> None:
    database = _configure()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from procedures.models import Appointment, ProcedureType
    from procedures.roles import Role
    from procedures.services.scale import scale_seed

    call_command("migrate", verbosity=0)
    if not Appointment.objects.filter(physician__display_name__startswith="Dr Scale").exists():
        print("Seeding a year of bookings for 10 physicians (once)…", flush=True)
        started = time.perf_counter()
        result = scale_seed(patients=10_000, physicians=10, days=365)
        print(f"  {result['appointments']} appointments in {time.perf_counter() - started:.1f} s", flush=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

    User = get_user_model()
    clerk, _ = User.objects.get_or_create(username="bench-frontdesk")
    from django.contrib.auth.models import Group

    clerk.groups.add(Group.objects.get(name=Role.FRONT_DESK))
    client = Client()
    client.force_login(clerk)

    today = timezone.localdate()
    busy_day = today + timedelta(days=(7 - today.weekday()) % 7 or 1) if today.weekday() >= 5 else today
    ptype = ProcedureType.objects.get(name="Lumbar transforaminal ESI")
    date_to = today + timedelta(days=59)

    cases: list[tuple[str, str]] = []

    def add(label: str, name: str, query: str, *args) -> None:
        try:
            cases.append((label, reverse(name, args=args) + query))
        except NoReverseMatch:
            print(f"  (skipped {label}: no URL named {name!r} yet)")

    add("front-desk day view", "schedule-day", f"?date={busy_day.isoformat()}")
    add("front-desk week view", "schedule-week", f"?date={busy_day.isoformat()}")
    add(
        "slot search API, 60 days",
        "api-slot-list",
        f"?procedure_type={ptype.pk}&date_from={today.isoformat()}&date_to={date_to.isoformat()}",
    )
    add("appointment list API, one day", "api-appointment-list", f"?date={busy_day.isoformat()}")
    add("home (today)", "home", "")

    print(
        f"\nSpineDesk benchmark — database: {database}; {Appointment.objects.count()} appointments; {REPEAT} runs each"
    )
    print(f"{'what':34} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'status':>7}")
    for label, url in cases:
        times, query_count, status = _timed(client, url)
        times.sort()
        p95 = _p95(times)
        print(f"{label:34} {statistics.median(times):10.1f} {p95:8.1f} {query_count:8d} {status:7d}")

    from procedures.selectors.slots import slot_search

    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = slot_search(procedure_type=ptype, date_from=today, date_to=date_to)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = _p95(times)
    print(
        f"{'slot search selector, 60 days':34} {statistics.median(times):10.1f} {p95:8.1f} {'':>8} {len(result.slots):>7}"
    )


if __name__ == "__main__":
    main()
