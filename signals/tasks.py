"""Celery tasks of the signal pipeline: thin wrappers around services."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.db import InterfaceError, OperationalError

log = structlog.get_logger(__name__)


@shared_task(
    name="signals.execute_instrument", acks_late=True, reject_on_worker_lost=True, ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=1, retry_backoff_max=60, retry_jitter=False,
    max_retries=10,
)
def execute_instrument(instrument: str) -> int:
    """Database trouble is retried with backoff (1 s, 2 s, 4 s … capped at 60 s); every step of the
    executor is safe to repeat.  Other failures are logged and left to the sweeper."""
    from signals.dispatch import task_started
    from signals.executor import instrument_execute

    task_started(instrument)
    try:
        return instrument_execute(instrument=instrument)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        log.exception("executor_failed", instrument=instrument)
        return 0
