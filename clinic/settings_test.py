"""Settings for the test suite: the real settings, with test-speed password hashing and static files
served from the finders (no collectstatic step before a test run)."""

import os

from clinic.settings import *  # noqa: F403
from clinic.settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "console"
# Tests send through the sweep (or a worker they start), never through whatever worker shares the broker.
MESSAGE_SEND_AT_ONCE = False

# Parallel test runs on one PostgreSQL server (two developers, or CI beside a developer) each get
# their own test database; scripts/run_tests.py sets the suffix per run.
_suffix = os.environ.get("SPINEDESK_TEST_DB_SUFFIX", "")
if _suffix and DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"test_spinedesk_{_suffix}"}  # noqa: F405
