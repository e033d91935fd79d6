"""Queries per request for each page and API call, in-process through the whole Django stack (the test
client), on the database DATABASE_URL names. bench/run.py runs it once per data size and compares.

Prints one JSON object: {"patients": n, "appointments": n, "endpoints": {key: {"queries", "status", "ms"}}}."""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from bench.scenario import bench_users, endpoints
    from procedures.models import Appointment, Patient

    users = bench_users()
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    result = {}
    limit_ms = float(os.environ.get("BENCH_LOAD_LIMIT_MS", "3000"))
    for endpoint in endpoints():
        client = clients[endpoint.role]
        path = endpoint.paths[0]
        executed: list[str] = []

        def count(execute, sql, params, many, context, executed=executed):
            executed.append(sql)
            return execute(sql, params, many, context)

        for _attempt in (1, 2):
            executed.clear()
            started = time.perf_counter()
            with connection.execute_wrapper(count):
                response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            # The first request of a page compiles its templates; time a second one unless it is slow anyway.
            if elapsed > limit_ms:
                break
        result[endpoint.key] = {
            "queries": len(executed),
            "status": response.status_code,
            "ms": elapsed,
        }
    print(
        json.dumps(
            {
                "patients": Patient.objects.count(),
                "appointments": Appointment.objects.count(),
                "endpoints": result,
            }
        )
    )


if __name__ == "__main__":
    main()
