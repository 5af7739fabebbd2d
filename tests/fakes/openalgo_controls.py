"""The fake OpenAlgo's control API on orders and its views of the books (a mixin of
``OpenAlgoBook``; the method list is in ``openalgo_book``'s docstring).  Every method takes the
book's lock; state and helpers (``_ledger``, ``_order``, ``_mono``, ``_place``, ...) live in the book
and its endpoints.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from tests.fakes.openalgo_orders import FillPlan


class OrderControls:
    """Fill plans, fills and cancels by hand, transient states, the Action Center, positions set by
    hand, and read-only views of the books and of the requests received."""

    # ------------------------------------------------------------------ control API: orders

    def plan_fills(self, now: int, rest: str = "later", after: float | None = None,
                   symbol: str | None = None, count: int | None = 1) -> None:
        """Plan the next ``count`` orders (for ``symbol``, or any): fill ``now`` units at once, then
        the rest ``after`` seconds later ("later"), only by control ("never"), or cancel it ("cancel")."""
        with self._lock:
            delay = self.cfg.partial_fill_delay if after is None else after
            self._plans.append(FillPlan(now=now, rest=rest, after=delay, symbol=symbol, remaining=count))

    def clear_plans(self) -> None:
        with self._lock:
            self._plans.clear()

    def fill_pending(self, order_id: str | None = None) -> list[str]:
        """Fill open orders (one, or all) at their limit price, or the last price for MARKET."""
        with self._lock:
            filled = []
            for order in list(self._ledger().orders.values()):
                if order.is_open and order_id in (None, order.orderid):
                    self._ledger().fill_by_control(order, None, self._mono(), *self._lag())
                    filled.append(order.orderid)
            return filled

    def fill_order(self, order_id: str, quantity: int | None = None) -> int:
        """Fill ``quantity`` units (None: the rest) of an open order now; returns units filled."""
        with self._lock:
            return self._ledger().fill_by_control(self._order(order_id), quantity, self._mono(), *self._lag())

    def cancel_remainder(self, order_id: str) -> None:
        """The broker cancels what is unfilled of an open order (its status becomes cancelled)."""
        with self._lock:
            order = self._order(order_id)
            if order.is_open:
                order.status, order.rest_at, order.hold = "CANCELLED", None, False

    def set_transient(self, order_id: str, seconds: float | None = None, error: bool = False) -> None:
        """Show ``order_id`` in a transient broker state for ``seconds`` (None: until set again
        with 0): book reads then carry the previous row's status (500 when it is the first row, or
        always with ``error``)."""
        with self._lock:
            order = self._order(order_id)
            order.transient_until = float("inf") if seconds is None else self._mono() + float(seconds)
            order.transient_error = bool(error)

    def force_transient(self, count: int = 1, seconds: float | None = None, error: bool = False) -> None:
        """The next ``count`` orders placed are young in a transient state (for ``seconds``, default
        the transient window)."""
        with self._lock:
            self._forced_transient.append([int(count), seconds, bool(error)])

    def pending_orders(self) -> list[dict]:
        with self._lock:
            return [{k: (_json(v) if k == "values" else v) for k, v in p.items()}
                    for p in self._pending.values()]

    def approve(self, pending_id: int) -> str:
        """Approve a semi-auto order: it is placed now (with the rules in force); its order id."""
        with self._lock:
            entry = self._pending_entry(pending_id)
            reply = self._place(dict(entry["values"]), None)
            if reply.status != 200:
                entry["status"], entry["message"] = "rejected", reply.body["message"]
                raise ValueError(f"approved order was rejected: {reply.body['message']}")
            entry["status"], entry["orderid"] = "approved", reply.body["orderid"]
            return entry["orderid"]

    def decline(self, pending_id: int) -> None:
        with self._lock:
            self._pending_entry(pending_id)["status"] = "declined"

    def set_position(self, symbol: str, exchange: str, qty: int, average_price: Any = None,
                     product: str = "NRML") -> None:
        with self._lock:
            price = Decimal(str(average_price)) if average_price is not None else self._price(symbol)
            self._ledger().positions[(symbol, exchange, product)] = [int(qty), price if qty else Decimal("0")]

    # ------------------------------------------------------------------ control API: views

    def orders(self, sandbox: bool = False) -> list[dict]:
        with self._lock:
            self._advance()
            return [o.view(self._mono()) for o in self._book(sandbox).orders.values()]

    def positions(self, sandbox: bool = False) -> list[dict]:
        """Every net position row, including flat ones (quantity 0)."""
        with self._lock:
            self._advance()
            return self._book(sandbox).position_views()

    def position(self, symbol: str, exchange: str, sandbox: bool = False) -> int:
        with self._lock:
            self._advance()
            return self._book(sandbox).net_position(symbol, exchange)

    def trades(self, sandbox: bool = False) -> list[dict]:
        """Every fill (lagging ones included)."""
        with self._lock:
            self._advance()
            return [t.row() for t in self._book(sandbox).trades]

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
                "sandbox": {"orders": self.orders(True), "positions": self.positions(True),
                            "trades": self.trades(True)},
                "pending": self.pending_orders(), "config": self.config(),
                "prices": {s: str(p) for s, p in self._prices.items()},
                "faults": {e: asdict(f) for e, f in self._faults.items()},
                "requests": dict(self._requests),
                "bodies": {e: [dict(b) for b in bs] for e, bs in self._bodies.items()},
                "clock": self.now().isoformat(),
                "holidays": {str(e): sorted(str(d) if kind == "full" else f"{d} {kind}" for d, kind in ds.items())
                             for e, ds in self._holidays.items()},
            }

    # ------------------------------------------------------------------ helpers (lock held)

    def _pending_entry(self, pending_id: int) -> dict:
        entry = self._pending.get(int(pending_id))
        if entry is None:
            raise KeyError(f"unknown pending order {pending_id}")
        if entry["status"] != "pending":
            raise ValueError(f"pending order {pending_id} is already {entry['status']}")
        return entry


def _json(values: dict) -> dict:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}
