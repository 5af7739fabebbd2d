"""Redis stops mid-run (the real server, ``shutdown nosave``) while signals are posted to two web
instances, then comes back: every accepted signal executes exactly once, /health stays 200 and
reports Redis down, and after the restart dedup, locks and leadership use Redis again."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import timedelta

import httpx
import pytest
import redis
from django.utils import timezone

from positions.models import PaperOrder, Position
from signals.models import SignalLog
from tests import payloads
from tests.cluster import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
INSTRUMENTS = ["GOLD_MINI", "SILVER_MINI", "COPPER", "BANK_NIFTY"]


class Stream:
    """Distinct signals with fresh timestamps, each posted once plus ~30% duplicate deliveries."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.clock = timezone.now() - timedelta(minutes=20)
        self.sent: dict[str, dict] = {}
        self.responses: list[httpx.Response] = []
        self.webs = itertools.cycle(["web1", "web2"])
        self.rng = random.Random(7)

    def _stamp(self) -> str:
        self.clock += timedelta(seconds=5)
        return self.clock.isoformat()

    def post(self, payload: dict) -> None:
        payload = {**payload, "timestamp": self._stamp()}  # each signal its own instant
        first = self.cluster.post(next(self.webs), payload)
        assert first.status_code == 202, first.text
        self.sent[first.json()["fingerprint"]] = payload
        self.responses.append(first)
        if self.rng.random() < 0.3:
            again = self.cluster.post(next(self.webs), payload)
            assert again.status_code == 200 and again.json()["signal_id"] == first.json()["signal_id"]
            self.responses.append(again)

    def bars(self, n: int) -> None:
        for i in range(n):
            code = INSTRUMENTS[i % 4]
            price = {"GOLD_MINI": 72000, "SILVER_MINI": 90000, "COPPER": 800, "BANK_NIFTY": 52000}[code]
            self.post(payloads.bar(instrument=code, price=price + i, atr=price / 100, timestamp=""))

    def entry(self, code: str, price: float, stop: float, atr: float) -> None:
        self.post(payloads.entry(instrument=code, price=price, stop=stop, atr=atr, timestamp=""))

    def exit_all(self, code: str, price: float) -> None:
        self.post(payloads.exit_(instrument=code, price=price, atr=1, timestamp=""))


def _health(cluster, web: str) -> httpx.Response:
    return httpx.get(cluster.procs[web].url + "/health", timeout=5)


def test_signals_execute_exactly_once_through_a_redis_outage(cluster):
    cluster.start_web("web1")
    cluster.start_web("web2")
    cluster.start_worker("worker1")
    cluster.start_beat("beat1")
    stream = Stream(cluster)

    stream.entry("GOLD_MINI", 72000, 71500, 500)
    stream.bars(12)
    cluster.redis.shutdown()  # ---- Redis gone ----
    stream.exit_all("GOLD_MINI", 72300)
    stream.entry("BANK_NIFTY", 52000, 51650, 350)
    stream.bars(16)
    for web in ("web1", "web2"):
        health = _health(cluster, web)
        assert health.status_code == 200 and health.json()["checks"]["redis"]["status"] == "down"
    cluster.redis.start()  # ---- Redis back, empty ----
    lock_events = KeyEvents(cluster.redis.port, "pm:signal_lock:*")
    # The circuit breaker probes Redis again after 2 s: wait until both instances see it back.
    wait_until(lambda: all(_health(cluster, web).json()["checks"]["redis"]["status"] == "ok"
                           for web in ("web1", "web2")), timeout=30, what="the instances to use Redis again")
    stream.exit_all("BANK_NIFTY", 52400)
    stream.bars(12)

    wait_until(lambda: not SignalLog.objects.filter(status__in=["accepted", "processing"]).exists(), timeout=60,
               what="every signal to finish")
    assert all(r.status_code < 500 for r in stream.responses)
    rows = {s.fingerprint: s for s in SignalLog.objects.all()}
    assert set(rows) == set(stream.sent)  # nothing lost, nothing extra
    assert {s.status for s in rows.values()} == {"executed"}
    duplicates_posted = len(stream.responses) - len(stream.sent)
    assert sum(s.duplicate_count for s in rows.values()) == duplicates_posted
    # Exactly one broker order per leg: Gold 1 BUY + 1 SELL; Bank Nifty 2 legs in + 2 legs out.
    assert list(Position.objects.order_by("id").values_list("instrument_id", "status")) == [
        ("GOLD_MINI", "closed"), ("BANK_NIFTY", "closed")]
    assert PaperOrder.objects.count() == 6

    # Redis is used again: dedup keys for the last signals, heartbeats, and the leader lease.
    client = redis.Redis(port=cluster.redis.port)
    last = list(stream.sent)[-1]
    wait_until(lambda: client.exists(f"pm:fp:{last}"), timeout=10, what="dedup key in the restarted Redis")
    wait_until(lambda: client.keys("pm:heartbeat:*"), timeout=10, what="heartbeats in Redis")
    wait_until(lambda: client.exists("pm:leader"), timeout=10, what="the lease back in Redis")
    assert _health(cluster, "web1").json()["checks"]["redis"]["status"] == "ok"
    # ... and signal locks are taken (SET) and released (DEL) in Redis again.
    assert {"set", "del"} <= {event for _, event in lock_events.events}, lock_events.events[:5]


class KeyEvents:
    """Records (key, event) for every change to keys matching ``pattern`` (Redis keyspace events)."""

    def __init__(self, port: int, pattern: str) -> None:
        self.client = redis.Redis(port=port)  # kept on the object: the subscription lives with it
        self.client.config_set("notify-keyspace-events", "K$g")
        self.pubsub = self.client.pubsub()
        self.pubsub.psubscribe(f"__keyspace@0__:{pattern}")
        self.events: list[tuple[str, str]] = []
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        try:
            for message in self.pubsub.listen():
                if message["type"] == "pmessage":
                    self.events.append((message["channel"].decode().split(":", 1)[1], message["data"].decode()))
        except (redis.ConnectionError, ValueError):
            pass  # the server went away at the end of the test
