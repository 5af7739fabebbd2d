"""Configuration is validated as a whole at start-up, and a bad variable is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ConfigError, load

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://u:p@db.example:5432/pm",
    "WEBHOOK_SECRET": "a-long-enough-secret-0123456789abcd",
    "DJANGO_SECRET_KEY": "k",
}


def test_embedded_defaults_need_nothing():
    config = load({})
    assert config.mode == "embedded"
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"
    assert config.max_signal_age == 3600 and config.max_signal_future == 300
    assert config.signal_timezone == "Asia/Kolkata"
    assert config.webhook_auth_failure_throttle == "20/min"
    assert config.broker == "paper"


def test_production_config_parses():
    config = load(PRODUCTION)
    assert config.mode == "production"
    assert config.database["ENGINE"] == "django.db.backends.postgresql"
    assert config.database["HOST"] == "db.example" and config.database["NAME"] == "pm"
    assert config.log_format == "json"


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://u:p@h/db"),
        ("DATABASE_URL", "postgres://u:p@h:5432/"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("MAX_SIGNAL_AGE", "one hour"),
        ("MAX_SIGNAL_AGE", "0"),
        ("MAX_SIGNAL_FUTURE", "-5"),
        ("SIGNAL_TIMEZONE", "Mars/Olympus"),
        ("BROKER", "zerodha"),
        ("WEBHOOK_AUTH_FAILURE_THROTTLE", "lots"),
        ("TRUSTED_PROXY_COUNT", "x"),
        ("DJANGO_DEBUG", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("WEBHOOK_SECRET", "short"),
        ("MARKET_SESSIONS", "sometimes"),
        ("WORKER_NICENESS", "20"),
        ("WORKER_NICENESS", "-5"),
    ],
)
def test_malformed_variable_is_named(name, value):
    with pytest.raises(ConfigError) as excinfo:
        load({**PRODUCTION, name: value})
    assert excinfo.value.name == name
    assert str(excinfo.value).startswith(f"{name}:")


@pytest.mark.parametrize("missing", ["WEBHOOK_SECRET", "DJANGO_SECRET_KEY"])
def test_production_requires_secrets(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError) as excinfo:
        load(env)
    assert excinfo.value.name == missing


def test_openalgo_broker_requires_url_and_key():
    with pytest.raises(ConfigError) as excinfo:
        load({**PRODUCTION, "BROKER": "openalgo"})
    assert excinfo.value.name == "OPENALGO_URL"
    with pytest.raises(ConfigError) as excinfo:
        load({**PRODUCTION, "BROKER": "openalgo", "OPENALGO_URL": "http://127.0.0.1:5000"})
    assert excinfo.value.name == "OPENALGO_API_KEY"


def test_market_sessions_follow_the_broker_unless_set():
    openalgo = {**PRODUCTION, "BROKER": "openalgo", "OPENALGO_URL": "https://oa.example", "OPENALGO_API_KEY": "k"}
    assert load({}).market_sessions is False  # the embedded demo trades at any hour
    assert load(PRODUCTION).market_sessions is False  # paper broker
    assert load(openalgo).market_sessions is True
    assert load({**openalgo, "MARKET_SESSIONS": "off"}).market_sessions is False
    assert load({**PRODUCTION, "MARKET_SESSIONS": "ON"}).market_sessions is True
    assert load({**openalgo, "MARKET_SESSIONS": " "}).market_sessions is True  # empty: the default


def test_start_up_stops_on_malformed_database_url():
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    env.update(PRODUCTION, DATABASE_URL="postgres//missing-colon", DJANGO_SETTINGS_MODULE="config.settings")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "DATABASE_URL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_openalgo_modes_default_to_lots_and_live():
    config = load({})
    assert (config.openalgo_mcx_quantity, config.openalgo_expect_analyzer) == ("lots", False)
    config = load({"OPENALGO_MCX_QUANTITY": "Units", "OPENALGO_EXPECT_ANALYZER": "true"})
    assert (config.openalgo_mcx_quantity, config.openalgo_expect_analyzer) == ("units", True)


@pytest.mark.parametrize(("name", "value"), [("OPENALGO_MCX_QUANTITY", "contracts"),
                                             ("OPENALGO_EXPECT_ANALYZER", "sometimes")])
def test_malformed_openalgo_mode_is_named(name, value):
    with pytest.raises(ConfigError) as excinfo:
        load({name: value})
    assert excinfo.value.name == name


@pytest.mark.parametrize("url", [
    "https://openalgo.example.com", "https://10.0.0.5:5000/", "http://127.0.0.1:5000",
    "http://127.8.9.10", "http://localhost:5000", "http://LOCALHOST", "http://[::1]:5000",
])
def test_openalgo_url_is_https_or_loopback(url):
    env = {**PRODUCTION, "BROKER": "openalgo", "OPENALGO_URL": url, "OPENALGO_API_KEY": "k"}
    assert load(env).openalgo_url == url


@pytest.mark.parametrize("url", [
    "http://openalgo.example.com", "http://10.0.0.5:5000", "http://128.0.0.1", "http://localhost.evil.com",
    "http://[::2]:5000", "ftp://127.0.0.1", "127.0.0.1:5000", "https://", "https://host:port",
])
def test_openalgo_url_refused_names_the_variable(url):
    env = {**PRODUCTION, "BROKER": "openalgo", "OPENALGO_URL": url, "OPENALGO_API_KEY": "k"}
    with pytest.raises(ConfigError) as excinfo:
        load(env)
    assert excinfo.value.name == "OPENALGO_URL"
    with pytest.raises(ConfigError):
        load({**PRODUCTION, "OPENALGO_URL": url})  # a bad value is refused even while paper trading


def test_openalgo_settings_reach_django():
    from django.conf import settings

    assert settings.PM_OPENALGO_MCX_QUANTITY in ("lots", "units")
    assert isinstance(settings.PM_OPENALGO_EXPECT_ANALYZER, bool)
