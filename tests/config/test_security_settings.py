"""Production behind TLS (DESIGN §15.4): the security settings come from the environment, bad values
are named at start-up, the webhook secret is long enough, and ``manage.py check --deploy`` is clean
with the documented production values."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from config.env import ConfigError, load
from tests.config.test_env import PRODUCTION, ROOT

# The values README "Production behind TLS" documents (a TLS proxy that sets X-Forwarded-Proto).
TLS = {
    "ALLOWED_HOSTS": "pm.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "CSRF_TRUSTED_ORIGINS": "https://pm.example.com",
}


def test_production_defaults_secure_cookies_and_leave_the_rest_opt_in():
    config = load(PRODUCTION)
    assert config.secure_cookies is True
    assert (config.secure_proxy_ssl_header, config.secure_ssl_redirect, config.hsts_seconds) == (None, False, 0)
    assert config.csrf_trusted_origins == ()
    embedded = load({})
    assert embedded.secure_cookies is False  # the demo is plain http://127.0.0.1


def test_tls_values_are_read():
    config = load({**PRODUCTION, **TLS, "CSRF_TRUSTED_ORIGINS": "https://pm.example.com, https://*.example.org:8443"})
    assert config.secure_proxy_ssl_header == ("HTTP_X_FORWARDED_PROTO", "https")
    assert (config.secure_ssl_redirect, config.hsts_seconds, config.hsts_include_subdomains, config.hsts_preload) == (
        True, 31536000, True, True)
    assert config.csrf_trusted_origins == ("https://pm.example.com", "https://*.example.org:8443")


@pytest.mark.parametrize("name, value", [
    ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https"),
    ("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO=https"),
    ("SECURE_SSL_REDIRECT", "always"),
    ("SECURE_HSTS_SECONDS", "a year"),
    ("SECURE_HSTS_PRELOAD", "2"),
    ("SECURE_COOKIES", "maybe"),
    ("CSRF_TRUSTED_ORIGINS", "pm.example.com"),
    ("CSRF_TRUSTED_ORIGINS", "https://pm.example.com/admin/"),
    ("ADMIN_LOGIN_FAILURE_LIMIT", "0"),
    ("ADMIN_LOGIN_COOLOFF_MINUTES", "soon"),
])
def test_malformed_security_variable_is_named(name, value):
    with pytest.raises(ConfigError) as excinfo:
        load({**PRODUCTION, name: value})
    assert excinfo.value.name == name


def test_production_webhook_secret_needs_32_characters():
    with pytest.raises(ConfigError) as excinfo:
        load({**PRODUCTION, "WEBHOOK_SECRET": "x" * 31})
    assert excinfo.value.name == "WEBHOOK_SECRET" and "at least 32 characters" in str(excinfo.value)
    assert load({**PRODUCTION, "WEBHOOK_SECRET": "x" * 32}).webhook_secret == "x" * 32
    assert load({"WEBHOOK_SECRET": "x" * 12}).webhook_secret == "x" * 12  # the embedded demo keeps 12


def _manage(*args: str, **env_values: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, *TLS, "DJANGO_DEBUG", "SECURE_COOKIES"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **env_values)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_start_up_stops_naming_a_short_webhook_secret():
    proc = _manage("check", **{**PRODUCTION, "WEBHOOK_SECRET": "only-twenty-chars-xx"})
    assert proc.returncode != 0 and "WEBHOOK_SECRET" in proc.stderr and "32" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_deploy_is_clean_in_production_behind_tls():
    production = {**PRODUCTION, **TLS, "WEBHOOK_SECRET": secrets.token_hex(32),
                  "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    proc = _manage("check", "--deploy", "--fail-level", "WARNING", **production)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues (0 silenced)." in proc.stdout
