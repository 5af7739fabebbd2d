"""PostgreSQL becomes unreachable for a web instance (a TCP proxy cut between them): /webhook,
/health and /ready answer 503 and nothing is half-written; when it comes back the same process
serves again without a restart.  Also: production logs are one JSON object per line."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from signals.models import SignalLog
from tests.chaos.conftest import database_url
from tests.cluster import wait_until
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def _bar(minutes_ago: float, price: float) -> dict:
    stamp = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    return dict(type="MARKET_DATA", instrument="GOLD_MINI", price=price, atr=500, supertrend=price - 500,
                timestamp=stamp)


def test_database_outage_gives_503s_and_service_resumes_without_restart(cluster):
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    try:
        web = cluster.start_web("web1", database_url=database_url(port=proxy.port))
        cluster.start_worker("worker1")
        assert cluster.post("web1", _bar(10, 72000)).status_code == 202

        proxy.cut()
        started = time.monotonic()
        down = cluster.post("web1", _bar(9, 72100))
        elapsed = time.monotonic() - started
        assert down.status_code == 503 and down.json()["error_type"] == "unavailable"
        assert elapsed < 3.0  # before TradingView gives up, so its resend is what saves the signal
        assert httpx.get(web.url + "/health", timeout=5).status_code == 503
        ready = httpx.get(web.url + "/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["reason"] == "database unavailable"
        assert SignalLog.objects.count() == 1  # the refused signal was not written

        proxy.restore()
        resent = wait_until(lambda: _accepted(cluster, _bar(9, 72100)), timeout=20, what="the resend to be accepted")
        assert resent.status_code == 202
        assert httpx.get(web.url + "/health", timeout=5).status_code == 200
        assert httpx.get(web.url + "/ready", timeout=5).status_code == 200
        wait_until(lambda: SignalLog.objects.filter(status="executed").count() == 2, timeout=20,
                   what="both signals executed")
    finally:
        proxy.close()

    for proc in cluster.procs.values():  # production logs: every line is one JSON object
        events = [json.loads(line) for line in proc.log.read_text().splitlines() if line.strip()]
        assert events and all("timestamp" in e and "level" in e for e in events), proc.name
    web_events = [json.loads(line) for line in web.log.read_text().splitlines() if line.strip()]
    assert any(e.get("event") == "webhook_not_persisted" for e in web_events)
    assert all(e.get("instance_id", "").startswith("web1:") for e in web_events if "instance_id" in e)


def _accepted(cluster, payload):
    response = cluster.post("web1", payload)
    return response if response.status_code == 202 else None
