"""Browser-test harness: one headless Chromium per test session, a fresh context (cookies, storage) per test.

Every UI test builds on these fixtures:

- ``page`` (desktop 1366x900), ``tablet_page`` (1024x768), ``phone_page`` (390x844, touch, 2x):
  a new browser context per test whose ``base_url`` is the live server, so ``page.goto("/patients/")`` works.
- ``login_as(page, "nurse")``: logs in through the real login form and waits for the home page.
- ``screenshot(page, "label")``: full-page PNG in var/screenshots/<test-name>-<label>.png for humans.
- ``browser_errors``: JavaScript exceptions, console errors and HTTP answers >= 400 (page, static file or
  htmx request) seen during the test. The test fails if any are left at the end; a test that expects one
  (e.g. a 403 page) checks it and removes it from the list.

Browser tests are marked ``@pytest.mark.browser`` (tests/conftest.py skips them when Chromium is missing).
They use pytest-django's ``live_server``, which makes the database transactional: the ORM can be used
between browser steps, never while the browser waits on the server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.pages import login_url, submit_login
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = ROOT / "var" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The clinic's zone and a US locale, so dates typed and shown do not depend on the machine running the tests.
CONTEXT_DEFAULTS = {
    "locale": "en-US",
    "timezone_id": "America/New_York",
    "reduced_motion": "reduce",  # no Bootstrap fade/collapse animations to wait for
}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
# Nothing is expected to be missing: the base template links its own icon.
IGNORED_MISSING: set[str] = set()
# Fail fast: the live server answers locally in milliseconds, a missing element should not cost 30 s.
ACTION_TIMEOUT_MS = int(os.environ.get("BROWSER_TIMEOUT_MS", "5000"))
NAVIGATION_TIMEOUT_MS = int(os.environ.get("BROWSER_NAVIGATION_TIMEOUT_MS", "10000"))
expect.set_options(timeout=ACTION_TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def browser_errors() -> list[str]:
    """What went wrong in the browser during the test (JavaScript errors, console errors, HTTP >= 400,
    failed requests). Checked when the test ends; remove the entries a test expects."""
    return []


def _watch(page: Page, errors: list[str]) -> None:
    def on_console(msg) -> None:
        # Failed requests are reported by on_response with their address; the console line has none.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"{page.url}: console error: {msg.text}")

    def on_response(response) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400 and path not in IGNORED_MISSING:
            errors.append(f"HTTP {response.status} {response.request.method} {path}")

    def on_request_failed(request) -> None:
        # ERR_ABORTED is a request cut short by the next navigation (a click that leaves the page).
        path = urlsplit(request.url).path
        if request.failure != "net::ERR_ABORTED" and path not in IGNORED_MISSING:
            errors.append(f"request failed ({request.failure}): {request.method} {path}")

    page.on("pageerror", lambda exc: errors.append(f"{page.url}: JavaScript error: {exc}"))
    page.on("console", on_console)
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)


@pytest.fixture
def _marked_browser(request) -> None:
    if request.node.get_closest_marker("browser") is None:
        pytest.fail(
            "Browser tests need @pytest.mark.browser (or pytestmark = pytest.mark.browser) so that they "
            "are skipped, loudly, where Chromium is missing.",
            pytrace=False,
        )


@pytest.fixture
def new_page(_marked_browser, browser, live_server, browser_errors) -> Iterator[Callable[..., Page]]:
    """Factory: ``new_page(**context_options)`` opens a page in its own context (its own cookies).
    Use it directly for two users side by side; every context is closed at the end of the test."""
    contexts: list[BrowserContext] = []

    def make(**options) -> Page:
        context = browser.new_context(base_url=live_server.url, **{**CONTEXT_DEFAULTS, **DESKTOP, **options})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        _watch(page, browser_errors)
        return page

    yield make
    for context in contexts:
        context.close()
    if browser_errors:
        pytest.fail("The browser reported errors:\n  " + "\n  ".join(browser_errors), pytrace=False)


@pytest.fixture
def page(new_page) -> Page:
    return new_page(**DESKTOP)


@pytest.fixture
def tablet_page(new_page) -> Page:
    return new_page(**TABLET)


@pytest.fixture
def phone_page(new_page) -> Page:
    return new_page(**PHONE)


@pytest.fixture
def login_as(live_server, cast) -> Callable[[Page, str], Page]:
    """``login_as(page, "frontdesk")`` logs in with the cast's shared password through the login form
    and returns the page once the home page (with the "who am I" box) has loaded."""

    def login(page: Page, username: str, password: str = PASSWORD) -> Page:
        page.goto(login_url(live_server))
        submit_login(page, username, password)
        expect(page).to_have_url(f"{live_server.url}/")
        # Attached, not visible: on a phone the name sits inside the collapsed menu.
        expect(page.get_by_test_id("whoami")).to_be_attached()
        expect(page.get_by_role("main").get_by_role("heading", level=1)).to_be_visible()
        return page

    return login


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@pytest.fixture
def screenshot(request) -> Callable[[Page, str], Path]:
    """``screenshot(page, "home")`` saves var/screenshots/<test-name>-home.png (full page) and returns its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(page: Page, label: str) -> Path:
        path = SCREENSHOT_DIR / f"{_safe(request.node.name)}-{_safe(label)}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        return path

    return take
