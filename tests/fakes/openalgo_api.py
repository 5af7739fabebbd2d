"""The fake OpenAlgo's API endpoints, one method per ``POST /api/v1/<name>`` (a mixin of
``OpenAlgoBook``; every ``_api_*`` method runs with the book's lock held, on a request whose body
passed the endpoint's schema and api-key check).

Answers follow OpenAlgo's services (``services/*_service.py``) and its Zerodha plugin; in analyzer
mode the sandbox book answers and order answers carry ``"mode": "analyze"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.fakes.openalgo_orders import WORDS, Order
from tests.fakes.openalgo_rules import MappingError, contract, session_refusal


@dataclass
class Reply:
    status: int
    body: Any  # a JSON-able object, or bytes sent as is
    drop: bool = False  # hang up without answering (the request was acted on)


def error(status: int, message: Any, **extra: Any) -> Reply:
    return Reply(status, {"status": "error", "message": message, **extra})


def ok(**fields: Any) -> Reply:
    return Reply(200, {"status": "success", **fields})


class Endpoints:
    """API behaviour; state and helpers (``_ledger``, ``_mono``, ``now``, ...) live in the book."""

    # ------------------------------------------------------------------ orders

    def _api_placeorder(self, v: dict, fault: str | None) -> Reply:
        if self.cfg.semi_auto:  # services/order_router_service.py: queued for the Action Center
            pending_id = self._next_pending
            self._next_pending += 1
            self._pending[pending_id] = {"pending_order_id": pending_id, "status": "pending",
                                         "values": {k: x for k, x in v.items() if k != "apikey"},
                                         "orderid": None, "message": ""}
            return ok(message="Order queued for approval in Action Center", mode="semi_auto",
                      pending_order_id=pending_id)
        return self._place(v, fault)

    def _place(self, v: dict, fault: str | None) -> Reply:
        ledger = self._ledger()
        mode = {"mode": "analyze"} if ledger.sandbox else {}
        action, symbol, exchange = v["action"].upper(), v["symbol"], v["exchange"]
        pricetype, price = v.get("pricetype", "MARKET"), v.get("price", Decimal("0"))
        refusal = self._refusal(symbol, exchange, v["quantity"], pricetype, price)
        if refusal:
            return error(400, refusal, **mode)
        now = self.now()
        order = Order(orderid=ledger.new_id(now), strategy=v["strategy"], symbol=symbol, exchange=exchange,
                      action=action, quantity=v["quantity"], pricetype=pricetype,
                      product=v.get("product", "MIS"), price=price if pricetype == "LIMIT" else Decimal("0"),
                      trigger_price=v.get("trigger_price", Decimal("0")), placed_at=now,
                      placed_mono=self._mono())
        if fault == "rejected_after_accept":
            order.status = "REJECTED"
            ledger.orders[order.orderid] = order
            return ok(orderid=order.orderid, **mode)
        order.hold = fault == "pending"
        if ledger.quirks:  # the sandbox has no broker behind it
            self._mark_transient(order)
        ledger.start(order, plan=self._plan_for(order), instant=self.cfg.instant_fills, now=self._mono(),
                     lag_reads=self.cfg.trade_lag_reads, lag_seconds=self.cfg.trade_lag_seconds)
        return ok(orderid=order.orderid, **mode)

    def _refusal(self, symbol: str, exchange: str, quantity: int, pricetype: str, price: Decimal) -> str | None:
        """The broker's reason to refuse an order (None: accepted)."""
        if self.cfg.strict_symbols:
            details = contract(symbol, exchange, mcx_quantity=self.cfg.mcx_quantity, extra=self._symbols)
            if details is None:
                return f"Invalid `tradingsymbol`: {symbol} is not a contract on {exchange}"
            if quantity % int(details["lotsize"]):
                return f"Quantity should be a multiple of lot size ({details['lotsize']})"
        if self.cfg.sessions:
            closed = session_refusal(exchange, self.now(), self.holidays_of(exchange))
            if closed:
                return closed
        if pricetype not in ("MARKET", "LIMIT"):
            return f"The fake broker supports MARKET and LIMIT orders, not {pricetype}"
        if pricetype == "LIMIT" and price <= 0:
            return "Invalid price: LIMIT orders need a price above 0"
        return None

    def _api_modifyorder(self, v: dict, fault: str | None) -> Reply:
        blocked = self._semi_auto_block("Modify")
        if blocked:
            return blocked
        ledger = self._ledger()
        mode = {"mode": "analyze"} if ledger.sandbox else {}
        order = ledger.orders.get(v["orderid"])
        if order is None:
            return error(404, f"Order {v['orderid']} not found", **mode)
        if not order.is_open:
            return error(400, f"Order cannot be modified as it is {WORDS[order.status]}.", **mode)
        pricetype, price, quantity = v["pricetype"], v["price"], v["quantity"]
        refusal = self._refusal(order.symbol, order.exchange, quantity, pricetype, price)
        if refusal:
            return error(400, refusal, **mode)
        if quantity <= order.filled:
            return error(400, f"Quantity must exceed the filled quantity ({order.filled})", **mode)
        order.pricetype, order.quantity = pricetype, quantity
        order.price = price if pricetype == "LIMIT" else Decimal("0")
        order.trigger_price = v["trigger_price"]
        order.modifications.append({"pricetype": pricetype, "price": str(order.price),
                                    "quantity": quantity, "at": self.now().isoformat()})
        fill_price = None if order.hold else ledger.market_fill_price(order)
        if fill_price is not None:
            ledger.fill(order, order.quantity - order.filled, fill_price, self._mono(), *self._lag())
        return ok(orderid=order.orderid, **mode)

    def _api_cancelorder(self, v: dict, fault: str | None) -> Reply:
        blocked = self._semi_auto_block("Cancel")
        if blocked:
            return blocked
        ledger = self._ledger()
        mode = {"mode": "analyze"} if ledger.sandbox else {}
        order = ledger.orders.get(v["orderid"])
        if order is None:
            return error(404, f"Order {v['orderid']} not found", **mode)
        if not order.is_open:
            return error(self.cfg.cancel_finished_status,
                         f"Failed to cancel order: order {order.orderid} is {WORDS[order.status]}", **mode)
        order.status, order.rest_at, order.hold = "CANCELLED", None, False
        return ok(orderid=order.orderid, **mode)

    def _semi_auto_block(self, verb: str) -> Reply | None:
        if self.cfg.semi_auto and not self.cfg.analyzer:
            return error(403, f"{verb} order operation is not allowed in Semi-Auto mode. "
                              f"Please switch to Auto mode to {verb.lower()} orders.")
        return None

    # ------------------------------------------------------------------ books

    def _api_orderstatus(self, v: dict, fault: str | None) -> Reply:
        ledger = self._ledger()
        mode = {"mode": "analyze"} if ledger.sandbox else {}
        try:
            rows = self._book_rows(ledger)
        except MappingError as exc:
            return error(500, str(exc), **mode)
        row = next((r for r in rows if r["orderid"] == v["orderid"]), None)
        if row is None:
            return error(404, f"Order {v['orderid']} not found", **mode)
        if not self.cfg.book_average_price:
            # services/orderstatus_service.py: only a complete order looks in the trade book, and
            # takes the first matching row's price (0 when the trade book lags)
            row["average_price"] = 0.0
            if row["order_status"] == "complete":
                trade = next((t for t in ledger.read_trades(self._mono()) if t["orderid"] == row["orderid"]), None)
                row["average_price"] = trade["average_price"] if trade else 0.0
        return ok(data=row, **mode)

    def _api_orderbook(self, v: dict, fault: str | None) -> Reply:
        ledger = self._ledger()
        mode = {"mode": "analyze"} if ledger.sandbox else {}
        try:
            rows = self._book_rows(ledger)
        except MappingError as exc:
            return error(500, str(exc), **mode)
        return ok(data={"orders": rows, "statistics": ledger.statistics(self._mono())}, **mode)

    def _book_rows(self, ledger) -> list[dict]:
        return ledger.book_rows(self._mono(), echo_strategy=self.cfg.echo_strategy,
                                average_price=self.cfg.book_average_price)

    def _api_tradebook(self, v: dict, fault: str | None) -> Reply:
        ledger = self._ledger()
        return ok(data=ledger.read_trades(self._mono()), **({"mode": "analyze"} if ledger.sandbox else {}))

    def _api_positionbook(self, v: dict, fault: str | None) -> Reply:
        ledger = self._ledger()
        return ok(data=ledger.position_rows(), **({"mode": "analyze"} if ledger.sandbox else {}))

    # ------------------------------------------------------------------ market, account, modes

    def _api_quotes(self, v: dict, fault: str | None) -> Reply:
        ltp = round(float(self._price(v["symbol"])), 2)
        return ok(data={"ask": ltp, "bid": ltp, "high": ltp, "low": ltp, "ltp": ltp, "oi": 0,
                        "open": ltp, "prev_close": ltp, "volume": 0})

    def _api_symbol(self, v: dict, fault: str | None) -> Reply:
        details = contract(v["symbol"], v["exchange"], mcx_quantity=self.cfg.mcx_quantity, extra=self._symbols)
        if details is None and not self.cfg.strict_symbols:
            details = {"symbol": v["symbol"], "exchange": v["exchange"], "lotsize": 1, "tick_size": 0.05}
        if details is None:
            return error(404, f"Symbol {v['symbol']} not found in exchange {v['exchange']}")
        return Reply(200, {"data": details, "status": "success"})

    def _api_ping(self, v: dict, fault: str | None) -> Reply:
        return ok(data={"broker": "zerodha", "message": "pong"})

    def _api_funds(self, v: dict, fault: str | None) -> Reply:
        return ok(data={"availablecash": "10000000.00", "collateral": "0.00", "m2mrealized": "0.00",
                        "m2munrealized": "0.00", "utiliseddebits": "0.00"})

    def _api_analyzer(self, v: dict, fault: str | None) -> Reply:
        on = self.cfg.analyzer
        return ok(data={"mode": "analyze" if on else "live", "analyze_mode": on,
                        "total_logs": len(self._sandbox.orders)})

    def _api_analyzer_toggle(self, v: dict, fault: str | None) -> Reply:
        self.cfg.analyzer = on = v["mode"]
        return ok(data={"mode": "analyze" if on else "live", "analyze_mode": on,
                        "total_logs": len(self._sandbox.orders),
                        "message": f"Analyzer mode switched to {'analyze' if on else 'live'}"})
