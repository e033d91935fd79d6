#!/usr/bin/env python
"""`make test`: use PostgreSQL and Redis when they are configured or answer on their default local ports;
otherwise run on SQLite and the file queue, and say loudly which tests that skips."""

import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/spinedesk"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    env = dict(os.environ)
    # SPINEDESK_EMBEDDED=1 forces the SQLite + file-queue fallback even when servers answer locally.
    probe = env.get("SPINEDESK_EMBEDDED", "") not in ("1", "true", "yes")
    if probe and not env.get("DATABASE_URL") and _answers("127.0.0.1", 5432):
        env["DATABASE_URL"] = DEFAULT_DATABASE_URL
    if probe and not env.get("REDIS_URL") and _answers("127.0.0.1", 6379):
        env["REDIS_URL"] = DEFAULT_REDIS_URL
    # Test runs keep their own embedded state (SQLite file for cross-process tests, file queue) apart
    # from the developer's demo clinic.
    env.setdefault("SPINEDESK_VAR_DIR", str(ROOT / "var" / "test"))
    env.setdefault("SPINEDESK_TEST_DB_SUFFIX", str(os.getpid()))
    database = env.get("DATABASE_URL", "SQLite (embedded)")
    broker = env.get("REDIS_URL", "file queue (embedded)")
    print(
        f"SpineDesk tests — database: {database.split('@')[-1]} · broker: {broker.split('@')[-1]}", flush=True
    )
    os.chdir(ROOT)
    os.execve(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[1:]], env)


if __name__ == "__main__":
    sys.exit(main())
