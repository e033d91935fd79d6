"""Exactly once, proven with real parts: Celery workers in their own processes, each with its own beat
sweeping every second, on real Redis and PostgreSQL. Two workers and two sweeps at once, a worker killed
in the middle of a send (before and after the provider took the message), and Redis down then back."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from procedures.models import Channel, Message, MessageKind, MessageStatus
from procedures.services.messaging import messages_send_due
from tests.factories import AppointmentFactory, PatientFactory
from tests.helpers import wait_until
from tests.sms_backends import journal_lines

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of this test's own (not the shared one), which the test can stop and start."""
    binary = shutil.which("redis-server")
    if binary is None:
        # A skip here would hide the exactly-once proof; CI (SPINEDESK_REQUIRE_SERVICES) installs Redis.
        if os.environ.get("SPINEDESK_REQUIRE_SERVICES"):
            pytest.fail("redis-server is not installed, and CI needs it for the worker tests")
        pytest.skip("redis-server is not installed (the worker tests start a Redis of their own)")
    port = _free_port()
    state = {"proc": None}

    def start():
        state["proc"] = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(port), timeout=10, what="private redis to start")

    def stop():
        if state["proc"] is not None:
            state["proc"].kill()
            state["proc"].wait(timeout=10)
            state["proc"] = None

    start()
    yield type(
        "Redis",
        (),
        {"url": f"redis://127.0.0.1:{port}/0", "start": staticmethod(start), "stop": staticmethod(stop)},
    )
    stop()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def workers(tmp_path, redis_server):
    """Start Celery workers (each with an embedded beat) against the test database and a private Redis."""
    started: list[subprocess.Popen] = []
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_server.url,
        "SPINEDESK_VAR_DIR": str(tmp_path / "var"),
        "SMS_BACKEND": "tests.sms_backends.JournalSmsBackend",
        "SMS_FILE_PATH": str(tmp_path / "sms"),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "REMINDER_SWEEP_SECONDS": "1",
        "SPINEDESK_HEARTBEAT_SECONDS": "3600",
        "MESSAGE_SEND_AT_ONCE": "0",
    }

    def start(name: str, **env) -> subprocess.Popen:
        (tmp_path / "var").mkdir(exist_ok=True)
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "-B",
                "-s",
                str(tmp_path / f"{name}-beat-schedule"),
                "-n",
                f"{name}@%h",
                "-c",
                "2",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env={**base_env, **{key: str(value) for key, value in env.items()}},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    def kill(proc: subprocess.Popen) -> None:
        # The whole process group: the pool children too, as when a machine loses power.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    yield type(
        "Workers",
        (),
        {"start": staticmethod(start), "kill": staticmethod(kill), "sms": tmp_path / "sms", "logs": tmp_path},
    )
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _due_messages(count: int) -> list[int]:
    ids = []
    for _ in range(count):
        patient = PatientFactory(
            consent_sms=True, consent_sms_at=timezone.now(), preferred_channel=Channel.SMS
        )
        appointment = AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=5))
        ids.append(
            Message.objects.create(
                patient=patient,
                appointment=appointment,
                kind=MessageKind.CONFIRMATION,
                plan_key="confirmation",
                due_at=timezone.now() - timedelta(seconds=5),
            ).pk
        )
    return ids


def _all_sent(ids: list[int]) -> bool:
    return Message.objects.filter(pk__in=ids, status=MessageStatus.SENT).count() == len(ids)


def _quiet_hours_off(settings_env: dict) -> dict:
    # Tests run at any hour: make sure no text waits for the morning.
    return {**settings_env, "REMINDER_QUIET_START": "00:00", "REMINDER_QUIET_END": "00:00"}


@pytest.mark.redis
def test_two_workers_with_two_beats_send_each_message_exactly_once(workers):
    ids = _due_messages(40)
    env = _quiet_hours_off({})
    workers.start("alpha", **env)
    workers.start("beta", **env)
    wait_until(lambda: _all_sent(ids), timeout=90, what="every message to be sent")
    sent = journal_lines(workers.sms, "sent")
    assert sorted(sent) == sorted(f"message-{i}" for i in ids)
    assert len(sent) == len(set(sent)) == 40
    assert set(Message.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


@pytest.mark.redis
def test_a_worker_killed_before_the_provider_took_the_message_is_replaced_and_it_goes_once(workers):
    (message_id,) = _due_messages(1)
    env = _quiet_hours_off({"MESSAGE_SEND_LEASE_SECONDS": 3})
    first = workers.start("doomed", TEST_SMS_PAUSE_BEFORE=60, **env)
    wait_until(lambda: journal_lines(workers.sms, "begin"), timeout=60, what="the send to begin")
    workers.kill(first)
    assert Message.objects.get(pk=message_id).status == MessageStatus.SENDING
    workers.start("rescuer", **env)
    wait_until(lambda: _all_sent([message_id]), timeout=60, what="the rescuer to send it")
    assert journal_lines(workers.sms, "sent") == [f"message-{message_id}"]
    assert len(journal_lines(workers.sms, "begin")) == 2
    assert Message.objects.get(pk=message_id).attempts == 2


@pytest.mark.redis
def test_a_worker_killed_after_the_provider_took_the_message_is_not_sent_twice(workers):
    (message_id,) = _due_messages(1)
    env = _quiet_hours_off({"MESSAGE_SEND_LEASE_SECONDS": 3})
    first = workers.start("doomed", TEST_SMS_PAUSE_AFTER=60, **env)
    wait_until(lambda: journal_lines(workers.sms, "sent"), timeout=60, what="the provider to take it")
    workers.kill(first)
    assert Message.objects.get(pk=message_id).status == MessageStatus.SENDING
    workers.start("rescuer", **env)
    wait_until(lambda: _all_sent([message_id]), timeout=60, what="the rescuer to record it")
    assert journal_lines(workers.sms, "sent") == [f"message-{message_id}"]
    assert journal_lines(workers.sms, "begin") == [f"message-{message_id}"]
    assert "already taken" in Message.objects.get(pk=message_id).error


@pytest.mark.redis
def test_nothing_is_lost_while_redis_is_down_and_the_next_sweep_catches_up(workers, redis_server, tmp_path):
    env = _quiet_hours_off({})
    worker = workers.start("steady", **env)
    early = _due_messages(5)
    wait_until(lambda: _all_sent(early), timeout=60, what="the first messages")
    redis_server.stop()
    during = _due_messages(10)  # booked while the broker is down: the rows wait, planned
    # Wait until the worker itself has found the broker gone (its log says so), not for a guessed time.
    log = workers.logs / "steady.log"
    wait_until(
        lambda: b"Cannot connect to redis" in log.read_bytes() or b"Connection refused" in log.read_bytes(),
        timeout=60,
        what="the worker to notice that Redis is down",
    )
    assert Message.objects.filter(pk__in=during, status=MessageStatus.PLANNED).count() == 10
    assert worker.poll() is None, "the worker must survive the broker outage"
    redis_server.start()
    wait_until(lambda: _all_sent(during), timeout=120, what="the sweep to catch up after Redis returned")
    sent = journal_lines(workers.sms, "sent")
    assert len(sent) == len(set(sent)) == 15


def test_four_sweeps_at_once_in_threads_send_each_message_once(settings, tmp_path):
    settings.SMS_BACKEND = "tests.sms_backends.JournalSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    settings.REMINDER_QUIET_START = settings.REMINDER_QUIET_END = "00:00"
    ids = _due_messages(60)
    barrier = threading.Barrier(4)
    errors = []

    def sweep():
        try:
            barrier.wait(timeout=10)
            messages_send_due()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    sent = journal_lines(tmp_path / "sms", "sent")
    assert sorted(sent) == sorted(f"message-{i}" for i in ids)
    assert _all_sent(ids)
