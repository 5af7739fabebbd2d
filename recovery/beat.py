"""A django-celery-beat scheduler that emits only while this process holds the leader lease, so
``celery beat`` can run on every instance (DESIGN §9).

* Every tick renews (or tries to take) the lease; non-leaders emit nothing and poll quickly, so a
  standby takes over within the lease TTL after a crash and at once after a graceful release.
* On becoming leader it first runs startup recovery (when available), then emits.
* Each emission carries the fencing token and its scheduled time; the job guard refuses a stale
  token and runs each period once (recovery/jobs.py).
* The sweeper and instance reaping run in the beat process itself, so stuck work is found even
  when no worker is alive; other jobs go to the workers, or run here when the broker cannot take them.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import structlog
from celery import current_app
from django.db import close_old_connections, connection
from django_celery_beat.schedulers import DatabaseScheduler

from core.leader import Lease
from core.redis_client import redis_available

log = structlog.get_logger(__name__)

FOLLOWER_POLL = 0.1  # seconds between attempts to take the lease
LEADER_TICK_MAX = 0.5  # the leader never sleeps longer than this, so renewals stay well inside the TTL


class LeaderDatabaseScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.lease = Lease()
        self._recovery: threading.Thread | None = None
        super().__init__(*args, **kwargs)

    def setup_schedule(self):
        from recovery.schedule import periodic_tasks_sync

        periodic_tasks_sync()
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        was_leader = self.lease.held
        try:
            leader = self.lease.ensure()
        except Exception:  # never let a coordination hiccup kill beat
            log.exception("lease_check_failed")
            leader = False
        if not leader:
            return FOLLOWER_POLL
        if not was_leader:
            self._reload_from_database()
            self._start_recovery()
        if self._recovery is not None and self._recovery.is_alive():
            return FOLLOWER_POLL  # background work waits until recovery has finished
        interval = super().tick(*args, **kwargs)
        return min(interval, LEADER_TICK_MAX) if interval else LEADER_TICK_MAX

    def _reload_from_database(self) -> None:
        """A new leader starts from the run times the previous leader persisted (it syncs after every
        emission), not from the copy this process read at start-up: with that stale copy it would
        emit every job at once, right after the previous leader ran them."""
        # As DatabaseScheduler.schedule does when the schedule changed (django-celery-beat 2.9): the next
        # tick rebuilds its heap from these fresh entries and consumes the invalidation at once.
        self.sync()
        self._schedule = self.all_as_schedule()
        self._heap = []
        self._heap_invalidated = True

    def _start_recovery(self) -> None:
        self._recovery = threading.Thread(target=_run_startup_recovery, name="pm-recovery", daemon=True)
        self._recovery.start()

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if not self.lease.held:
            return None  # our deadline passed between the check and this emission: do not act
        task_kwargs = {**(entry.kwargs or {}), "fencing_epoch": self.lease.epoch, "scheduled_at": time.time(),
                       "interval": _interval_seconds(entry)}
        entry.kwargs = task_kwargs  # this emission only: the next entry is rebuilt from the database row
        if _runs_in_beat(task_kwargs):
            if advance:
                entry = self.reserve(entry)
            _local_jobs.submit(_run_locally, entry.task, task_kwargs)
            return None
        if redis_available():
            try:
                return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
            except Exception as exc:  # already reserved by the base class: just run it here
                log.warning("beat_publish_failed", task=entry.task, error=str(exc)[:200])
        elif advance:
            entry = self.reserve(entry)
        # The broker is unreachable: run the job here rather than not at all.
        _local_jobs.submit(_run_locally, entry.task, task_kwargs)
        return None

    def close(self):
        try:
            super().close()
        finally:
            self.lease.release()


_local_jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pm-beat-job")


def _interval_seconds(entry) -> float | None:
    """The entry's actual period, which names the period of this emission (recovery/jobs.py)."""
    run_every = getattr(entry.schedule, "run_every", None)
    return run_every.total_seconds() if run_every else None


def _runs_in_beat(kwargs: dict) -> bool:
    from recovery.jobs import JOBS

    job = JOBS.get(kwargs.get("job", ""))
    return bool(job and job.in_beat)


def _run_startup_recovery() -> None:
    close_old_connections()
    try:
        from recovery.services.recovery import recovery_run
    except ImportError:
        return
    try:
        recovery_run(trigger="startup")
    except Exception:
        log.exception("startup_recovery_failed")
    finally:
        connection.close()


def _run_locally(task_name: str, kwargs: dict) -> None:
    close_old_connections()
    try:
        current_app.tasks[task_name].apply(kwargs=kwargs)
    finally:
        connection.close()
