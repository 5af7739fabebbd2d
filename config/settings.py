"""Django settings.  Every value comes from ``config.env.load()`` (DESIGN §11, §12)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from config import env as _env
from config.logging import build_logging

CONFIG = _env.load()
BASE_DIR = _env.BASE_DIR
VAR_DIR = Path(CONFIG.database["NAME"]).parent if CONFIG.embedded and "sqlite" in CONFIG.database["ENGINE"] else BASE_DIR / "var"

# GENERAL ----------------------------------------------------------------------------------
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Kolkata"
USE_I18N = False
USE_TZ = True
APPEND_SLASH = False
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "django_ratelimit",
    "axes",
    "core",
    "portfolio",
    "positions",
    "reconciliation",
    "signals",
    "recovery",
    "legacy",
    "cockpit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out admin login into the lockout page (axes' own rule).
    "axes.middleware.AxesMiddleware",
]

# SECURITY (DESIGN §15.4) ----------------------------------------------------------------------
# Production runs behind TLS (nginx, or a proxy in front of it).  Each setting comes from the
# environment (config/env.py; README "Configuration"); with the documented production values
# `manage.py check --deploy` reports nothing.
SECURE_PROXY_SSL_HEADER = CONFIG.secure_proxy_ssl_header
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CONFIG.secure_cookies
SECURE_SSL_REDIRECT = CONFIG.secure_ssl_redirect
# Container health checks and the Prometheus scrape reach gunicorn directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG.hsts_include_subdomains
SECURE_HSTS_PRELOAD = CONFIG.hsts_preload
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)

# Admin login attempts are throttled per client address (django-axes): after
# ADMIN_LOGIN_FAILURE_LIMIT failures the address is locked out for ADMIN_LOGIN_COOLOFF_MINUTES,
# with a page that says so (templates/admin/lockout.html).  A success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = CONFIG.admin_login_failure_limit
ADMIN_LOGIN_COOLOFF_MINUTES = CONFIG.admin_login_cooloff_minutes
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "config.auth.axes_client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.auth.lockout_response"
AXES_VERBOSE = False  # no start-up banner in every command's output; failures and lockouts are still logged

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
            ],
        },
    },
]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Every instance serves its own CSS/JS (admin, cockpit) straight from the apps' static directories,
# found at start-up: a production instance started as the README says needs no collectstatic step,
# and looks the same as the embedded one.  (Files in STATIC_ROOT, if collected, are served too.)
WHITENOISE_USE_FINDERS = True
# Timestamps everywhere in the admin: IST with the zone shown (core.formatting decides the format).
FORMAT_MODULE_PATH = ["core.formats"]

# DATABASES --------------------------------------------------------------------------------
_database = dict(CONFIG.database)
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database.update(
        CONN_MAX_AGE=0,  # required with the psycopg pool
        CONN_HEALTH_CHECKS=True,
        OPTIONS={
            "pool": {"min_size": 1, "max_size": 12, "timeout": 2, "max_idle": 300},  # 503 before TradingView gives up (3 s)
            "connect_timeout": 2,
            "application_name": "ha-portfolio-manager",
            "options": "-c statement_timeout=15000 -c idle_in_transaction_session_timeout=60000",
        },
    )
else:
    _database.setdefault("OPTIONS", {})
    # WAL lets the admin read while the executor writes; the busy timeout waits instead of
    # failing when two threads of the embedded process write at once.
    _database["OPTIONS"].update(
        timeout=20,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        transaction_mode="IMMEDIATE",
    )
DATABASES = {"default": _database}

# CACHE AND REDIS ----------------------------------------------------------------------------
REDIS_URL = CONFIG.redis_url
PM_REDIS_KEY_PREFIX = "pm"  # every Redis key of ours starts with it (core.redis_client.key)
# "default" is process-local on purpose: the dedup fast path, instrument codes, the broker health
# check and alert throttles are per-process TTL caches (bounded, so memory stays flat).
# "shared" counts failed webhook authentications per client across instances (django-ratelimit);
# it fails open when Redis is down (IGNORE_EXCEPTIONS), as abuse damping must not refuse traffic.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pm-local",
        # Per process: the dedup fast path (resends come within minutes), instrument codes, health,
        # alert throttles.  Expired entries are only dropped when the cache culls, so the bound is
        # what keeps a web worker's memory flat over a long run.
        "OPTIONS": {"MAX_ENTRIES": 10_000, "CULL_FREQUENCY": 10},
    },
    "shared": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": PM_REDIS_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "IGNORE_EXCEPTIONS": True,
        },
    } if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pm-shared"},
}
RATELIMIT_USE_CACHE = "shared"
RATELIMIT_FAIL_OPEN = True
# The embedded demo is one process: its in-process cache is the shared one there.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["django_ratelimit.E003", "django_ratelimit.W001"]

# CELERY -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_RESULT_EXPIRES = None  # no results are kept, so beat needs no celery.backend_cleanup entry
CELERY_TASK_ALWAYS_EAGER = CONFIG.embedded
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 150
# Redelivery of an unacknowledged task happens after the visibility timeout; it must exceed the
# longest task (the hard time limit) or a running task would be delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 600,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "retry_on_timeout": False,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish may meet a pooled connection that died with a Redis restart: retry at once on a fresh
# one, briefly.  (When Redis is really down, the caller's circuit breaker avoids the attempt.)
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "recovery.beat:LeaderDatabaseScheduler"
CELERY_BEAT_SYNC_EVERY = 1  # persist last_run_at after every emission: a new leader resumes from it
CELERY_BEAT_CRON_STARTING_DEADLINE = 1800
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# REST FRAMEWORK ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HA Portfolio Manager",
    "DESCRIPTION": "TradingView alerts to sized, broker-confirmed futures positions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
}

# LOGGING ----------------------------------------------------------------------------------
LOGGING = build_logging(CONFIG.log_format, secrets=(CONFIG.webhook_url_token, CONFIG.webhook_secret))


def _demo_webhook_secret() -> str:
    """The embedded demo makes up a secret once and keeps it next to its database."""
    path = VAR_DIR / "demo_webhook_secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(18)
    path.write_text(value + "\n")
    return value


# PORTFOLIO MANAGER ------------------------------------------------------------------------
PM_MODE = CONFIG.mode
PM_INSTANCE_NAME = CONFIG.instance_name
PM_WEBHOOK_SECRET = CONFIG.webhook_secret or _demo_webhook_secret()
PM_WEBHOOK_URL_TOKEN = CONFIG.webhook_url_token  # POST /webhook/<token>; None: that route refuses
PM_WEBHOOK_MAX_BYTES = 10_240
PM_WEBHOOK_AUTH_FAILURE_THROTTLE = CONFIG.webhook_auth_failure_throttle
PM_TRUSTED_PROXY_COUNT = CONFIG.trusted_proxy_count
PM_SIGNAL_TIMEZONE = CONFIG.signal_timezone
PM_MAX_SIGNAL_AGE = CONFIG.max_signal_age
PM_MAX_SIGNAL_FUTURE = CONFIG.max_signal_future
PM_BROKER = CONFIG.broker
PM_OPENALGO_URL = CONFIG.openalgo_url
PM_OPENALGO_API_KEY = CONFIG.openalgo_api_key
PM_OPENALGO_MCX_QUANTITY = CONFIG.openalgo_mcx_quantity
PM_OPENALGO_EXPECT_ANALYZER = CONFIG.openalgo_expect_analyzer
PM_PAPER_SLIPPAGE_PERCENT = CONFIG.paper_slippage_percent
PM_PAPER_OPTION_TIME_VALUE = CONFIG.paper_option_time_value
PM_ALERT_WEBHOOK_URL = CONFIG.alert_webhook_url
PM_TELEGRAM_BOT_TOKEN = CONFIG.telegram_bot_token
PM_TELEGRAM_CHAT_ID = CONFIG.telegram_chat_id
PM_SIGNAL_CLAIM_SECONDS = CONFIG.signal_claim_seconds
# A Celery worker lowers its CPU priority by this much (0 = not at all): see config/celery.py.
PM_WORKER_NICENESS = CONFIG.worker_niceness
PM_ORDER_RESOLUTION_SECONDS = CONFIG.order_resolution_seconds  # an order not found in this long is UNRESOLVED
PM_ORDER_APPROVAL_SECONDS = CONFIG.order_approval_seconds  # likewise for one awaiting approval (semi-auto)
PM_MARKET_SESSIONS = CONFIG.market_sessions  # orders only inside exchange sessions (DESIGN §15.3)
PM_SIGNAL_LOCK_TTL = 30
PM_DEDUP_CACHE_SECONDS = 24 * 3600
PM_LEADER_LEASE_MS = 2000
PM_HEARTBEAT_SECONDS = 2
PM_INSTANCE_DEAD_SECONDS = 30
