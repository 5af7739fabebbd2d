"""Orders, fills, trades and net positions of one book of the fake OpenAlgo (live or sandbox).

A ``Ledger`` holds no lock: the owner (``OpenAlgoBook``) calls it with its lock held.  Statuses are
kept in the broker's (Zerodha's) words, ``OPEN``/``COMPLETE``/``CANCELLED``/``REJECTED``, and turned
into OpenAlgo's words only when rows are read, through the same mapping OpenAlgo uses
(``openalgo_rules.map_statuses``), so a young order in a transient state shows its quirks.

Fill rules: a MARKET order fills at the last price; a LIMIT order fills at once at the last price
when it is marketable (BUY: price <= limit, SELL: price >= limit), else it rests and fills at its
limit when the price reaches it.  A fill plan can fill part now and the rest later, never, or
cancel the rest.  Positions move by filled quantity only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable

from tests.fakes.openalgo_rules import TRANSIENT_STATUS, MappingError, map_statuses

WORDS = {"OPEN": "open", "COMPLETE": "complete", "CANCELLED": "cancelled", "REJECTED": "rejected"}
REST_MODES = ("later", "never", "cancel")
INFINITY = float("inf")


@dataclass
class FillPlan:
    """Fill ``now`` units at once; the rest fills ``after`` seconds later ("later"), waits for a
    control fill ("never") or is cancelled at once ("cancel")."""

    now: int
    rest: str = "later"
    after: float = 0.5
    symbol: str | None = None
    remaining: int | None = 1  # orders still to plan; None: until cleared

    def __post_init__(self) -> None:
        if self.rest not in REST_MODES:
            raise ValueError(f"rest must be one of {REST_MODES}, got {self.rest!r}")
        if int(self.now) < 0 or float(self.after) < 0:
            raise ValueError("now and after must be >= 0")
        self.now, self.after = int(self.now), float(self.after)


@dataclass
class Trade:
    orderid: str
    action: str
    symbol: str
    exchange: str
    product: str
    quantity: int
    price: Decimal
    timestamp: str
    hidden_reads: int = 0  # trade-book reads that still miss this row (the trade book lags)
    visible_at: float = 0.0  # monotonic time before which reads miss it

    def row(self) -> dict:
        return {"symbol": self.symbol, "exchange": self.exchange, "product": self.product,
                "action": self.action, "quantity": self.quantity, "average_price": float(self.price),
                "trade_value": round(float(self.price * self.quantity), 2), "orderid": self.orderid,
                "timestamp": self.timestamp}


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
    price: Decimal  # limit price; 0 for MARKET
    placed_at: datetime
    placed_mono: float
    trigger_price: Decimal = Decimal("0")
    status: str = "OPEN"  # broker words
    filled: int = 0
    fill_value: Decimal = Decimal("0")
    hold: bool = False  # fills only by control (fill_pending / fill_order)
    rest_at: float | None = None  # monotonic time the unfilled rest fills
    transient_until: float = 0.0  # reads before this show a transient broker state
    transient_error: bool = False  # ... and fail with 500 instead of the stale status
    modifications: list = field(default_factory=list)

    @property
    def timestamp(self) -> str:
        return self.placed_at.strftime("%d-%b-%Y %H:%M:%S")

    @property
    def average_price(self) -> Decimal:
        return (self.fill_value / self.filled) if self.filled else Decimal("0")

    @property
    def is_open(self) -> bool:
        return self.status == "OPEN"

    def view(self, now: float) -> dict:
        """The whole truth, for tests (control API); ``now`` is the monotonic time."""
        return {"orderid": self.orderid, "strategy": self.strategy, "symbol": self.symbol,
                "exchange": self.exchange, "action": self.action, "quantity": self.quantity,
                "pricetype": self.pricetype, "product": self.product, "price": str(self.price),
                "order_status": WORDS[self.status], "filled_quantity": self.filled,
                "average_price": str(self.average_price),
                "timestamp": self.timestamp, "transient": self.transient_until > now,
                "modifications": [dict(m) for m in self.modifications]}


class Ledger:
    """One book.  ``quirks`` turns on the broker's transient states and trade-book lag."""

    def __init__(self, *, sandbox: bool, price_of: Callable[[str], Decimal], clock: Callable[[], datetime]):
        self.sandbox = sandbox
        self.quirks = not sandbox
        self.price_of = price_of
        self.clock = clock
        self.orders: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self.positions: dict[tuple[str, str, str], list] = {}  # (symbol, exchange, product) -> [qty, avg]
        self._next = 1

    def new_id(self, now: datetime) -> str:
        number, self._next = self._next, self._next + 1
        if self.sandbox:  # OpenAlgo's sandbox: YYMMDD + 8 digits
            return f"{now:%y%m%d}{number:08d}"
        return str(25_000_000_000_000 + number)

    # ------------------------------------------------------------------ fills

    def market_fill_price(self, order: Order) -> Decimal | None:
        """The price the order fills at now, or None when a LIMIT order is not marketable."""
        ltp = self.price_of(order.symbol)
        if order.pricetype == "MARKET":
            return ltp
        if (order.action == "BUY" and ltp <= order.price) or (order.action == "SELL" and ltp >= order.price):
            return ltp
        return None

    def start(self, order: Order, *, plan: FillPlan | None, instant: bool, now: float,
              lag_reads: int, lag_seconds: float) -> None:
        """Work a newly accepted order: fill all, part or nothing of it."""
        self.orders[order.orderid] = order
        lag = (lag_reads, lag_seconds)
        if order.hold:
            return
        if instant:
            price = order.price if order.pricetype == "LIMIT" else self.price_of(order.symbol)
            self.fill(order, order.quantity, price, now, *lag)
            return
        price = self.market_fill_price(order)
        if price is None:
            return  # a resting LIMIT order
        if plan is None:
            self.fill(order, order.quantity, price, now, *lag)
            return
        self.fill(order, min(plan.now, order.quantity), price, now, *lag)
        if order.is_open:
            if plan.rest == "later":
                order.rest_at = now + plan.after
            elif plan.rest == "never":
                order.hold = True
            else:
                order.status = "CANCELLED"

    def fill(self, order: Order, quantity: int, price: Decimal, now: float,
             lag_reads: int = 0, lag_seconds: float = 0.0) -> int:
        quantity = min(int(quantity), order.quantity - order.filled)
        if quantity <= 0 or not order.is_open:
            return 0
        order.filled += quantity
        order.fill_value += price * quantity
        self.trades.append(Trade(
            order.orderid, order.action, order.symbol, order.exchange, order.product, quantity, price,
            self.clock().strftime("%H:%M:%S"),
            hidden_reads=lag_reads if self.quirks else 0,
            visible_at=now + lag_seconds if self.quirks else 0.0,
        ))
        signed = quantity if order.action == "BUY" else -quantity
        self.move_position(order.symbol, order.exchange, order.product, signed, price)
        if order.filled == order.quantity:
            order.status, order.rest_at, order.hold = "COMPLETE", None, False
        return quantity

    def fill_by_control(self, order: Order, quantity: int | None, now: float, *lag) -> int:
        """Fill (part of) an open order at its limit price, or the last price for MARKET."""
        price = order.price if order.pricetype == "LIMIT" else self.price_of(order.symbol)
        return self.fill(order, order.quantity - order.filled if quantity is None else quantity,
                         price, now, *lag)

    def advance(self, now: float, *lag) -> None:
        """Fill what is due: planned rests whose time came, resting LIMITs the price reached."""
        for order in self.orders.values():
            if not order.is_open or order.hold:
                continue
            if order.rest_at is not None:
                if order.rest_at <= now:
                    price = self.market_fill_price(order) or order.price
                    self.fill(order, order.quantity - order.filled, price, now, *lag)
            elif order.pricetype == "LIMIT" and self.market_fill_price(order) is not None:
                self.fill(order, order.quantity - order.filled, order.price, now, *lag)

    def move_position(self, symbol: str, exchange: str, product: str, signed: int, price: Decimal) -> None:
        qty, avg = self.positions.get((symbol, exchange, product), [0, Decimal("0")])
        new = qty + signed
        if new == 0:
            avg = Decimal("0")
        elif qty == 0 or (qty > 0) == (signed > 0):  # opening or adding: weighted average
            avg = (avg * abs(qty) + price * abs(signed)) / abs(new)
        elif (new > 0) != (qty > 0):  # flipped through zero
            avg = price
        self.positions[(symbol, exchange, product)] = [new, avg]

    # ------------------------------------------------------------------ reads

    def book_rows(self, now: float, *, echo_strategy: bool, average_price: bool) -> list[dict]:
        """Order-book rows as OpenAlgo's Zerodha mapping makes them (raises MappingError)."""
        orders = list(self.orders.values())
        statuses = []
        for order in orders:
            young = self.quirks and order.transient_until > now
            if young and order.transient_error:
                raise MappingError("Error fetching order data: broker returned an incomplete order book")
            statuses.append(TRANSIENT_STATUS if young else order.status)
        rows = []
        for order, word in zip(orders, map_statuses(statuses)):
            row = {"action": order.action, "symbol": order.symbol, "exchange": order.exchange,
                   "orderid": order.orderid, "product": order.product, "quantity": order.quantity,
                   "price": float(order.price) if order.pricetype != "MARKET" else 0.0,
                   "pricetype": order.pricetype, "order_status": word,
                   "trigger_price": float(order.trigger_price), "timestamp": order.timestamp}
            if echo_strategy:
                row["strategy"] = order.strategy
            if average_price:
                row["average_price"] = float(order.average_price)
            rows.append(row)
        return rows

    def statistics(self, now: float) -> dict:
        raw = [TRANSIENT_STATUS if self.quirks and o.transient_until > now else o.status
               for o in self.orders.values()]
        buys = sum(o.action == "BUY" for o in self.orders.values())
        return {"total_buy_orders": buys, "total_sell_orders": len(raw) - buys,
                "total_completed_orders": raw.count("COMPLETE"), "total_open_orders": raw.count("OPEN"),
                "total_rejected_orders": raw.count("REJECTED")}

    def read_trades(self, now: float) -> list[dict]:
        """The trade book as a read sees it: one row per fill; a lagging row is missed (and the
        read counts towards its lag)."""
        rows = []
        for trade in self.trades:
            if trade.hidden_reads > 0:
                trade.hidden_reads -= 1
                continue
            if trade.visible_at > now:
                continue
            rows.append(trade.row())
        return rows

    def position_rows(self) -> list[dict]:
        rows = []
        for (symbol, exchange, product), (qty, avg) in self.positions.items():
            ltp = self.price_of(symbol)
            rows.append({"symbol": symbol, "exchange": exchange, "product": product,
                         "quantity": str(qty), "pnl": round(float((ltp - avg) * qty), 2) if qty else 0.0,
                         "average_price": f"{avg:.2f}", "ltp": round(float(ltp), 2)})
        return rows

    def position_views(self) -> list[dict]:
        return [{"symbol": s, "exchange": e, "product": p, "quantity": q, "average_price": str(a)}
                for (s, e, p), (q, a) in self.positions.items()]

    def net_position(self, symbol: str, exchange: str) -> int:
        return sum(q for (s, e, _), (q, _) in self.positions.items() if (s, e) == (symbol, exchange))
