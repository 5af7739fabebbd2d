"""Per-process life cycle: wait for the database, register, heartbeat, shut down in order.

Every long-running process (gunicorn worker, Celery worker, Celery beat) calls ``start(role)`` once
and ``stop()`` at exit.  ``shutting_down`` makes /ready answer 503 before in-flight work drains.
"""

from __future__ import annotations

import threading
import time

import structlog
from django.conf import settings
from django.db import DatabaseError, connection

from core.models import InstanceStatus

log = structlog.get_logger(__name__)

STARTUP_DELAYS = (1, 2, 4, 8, 16)  # then give up: the supervisor restarts us


class ProcessRuntime:
    def __init__(self) -> None:
        self.role: str | None = None
        self.shutting_down = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *, role: str, port: int | None = None) -> None:
        from core.instance import instance_id
        from core.services import instance_register

        self.role = role
        wait_for_database()
        instance_register(role=role, port=port)
        structlog.contextvars.bind_contextvars(instance_id=instance_id())
        self._thread = threading.Thread(target=self._heartbeat, name="pm-heartbeat", daemon=True)
        self._thread.start()
        log.info("instance_started", role=role, port=port)

    def _heartbeat(self) -> None:
        from core.services import instance_heartbeat

        while not self._stop.wait(settings.PM_HEARTBEAT_SECONDS):
            try:
                instance_heartbeat()
            except DatabaseError as exc:
                log.warning("heartbeat_failed", error=str(exc)[:200])
            finally:
                connection.close()  # this thread's connection goes back to the pool

    def begin_shutdown(self) -> None:
        if self.shutting_down.is_set():
            return
        self.shutting_down.set()
        self._mark(InstanceStatus.STOPPING)

    def stop(self) -> None:
        self.begin_shutdown()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._mark(InstanceStatus.STOPPED)
        connection.close()

    def _mark(self, status: str) -> None:
        if self.role is None:
            return
        from core.services import instance_mark

        try:
            instance_mark(status=status)
        except DatabaseError:
            pass


runtime = ProcessRuntime()


def wait_for_database(delays: tuple[int, ...] = STARTUP_DELAYS) -> None:
    """Start-up retry with exponential backoff (1 s, 2 s, 4 s …, bounded)."""
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            connection.ensure_connection()
            return
        except DatabaseError as exc:
            if delay is None:
                raise
            log.warning("database_not_ready", attempt=attempt, retry_in=delay, error=str(exc)[:200])
            connection.close()
            time.sleep(delay)
