"""/health, /ready and /metrics in-process (the process-level outage tests are in tests/chaos)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError

from core.redis_client import breaker
from core.runtime import runtime

pytestmark = pytest.mark.django_db


def test_health_reports_every_dependency(client, portfolio):
    body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["status"] == "ok" and check["latency_ms"] >= 0 for check in body["checks"].values())
    assert body["instance_id"].startswith("pytest:") and body["is_leader"] is False


def test_redis_down_is_reported_but_not_fatal(client, portfolio, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    breaker.reset()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["status"] == "down"


def test_database_down_is_503(client):
    with mock.patch("recovery.selectors.database_check", side_effect=OperationalError("gone")):
        response = client.get("/health")
    assert response.status_code == 503 and response.json()["status"] == "unhealthy"


def test_ready_needs_a_portfolio_and_refuses_while_shutting_down(client, db):
    response = client.get("/ready")
    assert response.status_code == 503 and "portfolio" in response.json()["reason"]
    from portfolio.services import portfolio_initialise
    from tests.conftest import seed_instruments

    seed_instruments()
    portfolio_initialise(capital="100000", actor="t")
    assert client.get("/ready").json() == {"status": "ready"}
    runtime.shutting_down.set()
    try:
        assert client.get("/ready").json() == {"status": "not_ready", "reason": "shutting down"}
    finally:
        runtime.shutting_down.clear()


def test_metrics_expose_the_named_series(client, portfolio, webhook):
    webhook.post(dict(type="MARKET_DATA", instrument="COPPER", price=800, atr=5, supertrend=790,
                      timestamp=webhook.at(0)))
    text = client.get("/metrics").content.decode()
    for name in ("pm_webhook_requests_total", "pm_webhook_ingest_seconds", "pm_signal_to_executed_seconds",
                 "pm_broker_call_seconds", "pm_broker_unknown_outcomes_total", "pm_lock_contention_total",
                 "pm_leader_changes_total", "pm_open_discrepancies", "pm_signals"):
        assert name in text, name
    assert 'pm_webhook_requests_total{outcome="accepted"}' in text


@pytest.mark.django_db(transaction=True)
def test_instance_list_shows_who_leads_and_since_when(admin_client):
    from core.leader import Lease
    from core.services import instance_register

    instance_register(role="beat")
    lease = Lease()
    assert lease.ensure()
    try:
        page = admin_client.get("/admin/core/instancemetadata/").content.decode()
        assert f"leader (epoch {lease.epoch}) since" in page
    finally:
        lease.release()
