"""Getting an accepted signal executed: a Celery task normally; in-process when Celery can't take it.

In embedded mode tasks run eagerly in the accepting request.  In production the request answers
202 as soon as the row commits and hands the rest to this process's hand-off thread, which fills
the Redis dedup layer and wakes each instrument's executor for everything accepted meanwhile, in
one Redis round trip (plus a publish for an instrument with no task waiting).  If publishing fails
(Redis down), the accepting process runs the executor itself on a small background pool.  The
signal is committed in every case: a process that dies before its hand-off leaves accepted
signals, which the sweeper executes (DESIGN §6); nothing is lost, only later.
"""

from __future__ import annotations

import atexit
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import structlog
from celery import current_app
from django.db import close_old_connections, connection

from core import metrics
from core.redis_client import RedisUnavailable, breaker, call, key
from signals import dedup

log = structlog.get_logger(__name__)
_inline = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pm-inline")
QUEUED_TTL = 30  # seconds


def execution_handoff(*, fingerprint: str, signal_id: int, instrument: str) -> None:
    """After ``signal_id`` committed: remember its fingerprint and get its instrument executed."""
    dedup.remember_locally(fingerprint, signal_id)
    if current_app.conf.task_always_eager:
        run_executor(instrument)
        return
    _handoff.put((fingerprint, signal_id, instrument))


def enqueue_execution(instrument: str) -> None:
    """Make sure an executor will look at ``instrument`` after this moment (synchronously)."""
    if current_app.conf.task_always_eager:
        run_executor(instrument)
        return
    _wake_all([], [instrument])


def _wake_all(remembered: list[tuple[str, int]], instruments: list[str]) -> None:
    """Tasks are coalesced: ``pm:queued:<instrument>`` marks a task that is published but not started
    (the task clears it before it claims anything), so a burst of signals costs one task, not one
    each.  The mark expires, and the sweeper re-kicks accepted signals, so a lost task is harmless."""
    def commands(client):
        pipe = client.pipeline(transaction=False)
        for fingerprint, signal_id in remembered:
            dedup.remember_in(pipe, fingerprint, signal_id)
        for code in instruments:
            pipe.set(queued_key(code), 1, nx=True, ex=QUEUED_TTL)
        # SET NX answers True when it set the mark and None (not False) when a mark was there.
        return [bool(mark) for mark in pipe.execute()[len(remembered):]]

    try:
        marks = call(commands)
    except RedisUnavailable:
        marks = [None] * len(instruments)
    for code, first in zip(instruments, marks):
        _wake(code, first)


def _wake(instrument: str, first: bool | None) -> None:
    """``first``: True when this call set the instrument's mark (publish a task), False when a task
    is already waiting, None when Redis could not be asked (run the executor in this process)."""
    from signals.tasks import execute_instrument

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


class _Handoff:
    """One daemon thread per process drains what the request threads accepted, a batch at a time:
    under load many signals share one Redis round trip and one publish per instrument."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    def put(self, item: tuple[str, int, str]) -> None:
        with self._done:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pm-handoff", daemon=True)
                self._thread.start()
        self._queue.put(item)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed off so far is done (process exit, tests)."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                _wake_all([(fp, signal_id) for fp, signal_id, _ in batch],
                          list(dict.fromkeys(code for _, _, code in batch)))
            except Exception:  # never let the thread die: the sweeper covers what this batch missed
                log.exception("handoff_failed", signals=len(batch))
            with self._done:
                self._pending -= len(batch)
                self._done.notify_all()


_handoff = _Handoff()
handoff_drain = _handoff.drain
atexit.register(_handoff.drain)


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
        log.exception("executor_failed", instrument=instrument, thread=threading.current_thread().name)
        return 0


def _run_in_thread(instrument: str) -> None:
    close_old_connections()
    try:
        run_executor(instrument)
    finally:
        connection.close()
