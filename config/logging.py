"""structlog set-up: one JSON object per line in production, readable lines in development.

Every line is redacted on its way out: the webhook URL token (``/webhook/<token>``, DESIGN §15.4)
travels in request paths, which Django ("Bad Request: /webhook/…"), gunicorn's access log and the
development server all write.  Two places do it: the formatter of our one handler (every line we
print, whatever logger wrote it), and a filter on the loggers that write request paths, so that any
other handler attached to them (a test's capture, Django's DEBUG console) sees the redacted text too.
"""

from __future__ import annotations

import logging
import re

import structlog

# /webhook/<anything up to a space, quote or query> — also percent-encoded (%2F) in a raw URI.
_WEBHOOK_TOKEN_PATH = re.compile(r"(/webhook(?:/|%2f))[^\s\"'?#<>\\]+", re.IGNORECASE)
REDACTED = "[redacted]"
_secrets: tuple[str, ...] = ()


def redact(text: str) -> str:
    """``text`` without the webhook URL token (by position in a path, and by value anywhere)."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _WEBHOOK_TOKEN_PATH.sub(r"\1" + REDACTED, text)


def _redact_rendered(_logger, _method, rendered):
    """Last step of the formatter: the whole rendered line, whatever produced it."""
    return redact(rendered) if isinstance(rendered, str) else rendered


class RedactFilter(logging.Filter):
    """Rewrites a stdlib record's message in place (structlog's own records carry an event dict and
    are redacted when rendered)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _add_instance_id(_logger, _method, event: dict) -> dict:
    """Every line names the process that wrote it (instance ids are per process start)."""
    try:
        from core.instance import instance_id

        event.setdefault("instance_id", instance_id())
    except Exception:  # settings not ready yet (very early start-up)
        pass
    return event


_SHARED = [
    structlog.contextvars.merge_contextvars,
    _add_instance_id,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def build_logging(log_format: str, *, secrets: tuple[str | None, ...] = ()) -> dict:
    """The LOGGING dict; ``secrets`` are values never to print (redacted wherever they appear)."""
    global _secrets
    if any(secrets):  # gunicorn's own call (no secrets) must not undo the settings' one
        _secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
    logging.captureWarnings(True)  # warnings become log records, rendered like everything else
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                    _redact_rendered,
                ],
                "foreign_pre_chain": _SHARED,
            }
        },
        "filters": {"redact": {"()": RedactFilter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            # The loggers that write request paths (the token's hiding place).
            "django.request": {"filters": ["redact"]},
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False, "filters": ["redact"]},
            "django.db.backends": {"level": "WARNING"},
            "celery": {"level": "INFO"},
            "httpx": {"level": "WARNING"},
            "axes": {"level": "WARNING"},  # every login at INFO; failed logins and lockouts are warnings
        },
    }
