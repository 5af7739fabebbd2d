"""The periodic job guard: once per period, only under the current leader, never concurrently."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from core.locks import named_lock
from core.models import InstanceMetadata, JobRun
from recovery.jobs import JOBS, job_run, period_key
from recovery.schedule import periodic_tasks_sync
from tests.factories import make_signal

pytestmark = pytest.mark.django_db(transaction=True)


def test_period_key_rounds_to_the_nearest_interval():
    assert period_key(1000.4, 1) == period_key(999.6, 1) == "1000"
    assert period_key(59.0, 30) == period_key(61.0, 30) == "2" and period_key(74.0, 30) == "2"
    assert period_key(76.0, 30) == "3"


def test_each_period_runs_once_and_duplicates_are_counted(leader):
    now = float(int(time.time()))  # on a whole second, so now and now + 0.2 round to one period
    assert job_run(name="leader_probe", epoch=leader.epoch, scheduled_at=now)["ran"] == "leader_probe"
    assert job_run(name="leader_probe", epoch=leader.epoch, scheduled_at=now + 0.2)["skipped"]
    assert job_run(name="leader_probe", epoch=leader.epoch, scheduled_at=now + 1)["ran"] == "leader_probe"
    runs = list(JobRun.objects.order_by("period").values_list("duplicates", "epoch"))
    assert runs == [(1, leader.epoch), (0, leader.epoch)]


def test_a_stale_token_is_refused_and_writes_nothing(leader):
    assert job_run(name="reap_instances", epoch=leader.epoch - 1) == {"refused": "stale fencing token"}
    assert job_run(name="reap_instances", epoch=None) == {"refused": "stale fencing token"}
    assert not JobRun.objects.exists()


def test_a_long_job_never_overlaps_its_previous_run(leader):
    with named_lock("job", "cleanup_orphaned_locks", ttl=30):  # the previous period still running
        assert job_run(name="cleanup_orphaned_locks", epoch=leader.epoch)["ran"] == "cleanup_orphaned_locks"
    run = JobRun.objects.get(job="cleanup_orphaned_locks")
    assert run.result == {"skipped": "the previous period's run is still going"}


def test_reaping_marks_silent_instances_crashed_by_the_database_clock(leader):
    InstanceMetadata.objects.create(instance_id="old:1:aaaa", role="web", hostname="h", pid=1, status="active",
                                    started_at=Now(), last_heartbeat=timezone.now() - timedelta(seconds=31))
    InstanceMetadata.objects.create(instance_id="new:2:bbbb", role="web", hostname="h", pid=2, status="active",
                                    started_at=Now(), last_heartbeat=Now())
    job_run(name="reap_instances", epoch=leader.epoch)
    assert dict(InstanceMetadata.objects.values_list("instance_id", "status")) == {
        "old:1:aaaa": "crashed", "new:2:bbbb": "active"}


def test_signal_log_cleanup_keeps_recent_and_unfinished_signals(leader, portfolio_live):
    old = timezone.now() - timedelta(days=8)
    make_signal(status="executed", received_at=old)
    kept_processing = make_signal(status="processing", received_at=old)
    kept_recent = make_signal(status="rejected")
    job_run(name="cleanup_signal_log", epoch=leader.epoch)
    from signals.models import SignalLog

    assert set(SignalLog.objects.values_list("pk", flat=True)) == {kept_processing.pk, kept_recent.pk}


def test_schedule_is_written_from_code():
    from django_celery_beat.models import PeriodicTask

    names = periodic_tasks_sync()
    assert set(names) == {f"pm:{n}" for n, job in JOBS.items() if job.scheduled}
    sweep = PeriodicTask.objects.get(name="pm:sweep_stuck_signals")
    assert (sweep.task, sweep.interval.every, sweep.enabled) == ("recovery.run_job", 30, True)
    assert periodic_tasks_sync() == names  # idempotent
    assert PeriodicTask.objects.filter(name__startswith="pm:").count() == len(names)


@pytest.fixture
def portfolio_live():
    from tests.conftest import seed_instruments

    seed_instruments()


def test_beats_starting_together_write_the_schedule_once():
    """Regression: two beats syncing at once created duplicate intervals and one crashed."""
    import threading

    from django.db import connection
    from django_celery_beat.models import IntervalSchedule

    IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)  # an older race's leftover
    IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    errors = []

    def sync():
        try:
            periodic_tasks_sync()
        except Exception as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert IntervalSchedule.objects.filter(every=10).count() == 1
