"""The fake OpenAlgo itself: answer shapes, state rules, fault modes, the HTTP control surface and
running as a separate process (everything through real HTTP)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from positions.broker.base import BrokerOutcomeUnknown, OrderRequest
from positions.broker.openalgo import OpenAlgoBroker
from tests.fakes.helpers import GOLD, KEY, PE, api, book, control, order, place, status, trades, wait_for
from tests.fakes.openalgo_server import FakeOpenAlgo

REPO = Path(__file__).resolve().parents[2]


def test_openalgo_response_shapes(fake):
    fake.set_price(GOLD, 72000)
    placed = order(fake.url).json()
    assert set(placed) == {"status", "orderid"} and placed["status"] == "success"
    [row] = book(fake.url)
    assert list(row) == ["action", "symbol", "exchange", "orderid", "product", "quantity", "price",
                         "pricetype", "order_status", "trigger_price", "timestamp"]
    assert row == {"action": "BUY", "symbol": GOLD, "exchange": "MCX", "orderid": placed["orderid"],
                   "product": "NRML", "quantity": 1, "price": 0.0, "pricetype": "MARKET",
                   "order_status": "complete", "trigger_price": 0.0, "timestamp": "07-Jan-2026 11:00:00"}
    stats = api(fake.url, "orderbook").json()["data"]["statistics"]
    assert stats == {"total_buy_orders": 1, "total_sell_orders": 0, "total_completed_orders": 1,
                     "total_open_orders": 0, "total_rejected_orders": 0}
    first_read = status(fake.url, placed["orderid"]).json()["data"]
    assert first_read == {**row, "average_price": 0}  # the trade book lags the order: 0 at first
    [trade] = trades(fake.url)
    assert trade == {"symbol": GOLD, "exchange": "MCX", "product": "NRML", "action": "BUY", "quantity": 1,
                     "average_price": 72000.0, "trade_value": 72000.0, "orderid": placed["orderid"],
                     "timestamp": "11:00:00"}
    data = status(fake.url, placed["orderid"]).json()["data"]
    assert data == {**row, "average_price": 72000.0}
    [position] = api(fake.url, "positionbook").json()["data"]
    assert position == {"symbol": GOLD, "exchange": "MCX", "product": "NRML", "quantity": "1",
                        "pnl": 0.0, "average_price": "72000.00", "ltp": 72000.0}
    quote = api(fake.url, "quotes", symbol=GOLD, exchange="MCX").json()["data"]
    assert quote["ltp"] == quote["bid"] == quote["ask"] == 72000.0
    assert api(fake.url, "quotes", symbol="UNSET", exchange="NSE").json()["data"]["ltp"] == 100.0
    assert api(fake.url, "funds").json()["data"]["availablecash"] == "10000000.00"
    assert api(fake.url, "ping").json() == {"status": "success", "data": {"broker": "zerodha", "message": "pong"}}


def test_positions_net_by_filled_quantity_with_average_price_rules(fake):
    fake.set_price(GOLD, 100)
    place(fake.url, quantity="2")
    fake.set_price(GOLD, 130)
    place(fake.url, quantity="1")
    assert fake.positions() == [{"symbol": GOLD, "exchange": "MCX", "product": "NRML", "quantity": 3,
                                 "average_price": "110"}]
    place(fake.url, action="SELL", quantity="1")  # reducing keeps the average
    assert fake.positions()[0]["average_price"] == "110"
    fake.set_price(GOLD, 90)
    place(fake.url, action="SELL", quantity="5")  # flips short at the fill price
    assert (fake.position(GOLD, "MCX"), fake.positions()[0]["average_price"]) == (-3, "90")
    place(fake.url, quantity="3", pricetype="LIMIT", price="95")  # marketable: fills at the market, 90
    assert fake.positions()[0] == {"symbol": GOLD, "exchange": "MCX", "product": "NRML", "quantity": 0,
                                   "average_price": "0"}
    assert fake.orders()[-1]["average_price"] == "90"
    [flat] = api(fake.url, "positionbook").json()["data"]
    assert (flat["quantity"], flat["average_price"]) == ("0", "0.00")  # flat rows stay, as "0"
    fake.set_position(PE, "NFO", -30, average_price="12.5")
    rows = {r["symbol"]: r for r in api(fake.url, "positionbook").json()["data"]}
    assert (rows[PE]["quantity"], rows[PE]["average_price"]) == ("-30", "12.50")


def test_fault_counts_and_clearing(fake):
    fake.set_fault("ping", "http_500", count=2)
    assert [api(fake.url, "ping").status_code for _ in range(3)] == [500, 500, 200]
    fake.set_fault("ping", "http_429", count=None)
    answers = [api(fake.url, "ping") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 429]
    assert answers[0].json()["retry_after"] == 60
    fake.clear_faults()
    assert api(fake.url, "ping").status_code == 200
    assert fake.request_count("ping") == 7 and fake.request_count() == 7
    with pytest.raises(ValueError):
        fake.set_fault("ping", "explode")
    with pytest.raises(ValueError):
        fake.set_fault("nowhere", "http_500")


def test_fault_modes_on_placeorder(fake):
    fake.set_fault("placeorder", "success_without_orderid")
    assert order(fake.url).json() == {"status": "success", "message": "Order placed"}
    fake.set_fault("placeorder", "success_without_orderid", accept=True)
    assert "orderid" not in order(fake.url).json()
    fake.set_fault("placeorder", "session_expired")
    assert order(fake.url).status_code == 403
    fake.set_fault("placeorder", "reject", message="no margin")
    assert order(fake.url).json() == {"status": "error", "message": "no margin"}
    fake.set_fault("placeorder", "malformed_body")
    assert order(fake.url).content.startswith(b"<html>")
    fake.set_fault("placeorder", "http_500", accept=True)
    assert order(fake.url).status_code == 500
    fake.set_fault("placeorder", "delay", seconds=0.2)
    assert order(fake.url).status_code == 200
    assert len(fake.orders()) == 3  # the two accept=True ones and the delayed one
    fake.set_fault("placeorder", "rejected_after_accept")
    rejected = place(fake.url)
    assert fake.orders()[-1]["order_status"] == "rejected" and rejected == fake.orders()[-1]["orderid"]
    fake.set_fault("placeorder", "pending", count=2)
    ids = [place(fake.url) for _ in range(2)]
    assert [o["order_status"] for o in fake.orders()[-2:]] == ["open", "open"]
    assert fake.fill_pending(ids[1]) == [ids[1]]
    assert fake.fill_pending() == [ids[0]]


def test_timeout_after_accept_acts_then_waits_outside_the_lock(fake):
    fake.set_fault("placeorder", "timeout_after_accept", seconds=5)
    waiting = threading.Thread(target=lambda: order(fake.url))
    waiting.start()
    wait_for(fake.orders)
    assert fake.orders()[0]["order_status"] == "complete"  # acted on while the answer waits
    assert api(fake.url, "ping").status_code == 200  # other requests are served meanwhile
    fake.stop()  # wakes the sleeping request
    waiting.join(timeout=2)
    assert not waiting.is_alive()


def test_http_control_surface(fake):
    control(fake.url, "price", symbol=GOLD, price="250.5")
    control(fake.url, "fault", endpoint="placeorder", mode="pending", count=None)
    first, second = place(fake.url), place(fake.url)
    assert control(fake.url, "fill", order_id=first) == {"status": "success", "filled": [first]}
    control(fake.url, "clear_faults")
    control(fake.url, "position", symbol=PE, exchange="NFO", quantity=-30, average_price="12")
    state = httpx.get(f"{fake.url}/_fake/state").json()
    assert state["prices"] == {GOLD: "250.5"} and state["faults"] == {}
    assert [(o["orderid"], o["order_status"], o["strategy"]) for o in state["orders"]] == [
        (first, "complete", "T"), (second, "open", "T")]
    assert {(p["symbol"], p["quantity"]) for p in state["positions"]} == {(GOLD, 1), (PE, -30)}
    assert state["requests"]["placeorder"] == 2 and state["clock"] == "2026-01-07T11:00:00+05:30"
    assert all("apikey" not in body for body in state["bodies"]["placeorder"])
    assert state["config"]["sessions"] is True and state["sandbox"]["orders"] == []
    assert control(fake.url, "fill_order", order_id=second) == {"status": "success", "filled_quantity": 1}
    bad = httpx.post(f"{fake.url}/_fake/fault", json={"endpoint": "x", "mode": "y"})
    assert bad.status_code == 400 and "unknown endpoint" in bad.json()["message"]
    assert httpx.post(f"{fake.url}/_fake/unknown", json={}).status_code == 404
    assert httpx.post(f"{fake.url}/_fake/price", content=b"[1]").status_code == 400
    assert httpx.get(f"{fake.url}/_fake/price").status_code == 405
    assert httpx.get(f"{fake.url}/nowhere").status_code == 404
    control(fake.url, "reset")
    state = httpx.get(f"{fake.url}/_fake/state").json()
    assert (state["orders"], state["positions"], state["prices"], state["requests"]) == ([], [], {}, {})


def test_config_over_http_and_in_process(fake):
    answer = control(fake.url, "config", echo_strategy=True, trade_lag_reads=0, seed=7)
    assert answer["config"]["echo_strategy"] is True and answer["config"]["trade_lag_reads"] == 0
    assert httpx.get(f"{fake.url}/_fake/config").json()["config"] == fake.config()
    oid = place(fake.url)
    assert status(fake.url, oid).json()["data"]["strategy"] == "T"
    wrong = httpx.post(f"{fake.url}/_fake/config", json={"no_such_switch": 1})
    assert wrong.status_code == 400 and "unknown switch" in wrong.json()["message"]
    assert httpx.post(f"{fake.url}/_fake/config", json={"mcx_quantity": "grams"}).status_code == 400
    assert httpx.post(f"{fake.url}/_fake/config", json={"sessions": "yes"}).status_code == 400
    assert httpx.post(f"{fake.url}/_fake/config", json={"lost_answer_rate": 2}).status_code == 400
    assert fake.config()["echo_strategy"] is True  # a refused change changes nothing
    with pytest.raises(ValueError):
        FakeOpenAlgo(cancel_finished_status=404)


def test_friendly_switch_sets_every_kind_behaviour_and_keeps_explicit_ones():
    friendly = FakeOpenAlgo(friendly=True).config()
    assert friendly | {"mcx_quantity": "lots"} == {
        "sessions": False, "strict_fields": False, "strict_symbols": False, "echo_strategy": True,
        "book_average_price": True, "instant_fills": True, "trade_lag_reads": 0, "trade_lag_seconds": 0.0,
        "transient_rate": 0.0, "transient_window": 0.5, "cancel_finished_status": 400,
        "order_rate_limit": None, "api_rate_limit": None, "mcx_quantity": "lots", "semi_auto": False,
        "analyzer": False, "lost_answer_rate": 0.0, "partial_fill_rate": 0.0, "partial_fill_delay": 0.5}
    assert FakeOpenAlgo(friendly=True, sessions=True).config()["sessions"] is True
    switched = FakeOpenAlgo()
    assert switched.configure(friendly=True, sessions=True) == {**friendly, "sessions": True}
    assert switched.configure(friendly=False) == FakeOpenAlgo().config()
    with FakeOpenAlgo(api_key=KEY, friendly=True) as fake:
        fake.set_price("X", 95)
        oid = place(fake.url, symbol="X", pricetype="LIMIT", price="90", extra_field="ignored")
        data = status(fake.url, oid).json()["data"]
        assert (data["strategy"], data["average_price"], data["order_status"]) == ("T", 90.0, "complete")
        assert book(fake.url)[0]["average_price"] == 90.0
        assert api(fake.url, "cancelorder", orderid=oid, strategy="T").status_code == 400


def test_runs_as_its_own_process_driven_over_http():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.fakes.openalgo_server", "--port", "0", "--apikey", KEY,
               "--no-sessions", "--mcx-quantity", "units", "--lost-answer-rate", "0.05",
               "--partial-fill-rate", "0.05", "--semi-auto", "--analyzer", "--seed", "3"]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _readline_within(proc, seconds=10)
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split()[1]
        config = httpx.get(f"{url}/_fake/config").json()["config"]
        assert (config["sessions"], config["mcx_quantity"], config["semi_auto"], config["analyzer"]) == (
            False, "units", True, True)
        assert (config["lost_answer_rate"], config["partial_fill_rate"]) == (0.05, 0.05)
        control(url, "config", semi_auto=False, analyzer=False, lost_answer_rate=0, partial_fill_rate=0)
        control(url, "price", symbol=GOLD, price="72100")
        control(url, "fault", endpoint="placeorder", mode="timeout_after_accept", seconds=1.5)
        timeout = httpx.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5)
        with OpenAlgoBroker(base_url=url, api_key=KEY, timeout=timeout) as broker:
            with pytest.raises(BrokerOutcomeUnknown):
                broker.place_order(OrderRequest("proc-1", GOLD, "MCX", "BUY", 100))
            [found] = broker.order_book()  # no tag: found by symbol, side and quantity
            assert (found.symbol, found.action, found.quantity, found.tag) == (GOLD, "BUY", 100, None)
        state = httpx.get(f"{url}/_fake/state").json()
        assert state["requests"]["placeorder"] == 1 and len(state["orders"]) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read()


def test_old_api_key_flag_still_works():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.openalgo_server", "--api-key", "old-style"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = _readline_within(proc, seconds=10).split()[1]
        assert api(url, "ping", key="old-style").status_code == 200
        assert api(url, "ping", key=KEY).status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0


def _readline_within(proc: subprocess.Popen, *, seconds: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=seconds)
    if not lines:
        raise AssertionError(f"no READY line within {seconds}s")
    return lines[0].strip()
