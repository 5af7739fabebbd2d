"""kill -9 of a real worker at chosen points of an order's life, then recovery: no lost signal, no
second broker order, books equal to the broker (DESIGN §14)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from django.utils import timezone

from positions.models import IntentStatus, OrderIntent, PaperOrder, PaperPosition, Position
from signals.models import SignalLog
from tests import payloads
from tests.cluster import ROOT, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
CLAIM_SECONDS = "3"


def _entry() -> dict:
    return payloads.entry(timestamp=payloads.stamp(minutes_ago=5))


def _exit() -> dict:
    return payloads.exit_(timestamp=payloads.stamp(minutes_ago=4))


@pytest.mark.parametrize("point, intent_after_kill, broker_orders_after_kill", [
    ("after_intent_commit", IntentStatus.PENDING, 0),   # decided, nothing sent
    ("after_broker_accept", IntentStatus.SENT, 1),      # the broker has the order, we never heard back
    ("before_booking", IntentStatus.FILLED, 1),         # filled and confirmed, not yet booked
])
def test_worker_killed_at_a_point_then_recovery(cluster, point, intent_after_kill, broker_orders_after_kill):
    cluster.start_web("web1")
    cluster.procs["doomed"] = cluster._spawn(
        "doomed", "worker",
        [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "--pool", "threads",
         "--concurrency", "2", "-n", "doomed@%h"],
        cluster.env("doomed", PM_FAULT_KILL_AT=point, SIGNAL_CLAIM_SECONDS=CLAIM_SECONDS),
    )
    assert cluster.post("web1", _entry()).status_code == 202
    assert cluster.wait_exit("doomed", timeout=30) == -signal.SIGKILL
    assert SignalLog.objects.get().status == "processing"
    assert OrderIntent.objects.get().status == intent_after_kill
    assert PaperOrder.objects.count() == broker_orders_after_kill
    assert cluster.post("web1", _exit()).status_code == 202  # queued behind the stuck entry

    cluster.start_worker("worker1")
    wait_until(lambda: SignalLog.objects.filter(claim_expires_at__lt=timezone.now()).exists(), timeout=30,
               what="the dead worker's claim to expire")
    recover = subprocess.run([sys.executable, "manage.py", "recover", "--json"], cwd=ROOT,
                             env=cluster.env("recover", SIGNAL_CLAIM_SECONDS=CLAIM_SECONDS),
                             capture_output=True, text=True, timeout=60)
    assert recover.returncode in (0, 1), recover.stdout + recover.stderr

    wait_until(lambda: not SignalLog.objects.exclude(status__in=["executed"]).exists(), timeout=30,
               what="both signals executed")
    assert list(SignalLog.objects.order_by("processed_at").values_list("signal_type", flat=True)) == [
        "BASE_ENTRY", "EXIT"]
    filled = OrderIntent.objects.filter(status=IntentStatus.FILLED)
    assert PaperOrder.objects.count() == filled.count()  # every broker order is one of our intents
    assert sorted(PaperOrder.objects.values_list("action", flat=True)) == ["BUY", "SELL"]  # no second order
    assert set(PaperOrder.objects.values_list("tag", flat=True)) == set(filled.values_list("client_order_id",
                                                                                         flat=True))
    assert PaperPosition.objects.get().net_quantity == 0
    closed = Position.objects.get(status="closed")
    assert closed.realized_pnl == 45000  # (72500 − 72000) × 9 lots × ₹10
