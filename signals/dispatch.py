"""Getting an accepted signal executed: a Celery task normally; in-process when Celery can't take it.

In embedded mode tasks run eagerly in the accepting request.  In production, if publishing to the
broker fails (Redis down), the accepting process runs the executor itself on a small background
pool; the signal is committed either way, and the sweeper catches anything both miss.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import structlog
from django.db import close_old_connections, connection

from recovery import metrics
from recovery.redis_client import breaker, redis_available

log = structlog.get_logger(__name__)
_inline = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pm-inline")


def enqueue_execution(instrument: str) -> None:
    from config.celery import app
    from signals.tasks import execute_instrument

    if app.conf.task_always_eager:
        run_executor(instrument)
        return
    if redis_available():
        try:
            execute_instrument.delay(instrument)
            return
        except Exception as exc:  # kombu/redis raise many types when the broker is unreachable
            breaker.trip()
            log.warning("enqueue_failed", instrument=instrument, error=str(exc)[:200])
    metrics.inline_executions.inc()
    _inline.submit(_run_in_thread, instrument)


def run_executor(instrument: str) -> int:
    """Run the executor and never raise: a failure here must not turn an accepted signal into a 5xx."""
    from signals.executor import instrument_execute

    try:
        return instrument_execute(instrument=instrument)
    except Exception:
        log.exception("executor_failed", instrument=instrument)
        return 0


def _run_in_thread(instrument: str) -> None:
    close_old_connections()
    try:
        run_executor(instrument)
    finally:
        connection.close()
