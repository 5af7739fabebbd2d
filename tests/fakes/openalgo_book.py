"""The state and rules of the fake OpenAlgo: order book, fills, net positions, prices, faults.

Pure stdlib and thread-safe (one lock).  ``handle(endpoint, body)`` answers one API request as
OpenAlgo would, as a ``Reply`` (HTTP status and JSON body); fault waits happen outside the lock
and end early when the server stops.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))
DEFAULT_PRICE = Decimal("100")
ENDPOINTS = frozenset({
    "placeorder", "orderstatus", "orderbook", "tradebook", "positionbook",
    "quotes", "cancelorder", "ping", "funds",
})
# Fault modes.  ``accept=True`` on http_500 / success_without_orderid / malformed_body makes the
# order real before the bad answer (default: nothing is placed, as in OpenAlgo pain point 14).
FAULT_MODES = frozenset({
    "delay",                   # seconds=<float>: wait, then answer normally
    "http_500",                # 500 {"status":"error"}
    "http_429",                # 429 rate limit
    "timeout_after_accept",    # seconds=<float>: act (placeorder: record + fill), wait, then answer
    "reject",                  # message=<str>: 400 {"status":"error"}
    "success_without_orderid", # placeorder: 200 {"status":"success"} with no orderid
    "pending",                 # placeorder: the order stays open and unfilled until fill_pending()
    "rejected_after_accept",   # placeorder: answer with an orderid, the order is "rejected"
    "session_expired",         # 403 invalid api key / broker session
    "malformed_body",          # 200 with a body that is not JSON
})
_ACCEPTING = frozenset({"http_500", "success_without_orderid", "malformed_body"})


@dataclass
class Reply:
    status: int
    body: Any  # a JSON-able object, or bytes sent as is


@dataclass
class Fault:
    mode: str
    remaining: int | None  # None: until cleared
    params: dict = field(default_factory=dict)


@dataclass
class Order:
    orderid: str
    strategy: str
    symbol: str
    exchange: str
    action: str
    quantity: int
    pricetype: str
    product: str
    price: Decimal
    order_status: str = "open"
    average_price: Decimal = Decimal("0")
    filled_quantity: int = 0
    timestamp: str = ""

    def row(self) -> dict:
        return {
            "orderid": self.orderid, "strategy": self.strategy, "symbol": self.symbol,
            "exchange": self.exchange, "action": self.action, "quantity": str(self.quantity),
            "pricetype": self.pricetype, "product": self.product, "price": float(self.price),
            "trigger_price": 0.0, "order_status": self.order_status,
            "average_price": float(self.average_price), "timestamp": self.timestamp,
        }


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"status": "error", "message": message})


def _ok(**fields: Any) -> Reply:
    return Reply(200, {"status": "success", **fields})


def _now() -> datetime:
    return datetime.now(IST)


class OpenAlgoBook:
    """Everything the fake knows, behind one lock.  The control methods are the test API."""

    def __init__(self, *, api_key: str = "fake-api-key", default_price: Decimal = DEFAULT_PRICE):
        self.api_key = api_key
        self.default_price = Decimal(default_price)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.reset()

    # ------------------------------------------------------------------ control API

    def reset(self) -> None:
        with self._lock:
            self._orders: dict[str, Order] = {}
            self._positions: dict[tuple[str, str], list] = {}  # (symbol, exchange) -> [qty, avg]
            self._trades: list[dict] = []
            self._prices: dict[str, Decimal] = {}
            self._faults: dict[str, Fault] = {}
            self._requests: Counter[str] = Counter()
            self._bodies: dict[str, list] = {}
            self._next_id = 1

    def set_price(self, symbol: str, price: Decimal | float | str) -> None:
        with self._lock:
            self._prices[symbol] = Decimal(str(price))

    def set_fault(self, endpoint: str, mode: str, count: int | None = 1, **params: Any) -> None:
        """Answer the next ``count`` requests to ``endpoint`` with ``mode`` (None: until cleared)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self._faults[endpoint] = Fault(mode, count, dict(params))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def fill_pending(self, order_id: str | None = None) -> list[str]:
        """Fill open orders (one, or all) at their limit price, or the last price for MARKET."""
        with self._lock:
            filled = []
            for order in list(self._orders.values()):
                if order.order_status == "open" and order_id in (None, order.orderid):
                    self._fill(order)
                    filled.append(order.orderid)
            return filled

    def set_position(self, symbol: str, exchange: str, qty: int, average_price: Any = None) -> None:
        with self._lock:
            price = Decimal(str(average_price)) if average_price is not None else self._price(symbol)
            self._positions[(symbol, exchange)] = [int(qty), price if qty else Decimal("0")]

    def orders(self) -> list[dict]:
        with self._lock:
            return [{**asdict(o), "price": str(o.price), "average_price": str(o.average_price)}
                    for o in self._orders.values()]

    def positions(self) -> list[dict]:
        """Every net position row, including flat ones (quantity 0)."""
        with self._lock:
            return [{"symbol": s, "exchange": e, "quantity": q, "average_price": str(a)}
                    for (s, e), (q, a) in self._positions.items()]

    def position(self, symbol: str, exchange: str) -> int:
        with self._lock:
            return self._positions.get((symbol, exchange), [0])[0]

    def trades(self) -> list[dict]:
        with self._lock:
            return [dict(t) for t in self._trades]

    def request_count(self, endpoint: str | None = None) -> int:
        """Requests received (faulted ones included) for one endpoint, or for all."""
        with self._lock:
            return self._requests[endpoint] if endpoint else sum(self._requests.values())

    def bodies(self, endpoint: str) -> list[dict]:
        """The JSON bodies received for ``endpoint``, oldest first, without the api key."""
        with self._lock:
            return [dict(b) for b in self._bodies.get(endpoint, [])]

    def state(self) -> dict:
        with self._lock:
            return {
                "orders": self.orders(), "positions": self.positions(), "trades": self.trades(),
                "prices": {s: str(p) for s, p in self._prices.items()},
                "faults": {e: asdict(f) for e, f in self._faults.items()},
                "requests": dict(self._requests),
                "bodies": {e: [dict(b) for b in bs] for e, bs in self._bodies.items()},
            }

    # ------------------------------------------------------------------ one API request

    def handle(self, endpoint: str, body: Any) -> Reply:
        """Answer one request; waits (delay, timeout_after_accept) happen outside the lock."""
        with self._lock:
            self._requests[endpoint] += 1
            if isinstance(body, dict):
                kept = {k: v for k, v in body.items() if k != "apikey"}
                self._bodies.setdefault(endpoint, []).append(kept)
            if endpoint not in ENDPOINTS:
                return _error(404, f"unknown endpoint {endpoint}")
            fault = self._take_fault(endpoint)
        mode, params = (fault.mode, fault.params) if fault else (None, {})
        if mode == "delay":
            self._wait(float(params.get("seconds", 0.5)))
        early = self._early_fault(mode, params)
        if early is not None:
            return early
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        if body.get("apikey") != self.api_key:
            return _error(403, "Invalid openalgo apikey")
        with self._lock:
            reply = getattr(self, f"_api_{endpoint}")(body, mode)
        if mode == "timeout_after_accept":
            self._wait(float(params.get("seconds", 2.0)))
        elif mode in _ACCEPTING:  # accept=True: the request was acted on, the answer is bad
            reply = self._late_fault(mode)
        return reply

    def wake_sleepers(self) -> None:
        """End every wait in progress now (used when the server stops)."""
        self._stopping.set()

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _take_fault(self, endpoint: str) -> Fault | None:
        fault = self._faults.get(endpoint)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[endpoint]
        return fault

    def _early_fault(self, mode: str | None, params: dict) -> Reply | None:
        """Faults answered without acting (for placeorder: nothing is placed)."""
        if mode == "http_429":
            return _error(429, "Rate limit exceeded: 10 per 1 second")
        if mode == "session_expired":
            return _error(403, "Invalid openalgo apikey")
        if mode == "reject":
            return _error(400, params.get("message", "Order rejected by the fake broker"))
        if mode in _ACCEPTING and not params.get("accept", False):
            return self._late_fault(mode)
        return None

    @staticmethod
    def _late_fault(mode: str) -> Reply:
        if mode == "http_500":
            return _error(500, "Internal server error")
        if mode == "malformed_body":
            return Reply(200, b"<html>502 Bad Gateway</html>")
        return _ok(message="Order placed")  # success_without_orderid

    # ------------------------------------------------------------------ endpoints (lock held)

    def _api_placeorder(self, body: dict, mode: str | None) -> Reply:
        missing = [f for f in ("strategy", "symbol", "exchange", "action", "quantity") if not body.get(f)]
        if missing:
            return _error(400, str({f: ["Missing data for required field."] for f in missing}))
        action = str(body["action"]).upper()
        pricetype = str(body.get("pricetype", "MARKET")).upper()
        try:
            quantity = Decimal(str(body["quantity"]))
            price = Decimal(str(body.get("price", "0")))
        except InvalidOperation:
            return _error(400, "{'quantity': ['Not a valid number.']}")
        if action not in ("BUY", "SELL") or pricetype not in ("MARKET", "LIMIT"):
            return _error(400, f"unsupported action/pricetype {action}/{pricetype}")
        if quantity <= 0 or quantity != quantity.to_integral_value():
            return _error(400, "{'quantity': ['Must be a positive integer.']}")
        if pricetype == "LIMIT" and price <= 0:
            return _error(400, "{'price': ['LIMIT orders need a price.']}")
        order = Order(
            orderid=str(25_000_000_000_000 + self._next_id), strategy=str(body["strategy"]),
            symbol=str(body["symbol"]), exchange=str(body["exchange"]), action=action,
            quantity=int(quantity), pricetype=pricetype, product=str(body.get("product", "MIS")),
            price=price, timestamp=_now().strftime("%d-%b-%Y %H:%M:%S"),
        )
        self._next_id += 1
        self._orders[order.orderid] = order
        if mode == "rejected_after_accept":
            order.order_status = "rejected"
        elif mode != "pending":
            self._fill(order)
        return _ok(orderid=order.orderid)

    def _api_orderstatus(self, body: dict, mode: str | None) -> Reply:
        order = self._orders.get(str(body.get("orderid", "")))
        if order is None:
            return _error(404, "Order not found")
        return _ok(data=order.row())

    def _api_orderbook(self, body: dict, mode: str | None) -> Reply:
        orders = [o.row() for o in self._orders.values()]
        buys = sum(1 for o in self._orders.values() if o.action == "BUY")
        stats = {"total_buy_orders": buys, "total_sell_orders": len(orders) - buys,
                 "total_completed_orders": sum(o["order_status"] == "complete" for o in orders),
                 "total_open_orders": sum(o["order_status"] == "open" for o in orders),
                 "total_rejected_orders": sum(o["order_status"] == "rejected" for o in orders)}
        return _ok(data={"orders": orders, "statistics": stats})

    def _api_tradebook(self, body: dict, mode: str | None) -> Reply:
        return _ok(data=[dict(t) for t in self._trades])

    def _api_positionbook(self, body: dict, mode: str | None) -> Reply:
        data = []
        for (symbol, exchange), (qty, avg) in self._positions.items():
            ltp = self._price(symbol)
            data.append({"symbol": symbol, "exchange": exchange, "product": "NRML",
                         "quantity": str(qty), "average_price": f"{avg:.2f}",
                         "ltp": f"{ltp:.2f}", "pnl": f"{(ltp - avg) * qty:.2f}"})
        return _ok(data=data)

    def _api_quotes(self, body: dict, mode: str | None) -> Reply:
        if not body.get("symbol") or not body.get("exchange"):
            return _error(400, "{'symbol': ['Missing data for required field.']}")
        ltp = float(self._price(str(body["symbol"])))
        return _ok(data={"open": ltp, "high": ltp, "low": ltp, "ltp": ltp, "ask": ltp,
                         "bid": ltp, "prev_close": ltp, "volume": 0})

    def _api_cancelorder(self, body: dict, mode: str | None) -> Reply:
        order = self._orders.get(str(body.get("orderid", "")))
        if order is None:
            return _error(404, "Order not found")
        if order.order_status in ("complete", "rejected"):
            return _error(400, f"Order {order.orderid} is {order.order_status}; cannot cancel")
        order.order_status = "cancelled"
        return _ok(orderid=order.orderid)

    def _api_ping(self, body: dict, mode: str | None) -> Reply:
        return _ok(data={"message": "pong", "broker": "fake"})

    def _api_funds(self, body: dict, mode: str | None) -> Reply:
        return _ok(data={"availablecash": "10000000.00", "collateral": "0.00",
                         "m2mrealized": "0.00", "m2munrealized": "0.00", "utiliseddebits": "0.00"})

    # ------------------------------------------------------------------ rules (lock held)

    def _price(self, symbol: str) -> Decimal:
        return self._prices.get(symbol, self.default_price)

    def _fill(self, order: Order) -> None:
        price = order.price if order.pricetype == "LIMIT" else self._price(order.symbol)
        order.order_status = "complete"
        order.filled_quantity = order.quantity
        order.average_price = price
        signed = order.quantity if order.action == "BUY" else -order.quantity
        self._apply_to_position(order.symbol, order.exchange, signed, price)
        self._trades.append({
            "orderid": order.orderid, "action": order.action, "symbol": order.symbol,
            "exchange": order.exchange, "product": order.product, "quantity": float(order.quantity),
            "average_price": float(price), "timestamp": _now().strftime("%H:%M:%S"),
            "trade_value": float(price * order.quantity),
        })

    def _apply_to_position(self, symbol: str, exchange: str, signed: int, price: Decimal) -> None:
        qty, avg = self._positions.get((symbol, exchange), [0, Decimal("0")])
        new = qty + signed
        if new == 0:
            avg = Decimal("0")
        elif qty == 0 or (qty > 0) == (signed > 0):  # opening or adding: weighted average
            avg = (avg * abs(qty) + price * abs(signed)) / abs(new)
        elif (new > 0) != (qty > 0):  # flipped through zero
            avg = price
        self._positions[(symbol, exchange)] = [new, avg]
