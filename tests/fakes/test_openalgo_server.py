"""The fake OpenAlgo itself: API shapes, state rules, faults, HTTP control, running as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from positions.broker.base import BrokerOutcomeUnknown, OrderRequest
from positions.broker.openalgo import OpenAlgoBroker
from tests.fakes.openalgo_server import FakeOpenAlgo

KEY = "fake-test-key"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake():
    with FakeOpenAlgo(api_key=KEY) as server:
        yield server


def api(url: str, endpoint: str, **fields) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/{endpoint}", json={"apikey": KEY, **fields}, timeout=5)


def order(url: str, action: str = "BUY", quantity: str = "1", symbol: str = "GOLDM05JAN26FUT", **extra):
    fields = {"strategy": "T", "symbol": symbol, "exchange": "MCX", "action": action,
              "quantity": quantity, "pricetype": "MARKET", "product": "NRML", **extra}
    return api(url, "placeorder", **fields)


def test_openalgo_response_shapes(fake):
    fake.set_price("GOLDM05JAN26FUT", 72000)
    placed = order(fake.url).json()
    assert placed["status"] == "success" and placed["orderid"]
    status = api(fake.url, "orderstatus", orderid=placed["orderid"], strategy="T").json()["data"]
    assert status["order_status"] == "complete" and status["quantity"] == "1"
    assert status["average_price"] == 72000.0 and status["strategy"] == "T"
    book = api(fake.url, "orderbook").json()["data"]
    assert [o["orderid"] for o in book["orders"]] == [placed["orderid"]]
    assert book["statistics"]["total_buy_orders"] == 1
    [row] = api(fake.url, "positionbook").json()["data"]
    assert (row["quantity"], row["average_price"], row["product"]) == ("1", "72000.00", "NRML")
    [trade] = api(fake.url, "tradebook").json()["data"]
    assert trade["orderid"] == placed["orderid"] and trade["trade_value"] == 72000.0
    assert api(fake.url, "quotes", symbol="GOLDM05JAN26FUT", exchange="MCX").json()["data"]["ltp"] == 72000.0
    assert api(fake.url, "quotes", symbol="UNSET", exchange="NSE").json()["data"]["ltp"] == 100.0
    assert api(fake.url, "funds").json()["data"]["availablecash"] == "10000000.00"
    assert api(fake.url, "ping").json()["data"]["message"] == "pong"


def test_validation_auth_and_routing(fake):
    assert order(fake.url, quantity="0").status_code == 400
    assert order(fake.url, action="HOLD").status_code == 400
    assert order(fake.url, pricetype="LIMIT", price="0").status_code == 400
    assert httpx.post(f"{fake.url}/api/v1/ping", json={"apikey": "nope"}).status_code == 403
    assert httpx.post(f"{fake.url}/api/v1/ping", content=b"{not json").status_code == 400
    assert httpx.get(f"{fake.url}/api/v1/ping").status_code == 405
    assert api(fake.url, "modifyorder").status_code == 404
    assert api(fake.url, "orderstatus", orderid="123", strategy="T").status_code == 404
    assert fake.orders() == []


def test_net_position_average_price_rules(fake):
    fake.set_price("X", 100)
    order(fake.url, symbol="X", quantity="2")
    fake.set_price("X", 130)
    order(fake.url, symbol="X", quantity="1")
    assert fake.positions() == [{"symbol": "X", "exchange": "MCX", "quantity": 3, "average_price": "110"}]
    order(fake.url, symbol="X", action="SELL", quantity="1")  # reducing keeps the average
    assert fake.positions()[0]["average_price"] == "110"
    fake.set_price("X", 90)
    order(fake.url, symbol="X", action="SELL", quantity="5")  # flips short at the fill price
    assert (fake.position("X", "MCX"), fake.positions()[0]["average_price"]) == (-3, "90")
    order(fake.url, symbol="X", quantity="3", pricetype="LIMIT", price="95")
    assert fake.positions()[0] == {"symbol": "X", "exchange": "MCX", "quantity": 0, "average_price": "0"}
    assert fake.orders()[-1]["average_price"] == "95"


def test_fault_counts_and_clearing(fake):
    fake.set_fault("ping", "http_500", count=2)
    assert [api(fake.url, "ping").status_code for _ in range(3)] == [500, 500, 200]
    fake.set_fault("ping", "http_429", count=None)
    assert [api(fake.url, "ping").status_code for _ in range(3)] == [429, 429, 429]
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
    assert len(fake.orders()) == 1  # only the accept=True one became an order
    fake.set_fault("placeorder", "pending", count=2)
    ids = [order(fake.url).json()["orderid"] for _ in range(2)]
    assert [o["order_status"] for o in fake.orders()[-2:]] == ["open", "open"]
    assert fake.fill_pending(ids[1]) == [ids[1]]
    assert fake.fill_pending() == [ids[0]]


def test_timeout_after_accept_acts_then_waits_outside_the_lock(fake):
    fake.set_fault("placeorder", "timeout_after_accept", seconds=5)
    waiting = threading.Thread(target=lambda: order(fake.url))
    waiting.start()
    for _ in range(100):
        if fake.orders():
            break
        threading.Event().wait(0.01)
    assert fake.orders()[0]["order_status"] == "complete"  # acted on while the answer waits
    assert api(fake.url, "ping").status_code == 200  # other requests are served meanwhile
    fake.stop()  # wakes the sleeping request
    waiting.join(timeout=2)
    assert not waiting.is_alive()


def test_http_control_surface(fake):
    def control(action: str, **body) -> dict:
        response = httpx.post(f"{fake.url}/_fake/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    control("price", symbol="X", price="250.5")
    control("fault", endpoint="placeorder", mode="pending", count=None)
    first = order(fake.url, symbol="X").json()["orderid"]
    second = order(fake.url, symbol="X").json()["orderid"]
    assert control("fill", order_id=first) == {"status": "success", "filled": [first]}
    control("clear_faults")
    control("position", symbol="Y", exchange="NFO", quantity=-30, average_price="12")
    state = httpx.get(f"{fake.url}/_fake/state").json()
    assert state["prices"] == {"X": "250.5"} and state["faults"] == {}
    assert [(o["orderid"], o["order_status"]) for o in state["orders"]] == [(first, "complete"), (second, "open")]
    assert {(p["symbol"], p["quantity"]) for p in state["positions"]} == {("X", 1), ("Y", -30)}
    assert state["requests"]["placeorder"] == 2
    assert all("apikey" not in body for body in state["bodies"]["placeorder"])
    assert httpx.post(f"{fake.url}/_fake/fault", json={"endpoint": "x", "mode": "y"}).status_code == 400
    assert httpx.post(f"{fake.url}/_fake/unknown", json={}).status_code == 404
    control("reset")
    state = httpx.get(f"{fake.url}/_fake/state").json()
    assert (state["orders"], state["positions"], state["prices"], state["requests"]) == ([], [], {}, {})


def test_runs_as_its_own_process_driven_over_http():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openalgo_server", "--port", "0", "--api-key", KEY],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _readline_within(proc, seconds=10)
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split()[1]
        httpx.post(f"{url}/_fake/price", json={"symbol": "GOLDM05JAN26FUT", "price": "72100"}).raise_for_status()
        httpx.post(f"{url}/_fake/fault", json={"endpoint": "placeorder", "mode": "timeout_after_accept",
                                               "seconds": 1.5}).raise_for_status()
        timeout = httpx.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5)
        with OpenAlgoBroker(base_url=url, api_key=KEY, timeout=timeout) as broker:
            request = OrderRequest("proc-1", "GOLDM05JAN26FUT", "MCX", "BUY", 1)
            with pytest.raises(BrokerOutcomeUnknown):
                broker.place_order(request)
            [found] = broker.order_book()
            assert (found.tag, found.average_price) == ("proc-1", Decimal("72100"))
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


def _readline_within(proc: subprocess.Popen, *, seconds: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=seconds)
    if not lines:
        raise AssertionError(f"no READY line within {seconds}s")
    return lines[0].strip()
