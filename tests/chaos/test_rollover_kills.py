"""kill -9 of the process rolling a position at each step of the saga, then recovery: the rollover is
completed with exactly one broker order per leg and its P&L booked once (DESIGN §8, §15.2)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import redis

from portfolio.models import CapitalTransaction
from positions.models import PaperOrder, PaperPosition, Position, Rollover
from tests import payloads
from tests.cluster import ROOT, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def manage(cluster, name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=cluster.env(name, **env),
                          capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize("point, orders_after_kill", [
    ("after_broker_accept_rollover_close", [("SELL", "old")]),  # the broker took the close; we never heard
    ("rollover_close_filled", [("SELL", "old")]),                # closed and filled, not yet booked
    ("after_broker_accept_rollover_open", [("SELL", "old"), ("BUY", "new")]),  # the open sent, unheard
])
def test_rollover_killed_at_a_step_is_completed_by_recovery_with_one_order_per_leg(cluster, point,
                                                                                 orders_after_kill):
    cluster.start_web("web1")
    cluster.start_worker("worker1")
    assert cluster.post("web1", payloads.entry(timestamp=payloads.stamp(minutes_ago=5))).status_code == 202
    wait_until(lambda: Position.objects.filter(status="open").exists(), timeout=30, what="the entry to fill")
    assert cluster.post("web1", payloads.bar(timestamp=payloads.stamp(minutes_ago=4), price=72600)).status_code == 202
    wait_until(lambda: Position.objects.get().instrument.mark_price == 72600, timeout=30, what="the bar")
    position = Position.objects.get()
    old = position.futures_symbol

    killed = manage(cluster, "roller", "rollover", "--position", str(position.pk), PM_FAULT_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    roll = Rollover.objects.get()
    new = roll.new_futures_symbol
    sides = {"old": old, "new": new}
    assert list(PaperOrder.objects.exclude(symbol=old, action="BUY").order_by("id").values_list("action", "symbol")) \
        == [(action, sides[which]) for action, which in orders_after_kill]

    # The dead process's lock on the position lapses: it carries a TTL and nobody renews it any more.
    # Expire it now rather than wait out the 15 s (tests/core/test_locks.py covers the lapse itself).
    lock, lock_key = redis.Redis.from_url(cluster.redis.url), f"pm:position:{position.pk}"
    assert 0 < lock.ttl(lock_key) <= 15
    lock.delete(lock_key)
    recovered = manage(cluster, "recover", "recover", "--json")
    assert recovered.returncode in (0, 1), recovered.stdout + recovered.stderr
    wait_until(lambda: Rollover.objects.get().phase == "done", timeout=30, what="the rollover to finish")

    position.refresh_from_db()
    assert (position.futures_symbol, position.rollover_count, position.status) == (new, 1, "open")
    legs = list(PaperOrder.objects.exclude(symbol=old, action="BUY").order_by("id").values_list("action", "symbol"))
    assert legs == [("SELL", old), ("BUY", new)]  # exactly one order per leg
    assert CapitalTransaction.objects.filter(kind="ROLLOVER_PNL", position=position).count() == 1
    assert {p.symbol: p.net_quantity for p in PaperPosition.objects.all()} == {old: 0, new: position.quantity}
