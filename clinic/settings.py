"""SpineDesk settings, read from the environment (12-factor). Every variable is documented in .env.example."""

import secrets
import zoneinfo
from datetime import time, timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state of the embedded default (SQLite file, file queue, outgoing mail/SMS files) lives here.
VAR_DIR = Path(env_str("SPINEDESK_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    # Local runs without configuration get a random key kept on disk, so sessions survive a restart.
    # Production always sets DJANGO_SECRET_KEY (check --deploy insists on a strong one).
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "auditlog",
    "procedures",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "procedures.middleware.SessionIdleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "procedures.middleware.StaffLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Last, so that it sees the outcome of authentication for lockout bookkeeping.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "procedures.context_processors.clinic",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# With DATABASE_URL: that server (PostgreSQL in production). Without: an embedded SQLite file in WAL mode
# with IMMEDIATE transactions, so the web process and the Celery worker can both write without
# "database is locked" upgrades in the middle of a transaction.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Every query here is short and interactive: PostgreSQL's JIT spent seconds compiling the outcomes
        # queries (hundreds of aggregate expressions) to save milliseconds running them.
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    # A streaming read replica for the reporting reads (clinic/routers.py); without it they use the primary.
    DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
    if DATABASE_REPLICA_URL:
        DATABASES["replica"] = dj_database_url.parse(
            DATABASE_REPLICA_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)
        )
        DATABASES["replica"].update(
            {
                "CONN_HEALTH_CHECKS": True,
                "OPTIONS": {"options": "-c jit=off"},
                # Tests read the replica alias from the primary's test database.
                "TEST": {"MIRROR": "default"},
            }
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "spinedesk.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
DATABASE_ROUTERS = ["clinic.routers.ReportingReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_QUEUE_DIR = VAR_DIR / "celery-queue"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # kombu's filesystem transport: a queue in a folder, no server to run.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "messages"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "messages"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
    # The transport expects its folders to exist; make them here so web, worker, beat and tests all agree.
    for _folder in ("messages", "control"):
        (CELERY_QUEUE_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran, so a worker that dies mid-task leaves it for another worker;
# every task is therefore written to be idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Periodic tasks, all in one place. Due work is found by sweeps over rows with a due time.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "procedures.tasks.heartbeat_record",
        "schedule": float(env_int("SPINEDESK_HEARTBEAT_SECONDS", 30)),
    },
    "clear-expired-sessions": {"task": "procedures.tasks.sessions_clear_expired", "schedule": 3600.0},
    # Sends due reminders and check-ins (services/messaging.py).
    "messages-sweep": {
        "task": "procedures.tasks.messages_sweep",
        "schedule": float(env_int("REMINDER_SWEEP_SECONDS", 60)),
    },
    # Marks check-ins unanswered too long missed and puts them on the call list (services/checkins.py).
    "followups-sweep": {
        "task": "procedures.tasks.followups_sweep",
        "schedule": float(env_int("REMINDER_SWEEP_SECONDS", 60)),
    },
    # Keeps the outcomes dashboard's and the RFA board's rollups current (services/rollups.py).
    "rollups-sweep": {
        "task": "procedures.tasks.rollups_sweep",
        "schedule": float(env_int("ROLLUP_SWEEP_SECONDS", 15)),
    },
}

# --- Clinic ---------------------------------------------------------------------------------------
CLINIC_NAME = env_str("CLINIC_NAME", "SpineDesk Pain Clinic")
CLINIC_PHONE = env_str("CLINIC_PHONE", "(555) 010-2000")
CLINIC_TIME_ZONE = env_str("CLINIC_TIME_ZONE", "America/New_York")
try:
    zoneinfo.ZoneInfo(CLINIC_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
    raise ImproperlyConfigured(f"CLINIC_TIME_ZONE={CLINIC_TIME_ZONE!r} is not an IANA time zone") from exc

# Slot search offers starts on this grid (minutes past each hour in the clinic's zone).
SCHEDULING_SLOT_MINUTES = env_int("SCHEDULING_SLOT_MINUTES", 15)

LANGUAGE_CODE = "en-us"
TIME_ZONE = CLINIC_TIME_ZONE  # the zone pages display in; the database stores UTC
USE_I18N = True
USE_TZ = True

# --- Static files (served by the app through whitenoise; no CDN) ----------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Authentication, sessions, lockout -----------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "procedures.roles.RolePermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions end after this many minutes without a request (every request pushes the expiry forward).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30) * 60
# Activity keeps a session alive: procedures.middleware.SessionIdleMiddleware writes it again when its last
# write is SESSION_REFRESH_SECONDS old (not on every request, which cost every page an UPDATE).
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- HTTPS and deployment hardening (all on with DJANGO_HTTPS=1) ----------------------------------
_HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = _HTTPS
# Load balancers probe /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000) if _HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = _HTTPS
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Email and SMS --------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SpineDesk <no-reply@spinedesk.invalid>")
# file (one file per message in SMS_FILE_PATH; the default), console (prints), twilio, or a dotted path to a
# backend class.
SMS_BACKEND = env_str("SMS_BACKEND", "file")
SMS_FILE_PATH = env_str("SMS_FILE_PATH", str(VAR_DIR / "sms"))
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com")

# --- Reminders and check-ins ----------------------------------------------------------------------
# Links in messages point here (the patient opens them on their phone, without logging in).
SPINEDESK_PUBLIC_URL = env_str("SPINEDESK_PUBLIC_URL", "http://localhost:8000").rstrip("/")
# Domain part of each email's stable Message-ID (mailboxes drop a second copy with the same id).
MESSAGE_ID_DOMAIN = env_str("MESSAGE_ID_DOMAIN", "spinedesk.invalid")
# Where red-flag alerts are emailed (empty: only the in-app urgent call list).
CLINIC_ALERT_EMAIL = env_str("CLINIC_ALERT_EMAIL")
# No text messages between these local times in the patient's zone; due ones wait for the morning.
REMINDER_QUIET_START = env_str("REMINDER_QUIET_START", "21:00")
REMINDER_QUIET_END = env_str("REMINDER_QUIET_END", "08:00")
# Clock times (patient's zone) for the hold reminder on a drug's stop day and the day-before message.
REMINDER_MORNING = env_str("REMINDER_MORNING", "08:00")
REMINDER_DAY_BEFORE_AT = env_str("REMINDER_DAY_BEFORE_AT", "10:00")
# "Please confirm" goes this many days before the procedure.
REMINDER_CONFIRM_DAYS_BEFORE = env_int("REMINDER_CONFIRM_DAYS_BEFORE", 2)
# An unanswered check-in gets one nudge after this many hours, and is "missed" (staff call list) after that.
CHECKIN_NUDGE_AFTER_HOURS = env_int("CHECKIN_NUDGE_AFTER_HOURS", 24)
CHECKIN_MISSED_AFTER_HOURS = env_int("CHECKIN_MISSED_AFTER_HOURS", 48)
# How long a check-in link works after it was sent.
CHECKIN_LINK_DAYS = env_int("CHECKIN_LINK_DAYS", 7)
# A send claimed longer ago than this belongs to a worker that died; the sweep takes it over.
MESSAGE_SEND_LEASE_SECONDS = env_int("MESSAGE_SEND_LEASE_SECONDS", 300)
MESSAGE_MAX_ATTEMPTS = env_int("MESSAGE_MAX_ATTEMPTS", 6)
REMINDER_SWEEP_SECONDS = env_int("REMINDER_SWEEP_SECONDS", 60)
# Hand a message that is due now (a confirmation) to the workers as the booking commits, instead of
# waiting for the next sweep. Only latency: the sweep alone guarantees delivery.
MESSAGE_SEND_AT_ONCE = env_bool("MESSAGE_SEND_AT_ONCE", True)
for _clock_name in ("REMINDER_QUIET_START", "REMINDER_QUIET_END", "REMINDER_MORNING", "REMINDER_DAY_BEFORE_AT"):
    try:
        time.fromisoformat(globals()[_clock_name])
    except ValueError as exc:
        raise ImproperlyConfigured(f"{_clock_name}={globals()[_clock_name]!r} is not a clock time such as 08:00") from exc

# --- Forms and API --------------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    # Token first, so an anonymous caller gets 401 with a WWW-Authenticate header rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["procedures.api.permissions.RolePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SpineDesk API",
    "DESCRIPTION": "Procedure scheduling and pre/post-care for interventional pain clinics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and Redoc assets come from the installed sidecar package, served by the app (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `source` field with different choices: name each enum after its model's choices.
    "ENUM_NAME_OVERRIDES": {
        "PainSourceEnum": "procedures.models.outcomes.PainSource",
        "DiarySourceEnum": "procedures.models.dayof.DiarySource",
        "AppointmentStatusEnum": "procedures.models.scheduling.AppointmentStatus",
        "MessageStatusEnum": "procedures.models.messaging.MessageStatus",
        "MessageKindEnum": "procedures.models.messaging.MessageKind",
        "MessageChannelEnum": "procedures.models.messaging.Channel",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
