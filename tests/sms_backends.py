"""SMS backends for tests: the file backend plus a journal of every hand-over (so a duplicate send is
visible even though the file would just be rewritten), with optional pauses to kill a worker mid-send."""

import os
import time
from pathlib import Path

from django.conf import settings

from procedures.integrations.sms import FileSmsBackend


def _journal(line: str) -> None:
    path = Path(settings.SMS_FILE_PATH) / "journal.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND writes of one short line are atomic between processes.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


class JournalSmsBackend(FileSmsBackend):
    def send(self, *, to: str, body: str, key: str, status_callback: str = "") -> str:
        _journal(f"begin {key} {os.getpid()}")
        time.sleep(float(os.environ.get("TEST_SMS_PAUSE_BEFORE", "0")))
        result = super().send(to=to, body=body, key=key)
        _journal(f"sent {key} {os.getpid()}")
        time.sleep(float(os.environ.get("TEST_SMS_PAUSE_AFTER", "0")))
        return result


def journal_lines(path: Path, word: str) -> list[str]:
    log = path / "journal.log"
    if not log.exists():
        return []
    return [line.split()[1] for line in log.read_text().splitlines() if line.startswith(word + " ")]
