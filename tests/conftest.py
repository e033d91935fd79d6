"""Shared fixtures: a fixed cast of staff users per role, service detection, and the loud skip report."""

import os
import shutil

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection

from procedures.roles import Role
from tests import factories
from tests.scheduling_fixtures import clinic  # noqa: F401  (fixture shared by scheduling tests)

# Playwright's sync API runs an event loop in the test thread; Django's ORM guards against being called
# from one. The tests call the ORM between browser steps, never concurrently with it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
_SERVICE_MARKERS = ("postgres", "redis", "browser")


def _service_available(marker: str) -> tuple[bool, str]:
    if marker == "postgres":
        return connection.vendor == "postgresql", "PostgreSQL is not configured (DATABASE_URL) or not running"
    if marker == "redis":
        return bool(settings.REDIS_URL), "Redis is not configured (REDIS_URL) or not running"
    if marker == "browser":
        found = os.path.exists(CHROMIUM) or shutil.which("chromium")
        return bool(found), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    raise AssertionError(marker)


_skipped_for_services: list[tuple[str, str]] = []


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker in _SERVICE_MARKERS:
            if item.get_closest_marker(marker):
                available, why = _service_available(marker)
                if not available:
                    item.add_marker(pytest.mark.skip(reason=f"needs {marker}: {why}"))
                    _skipped_for_services.append((item.nodeid, why))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _skipped_for_services:
        return
    terminalreporter.write_sep(
        "!", f"{len(_skipped_for_services)} TESTS SKIPPED FOR MISSING SERVICES", red=True
    )
    reasons: dict[str, int] = {}
    for _, why in _skipped_for_services:
        reasons[why] = reasons.get(why, 0) + 1
    for why, count in reasons.items():
        terminalreporter.write_line(f"  {count:4d} skipped: {why}", red=True)
    terminalreporter.write_line("  Start PostgreSQL and Redis (see README) to run them.", red=True)


def pytest_sessionfinish(session, exitstatus):
    # CI must never pass by skipping the tests that prove the real-server guarantees.
    if os.environ.get("SPINEDESK_REQUIRE_SERVICES") and _skipped_for_services:
        session.exitstatus = 1


@pytest.fixture
def cast(db):
    """One user per role, plus a logged-in user with no role at all."""
    return factories.staff_cast()


@pytest.fixture
def frontdesk(cast):
    return cast["frontdesk"]


@pytest.fixture
def nurse(cast):
    return cast["nurse"]


@pytest.fixture
def physician(cast):
    return cast["physician"]


@pytest.fixture
def clinic_admin(cast):
    return cast["admin"]


@pytest.fixture
def outsider(cast):
    return cast["outsider"]


def role_group(role: Role) -> Group:
    return Group.objects.get(name=role)
