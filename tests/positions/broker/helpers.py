"""Helpers for the OpenAlgo adapter's tests (against the faithful fake OpenAlgo over loopback HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from positions.broker.base import OrderRequest
from positions.broker.openalgo import OpenAlgoBroker
from tests.cluster import wait_until

KEY = "oa-key-7c1d9e0b-do-not-leak"
GOLD = "GOLDM05JAN26FUT"
PE = "BANKNIFTY30DEC2560000PE"
CE = "BANKNIFTY30DEC2560000CE"
FAST = httpx.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5)


class FakeClock:
    """A monotonic clock the test moves by hand (for the adapter's "not before" times)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_broker(url: str, api_key: str = KEY, **kwargs: Any) -> OpenAlgoBroker:
    kwargs.setdefault("timeout", FAST)
    kwargs.setdefault("retry_backoff", 0.01)
    return OpenAlgoBroker(base_url=url, api_key=api_key, **kwargs)


def buy_gold(client_order_id: str = "sig-1:GOLD:entry", quantity: int = 1, **kwargs: Any) -> OrderRequest:
    return OrderRequest(client_order_id, GOLD, "MCX", "BUY", quantity, **kwargs)


def assert_key_hidden(exc: BaseException, *keys: str) -> None:
    seen: BaseException | None = exc
    while seen is not None:
        for key in keys or (KEY,):
            assert key not in str(seen) and key not in repr(seen)
        seen = seen.__cause__ or seen.__context__


def eventually(predicate: Callable[[], Any], what: str = "condition") -> Any:
    """Wait (bounded) for the fake's timed quirks to pass: trade-book lag, young-order states."""
    return wait_until(predicate, timeout=5.0, interval=0.02, what=what)


def trades_once_visible(broker: OpenAlgoBroker, count: int) -> list:
    """The trade book once it shows ``count`` fills (it lags new fills by a read)."""
    def visible() -> list | None:
        rows = broker.trades()
        return rows if len(rows) == count else None

    return eventually(visible, what=f"{count} trades")
