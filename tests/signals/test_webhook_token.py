"""``POST /webhook/<token>`` (DESIGN §4, §15.4): TradingView authenticates by a token in the URL, which
no log line, metric or error page ever shows."""

from __future__ import annotations

import json
import logging
import types
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from django.conf import settings as django_settings

import config.logging as pm_logging
from config.env import ConfigError, load
from signals.models import SignalLog
from tests import payloads
from tests.signals.hostile import captured_alerts

pytestmark = pytest.mark.django_db

TOKEN = "Tv-Url-Token_0123456789abcdefghijKLMN"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url_token(settings):
    settings.PM_WEBHOOK_URL_TOKEN = TOKEN
    return TOKEN


def _signal(webhook, **fields) -> dict:
    return {**payloads.entry(timestamp=webhook.at(0), lots=2), **fields}


def _post(client, path: str, body: dict | bytes, content_type="text/plain", **extra):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, **extra)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
@pytest.mark.parametrize("suffix", ["", "/"])
def test_the_url_token_alone_authenticates(portfolio, webhook, client, url_token, content_type, suffix):
    response = _post(client, f"/webhook/{url_token}{suffix}", _signal(webhook), content_type)
    assert response.status_code == 202
    assert SignalLog.objects.get().payload == _signal(webhook)


def test_the_token_is_the_credential_on_its_route(portfolio, webhook, client, url_token):
    """A body secret on the token route is neither needed nor checked, and never stored."""
    response = _post(client, f"/webhook/{url_token}", _signal(webhook, secret="not-the-secret"))
    assert response.status_code == 202 and "secret" not in SignalLog.objects.get().payload


@pytest.mark.parametrize("path", [
    "/webhook/wrong-token", f"/webhook/{TOKEN}x", f"/webhook/{TOKEN[:-1]}", f"/webhook/{TOKEN.upper()}",
    f"/webhook/{TOKEN}/extra", f"/webhook//{TOKEN}", "/webhook/%E2%82%AC" + TOKEN, "/webhook/%ED%A0%80",
    "/webhook/%00",
])
def test_a_wrong_token_is_401_even_with_the_right_secret(portfolio, webhook, client, url_token, path):
    with captured_alerts() as raised:
        response = _post(client, path, _signal(webhook, secret=django_settings.PM_WEBHOOK_SECRET))
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Webhook-Secret"
    assert not SignalLog.objects.exists() and not raised


def test_no_token_configured_refuses_the_route(portfolio, webhook, client, settings):
    settings.PM_WEBHOOK_URL_TOKEN = None
    assert _post(client, "/webhook/anything-at-all-0123456789abcdef", _signal(webhook)).status_code == 401
    settings.PM_WEBHOOK_URL_TOKEN = ""
    assert _post(client, "/webhook/x", _signal(webhook)).status_code == 401


def test_wrong_tokens_count_as_failed_authentications(portfolio, webhook, client, url_token):
    for _ in range(20):
        assert _post(client, "/webhook/guess", _signal(webhook), REMOTE_ADDR="10.1.0.1").status_code == 401
    throttled = _post(client, "/webhook/guess", _signal(webhook), REMOTE_ADDR="10.1.0.1")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    # The same budget as a wrong secret on /webhook ...
    assert webhook.post(_signal(webhook), secret="bad", REMOTE_ADDR="10.1.0.1").status_code == 429
    # ... and the real client from that address is never throttled.
    assert _post(client, f"/webhook/{url_token}", _signal(webhook), REMOTE_ADDR="10.1.0.1").status_code == 202


def test_the_order_of_checks_holds_on_the_token_route(portfolio, webhook, client, url_token):
    assert _post(client, "/webhook/guess", b"x" * 10_241).status_code == 413
    assert _post(client, "/webhook/guess", b"[1]").status_code == 400  # before authentication
    assert _post(client, "/webhook/guess", _signal(webhook, price="abc")).status_code == 401
    assert _post(client, f"/webhook/{url_token}", _signal(webhook, price="abc")).status_code == 400
    assert client.get(f"/webhook/{url_token}").status_code == 405


# --- the token never shows -------------------------------------------------------------------------

def _exercise(client, webhook, token):
    """One of each answer on the token route: 202, 200, 400, 401, 405, 413."""
    responses = [
        _post(client, f"/webhook/{token}", _signal(webhook)),
        _post(client, f"/webhook/{token}", _signal(webhook)),
        _post(client, f"/webhook/{token}/", _signal(webhook, price=-1)),
        _post(client, f"/webhook/{token}x", _signal(webhook)),
        client.get(f"/webhook/{token}"),
        _post(client, f"/webhook/{token}", b"x" * 20_000),
    ]
    assert [r.status_code for r in responses] == [202, 200, 400, 401, 405, 413]
    return responses


def test_the_token_is_in_no_log_line_response_or_metric(portfolio, webhook, client, url_token, caplog):
    caplog.set_level(logging.INFO)
    responses = _exercise(client, webhook, url_token)
    assert all(url_token.encode() not in r.content for r in responses)
    assert all(url_token not in value for r in responses for value in r.headers.values())
    assert url_token not in caplog.text
    assert "Bad Request: /webhook/[redacted]" in caplog.text  # Django's request log, redacted
    assert url_token.encode() not in client.get("/metrics").content


def test_every_rendered_line_is_redacted(monkeypatch):
    """Our handler's formatter redacts whatever a logger wrote: a path anywhere in the line, and the
    configured token's value wherever it appears."""
    monkeypatch.setattr(pm_logging, "_secrets", ())
    for log_format in ("json", "console"):
        config = pm_logging.build_logging(log_format, secrets=(TOKEN,))
        spec = config["formatters"]["structured"]
        formatter = structlog.stdlib.ProcessorFormatter(processors=spec["processors"],
                                                        foreign_pre_chain=spec["foreign_pre_chain"])
        for msg, args in [("Bad Request: %s", (f"/webhook/{TOKEN}",)), ("%s", (f'"POST /webhook/{TOKEN}/ HTTP/1.1"',)),
                          ("raw %s", (f"/WEBHOOK%2F{TOKEN}?x=1",)), ("value %s", (f"token={TOKEN}",))]:
            record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, msg, args, None)
            line = formatter.format(record)
            assert TOKEN not in line and "[redacted]" in line, line
        event = logging.LogRecord("signals.webhook", logging.INFO, __file__, 1,
                                  {"event": "x", "path": f"/webhook/{TOKEN}"}, (), None)
        event._logger, event._name = structlog.get_logger(), "info"
        assert TOKEN not in formatter.format(event)


def test_other_handlers_of_request_loggers_see_the_redacted_message():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s",
                               (f"/webhook/{TOKEN}",), None)
    assert pm_logging.RedactFilter().filter(record)
    assert record.getMessage() == "Not Found: /webhook/[redacted]"
    filters = django_settings.LOGGING["loggers"]
    assert "redact" in filters["django.request"]["filters"] and "redact" in filters["django.server"]["filters"]


def test_gunicorn_access_lines_are_redacted_in_both_configurations():
    from gunicorn.config import Config

    from config.gunicorn_logging import RedactingLogger

    for name in ("gunicorn.py", "gunicorn_embedded.py"):
        assert 'logger_class = "config.gunicorn_logging.RedactingLogger"' in (ROOT / "config" / name).read_text()
    cfg = Config()
    logger = RedactingLogger(cfg)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/webhook/{TOKEN}", "PATH_INFO": f"/webhook/{TOKEN}",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_REFERER": f"https://example.com/webhook/{TOKEN}"}
    response = types.SimpleNamespace(status="202 Accepted", sent=10, headers=[])
    request = types.SimpleNamespace(headers=[("HOST", "pm")])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    line = cfg.access_log_format % atoms
    assert TOKEN not in line and "/webhook/[redacted]" in line
    assert TOKEN not in json.dumps({k: str(v) for k, v in atoms.items()})


# --- configuration ---------------------------------------------------------------------------------

def test_url_token_configuration():
    assert load({}).webhook_url_token is None
    assert load({"WEBHOOK_URL_TOKEN": TOKEN}).webhook_url_token == TOKEN
    for bad in ("short-token", "a" * 31, "x" * 31 + "/", "token with spaces " + "x" * 30, "é" * 40):
        with pytest.raises(ConfigError) as excinfo:
            load({"WEBHOOK_URL_TOKEN": bad})
        assert excinfo.value.name == "WEBHOOK_URL_TOKEN" and bad not in str(excinfo.value)
