"""The deployment files (docker-compose.yml, Dockerfile, .env.example) kept honest without Docker:
every service, command and variable they name must exist in the code, and production settings must pass
`manage.py check --deploy`."""

import contextlib
import importlib
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery.app.utils import find_app
from django.core.management import get_commands

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_FILE = ROOT / "clinic" / "settings.py"
# Other code that reads the environment by name (os.environ.get("NAME", ...)).
ENV_READERS = [
    ROOT / "procedures" / "management" / "commands" / "runstack.py",
    ROOT / "tests" / "conftest.py",
]
DJANGO_SERVICES = ("migrate", "web", "worker", "beat")
SETTING_READ = re.compile(r"""\benv_(?:str|bool|int|list)\(\s*["']([A-Z][A-Z0-9_]*)["']""")
ENVIRON_READ = re.compile(r"""os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']""")
# `NAME=value` or, for an optional variable, `# NAME=value`.
DOCUMENTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
ASSIGNED = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _settings_variables() -> set[str]:
    return set(SETTING_READ.findall(SETTINGS_FILE.read_text()))


def _documented_variables() -> set[str]:
    return set(DOCUMENTED.findall(ENV_EXAMPLE.read_text()))


def _env_example_values() -> dict[str, str]:
    """The variables .env.example sets (not the commented-out ones), quotes removed as compose does."""
    values = {}
    for name, raw in ASSIGNED.findall(ENV_EXAMPLE.read_text()):
        value = raw.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


def _command_argv(command) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _assert_command_exists(argv: list[str]) -> None:
    """The program a service runs exists: a WSGI app, a Celery app or a management command."""
    if argv[0] == "gunicorn":
        module_name, _, attribute = next(arg for arg in argv[1:] if not arg.startswith("-")).partition(":")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), f"{module_name}:{attribute} is not a WSGI callable"
    elif argv[0] == "celery":
        import clinic.celery

        app_name = argv[argv.index("-A") + 1]
        assert find_app(app_name) is clinic.celery.app, (
            f"celery -A {app_name} does not find clinic.celery.app"
        )
        assert argv[argv.index("-A") + 2] in {"worker", "beat"}, argv
    elif argv[:2] == ["python", "manage.py"]:
        assert argv[2] in get_commands(), f"no management command {argv[2]!r}"
    else:
        raise AssertionError(f"unknown kind of command: {argv}")


def _production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """This process's environment without any SpineDesk variable, plus the given values."""
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by tests/conftest.py for the browser tests; check --deploy rejects it.
    known = (
        _settings_variables()
        | _documented_variables()
        | {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    )
    env = {name: value for name, value in os.environ.items() if name not in known}
    env.update(SPINEDESK_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="clinic.settings", **values)
    return env


def _random_secret_key() -> str:
    key = secrets.token_urlsafe(45)
    assert len(key) == 60
    return key


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_defines_the_whole_stack(compose):
    assert set(compose["services"]) >= {"postgres", "redis", "migrate", "web", "worker", "beat", "mailpit"}


def test_compose_databases_are_the_supported_versions_with_healthchecks(compose):
    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert redis["image"].startswith("redis:7")
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_compose_django_services_are_one_definition_reused(compose):
    text = COMPOSE_FILE.read_text()
    assert re.search(r"^x-django: &django$", text, re.MULTILINE)
    anchor = compose["x-django"]
    for name in DJANGO_SERVICES:
        service = compose["services"][name]
        assert re.search(rf"^  {name}:\n    <<: \*django$", text, re.MULTILINE), f"{name} must use *django"
        assert service["build"] == anchor["build"], name
        assert service["image"] == anchor["image"], name
        assert service["env_file"] == anchor["env_file"] == ".env", name
        assert service["environment"] == anchor["environment"], name


def test_compose_django_services_use_the_compose_database_and_redis(compose):
    environment = compose["x-django"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://spinedesk:")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/spinedesk")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    # Without a key every container would invent its own, and sessions would not survive a restart.
    assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")


def test_compose_starts_django_after_healthy_services_and_migrations(compose):
    services = compose["services"]
    healthy = {"condition": "service_healthy"}
    assert services["migrate"]["depends_on"] == {"postgres": healthy, "redis": healthy}
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "postgres": healthy,
            "redis": healthy,
            "migrate": {"condition": "service_completed_successfully"},
        }, name


def test_compose_runs_exactly_one_beat(compose):
    services = compose["services"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in services["beat"]
    runs_beat = [
        name
        for name, service in services.items()
        if "command" in service
        and (
            "beat" in _command_argv(service["command"])
            or {"-B", "--beat"} & set(_command_argv(service["command"]))
        )
    ]
    assert runs_beat == ["beat"]


def test_compose_web_healthcheck_asks_healthz(compose):
    healthcheck = compose["services"]["web"]["healthcheck"]
    assert healthcheck["test"][0] == "CMD"
    assert "'/healthz'" in healthcheck["test"][-1]


def test_compose_sends_mail_to_mailpit_by_default(compose):
    mailpit = compose["services"]["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert any(port.endswith("8025:8025") for port in mailpit["ports"])
    environment = compose["x-django"]["environment"]
    assert environment["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert environment["EMAIL_HOST"] == "${EMAIL_HOST:-mailpit}"
    assert environment["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"


def test_compose_commands_name_things_that_exist(compose):
    commands = {name: s["command"] for name, s in compose["services"].items() if name in DJANGO_SERVICES}
    assert set(commands) == set(DJANGO_SERVICES)
    for command in commands.values():
        _assert_command_exists(_command_argv(command))


# --- Dockerfile -----------------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_gunicorn_image():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert "pip install -r requirements.lock" in text
    # The build-time key is set for the collectstatic step only, never as an ENV baked into the image.
    assert re.search(
        r"^RUN DJANGO_SECRET_KEY=\S+ python manage.py collectstatic --noinput", text, re.MULTILINE
    )
    assert not re.search(r"^ENV .*DJANGO_SECRET_KEY", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.MULTILINE)[-1])
    assert cmd[:2] == ["gunicorn", "clinic.wsgi:application"]
    assert cmd[cmd.index("--bind") + 1] == "0.0.0.0:8000"
    _assert_command_exists(cmd)


# --- .env.example ---------------------------------------------------------------------------------


def test_every_variable_settings_read_is_in_env_example():
    read = _settings_variables()
    assert len(read) >= 25, "the pattern no longer finds the env_*() calls in clinic/settings.py"
    assert read - _documented_variables() == set()


def test_every_variable_other_code_reads_is_in_env_example():
    read = set()
    for path in ENV_READERS:
        read |= set(ENVIRON_READ.findall(path.read_text()))
    assert {"PORT", "HOST", "WEB_CONCURRENCY", "CHROMIUM_PATH"} <= read
    assert read - _documented_variables() == set()


def test_env_example_documents_nothing_that_is_not_read():
    sources = [
        SETTINGS_FILE,
        *ENV_READERS,
        COMPOSE_FILE,
        ROOT / "scripts" / "run_tests.py",
        ROOT / ".ci" / "run",
    ]
    code = "\n".join(path.read_text() for path in sources)
    unread = {name for name in _documented_variables() if not re.search(rf"\b{name}\b", code)}
    assert unread == set()


def test_env_example_is_a_valid_production_configuration(tmp_path):
    values = _env_example_values()
    assert values["DJANGO_DEBUG"] == "0"
    assert values["DJANGO_HTTPS"] == "1"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["DATABASE_URL"].startswith("postgres://")
    assert values["REDIS_URL"].startswith("redis://")
    # The example leaves the key empty on purpose: each installation generates its own.
    values["DJANGO_SECRET_KEY"] = _random_secret_key()
    result = _check_deploy(_production_env(tmp_path, **values))
    assert result.returncode == 0, result.stdout + result.stderr


# --- Production settings --------------------------------------------------------------------------


def test_check_deploy_passes_with_production_values(tmp_path):
    env = _production_env(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="1",
        DJANGO_SECRET_KEY=_random_secret_key(),
        DJANGO_ALLOWED_HOSTS="spinedesk.example.org",
    )
    result = _check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_compose_web_healthcheck_passes_against_gunicorn_with_env_example(compose, tmp_path):
    """The exact healthcheck command, run against gunicorn configured from .env.example (embedded database
    and queue instead of the compose servers): a proxy-fronted HTTPS site must still report healthy."""
    values = _env_example_values()
    for name in ("DATABASE_URL", "REDIS_URL"):
        values.pop(name)
    env = _production_env(tmp_path, **{**values, "DJANGO_SECRET_KEY": _random_secret_key()})
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    (tmp_path / "var" / "celery-queue" / "messages").mkdir(parents=True, exist_ok=True)
    port = _free_port()
    healthcheck = list(compose["services"]["web"]["healthcheck"]["test"][1:])
    assert healthcheck[0] == "python"
    assert healthcheck[-1].count("8000") == 1
    healthcheck = [sys.executable, *healthcheck[1:-1], healthcheck[-1].replace("8000", str(port))]

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "-w",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        last: list[subprocess.CompletedProcess] = []

        def healthy() -> bool:
            last.append(
                subprocess.run(healthcheck, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
            )
            return last[-1].returncode == 0

        # A timeout is reported below, with gunicorn's log.
        with contextlib.suppress(AssertionError):
            wait_until(healthy, timeout=30, what="the compose healthcheck to pass", interval=0.5)
        result = last[-1] if last else subprocess.CompletedProcess(healthcheck, 1, "", "never ran")
    finally:
        server.terminate()
        _, server_log = server.communicate(timeout=15)
    assert result.returncode == 0, f"healthcheck failed:\n{result.stderr}\ngunicorn:\n{server_log[-3000:]}"


def test_the_web_worker_freezes_what_it_loaded_at_start():
    """clinic.wsgi moves the objects loaded at start out of the collector's reach and collects the young
    generation less often (see the comments there): a worker that forgot would pay a full walk of them
    every few slot searches."""
    probe = "import gc, clinic.wsgi; print(gc.get_threshold()[0], gc.get_freeze_count())"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    threshold, frozen = (int(n) for n in done.stdout.split()[-2:])
    assert threshold == 10_000 and frozen > 50_000


def test_each_celery_worker_process_settles_its_collector_too():
    from celery.signals import worker_process_init

    import clinic.celery

    receivers = [ref() for _, ref in worker_process_init.receivers]
    assert clinic.celery._settle_collector in receivers
