"""/health, /ready and /metrics in-process (the process-level outage tests are in tests/chaos)."""

from __future__ import annotations

from datetime import date, datetime
from unittest import mock

import pytest
import time_machine
from django.db import OperationalError

from core.redis_client import breaker
from core.runtime import runtime
from portfolio.sessions import IST

pytestmark = pytest.mark.django_db


def test_health_reports_every_dependency(client, portfolio):
    body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["status"] == "ok" and check["latency_ms"] >= 0 for check in body["checks"].values())
    assert body["instance_id"].startswith("pytest:") and body["is_leader"] is False


def test_health_says_whether_market_sessions_are_enforced(client, portfolio, settings):
    settings.PM_MARKET_SESSIONS = False
    body = client.get("/health").json()
    assert body["market_sessions"] == "off" and body["warnings"] == []
    settings.PM_MARKET_SESSIONS = True
    assert client.get("/health").json()["market_sessions"] == "enforced"


@time_machine.travel(datetime(2026, 12, 20, 12, 0, tzinfo=IST))
def test_a_year_without_holidays_is_a_health_warning(client, portfolio):
    from portfolio.models import Holiday
    from tests.factories import make_position

    assert client.get("/health").json()["warnings"] == []  # 2026 is shipped for both exchanges
    make_position("GOLD_MINI", layer=1, status="open", expiry=date(2027, 1, 5))  # expires in 2027
    body = client.get("/health").json()
    assert body["status"] == "healthy" and [(w["exchange"], w["year"]) for w in body["warnings"]] == [("MCX", 2027)]
    assert body["warnings"][0]["check"] == "holidays_missing" and "import_holidays" in body["warnings"][0]["detail"]
    Holiday.objects.create(exchange="MCX", date=date(2027, 1, 26), description="Republic Day")
    assert client.get("/health").json()["warnings"] == []
    Holiday.objects.filter(exchange="NFO").delete()  # no position on NFO: the current year is still needed
    assert [(w["exchange"], w["year"]) for w in client.get("/health").json()["warnings"]] == [("NFO", 2026)]


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
