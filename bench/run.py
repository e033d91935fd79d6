#!/usr/bin/env python
"""`make bench`: SpineDesk at the scale of a clinic network, every figure beside a floor measured the same way,
on the same machine, in the same run (other work on the machine slows both alike; the ratio stays).

1. Data: `seed_scale --patients N` (BENCH_PATIENTS, default 100,000: about a million appointments over ten
   years for 40 physicians) into its own PostgreSQL database, built once and kept (spinedesk_bench, or
   spinedesk_bench_<N> for another N), and a small one (N/20) to show that queries per page do not grow.
2. Pages and API calls under concurrent load: gunicorn (BENCH_WORKERS sync workers, default 4) and wrk
   (else Python threads) with BENCH_CONNECTIONS connections (default 4) for BENCH_SECONDS (default 10) per
   figure; each figure's floor — a logged-in view that runs one indexed query — is run for half that time
   just before it and half just after (the machine's speed drifts), and the two halves taken together.
3. Booking under contention, through the API, for one physician: BENCH_BOOKING_CLIENTS clients (default 8)
   book different free starts (bookings/s), then all race for the same starts (one 201 each, the rest 409);
   the floor is the same clients posting to a view that only locks the physician's row and writes once.
4. The reminder sweep through a real Celery worker on Redis with the file email backend: messages/s
   against the same worker's rate of no-op tasks, in BENCH_SWEEP_ROUNDS rounds (default 3) of BENCH_MESSAGES
   day-before emails (default 2,000), with no-op tasks run before, between and after the rounds.
5. A web worker's memory over BENCH_MEMORY_REQUESTS requests (default 10,000) of the page mix.

The table is printed and written to var/bench/results.md (and results.json). BENCH_ONLY=load,booking,sweep,
memory,queries runs a subset; BENCH_ENDPOINTS=day,slots,… only those pages (keys in bench/scenario.py)."""

import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    Client,
    LoadResult,
    combined_load,
    percentile,
    python_run,
    wrk_available,
    wrk_run,
)

VAR = ROOT / "var" / "bench"
PYTHON = sys.executable
PHASES = ("load", "booking", "sweep", "memory", "queries")
FULL_SIZE = 100_000
SESSIONS_PER_ROLE = 4
WARMUP_SECONDS = 2
BENCH_PLAN_KEY = "bench:day_before"
# The memory run's mix: the pages and API calls that answer in under this (the slower ones would make
# 10,000 requests on one worker take most of an hour); each takes its turn equally.
MEMORY_MIX_MS = 300


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class Config:
    patients: int = field(default_factory=lambda: _env_int("BENCH_PATIENTS", FULL_SIZE))
    server: str = field(
        default_factory=lambda: os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    )
    redis: str = field(default_factory=lambda: os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    workers: int = field(default_factory=lambda: _env_int("BENCH_WORKERS", 4))
    connections: int = field(default_factory=lambda: _env_int("BENCH_CONNECTIONS", 4))
    seconds: float = field(default_factory=lambda: float(os.environ.get("BENCH_SECONDS", "10")))
    booking_clients: int = field(default_factory=lambda: _env_int("BENCH_BOOKING_CLIENTS", 8))
    booking_per_client: int = field(default_factory=lambda: _env_int("BENCH_BOOKINGS_PER_CLIENT", 8))
    race_days: int = 2
    messages: int = field(default_factory=lambda: _env_int("BENCH_MESSAGES", 2000))
    # The sweep's rounds of `messages` each, every one framed by no-op tasks (sweep_phase).
    sweep_rounds: int = field(default_factory=lambda: _env_int("BENCH_SWEEP_ROUNDS", 3))
    memory_requests: int = field(default_factory=lambda: _env_int("BENCH_MEMORY_REQUESTS", 10_000))
    # A page whose one request takes longer than this is reported with that time, not load-tested: its
    # requests would hold every worker for minutes and stall the figures after it.
    load_limit_ms: float = field(default_factory=lambda: float(os.environ.get("BENCH_LOAD_LIMIT_MS", "3000")))
    phases: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            p for p in os.environ.get("BENCH_ONLY", ",".join(PHASES)).split(",") if p
        )
    )

    @property
    def small(self) -> int:
        return _env_int("BENCH_SMALL_PATIENTS", max(2_000, self.patients // 20))

    def database(self, patients: int) -> str:
        return "spinedesk_bench" if patients == FULL_SIZE else f"spinedesk_bench_{patients}"

    def url(self, patients: int) -> str:
        return f"{self.server}/{self.database(patients)}"


def child_env(cfg: Config, patients: int) -> dict[str, str]:
    """Production settings (DEBUG off, whitenoise with the manifest, Redis cache and broker) on the bench
    database, with outgoing mail and texts into files under var/bench."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": cfg.url(patients),
            "REDIS_URL": cfg.redis,
            "SPINEDESK_VAR_DIR": str(VAR),
            "DJANGO_STATIC_ROOT": str(VAR / "static"),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(VAR / "mail"),
            "SMS_BACKEND": "file",
            "SMS_FILE_PATH": str(VAR / "sms"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def say(text: str = "") -> None:
    print(text, flush=True)


# --- data ----------------------------------------------------------------------------------------------


def ensure_database(cfg: Config, patients: int) -> None:
    import psycopg

    with psycopg.connect(f"{cfg.server}/postgres", autocommit=True) as conn:
        name = cfg.database(patients)
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(cfg: Config, patients: int, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=child_env(cfg, patients), check=True)


def prepare_data(cfg: Config) -> None:
    for patients in (cfg.patients, cfg.small):
        ensure_database(cfg, patients)
        manage(cfg, patients, "migrate", "--noinput", "-v0")
        say(f"Data set {cfg.database(patients)} ({patients:,} patients):")
        manage(cfg, patients, "seed_scale", "--patients", str(patients))
    manage(cfg, cfg.patients, "collectstatic", "--noinput", "-v0")


# --- servers -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Gunicorn:
    """gunicorn as the Dockerfile and runstack run it — sync workers on clinic.wsgi — with the bench's
    settings module. Sync, because that is what production runs (behind a proxy that buffers slow
    clients) and the pages are CPU-bound Python that threads would not run in parallel; four workers on two
    cores, so that a worker waiting on PostgreSQL leaves its core to another."""

    def __init__(self, cfg: Config, *, workers: int) -> None:
        self.port = free_port()
        self.workers = workers
        VAR.mkdir(parents=True, exist_ok=True)
        self.log = open(VAR / "gunicorn.log", "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "clinic.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--timeout",
                "600",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=child_env(cfg, cfg.patients),
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = Client("127.0.0.1", self.port).request("GET", "/healthz", headers={})
                if status == 200 and len(self.worker_pids()) == workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn did not start; see {VAR / 'gunicorn.log'}")
            time.sleep(0.3)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def login(port: int, username: str, password: str) -> str:
    """A real login through the login page (CSRF token, password check, axes); returns the Cookie header."""
    client = Client("127.0.0.1", port)
    conn = client.conn
    conn.request("GET", "/accounts/login/")
    response = conn.getresponse()
    page = response.read().decode()
    cookies = _cookies(response)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    client = Client("127.0.0.1", port)
    client.conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
    )
    response = client.conn.getresponse()
    response.read()
    cookies |= _cookies(response)
    if response.status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login as {username} failed ({response.status})")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _cookies(response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";")[0]
    return found


# --- phase 2: pages and API calls under load ------------------------------------------------------------


@dataclass
class LoadRow:
    key: str
    label: str
    p95_target_ms: float | None
    note: str
    single_ms: float  # one request in-process, from the queries phase
    status: int
    result: LoadResult | None = None
    floor: LoadResult | None = None


def run_load(cfg: Config, endpoint, cookies: list[str], port: int, seconds: float) -> LoadResult:
    base = f"http://127.0.0.1:{port}"
    if wrk_available():
        result = wrk_run(
            base=base, paths=endpoint.paths, cookies=cookies, connections=cfg.connections, seconds=seconds
        )
    else:
        result = python_run(
            host="127.0.0.1",
            port=port,
            requests=[(p, cookies[i % len(cookies)]) for i, p in enumerate(endpoint.paths)],
            connections=cfg.connections,
            seconds=seconds,
        )
    _wait_idle(port, cookies[0])
    return result


def _wait_idle(port: int, cookie: str) -> None:
    """Requests still running when the client stopped would slow the next figure: wait them out."""
    deadline = time.monotonic() + 300
    client = Client("127.0.0.1", port)
    while time.monotonic() < deadline:
        started = time.perf_counter()
        client.request("GET", "/bench/floor/", headers={"Cookie": cookie})
        if time.perf_counter() - started < 0.25:
            return
        time.sleep(0.5)


def load_phase(
    cfg: Config, server: Gunicorn, scenario: list, sessions: dict[str, list[str]], single: dict
) -> list[LoadRow]:
    floor = next(e for e in scenario if e.key == "floor")
    rows = []
    for endpoint in scenario:
        measured = single[endpoint.key]
        rows.append(
            LoadRow(
                endpoint.key,
                endpoint.label,
                endpoint.p95_target_ms,
                endpoint.note,
                measured["ms"],
                measured["status"],
            )
        )
    loaded = [
        (e, r)
        for e, r in zip(scenario, rows, strict=True)
        if r.status == 200 and r.single_ms < cfg.load_limit_ms
    ]
    for endpoint, row in zip(scenario, rows, strict=True):
        if (endpoint, row) not in loaded:
            say(f"  {endpoint.label:56} not loaded: one request took {row.single_ms:,.0f} ms ({row.status})")
    say(f"Warming up ({WARMUP_SECONDS} s each)…")
    for endpoint, _ in loaded:
        run_load(cfg, endpoint, sessions[endpoint.role], server.port, WARMUP_SECONDS)
    for endpoint, row in loaded:
        if endpoint.key == "floor":
            row.result = row.floor = run_load(cfg, floor, sessions[floor.role], server.port, cfg.seconds)
        else:
            # Half the floor's time just before the figure and half just after: this machine's speed drifts
            # over tens of seconds, and a floor taken on one side only leaned every ratio with the drift.
            before = run_load(cfg, floor, sessions[floor.role], server.port, cfg.seconds / 2)
            row.result = run_load(cfg, endpoint, sessions[endpoint.role], server.port, cfg.seconds)
            after = run_load(cfg, floor, sessions[floor.role], server.port, cfg.seconds / 2)
            row.floor = combined_load(before, after)
        r, f = row.result, row.floor
        ratio = r.rate / f.rate if f.rate else float("nan")
        say(
            f"  {endpoint.label:56} p50 {r.p50_ms:7.1f} p95 {r.p95_ms:7.1f} ms {r.rate:7.1f}/s "
            f"(floor {f.rate:6.1f}/s, ×{ratio:.2f}) errors {r.errors}"
        )
    return rows


# --- phase 3: booking under contention ------------------------------------------------------------------


@dataclass
class BookingRun:
    attempts: int
    created: int
    conflicts: int
    other: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.attempts / self.seconds

    @property
    def bookings_rate(self) -> float:
        return self.created / self.seconds

    @classmethod
    def of(cls, results: list[tuple[int, float, bytes]], seconds: float) -> "BookingRun":
        statuses = [status for status, _, _ in results]
        latencies = sorted(ms for _, ms, _ in results)
        return cls(
            attempts=len(results),
            created=statuses.count(201),
            conflicts=statuses.count(409),
            other=len(statuses) - statuses.count(201) - statuses.count(409),
            seconds=seconds,
            p50_ms=statistics.median(latencies),
            p95_ms=percentile(latencies, 0.95),
        )


@dataclass
class BookingResult:
    clients: int
    free: BookingRun  # every client books its own free starts in the physician's days
    race: BookingRun  # every client tries every start of the same days at once
    race_starts: int
    floor: BookingRun
    overlaps: int
    errors: list[str]


def _race(
    port: int, token: str, path: str, jobs: list[list[dict]]
) -> tuple[list[tuple[int, float, bytes]], float]:
    """One thread per client, each posting its own list of bodies as fast as answers come; all start at once."""
    results: list[tuple[int, float, bytes]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs) + 1)

    def run(bodies: list[dict]) -> None:
        client = Client("127.0.0.1", port)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        barrier.wait()
        for body in bodies:
            started = time.perf_counter()
            status, reply = client.request("POST", path, headers=headers, body=json.dumps(body).encode())
            with lock:
                results.append((status, (time.perf_counter() - started) * 1000, reply))
        client.close()

    threads = [threading.Thread(target=run, args=(bodies,)) for bodies in jobs]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def booking_phase(cfg: Config, server: Gunicorn) -> BookingResult:
    """Two races through the booking API for one physician: clients booking different free starts (each
    waits its turn on the physician's lock; every attempt should be a 201), then clients all trying the
    same starts at once (one 201 per start, 409 for the rest). Days past the seeded horizon are used, and
    the bookings removed after, so every run races for the same empty days."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from bench.scenario import FRONT_DESK, PHYSICIAN, SLOT_SEARCH_TYPE
    from procedures.models import Appointment, Patient, PhysicianProfile, ProcedureType, ScheduleException
    from procedures.selectors.schedule import day_bounds
    from procedures.services.scale import DAYS_AHEAD

    clerk = get_user_model().objects.get(username=FRONT_DESK)
    token = Token.objects.get(user=clerk).key
    physician = PhysicianProfile.objects.get(user__username=PHYSICIAN)
    ptype = ProcedureType.objects.get(name=SLOT_SEARCH_TYPE)
    tz = timezone.get_default_timezone()
    clients = cfg.booking_clients
    per_day = 8 * 60 // 30  # starts 30 minutes apart: the procedure and its room's turnover never collide
    free_days = -(-clients * cfg.booking_per_client // per_day)
    days, day = [], timezone.localdate() + timedelta(days=DAYS_AHEAD + 7)
    while len(days) < free_days + cfg.race_days:
        start, end = day_bounds(day=day)
        away = ScheduleException.objects.filter(starts_at__lt=end, ends_at__gt=start).exists()
        if day.weekday() < 5 and not away:
            days.append(day)
        day += timedelta(days=1)
    first, _ = day_bounds(day=days[0])
    _, last = day_bounds(day=days[-1])
    ours = Appointment.objects.filter(physician=physician, start__gte=first, start__lt=last)
    ours.delete()

    def starts_of(some_days):
        return [
            datetime.combine(d, datetime.min.time(), tzinfo=tz) + timedelta(minutes=8 * 60 + 30 * i)
            for d in some_days
            for i in range(per_day)
        ]

    patients = iter(Patient.objects.order_by("-pk").values_list("pk", flat=True)[:5000])

    def body(start):
        return {
            "patient": next(patients),
            "procedure_type": ptype.pk,
            "physician": physician.pk,
            "start": start.isoformat(),
        }

    free_starts = starts_of(days[:free_days])[: clients * cfg.booking_per_client]
    free_jobs = [[body(s) for s in free_starts[c::clients]] for c in range(clients)]
    free_results, free_seconds = _race(server.port, token, "/api/v1/appointments/", free_jobs)
    race_starts = starts_of(days[free_days:])
    race_jobs = [[body(s) for s in race_starts] for _ in range(clients)]
    race_results, race_seconds = _race(server.port, token, "/api/v1/appointments/", race_jobs)
    floor_jobs = [[{"physician": physician.pk}] * 4 * len(bodies) for bodies in free_jobs]
    floor_results, floor_seconds = _race(server.port, token, "/bench/floor-write/", floor_jobs)

    with connection.cursor() as cursor:
        # The database's view: active bookings of the physician that overlap another one (must be none).
        cursor.execute(
            """SELECT count(*) FROM procedures_appointment a JOIN procedures_appointment b
               ON a.physician_id = b.physician_id AND a.id < b.id AND a.start < b."end" AND b.start < a."end"
               WHERE a.physician_id = %s AND a.start >= %s AND a.start < %s AND b.start >= %s AND b.start < %s
                 AND a.status IN ('scheduled', 'confirmed') AND b.status IN ('scheduled', 'confirmed')""",
            [physician.pk, first, last, first, last],
        )
        overlaps = cursor.fetchone()[0]
    ours.delete()
    errors = sorted(
        {
            f"{status}: {reply[:200].decode(errors='replace')}"
            for status, _, reply in free_results + race_results
        }
        - {""},
        key=len,
    )
    return BookingResult(
        clients=clients,
        free=BookingRun.of(free_results, free_seconds),
        race=BookingRun.of(race_results, race_seconds),
        race_starts=len(race_starts),
        floor=BookingRun.of(floor_results, floor_seconds),
        overlaps=overlaps,
        errors=[e for e in errors if not e.startswith(("201", "409"))][:3],
    )


# --- phase 4: the reminder sweep through a Celery worker ----------------------------------------------


@dataclass
class SweepResult:
    messages: int
    processed: int
    seconds: float
    noop_tasks: int
    noop_seconds: float
    outcomes: dict[str, int]
    backlog: int
    rounds: int = 1

    @property
    def rate(self) -> float:
        return self.processed / self.seconds

    @property
    def noop_rate(self) -> float:
        return self.noop_tasks / self.noop_seconds


class Worker:
    def __init__(self, cfg: Config) -> None:
        self.name = f"bench-{os.getpid()}@{socket.gethostname()}"
        self.log = open(VAR / "worker.log", "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "bench.worker",
                "worker",
                "--concurrency=2",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env=child_env(cfg, cfg.patients),
            stdout=self.log,
            stderr=self.log,
        )

    def wait_ready(self, app) -> None:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[self.name], timeout=1.0):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker did not start; see {VAR / 'worker.log'}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _queue_empty(redis_client) -> bool:
    # kombu's Redis transport: waiting tasks in the "celery" list, taken but unacknowledged ones in "unacked".
    return redis_client.llen("celery") == 0 and redis_client.hlen("unacked") == 0


def _sweep_until(app, redis_client, done, *, timeout: float) -> None:
    """Send the beat's sweep task whenever the queue runs low while due messages wait to be enqueued (one
    sweep enqueues a batch), until done() says nothing is left to send."""
    from django.db.models import Q
    from django.utils import timezone

    from procedures.models import Message, MessageStatus

    def waiting() -> bool:
        return Message.objects.filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=timezone.now() - timedelta(minutes=5)),
            status=MessageStatus.PLANNED,
            due_at__lte=timezone.now(),
        ).exists()

    deadline = time.monotonic() + timeout
    while not (_queue_empty(redis_client) and done()):
        if redis_client.llen("celery") < 4 and waiting():
            app.send_task("procedures.tasks.messages_sweep")
            time.sleep(0.3)
        time.sleep(0.05)
        if time.monotonic() > deadline:
            raise RuntimeError("the sweep did not finish in time; see var/bench/worker.log")


def _noop_run(app, redis_client, worker: "Worker", tasks: int) -> tuple[int, float]:
    """The floor: `tasks` no-op tasks through the worker, queued first while it does not consume, then
    consumed; returns the tasks and the seconds they took."""
    from bench.worker import noop

    app.control.cancel_consumer("celery", destination=[worker.name], reply=True)
    for _ in range(tasks):
        noop.apply_async()
    started = time.perf_counter()
    app.control.add_consumer("celery", destination=[worker.name], reply=True)
    while not _queue_empty(redis_client):
        time.sleep(0.02)
    return tasks, time.perf_counter() - started


def _sweep_round(app, redis_client, appointments: list[tuple[int, int]]) -> tuple[int, int, float, dict]:
    """One timed round: a day-before email per appointment, due now, sent by the beat's sweep through the
    worker. Returns the messages, how many the worker finished, the seconds and their outcomes; the round's
    rows are removed after, so the next round sends the same reminders again."""
    from django.db.models import Count
    from django.utils import timezone

    from procedures.models import Message, MessageKind, MessageStatus

    now = timezone.now()
    created = Message.objects.bulk_create(
        Message(
            appointment_id=pk,
            patient_id=patient_id,
            kind=MessageKind.DAY_BEFORE,
            plan_key=BENCH_PLAN_KEY,
            due_at=now - timedelta(minutes=1),
        )
        for pk, patient_id in appointments
    )
    ids = [m.pk for m in created]
    ours = Message.objects.filter(pk__gte=min(ids), pk__lte=max(ids))

    def ours_done() -> bool:
        return not ours.filter(status__in=[MessageStatus.PLANNED, MessageStatus.SENDING]).exists()

    started_at = timezone.now()
    started = time.perf_counter()
    _sweep_until(app, redis_client, ours_done, timeout=1800)
    seconds = time.perf_counter() - started
    processed = Message.objects.filter(updated_at__gte=started_at, created_at__lt=started_at).count()
    outcomes = dict(ours.values_list("status").annotate(n=Count("pk")).order_by())
    ours.delete()
    return len(ids), processed, seconds, outcomes


def sweep_phase(cfg: Config) -> SweepResult | str:
    import redis
    from django.db.models import Q
    from django.utils import timezone

    from procedures.models import Appointment, Message, MessageStatus

    try:
        from bench.worker import app
        from procedures.tasks import messages_sweep  # noqa: F401  (the task the beat sends)
    except ImportError as exc:
        return f"not measured: {exc}"
    redis_client = redis.Redis.from_url(cfg.redis)
    redis_client.delete("celery", "unacked", "unacked_index")
    for folder in ("mail", "sms"):
        for path in (VAR / folder).glob("*"):
            path.unlink()
    Message.objects.filter(plan_key=BENCH_PLAN_KEY, appointment__start__gt=timezone.now()).delete()

    worker = Worker(cfg)
    try:
        worker.wait_ready(app)

        # Untimed: whatever fell due since the data set was built goes out first, as the beat would have.
        def nothing_due() -> bool:
            return not Message.objects.filter(
                Q(status=MessageStatus.PLANNED, due_at__lte=timezone.now()) | Q(status=MessageStatus.SENDING)
            ).exists()

        backlog = Message.objects.filter(status=MessageStatus.PLANNED, due_at__lte=timezone.now()).count()
        if backlog:
            say(f"  sending {backlog:,} messages that fell due since the data set was built (untimed)…")
            _sweep_until(app, redis_client, nothing_due, timeout=3600)

        # Rounds of day-before reminders for upcoming appointments of patients who take email (due now, one
        # each), each between two runs of no-op tasks through the same worker: the machine's speed drifts
        # from minute to minute, and a floor taken on one side only would lean the ratio with the drift.
        now = timezone.now()
        appointments = list(
            Appointment.objects.filter(
                start__gt=now + timedelta(days=1),
                status__in=["scheduled", "confirmed"],
                patient__preferred_channel="email",
                patient__consent_email=True,
            )
            .order_by("start")
            .values_list("pk", "patient_id")[: cfg.messages]
        )
        # Half a round's worth of no-op tasks before the first round and after the last, a whole round's
        # worth between two rounds: as many no-op tasks in all as messages, each round framed by its floor.
        half = max(len(appointments) // 2, 1)
        noop_tasks, noop_seconds = _noop_run(app, redis_client, worker, half)
        messages = processed = 0
        seconds = 0.0
        outcomes: dict[str, int] = {}
        for round_number in range(1, cfg.sweep_rounds + 1):
            sent, finished, spent, statuses = _sweep_round(app, redis_client, appointments)
            messages, processed, seconds = messages + sent, processed + finished, seconds + spent
            for status, n in statuses.items():
                outcomes[status] = outcomes.get(status, 0) + n
            tasks, spent = _noop_run(
                app, redis_client, worker, half if round_number == cfg.sweep_rounds else 2 * half
            )
            noop_tasks, noop_seconds = noop_tasks + tasks, noop_seconds + spent
    finally:
        worker.stop()
    return SweepResult(
        messages, processed, seconds, noop_tasks, noop_seconds, outcomes, backlog, cfg.sweep_rounds
    )


# --- phase 5: a web worker's memory ---------------------------------------------------------------------


@dataclass
class MemoryResult:
    requests: int
    # (requests served after the warm-up, RSS in kB, live Python objects, allocated Python blocks)
    samples: list[tuple[int, int, int, int]]
    errors: int
    mix: list[str]

    @property
    def growth_kb(self) -> int:
        return self.samples[-1][1] - self.samples[0][1]

    def second_half(self, column: int) -> int:
        return self.samples[-1][column] - self.samples[len(self.samples) // 2][column]


def memory_phase(cfg: Config, scenario: list, sessions: dict[str, list[str]]) -> MemoryResult:
    """One sync worker serving the page mix (each page and API call under MEMORY_MIX_MS in turn, with its
    own sessions), its RSS read from /proc after a warm-up and then every tenth of the run."""
    server = Gunicorn(cfg, workers=1)
    try:
        pid = server.worker_pids()[0]
        mix = [
            (path, sessions[e.role][i % SESSIONS_PER_ROLE])
            for e in scenario
            for i, path in enumerate(e.paths[:20])
        ]
        random.Random(5).shuffle(mix)
        warm = python_run(host="127.0.0.1", port=server.port, requests=mix, connections=2, total=500)
        heap_client = Client("127.0.0.1", server.port)

        sampling = threading.Lock()

        def sample(n: int) -> tuple[int, int, int, int]:
            # The heap first: its collection frees what a page left for the cyclic collector.
            with sampling:
                status, body = heap_client.request("GET", "/bench/heap/", headers={"Cookie": mix[0][1]})
            if status != 200:
                raise RuntimeError(f"/bench/heap/ answered {status}")
            heap = json.loads(body)
            return (n, rss_kb(pid), heap["objects"], heap["blocks"])

        samples = [sample(0)]
        step = max(1, cfg.memory_requests // 10)
        started = time.perf_counter()

        def progress(n: int) -> None:
            if n % step == 0:
                samples.append(sample(n))
                say(
                    f"  {n:>7,} requests  RSS {samples[-1][1] / 1024:6.1f} MB  {samples[-1][2]:,} live objects  "
                    f"({time.perf_counter() - started:.0f} s)"
                )

        result = python_run(
            host="127.0.0.1",
            port=server.port,
            requests=mix,
            connections=2,
            total=cfg.memory_requests,
            on_progress=progress,
        )
        if samples[-1][0] != result.requests:
            samples.append(sample(result.requests))
        heap_client.close()
        if server.worker_pids() != [pid]:
            raise RuntimeError("the web worker was replaced during the memory run")
        return MemoryResult(
            result.requests, samples, warm.errors + result.errors, [e.label for e in scenario]
        )
    finally:
        server.stop()


# --- phase 6: queries per request at two data sizes ----------------------------------------------------


def queries_phase(cfg: Config, sizes: tuple[int, ...]) -> dict[int, dict]:
    found = {}
    for patients in sizes:
        out = subprocess.run(
            [PYTHON, "bench/queries.py"],
            cwd=ROOT,
            env=child_env(cfg, patients),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found[patients] = json.loads(out.strip().splitlines()[-1])
    return found


# --- report -------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def report(cfg: Config, context: dict, rows, booking, sweep, memory, queries) -> tuple[str, list[str]]:
    lines = [
        "# SpineDesk benchmark",
        "",
        f"{context['when']} · {context['cpus']} CPUs · {context['postgres']} · load average at start "
        f"{context['load_start']}, at end {context['load_end']}",
        "",
        f"Data set: {context['counts']}.",
        f"Web: gunicorn, {cfg.workers} sync workers; load: {context['client']}, {cfg.connections} connections, "
        f"{cfg.seconds:g} s per figure; each figure's floor (a logged-in view running one indexed query) "
        "is measured for half that time just before it and half just after.",
        "",
    ]
    verdicts: list[str] = []
    if rows:
        sizes = sorted(queries) if queries else []
        head = "| What | p50 ms | p95 ms | req/s | floor p50 | floor p95 | floor req/s | req/s ÷ floor |"
        head += "".join(f" queries ({s:,} patients) |" for s in sizes)
        lines += [head, "|" + "---|" * (8 + len(sizes))]
        for row in rows:
            r, f = row.result, row.floor
            cells = [row.label + (f" ({row.note})" if row.note else "")]
            if r is None:
                why = f"answered {row.status}" if row.status != 200 else "not load-tested"
                cells += [f"one request: {row.single_ms:,.0f} ms ({why})", "", "", "", "", "", ""]
                if row.p95_target_ms is not None:
                    verdicts.append(
                        f"NOT met: {row.label} — one request alone takes {row.single_ms:,.0f} ms "
                        f"(target p95 < {row.p95_target_ms:.0f} ms under load)"
                    )
            else:
                ratio = r.rate / f.rate if f and f.rate else None
                cells += [
                    _fmt(r.p50_ms),
                    _fmt(r.p95_ms),
                    _fmt(r.rate),
                    _fmt(f.p50_ms),
                    _fmt(f.p95_ms),
                    _fmt(f.rate),
                    _fmt(ratio, 2),
                ]
                if row.p95_target_ms is not None:
                    ok = r.p95_ms < row.p95_target_ms and (ratio or 0) >= 0.2 and r.errors == 0
                    verdicts.append(
                        f"{'met' if ok else 'NOT met'}: {row.label} — p95 {r.p95_ms:.0f} ms "
                        f"(target < {row.p95_target_ms:.0f}), {ratio:.2f} of the floor's throughput (target ≥ 0.20)"
                        + (f", {r.errors} errors" if r.errors else "")
                    )
            for s in sizes:
                q = queries[s]["endpoints"].get(row.key)
                cells.append(str(q["queries"]) if q else "")
            lines.append("| " + " | ".join(cells) + " |")
        if queries:
            constant = all(
                queries[sizes[0]]["endpoints"].get(k, {}).get("queries") == v["queries"]
                for k, v in queries[sizes[-1]]["endpoints"].items()
            )
            verdicts.append(
                f"{'met' if constant else 'NOT met'}: queries per request are the same at "
                + " and ".join(f"{queries[s]['appointments']:,} appointments" for s in sizes)
            )
        lines.append("")
    if booking:
        b, free, race, floor = booking, booking.free, booking.race, booking.floor
        lines += [
            f"| Booking through the API, {b.clients} clients, one physician | attempts | 201 / 409 / other "
            "| per second | p50 ms | p95 ms |",
            "|---|---|---|---|---|---|",
            f"| each client books its own free starts (all wait on the physician's lock) | {free.attempts} "
            f"| {free.created} / {free.conflicts} / {free.other} | {free.bookings_rate:.1f} bookings "
            f"| {free.p50_ms:.0f} | {free.p95_ms:.0f} |",
            f"| all clients race for the same {b.race_starts} starts | {race.attempts} "
            f"| {race.created} / {race.conflicts} / {race.other} | {race.rate:.1f} attempts "
            f"| {race.p50_ms:.0f} | {race.p95_ms:.0f} |",
            f"| floor: lock the physician's row, one write, commit | {floor.attempts} | {floor.created} / — / "
            f"{floor.attempts - floor.created} | {floor.rate:.1f} | {floor.p50_ms:.0f} | {floor.p95_ms:.0f} |",
            f"| bookings/s ÷ floor | | | {free.bookings_rate / floor.rate:.2f} | | |",
            "",
            f"Overlapping active bookings of the physician afterwards: {b.overlaps}."
            + (f" Unexpected answers: {'; '.join(b.errors)}" if b.errors else ""),
            "",
        ]
        ok = (
            b.overlaps == 0
            and free.created == free.attempts
            and race.created == b.race_starts
            and race.other == 0
        )
        verdicts.append(
            f"{'met' if ok else 'NOT met'}: booking under contention — {free.bookings_rate:.1f} bookings/s "
            f"({free.bookings_rate / floor.rate:.2f} of the floor), the race for {b.race_starts} starts booked "
            f"{race.created}, refused {race.conflicts} with 409, no double booking"
        )
    if isinstance(sweep, SweepResult):
        s = sweep
        lines += [
            "| Reminder sweep (Celery worker, 2 processes, Redis, file email) | value |",
            "|---|---|",
            f"| messages due (day-before emails, {s.rounds} rounds){' + backlog sent first: ' + format(s.backlog, ',') if s.backlog else ''} "
            f"| {s.messages:,} ({', '.join(f'{k} {v}' for k, v in sorted(s.outcomes.items()))}) |",
            f"| messages/s | {s.rate:.1f} ({s.processed:,} in {s.seconds:.1f} s) |",
            f"| floor: no-op tasks/s through the same worker, before, between and after the rounds | {s.noop_rate:.1f} ({s.noop_tasks:,} in {s.noop_seconds:.1f} s) |",
            f"| messages/s ÷ no-op tasks/s | {s.rate / s.noop_rate:.2f} |",
            "",
        ]
        verdicts.append(
            f"{'met' if s.rate / s.noop_rate >= 0.5 else 'NOT met'}: sweep at {s.rate / s.noop_rate:.2f} of the "
            "no-op task rate (target ≥ 0.50)"
        )
    elif sweep:
        lines += [f"Reminder sweep: {sweep}", ""]
    if memory:
        m = memory
        lines += [
            f"| Web worker memory (one sync worker; mix: {', '.join(m.mix)}) | RSS | live Python objects |",
            "|---|---|---|",
            *(
                f"| {'after a 500-request warm-up' if n == 0 else f'after {n:,} more requests'} | "
                f"{kb / 1024:.1f} MB | {objects:,} |"
                for n, kb, objects, _ in m.samples
            ),
            f"| growth over {m.requests:,} requests | {m.growth_kb / 1024:+.1f} MB | "
            f"{m.samples[-1][2] - m.samples[0][2]:+,} |",
            "",
        ]
        # Flat: over the second half of the run the worker keeps no more live objects (a leak keeps objects
        # alive, request after request) and its RSS adds under 2 MB (the allocator may still reach a new
        # high-water mark once in a while, and keeps it).
        late_kb, late_objects = m.second_half(1), m.second_half(2)
        flat = late_kb < 2048 and late_objects <= m.samples[0][2] // 1000
        verdicts.append(
            f"{'met' if flat else 'NOT met'}: web worker memory flat over {m.requests:,} requests "
            f"({m.growth_kb / 1024:+.1f} MB from {m.samples[0][1] / 1024:.0f} MB; over the second half "
            f"{late_kb / 1024:+.1f} MB and {late_objects:+,} live Python objects)"
        )
    lines += ["Targets:", "", *(f"- {v}" for v in verdicts), ""]
    return "\n".join(lines), verdicts


def main() -> None:
    cfg = Config()
    VAR.mkdir(parents=True, exist_ok=True)
    prepare_data(cfg)
    os.environ.update(child_env(cfg, cfg.patients))
    import django

    django.setup()
    from django.db import connection

    from bench.scenario import FRONT_DESK, PASSWORD, PHYSICIAN, bench_users, endpoints
    from procedures.services.scale import scale_counts

    bench_users()
    scenario = endpoints()
    counts = scale_counts()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = "PostgreSQL " + cursor.fetchone()[0].split()[0]
    context = {
        "when": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "postgres": postgres,
        "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "counts": ", ".join(f"{v:,} {k}" for k, v in counts.items()),
        "client": "wrk" if wrk_available() else "Python threads (install wrk for a lighter client)",
        "machine": platform.platform(),
    }
    say(f"\nData set: {context['counts']}")
    rows = booking = sweep = memory = None
    sizes = (cfg.small, cfg.patients) if "queries" in cfg.phases else (cfg.patients,)
    say(
        "\nEach page once, in-process, counting its queries"
        + (" at two data sizes…" if len(sizes) > 1 else "…")
    )
    queries = queries_phase(cfg, sizes)
    sessions: dict[str, list[str]] = {}
    if {"load", "booking", "memory"} & set(cfg.phases):
        server = Gunicorn(cfg, workers=cfg.workers)
        try:
            for role in (FRONT_DESK, PHYSICIAN):
                sessions[role] = [login(server.port, role, PASSWORD) for _ in range(SESSIONS_PER_ROLE)]
            if "load" in cfg.phases:
                say(
                    f"\nPages and API calls under load ({cfg.connections} connections, {cfg.seconds:g} s each):"
                )
                rows = load_phase(cfg, server, scenario, sessions, queries[cfg.patients]["endpoints"])
            if "booking" in cfg.phases:
                say("\nBooking under contention…")
                booking = booking_phase(cfg, server)
        finally:
            server.stop()
    if "sweep" in cfg.phases:
        say("\nReminder sweep through a Celery worker…")
        sweep = sweep_phase(cfg)
    if "memory" in cfg.phases:
        say(f"\nWeb worker memory over {cfg.memory_requests:,} requests…")
        mix = [
            e
            for e in scenario
            if e.key != "floor" and queries[cfg.patients]["endpoints"][e.key]["ms"] < MEMORY_MIX_MS
        ]
        memory = memory_phase(cfg, mix, sessions)
    context["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text, _ = report(cfg, context, rows, booking, sweep, memory, queries)
    say("\n" + text)
    (VAR / "results.md").write_text(text)
    (VAR / "results.json").write_text(
        json.dumps(
            {
                "context": context,
                "config": asdict(cfg),
                "rows": [
                    {**{k: v for k, v in asdict(r).items() if k not in ("result", "floor")},
                     "result": r.result and {**asdict(r.result), "rate": r.result.rate, "latencies_ms": []},
                     "floor": r.floor and {**asdict(r.floor), "rate": r.floor.rate, "latencies_ms": []}}
                    for r in rows or []
                ],
                "booking": booking and asdict(booking),
                "sweep": asdict(sweep) if isinstance(sweep, SweepResult) else sweep,
                "memory": memory and asdict(memory),
                "queries": queries,
            },
            indent=2,
            default=str,
        )
    )  # fmt: skip
    say(f"Written to {VAR / 'results.md'}")


if __name__ == "__main__":
    main()
