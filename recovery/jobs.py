"""Periodic leader jobs (DESIGN §9) and the guard every run goes through.

A run happens at most once per period and only under the current leader:
1. the fencing token is checked and ``JobRun(job, period)`` inserted in one transaction — a deposed
   leader's run is refused, and any second delivery of a period (two beats, a redelivery) is
   counted as a duplicate and skipped;
2. jobs whose writes fit in one transaction run inside it, covered by the same fencing check;
3. longer jobs then take a non-blocking task lock (``pm:job:<name>``) so a slow run of one period
   never overlaps the next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.db import connection

from core.leader import StaleLeader
from core.locks import LockBusy, named_lock
from core.runtime import runtime
from core.services import job_period_claim, job_period_finish

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Job:
    interval: int  # seconds
    run: Callable[[], object]
    in_fenced_transaction: bool
    scheduled: bool = True  # part of the default beat schedule
    in_beat: bool = False  # run by the leader's beat process itself: it must not depend on any worker


def _sweep():
    from recovery.services.sweeper import sweep

    return sweep()


def _retry_orders():
    from recovery.services.sweeper import retry_due

    return {"driven": retry_due()}


def _roll_positions():
    from positions.services.rollover_run import rollover_run
    from recovery.services.sweeper import kick_accepted

    report = rollover_run(trigger="job")
    kick_accepted()  # signals that waited for a rollover leg go on now
    return {"rollovers": report}


def _reap():
    from core.services import instances_reap

    return {"crashed": instances_reap()}


def _orphaned_locks():
    from core.locks import orphaned_locks_cleanup

    return {"removed": orphaned_locks_cleanup()}


def _statistics():
    from portfolio.services import statistics_replace
    from positions.selectors import closed_trade_figures

    stats = statistics_replace(trade_figures=closed_trade_figures())
    return {"trades_closed": stats.trades_closed}


def _signal_cleanup():
    from signals.services.inbox import signal_log_cleanup

    return {"deleted": signal_log_cleanup(older_than_days=7)}


def _release_held():
    from signals.services.held import held_signals_release

    return held_signals_release()


def _reconcile():
    from reconciliation.services.reconcile import reconciliation_run

    run = reconciliation_run(trigger="periodic")
    return {"run_id": getattr(run, "pk", None) or (run.get("run_id") if isinstance(run, dict) else None)}


JOBS: dict[str, Job] = {
    "sweep_stuck_signals": Job(30, _sweep, in_fenced_transaction=False, in_beat=True),
    "retry_orders": Job(5, _retry_orders, in_fenced_transaction=False, in_beat=True),
    "reap_instances": Job(10, _reap, in_fenced_transaction=True, in_beat=True),
    "cleanup_orphaned_locks": Job(60, _orphaned_locks, in_fenced_transaction=False),
    "aggregate_statistics": Job(300, _statistics, in_fenced_transaction=True),
    "cleanup_signal_log": Job(86400, _signal_cleanup, in_fenced_transaction=True),
    "reconcile_broker": Job(3600, _reconcile, in_fenced_transaction=False),
    # Exits held outside the session run at the open (DESIGN §15.3); in beat, like the sweeper, so they
    # do not wait for a worker to take the job (the executor it kicks still runs on the workers).
    "release_held_signals": Job(60, _release_held, in_fenced_transaction=False, in_beat=True),
    # Positions near expiry roll to the next contract, each exchange's inside its session (DESIGN §8).
    "roll_positions": Job(900, _roll_positions, in_fenced_transaction=False),
    # Not scheduled by default: a 1-second probe that HA tests schedule to observe emissions.
    "leader_probe": Job(1, lambda: {}, in_fenced_transaction=True, scheduled=False),
}


def period_key(scheduled_at: float, interval: float) -> str:
    """The period an emission belongs to: its scheduled time rounded to the nearest interval, so two
    leaders emitting the same period (failover) agree on the key despite small clock differences."""
    return str(round(scheduled_at / interval))


def job_run(*, name: str, epoch: int | None, scheduled_at: float | None = None, interval: float | None = None
            ) -> dict:
    """Run one emission of a periodic job, at most once per period; ``interval`` is the schedule's
    (the job's default interval when the emission does not say)."""
    job = JOBS[name]
    period = period_key(scheduled_at or time.time(), interval or job.interval)
    fenced = settings.PM_MODE == "production"
    body = job.run if job.in_fenced_transaction else None
    try:
        run = job_period_claim(job=name, period=period, epoch=epoch, fenced=fenced, body=body)
    except StaleLeader as exc:
        log.warning("job_refused_stale_leader", job=name, error=str(exc))
        return {"refused": "stale fencing token"}
    if run is None:
        return {"skipped": "already ran this period"}
    if job.in_fenced_transaction:
        return {"ran": name, "period": period}
    try:
        with named_lock("job", name, ttl=max(30, job.interval)):
            result = job.run()
    except LockBusy:
        result = {"skipped": "the previous period's run is still going"}
    job_period_finish(run_id=run.pk, result=result)
    return {"ran": name, "period": period}


def start_embedded_jobs() -> threading.Thread:
    """Embedded mode has no beat: its single process is trivially the leader and runs the periodic
    jobs itself on one thread (same job guard, without fencing)."""
    scheduled = {name: job for name, job in JOBS.items() if job.scheduled}
    next_run = {name: time.monotonic() + min(job.interval, 10) for name, job in scheduled.items()}

    def loop() -> None:
        while not runtime.shutting_down.wait(1.0):
            now = time.monotonic()
            for name, job in scheduled.items():
                if now < next_run[name]:
                    continue
                next_run[name] = now + job.interval
                try:
                    job_run(name=name, epoch=None)
                except Exception:
                    log.exception("embedded_job_failed", job=name)
                finally:
                    connection.close()

    thread = threading.Thread(target=loop, name="pm-embedded-jobs", daemon=True)
    thread.start()
    return thread
