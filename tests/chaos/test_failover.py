"""Leader failover with real beat processes (DESIGN §9, §13): SIGKILL → the standby emits within
3 s; SIGTERM → takeover within 0.5 s; a stale token is refused by the database; two beats emit
each period once."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime

import pytest
from celery import Celery
from django.db import transaction

from core.leader import StaleLeader, fencing_verify
from core.models import JobRun, LeaderLease
from tests.chaos.conftest import schedule_probe
from tests.cluster import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def _leader_and_standby() -> tuple[str, str, int]:
    lease = wait_until(lambda: LeaderLease.objects.filter(epoch__gt=0).first(), what="a leader")
    leader = lease.holder.split(":")[0]
    return leader, {"beat1": "beat2", "beat2": "beat1"}[leader], lease.epoch


def _two_beats(cluster) -> None:
    schedule_probe(every=1)
    cluster.start_worker("worker1")
    cluster.start_beat("beat1")
    cluster.start_beat("beat2")
    wait_until(lambda: JobRun.objects.filter(job="leader_probe").count() >= 3, timeout=30, what="probe runs")


def test_sigkill_leader_standby_emits_within_3s_and_stale_token_is_refused(cluster):
    _two_beats(cluster)
    leader, standby, old_epoch = _leader_and_standby()
    killed_at = cluster.signal(leader, signal.SIGKILL)
    first = wait_until(
        lambda: JobRun.objects.filter(job="leader_probe", epoch__gt=old_epoch).order_by("started_at").first(),
        timeout=15, what="an emission by the new leader",
    )
    takeover = first.started_at.timestamp() - killed_at
    print(f"SIGKILL failover: first emission by the new leader {takeover:.3f}s after the kill")
    assert takeover <= 3.0
    assert LeaderLease.objects.get().holder.startswith(standby + ":")

    # A task the old leader emitted before dying still carries its token: the database refuses it.
    stale_period = time.time() + 3600
    # Not this process's current app: later tests must keep publishing through config.celery's.
    with Celery(broker=cluster.redis.url, set_as_current=False) as broker:
        broker.send_task("recovery.run_job", kwargs={"job": "leader_probe", "fencing_epoch": old_epoch,
                                                     "scheduled_at": stale_period})
    wait_until(lambda: "stale fencing token" in cluster.procs["worker1"].log.read_text(), timeout=10,
               what="the worker to refuse the stale task")
    assert not JobRun.objects.filter(period=str(round(stale_period))).exists()
    with pytest.raises(StaleLeader), transaction.atomic():
        fencing_verify(epoch=old_epoch)


def test_sigterm_leader_hands_over_within_half_a_second(cluster):
    _two_beats(cluster)
    leader, standby, old_epoch = _leader_and_standby()
    terminated_at = cluster.signal(leader, signal.SIGTERM)
    lease = wait_until(lambda: LeaderLease.objects.filter(epoch__gt=old_epoch).first(), timeout=5, interval=0.01,
                       what="the standby to take the lease")
    takeover = lease.acquired_at.timestamp() - terminated_at
    print(f"SIGTERM failover: lease taken {takeover:.3f}s after SIGTERM")
    assert takeover <= 0.5
    assert lease.holder.startswith(standby + ":")
    assert cluster.wait_exit(leader) == 0
    wait_until(lambda: JobRun.objects.filter(job="leader_probe", epoch=lease.epoch).exists(), timeout=5,
               what="the new leader's first emission")


def test_two_beats_for_half_a_minute_emit_each_period_once(cluster):
    schedule_probe(every=2)
    cluster.start_worker("worker1")
    cluster.start_beat("beat1")
    cluster.start_beat("beat2")
    runs = JobRun.objects.filter(job="leader_probe")
    wait_until(lambda: runs.filter(finished_at__isnull=False).count() >= 15, timeout=90, what="30 s of runs")
    # Each 2-second period was emitted once and ran its body once: emissions (from either beat's log)
    # are a period apart within tick jitter, and no delivery of a period was a duplicate.
    emitted = {name: _emission_times(cluster.procs[name].log, "test:probe") for name in ("beat1", "beat2")}
    assert sorted(len(times) for times in emitted.values())[0] == 0, emitted  # only the leader emits
    times = sorted(emitted["beat1"] + emitted["beat2"])
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert min(gaps) > 1.5, gaps
    assert JobRun.objects.filter(duplicates__gt=0).count() == 0
    assert JobRun.objects.filter(job="reap_instances").count() >= 2  # every 10 s


def _emission_times(log, entry: str) -> list[float]:
    """When a beat sent ``entry``, from its JSON log lines."""
    times = []
    for line in log.read_text().splitlines():
        if f"Sending due task {entry}" in line:
            times.append(datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp())
    return times