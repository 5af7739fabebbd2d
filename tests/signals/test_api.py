"""The staff API (DESIGN §4, Appendix A): authentication, filters, pagination and body shapes."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from signals.models import SignalLog
from tests.factories import make_position, make_signal

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/signals/", "/api/positions/", "/api/portfolio/", "/api/schema/"]


@pytest.mark.parametrize("url", ENDPOINTS + ["/api/signals/1/"])
def test_anonymous_gets_401_with_token_challenge(url, portfolio):
    response = APIClient().get(url)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", ENDPOINTS)
def test_non_staff_gets_403(url, portfolio, viewer_api):
    assert viewer_api.get(url).status_code == 403


def test_pause_and_resume_need_staff(portfolio):
    assert APIClient().post("/api/trading/pause").status_code == 401
    assert APIClient().post("/api/trading/resume").status_code == 401


def test_signal_list_is_newest_first_filtered_and_paginated(portfolio, staff_api):
    older = make_signal("GOLD_MINI", "BASE_ENTRY", status="executed")
    newer = make_signal("BANK_NIFTY", "EXIT", "ALL", status="rejected", reason="position_not_open")
    body = staff_api.get("/api/signals/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [r["id"] for r in body["results"]] == [newer.pk, older.pk]
    assert [r["id"] for r in staff_api.get("/api/signals/?status=executed").json()["results"]] == [older.pk]
    assert [r["id"] for r in staff_api.get("/api/signals/?instrument=bank_nifty").json()["results"]] == [newer.pk]
    assert [r["id"] for r in staff_api.get("/api/signals/?type=EXIT").json()["results"]] == [newer.pk]
    bad = staff_api.get("/api/signals/?status=done")
    assert bad.status_code == 400 and "status" in bad.json()


def test_signal_detail_shape(portfolio, staff_api):
    signal = make_signal(status="blocked", reason="zero_lots:risk", result={"checks": []}, processed_by="web-1")
    body = staff_api.get(f"/api/signals/{signal.pk}/").json()
    assert set(body) == {"id", "fingerprint", "type", "instrument", "position", "signal_timestamp", "received_at",
                         "processed_at", "processed_by", "status", "reason", "result", "duplicate_count", "payload"}
    assert (body["type"], body["instrument"], body["reason"]) == ("BASE_ENTRY", "GOLD_MINI", "zero_lots:risk")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", body["signal_timestamp"])
    assert staff_api.get("/api/signals/999999/").status_code == 404


def test_positions_list_shape_and_filters(portfolio, staff_api):
    gold = make_position("GOLD_MINI", status="open")
    bank = make_position("BANK_NIFTY", status="closed")
    rows = staff_api.get("/api/positions/?status=open").json()["results"]
    assert [r["id"] for r in rows] == [gold.pk]
    row = rows[0]
    assert set(row) == {"id", "label", "instrument", "layer", "status", "lots", "quantity", "entry_price",
                        "initial_stop", "current_stop", "highest_close", "entry_atr", "exit_price", "exit_reason",
                        "realized_pnl", "unrealized_pnl", "opened_at", "closed_at", "expiry", "symbols",
                        "rollover_status", "exit_pending", "retry_at", "last_error",  # these three: issue 10
                        "rollover_count", "rollover_pnl", "original_expiry", "rollover"}  # these four: issue 11
    assert (row["exit_pending"], row["retry_at"], row["last_error"]) == (False, None, "")
    assert row["symbols"] == ["GOLDM05FEB26FUT"] and row["layer"] == 1 and isinstance(row["entry_price"], str)
    assert row["expiry"] == "2026-02-05"
    bank_row = staff_api.get("/api/positions/?instrument=BANK_NIFTY").json()["results"][0]
    assert bank_row["id"] == bank.pk and len(bank_row["symbols"]) == 2


def test_portfolio_body_and_pause_resume(portfolio, staff_api):
    make_position("GOLD_MINI", status="open", lots=2, price="72000")
    body = staff_api.get("/api/portfolio/").json()
    assert body["closed_equity"] == "5000000.00" and body["margin_used"] == "210000.00"
    assert body["margin_free"] == "2790000.00"  # 60% of ₹50 L minus margin in use
    assert body["total_risk_amount"] == "10000.00"  # (72000 − 71500) × 2 × 10
    assert body["open_discrepancies"] == 0 and body["paused"] is False
    assert {"trades_closed", "signals_executed"} <= set(body["statistics"])
    paused = staff_api.post("/api/trading/pause", {"reason": "budget day"}, format="json")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["paused_reason"] == "budget day"
    resumed = staff_api.post("/api/trading/resume")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False


def test_schema_is_published(staff_api, portfolio):
    response = staff_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/signals/" in response.json()["paths"]


def test_duplicate_count_is_visible(portfolio, staff_api, webhook):
    payload = dict(type="MARKET_DATA", instrument="COPPER", price=800, atr=5, supertrend=790,
                   timestamp=webhook.at(0))
    first = webhook.post(payload).json()
    webhook.post(payload)
    webhook.post(payload)
    assert staff_api.get(f"/api/signals/{first['signal_id']}/").json()["duplicate_count"] == 2
    assert SignalLog.objects.count() == 1
