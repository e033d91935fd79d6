"""`make run` on a fresh machine: the embedded default (SQLite + file queue), migrate, demo data, then the
web server with a worker and beat. Log in as the front desk and see the worker's heartbeat arrive."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        SPINEDESK_VAR_DIR=str(tmp_path / "var"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        SPINEDESK_HEARTBEAT_SECONDS="1",
    )
    return env


def _manage(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


def test_make_run_serves_login_and_home_with_a_running_worker(embedded_env):
    _manage(embedded_env, "migrate", "--noinput")
    _manage(embedded_env, "seed_demo")
    _manage(embedded_env, "collectstatic", "--noinput")
    port = _free_port()
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=embedded_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def health():
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                body = json.load(response)
            return body if body["worker"]["state"] == "ok" else None

        body = wait_until(health, timeout=60, what="the worker's first heartbeat")
        assert body["database"] == body["broker"] == "ok"

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/accounts/login/", timeout=5).read().decode()
        assert "staff log in" in login_page
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {"username": "frontdesk", "password": "spinedesk", "csrfmiddlewaretoken": csrf}
        ).encode()
        request = urllib.request.Request(f"{base}/accounts/login/", data=form, headers={"Referer": base})
        home = opener.open(request, timeout=5)
        assert home.geturl() == f"{base}/"
        page = home.read().decode()
        assert "Today's procedures" in page
        assert "Maria Gomez" in page
        # static assets come from the app itself
        css = opener.open(f"{base}/static/vendor/bootstrap/bootstrap.min.css", timeout=5)
        assert css.status == 200
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
