"""Settings for the test suite: production mode against PostgreSQL and Redis on loopback.

pytest-django creates and drops ``test_pm``; nothing here ever points at a non-test database.
Every value can be overridden from the environment (scripts/test.sh leaves them alone).
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/pm")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("WEBHOOK_SECRET", "test-webhook-secret-0123456789abcdef")  # production: >= 32
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("LOG_FORMAT", "console")
os.environ.setdefault("INSTANCE_ID", "pytest")

from config.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test run gets its own key space, so parallel runs and leftovers never collide.
PM_REDIS_KEY_PREFIX = f"pmtest{os.getpid()}"
CACHES["shared"]["KEY_PREFIX"] = PM_REDIS_KEY_PREFIX  # noqa: F405
