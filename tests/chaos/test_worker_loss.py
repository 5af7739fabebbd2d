"""With no Celery worker alive at all (all crashed, Redis up), accepted signals are still executed:
the leader's sweeper runs inside the beat process and executes signals no worker took."""

from __future__ import annotations

import pytest

from recovery.models import RecoveryRun
from recovery.services.sweeper import OVERDUE_SECONDS
from signals.models import SignalLog
from tests import payloads
from tests.cluster import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def test_signals_execute_without_any_worker(cluster):
    cluster.start_web("web1")
    cluster.start_beat("beat1")  # and no worker
    wait_until(lambda: RecoveryRun.objects.exclude(finished_at=None).exists(), timeout=30,
               what="the leader's startup recovery")  # so only a later sweep can act
    response = cluster.post("web1", payloads.entry(timestamp=payloads.stamp()))
    assert response.status_code == 202
    assert SignalLog.objects.get().status == "accepted"  # published to Redis, nobody consumes it
    signal = wait_until(lambda: SignalLog.objects.filter(status="executed").first(), timeout=2 * 30 + 15,
                        what="the leader's sweeper to execute the overdue signal")
    assert signal.processed_by.startswith("beat1:")
    waited = (signal.processed_at - signal.received_at).total_seconds()
    print(f"executed by the leader's sweeper {waited:.1f}s after it was accepted")
    assert waited >= OVERDUE_SECONDS  # it was not taken on the normal path
