"""structlog set-up: one JSON object per line in production, readable lines in development."""

from __future__ import annotations

import logging

import structlog


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


def build_logging(log_format: str) -> dict:
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
                ],
                "foreign_pre_chain": _SHARED,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "celery": {"level": "INFO"},
            "httpx": {"level": "WARNING"},
            "axes": {"level": "WARNING"},  # every login at INFO; failed logins and lockouts are warnings
        },
    }
