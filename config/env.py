"""Configuration from the environment, validated once at start-up.

Every variable of DESIGN §11 is read here and nowhere else.  A bad value raises
``ConfigError`` naming the variable, so start-up stops with a clear message instead of
failing later on the first request that happens to need it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

_THROTTLE_RE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Config:
    mode: str  # "embedded" (no Redis) or "production"
    database: dict
    redis_url: str | None
    webhook_secret: str | None
    webhook_url_token: str | None
    broker: str
    openalgo_url: str | None
    openalgo_api_key: str | None
    openalgo_mcx_quantity: str  # how the broker counts MCX order quantity: "lots" or "units"
    openalgo_expect_analyzer: bool  # True: OpenAlgo must be in analyzer (sandbox) mode
    signal_timezone: str
    max_signal_age: int
    max_signal_future: int
    webhook_auth_failure_throttle: str
    trusted_proxy_count: int
    instance_name: str
    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    log_format: str
    alert_webhook_url: str | None
    telegram_bot_token: str | None
    telegram_chat_id: str | None
    paper_slippage_percent: str
    paper_option_time_value: str
    signal_claim_seconds: int
    worker_niceness: int
    order_resolution_seconds: int
    order_approval_seconds: int
    market_sessions: bool = False  # orders wait for the exchange session (DESIGN §15.3)
    # Production behind TLS (DESIGN §15.4)
    secure_proxy_ssl_header: tuple[str, str] | None = None
    secure_cookies: bool = False
    secure_ssl_redirect: bool = False
    hsts_seconds: int = 0
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False
    csrf_trusted_origins: tuple[str, ...] = ()
    admin_login_failure_limit: int = 5
    admin_login_cooloff_minutes: int = 15

    @property
    def embedded(self) -> bool:
        return self.mode == "embedded"


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ConfigError(name, f"must be a whole number, got {raw!r}")
    value = int(raw)
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: set[str]) -> str:
    raw = (_get(env, name) or default).lower()
    if raw not in choices:
        raise ConfigError(name, f"must be one of {sorted(choices)}, got {raw!r}")
    return raw


def _decimal_text(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _get(env, name) or default
    if not re.fullmatch(r"\d+(\.\d+)?", raw):
        raise ConfigError(name, f"must be a non-negative decimal number, got {raw!r}")
    return raw


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _openalgo_url(env: Mapping[str, str]) -> str | None:
    """The gateway URL: https, or plain http only to this machine (the api key travels in bodies)."""
    raw = _get(env, "OPENALGO_URL")
    if raw is None:
        return None
    if not re.fullmatch(r"https?://\S+", raw):
        raise ConfigError("OPENALGO_URL", f"must be an http(s) URL, got {raw!r}")
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError("OPENALGO_URL", f"cannot be parsed, got {raw!r}") from None
    if not host:
        raise ConfigError("OPENALGO_URL", f"has no host, got {raw!r}")
    if parts.scheme == "http" and not _loopback(host):
        raise ConfigError("OPENALGO_URL", f"must be https unless it points at this machine "
                                          f"(127.0.0.0/8, ::1, localhost), got {raw!r}")
    return raw


def _webhook_url_token(env: Mapping[str, str]) -> str | None:
    """The token of ``POST /webhook/<token>`` (DESIGN §15.4): unset disables that route.  It travels in
    a URL, so only unreserved URL characters, and it is the whole credential, so at least 32 of them.
    The value never appears in a message."""
    raw = _get(env, "WEBHOOK_URL_TOKEN")
    if raw is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", raw):
        raise ConfigError("WEBHOOK_URL_TOKEN", "may contain only letters, digits and . _ ~ - "
                                               "(generate one with: python -c 'import secrets; "
                                               "print(secrets.token_urlsafe(32))')")
    if len(raw) < 32:
        raise ConfigError("WEBHOOK_URL_TOKEN", f"must be at least 32 characters, got {len(raw)}")
    return raw


def _database(env: Mapping[str, str]) -> dict:
    raw = _get(env, "DATABASE_URL")
    if raw is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / "var" / "pm.sqlite3"),
        }
    try:
        parsed = dj_database_url.parse(raw)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ConfigError("DATABASE_URL", f"cannot be parsed ({exc})") from None
    engine = parsed.get("ENGINE", "")
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ConfigError("DATABASE_URL", "must be a postgres:// or sqlite:// URL")
    if not parsed.get("NAME"):
        raise ConfigError("DATABASE_URL", "has no database name")
    if engine == "django.db.backends.postgresql" and not parsed.get("HOST"):
        raise ConfigError("DATABASE_URL", "has no host")
    return parsed


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = _get(env, "REDIS_URL")
    if raw is None:
        return None
    if not re.fullmatch(r"rediss?://[^\s/]*(:\d+)?(/\d+)?", raw):
        raise ConfigError("REDIS_URL", f"must look like redis://host:port/db, got {raw!r}")
    return raw


def _timezone(env: Mapping[str, str]) -> str:
    name = _get(env, "SIGNAL_TIMEZONE") or "Asia/Kolkata"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError("SIGNAL_TIMEZONE", f"unknown time zone {name!r}") from None
    return name


def _market_sessions(env: Mapping[str, str], broker: str) -> bool:
    """Enforced by default against a real broker; off by default with the paper broker, so the
    embedded demo trades at any hour."""
    default = "on" if broker == "openalgo" else "off"
    return _choice(env, "MARKET_SESSIONS", default, {"on", "off"}) == "on"


_HEADER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_ORIGIN_RE = re.compile(r"https?://(\*\.)?[A-Za-z0-9.\-\[\]:]+")
WEBHOOK_SECRET_MIN_PRODUCTION = 32


def _proxy_ssl_header(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The header a TLS-terminating proxy sets to ``https`` (e.g. X-Forwarded-Proto).  Opt-in: only
    safe when that proxy always sets or strips it, else a client could claim HTTPS itself."""
    raw = _get(env, "SECURE_PROXY_SSL_HEADER")
    if raw is None:
        return None
    if not _HEADER_RE.fullmatch(raw):
        raise ConfigError("SECURE_PROXY_SSL_HEADER", f"must be a header name such as X-Forwarded-Proto, got {raw!r}")
    return "HTTP_" + raw.upper().replace("-", "_"), "https"


def _csrf_trusted_origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _get(env, "CSRF_TRUSTED_ORIGINS")
    origins = tuple(part.strip() for part in (raw or "").split(",") if part.strip())
    for origin in origins:
        if not _ORIGIN_RE.fullmatch(origin):
            raise ConfigError("CSRF_TRUSTED_ORIGINS", f"each entry is scheme://host[:port] (no path), got {origin!r}")
    return origins


def load(env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the whole configuration; raise ConfigError on the first bad variable."""
    env = os.environ if env is None else env
    redis_url = _redis_url(env)
    mode = "embedded" if redis_url is None else "production"
    production = mode == "production"

    database = _database(env)
    broker = _choice(env, "BROKER", "paper", {"paper", "openalgo"})
    openalgo_url = _openalgo_url(env)
    openalgo_api_key = _get(env, "OPENALGO_API_KEY")
    if broker == "openalgo":
        if openalgo_url is None:
            raise ConfigError("OPENALGO_URL", "is required when BROKER=openalgo")
        if openalgo_api_key is None:
            raise ConfigError("OPENALGO_API_KEY", "is required when BROKER=openalgo")

    webhook_secret = _get(env, "WEBHOOK_SECRET")
    if production and webhook_secret is None:
        raise ConfigError("WEBHOOK_SECRET", "is required outside the embedded demo")
    if webhook_secret is not None and len(webhook_secret) < 12:
        raise ConfigError("WEBHOOK_SECRET", "must be at least 12 characters")
    if production and len(webhook_secret) < WEBHOOK_SECRET_MIN_PRODUCTION:
        raise ConfigError("WEBHOOK_SECRET", f"must be at least {WEBHOOK_SECRET_MIN_PRODUCTION} characters in "
                                            f"production (got {len(webhook_secret)}); e.g. openssl rand -hex 32")

    webhook_url_token = _webhook_url_token(env)

    secret_key = _get(env, "DJANGO_SECRET_KEY")
    if secret_key is None:
        if production:
            raise ConfigError("DJANGO_SECRET_KEY", "is required outside the embedded demo")
        secret_key = "embedded-demo-only-not-secret"

    throttle = _get(env, "WEBHOOK_AUTH_FAILURE_THROTTLE") or "20/min"
    if not _THROTTLE_RE.fullmatch(throttle):
        raise ConfigError("WEBHOOK_AUTH_FAILURE_THROTTLE", f"must look like 20/min, got {throttle!r}")

    hosts_raw = _get(env, "ALLOWED_HOSTS")
    allowed_hosts = [h.strip() for h in hosts_raw.split(",") if h.strip()] if hosts_raw else None
    if allowed_hosts is None:
        allowed_hosts = ["127.0.0.1", "localhost", "[::1]", "testserver"]

    return Config(
        mode=mode,
        database=database,
        redis_url=redis_url,
        webhook_secret=webhook_secret,
        webhook_url_token=webhook_url_token,
        broker=broker,
        openalgo_url=openalgo_url,
        openalgo_api_key=openalgo_api_key,
        openalgo_mcx_quantity=_choice(env, "OPENALGO_MCX_QUANTITY", "lots", {"lots", "units"}),
        openalgo_expect_analyzer=_bool(env, "OPENALGO_EXPECT_ANALYZER", False),
        signal_timezone=_timezone(env),
        max_signal_age=_int(env, "MAX_SIGNAL_AGE", 3600, minimum=1),
        max_signal_future=_int(env, "MAX_SIGNAL_FUTURE", 300),
        webhook_auth_failure_throttle=throttle,
        trusted_proxy_count=_int(env, "TRUSTED_PROXY_COUNT", 0),
        instance_name=_get(env, "INSTANCE_ID") or socket.gethostname(),
        secret_key=secret_key,
        debug=_bool(env, "DJANGO_DEBUG", False),
        allowed_hosts=allowed_hosts,
        log_format=_choice(env, "LOG_FORMAT", "json" if production else "console", {"json", "console"}),
        alert_webhook_url=_get(env, "ALERT_WEBHOOK_URL"),
        telegram_bot_token=_get(env, "TELEGRAM_BOT_TOKEN"),
        telegram_chat_id=_get(env, "TELEGRAM_CHAT_ID"),
        paper_slippage_percent=_decimal_text(env, "PAPER_SLIPPAGE_PERCENT", "0"),
        paper_option_time_value=_decimal_text(env, "PAPER_OPTION_TIME_VALUE", "150"),
        signal_claim_seconds=_int(env, "SIGNAL_CLAIM_SECONDS", 60, minimum=2),
        worker_niceness=_int(env, "WORKER_NICENESS", 10, maximum=19),
        order_resolution_seconds=_int(env, "ORDER_RESOLUTION_SECONDS", 120, minimum=10),
        order_approval_seconds=_int(env, "ORDER_APPROVAL_SECONDS", 900, minimum=10),
        market_sessions=_market_sessions(env, broker),
        secure_proxy_ssl_header=_proxy_ssl_header(env),
        # Cookies only over HTTPS in production (the admin is served behind TLS); the embedded demo
        # runs on plain http://127.0.0.1.
        secure_cookies=_bool(env, "SECURE_COOKIES", production),
        secure_ssl_redirect=_bool(env, "SECURE_SSL_REDIRECT", False),
        hsts_seconds=_int(env, "SECURE_HSTS_SECONDS", 0),
        hsts_include_subdomains=_bool(env, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False),
        hsts_preload=_bool(env, "SECURE_HSTS_PRELOAD", False),
        csrf_trusted_origins=_csrf_trusted_origins(env),
        admin_login_failure_limit=_int(env, "ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1),
        admin_login_cooloff_minutes=_int(env, "ADMIN_LOGIN_COOLOFF_MINUTES", 15, minimum=1),
    )
