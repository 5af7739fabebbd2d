"""Getting an accepted signal executed: a Celery task normally; in-process when Celery can't take it.

In embedded mode tasks run eagerly in the accepting request.  In production, if publishing to the
broker fails (Redis down), the accepting process runs the executor itself on a small background
pool; the signal is committed either way, and the sweeper catches anything both miss.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import structlog
from celery import current_app
from django.db import close_old_connections, connection

from core import metrics
from core.redis_client import RedisUnavailable, breaker, call, key

log = structlog.get_logger(__name__)
_inline = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pm-inline")
QUEUED_TTL = 30  # seconds


def enqueue_execution(instrument: str) -> None:
    """Make sure an executor will look at ``instrument`` after this moment.

    Tasks are coalesced: ``pm:queued:<instrument>`` marks a task that is published but not started
    (the task clears it before it claims anything), so a burst of signals costs one task, not one
    each.  The mark expires, and the sweeper re-kicks accepted signals, so a lost task is harmless.
    """
    from signals.tasks import execute_instrument

    if current_app.conf.task_always_eager:
        run_executor(instrument)
        return
    try:
        first = call(lambda r: r.set(queued_key(instrument), 1, nx=True, ex=QUEUED_TTL))
    except RedisUnavailable:
        first = None
    if first is False:
        return  # a task for this instrument is already waiting and will see the new signal
    if first:
        try:
            execute_instrument.delay(instrument)
            return
        except Exception as exc:  # kombu/redis raise many types when the broker is unreachable
            breaker.trip()
            log.warning("enqueue_failed", instrument=instrument, error=str(exc)[:200])
    metrics.inline_executions.inc()
    _inline.submit(_run_in_thread, instrument)


def queued_key(instrument: str) -> str:
    return key("queued", instrument)


def task_started(instrument: str) -> None:
    """Called by the task before it claims: later signals must publish a new task."""
    try:
        call(lambda r: r.delete(queued_key(instrument)))
    except RedisUnavailable:
        pass


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
