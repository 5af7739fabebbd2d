"""Helpers for the fake OpenAlgo's own tests: real HTTP requests (httpx) and deadline waits."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

import httpx

from tests.fakes.openalgo_rules import IST
from tests.fakes.openalgo_server import FakeOpenAlgo

KEY = "fake-test-key"
# A Wednesday at 11:00 IST: the NSE F&O and MCX sessions are both open.
IN_SESSION = datetime(2026, 1, 7, 11, 0, tzinfo=IST)
GOLD = "GOLDM05FEB26FUT"
SILVER = "SILVERM27FEB26FUT"
COPPER = "COPPER27FEB26FUT"
PE, CE = "BANKNIFTY27JAN2660000PE", "BANKNIFTY27JAN2660000CE"
# One client for every helper: a new httpx client per request costs tens of milliseconds.
CLIENT = httpx.Client(timeout=5)


def make_fake(**switches: Any) -> FakeOpenAlgo:
    """A faithful fake (plus ``switches``) whose exchange clock stands inside both sessions."""
    fake = FakeOpenAlgo(api_key=KEY, **switches)
    fake.set_clock(IN_SESSION)
    return fake


def api(url: str, endpoint: str, *, key: str = KEY, **fields: Any) -> httpx.Response:
    return CLIENT.post(f"{url}/api/v1/{endpoint}", json={"apikey": key, **fields})


def order(url: str, action: str = "BUY", quantity: Any = "1", symbol: str = GOLD, exchange: str = "MCX",
          **extra: Any) -> httpx.Response:
    fields = {"strategy": "T", "symbol": symbol, "exchange": exchange, "action": action,
              "quantity": quantity, "pricetype": "MARKET", "product": "NRML", **extra}
    return api(url, "placeorder", **fields)


def place(url: str, **kwargs: Any) -> str:
    """Place an order that must be accepted; its order id."""
    response = order(url, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["orderid"]


def status(url: str, order_id: str) -> httpx.Response:
    return api(url, "orderstatus", orderid=order_id, strategy="T")


def book(url: str) -> list[dict]:
    response = api(url, "orderbook")
    assert response.status_code == 200, response.text
    return response.json()["data"]["orders"]


def trades(url: str) -> list[dict]:
    return api(url, "tradebook").json()["data"]


def control(url: str, action: str, **body: Any) -> dict:
    response = CLIENT.post(f"{url}/_fake/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(predicate: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy (its value), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
