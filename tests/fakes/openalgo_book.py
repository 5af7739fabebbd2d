"""The state of the fake OpenAlgo and its control API (the test API).

Pure stdlib and thread-safe (one lock).  ``handle(endpoint, body)`` answers one API request as
OpenAlgo would, as a ``Reply`` (HTTP status and JSON body, or ``drop`` = hang up); fault waits
happen outside the lock and end early when the server stops.  The switches are in
``openalgo_config`` (faithful by default), the endpoints in ``openalgo_api``, the order book in
``openalgo_orders``, schemas/contracts/sessions in ``openalgo_rules``, the control API on orders
and the views in ``openalgo_controls``.

Request pipeline: count + record body -> fault (``set_fault``) -> rate limit (429 with
``retry_after``) -> schema (400, unknown fields too) -> api key (403) -> endpoint -> lost answer.

Control API (methods; ``openalgo_server`` lists the matching ``/_fake/`` HTTP endpoints):
  configure(friendly=None, seed=None, **switches) / config()   change / read switches at run time
                                          (friendly=True/False sets every friendly switch first)
  reset()                                 forget all state (switches stay)
  set_price(symbol, price)                last price; resting LIMIT orders it reaches fill
  set_fault(endpoint, mode, count=1, **params) / clear_faults()   (symbol=...: only that symbol's requests)
  set_clock(at | None, running=False) / now()   exchange clock (IST; naive = IST)
  set_holidays(days, exchange=None, closed="full")  holiday dates (None: every exchange); closed =
                                          full | morning | evening (MCX partial holidays)
  add_symbol(symbol, exchange, lotsize, **details)   a contract the catalogue lacks
  plan_fills(now, rest="later", after=None, symbol=None, count=1) / clear_plans()
  fill_pending(order_id=None) / fill_order(order_id, quantity=None) / cancel_remainder(order_id)
  set_transient(order_id, seconds=None, error=False) / force_transient(count=1, seconds=None, error=False)
  lose_answers(count=1)                   the next placeorder answers are lost (order placed)
  pending_orders() / approve(pending_id) / decline(pending_id)   semi-auto Action Center
  set_position(symbol, exchange, qty, average_price=None, product="NRML")
  orders(sandbox=False) / positions(sandbox=False) / position(symbol, exchange) / trades(sandbox=False)
  request_count(endpoint=None) / bodies(endpoint) / state()
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from portfolio.sessions import CLOSURES
from tests.fakes.openalgo_api import Endpoints, Reply, error
from tests.fakes.openalgo_config import FRIENDLY, FakeConfig, apply, make_config
from tests.fakes.openalgo_controls import OrderControls
from tests.fakes.openalgo_faults import (
    ACCEPTING,
    FAULT_MODES,
    RATE_LIMITED,
    Fault,
    RateLimiter,
    early_fault,
    late_fault,
)
from tests.fakes.openalgo_orders import FillPlan, Ledger, Order
from tests.fakes.openalgo_rules import IST, SCHEMAS, STRINGIFIED_ERRORS, contract, validate

__all__ = ["DEFAULT_PRICE", "ENDPOINTS", "FAULT_MODES", "OpenAlgoBook", "Reply"]

DEFAULT_PRICE = Decimal("100")
ENDPOINTS = frozenset(SCHEMAS)
ORDER_ENDPOINTS = frozenset({"placeorder", "modifyorder", "cancelorder"})
INVALID_JSON = object()  # a body that is not JSON at all


class OpenAlgoBook(Endpoints, OrderControls):
    """Everything the fake knows, behind one lock.  The control methods are the test API (those on
    orders and the views of the books are in ``OrderControls``)."""

    def __init__(self, *, api_key: str = "fake-api-key", default_price: Decimal = DEFAULT_PRICE,
                 friendly: bool = False, seed: int | None = 0, **switches: Any):
        self.api_key = api_key
        self.default_price = Decimal(default_price)
        self.cfg = make_config(friendly=friendly, **switches)
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.reset()

    # ------------------------------------------------------------------ control API: switches, time

    def configure(self, **switches: Any) -> dict:
        """Change switches (see ``openalgo_config``); ``friendly`` True/False first sets every
        friendly switch to its friendly/faithful value, ``seed`` reseeds the random behaviours."""
        with self._lock:
            friendly = switches.pop("friendly", None)
            if friendly is not None:
                base = FRIENDLY if friendly else {k: getattr(FakeConfig(), k) for k in FRIENDLY}
                switches = {**base, **switches}
            seed = switches.pop("seed", None)
            apply(self.cfg, switches)
            if seed is not None:
                self._random.seed(seed)
            return self.cfg.as_dict()

    def config(self) -> dict:
        with self._lock:
            return self.cfg.as_dict()

    def reset(self) -> None:
        with self._lock:
            self._live = Ledger(sandbox=False, price_of=self._price, clock=self.now)
            self._sandbox = Ledger(sandbox=True, price_of=self._price, clock=self.now)
            self._prices: dict[str, Decimal] = {}
            self._faults: dict[str, Fault] = {}
            self._requests: Counter[str] = Counter()
            self._bodies: dict[str, list] = {}
            self._limiter = RateLimiter()
            self._plans: list[FillPlan] = []
            self._forced_transient: list[list] = []  # [count, seconds, error]
            self._lose_next = 0
            self._pending: dict[int, dict] = {}
            self._next_pending = 1
            self._clock: tuple[datetime, float, bool] | None = None
            self._holidays: dict[str | None, dict[date, str]] = {}
            self._symbols: dict[tuple[str, str], dict] = {}

    def set_clock(self, at: datetime | str | None, running: bool = False) -> None:
        """Fix the exchange clock at ``at`` (naive = IST; ISO text accepted), or let it run from
        there (``running``); None returns to the wall clock."""
        with self._lock:
            if at is None:
                self._clock = None
                return
            moment = datetime.fromisoformat(at) if isinstance(at, str) else at
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=IST)
            self._clock = (moment.astimezone(IST), time.monotonic(), bool(running))

    def now(self) -> datetime:
        with self._lock:
            if self._clock is None:
                return datetime.now(IST)
            at, since, running = self._clock
            return at + timedelta(seconds=time.monotonic() - since) if running else at

    def set_holidays(self, days: list, exchange: str | None = None, closed: str = "full") -> None:
        if closed not in CLOSURES:
            raise ValueError(f"closed must be one of {CLOSURES}, got {closed!r}")
        with self._lock:
            self._holidays[exchange] = {d if isinstance(d, date) else date.fromisoformat(str(d)): closed
                                        for d in days}

    def holidays_of(self, exchange: str) -> dict[date, str]:
        """Holidays of ``exchange``: those set for every exchange, then its own (which win)."""
        with self._lock:
            return {**self._holidays.get(None, {}), **self._holidays.get(exchange, {})}

    def add_symbol(self, symbol: str, exchange: str, lotsize: int, **details: Any) -> None:
        with self._lock:
            self._symbols[(symbol, exchange)] = {"symbol": symbol, "exchange": exchange,
                                                 "lotsize": int(lotsize), **details}

    # ------------------------------------------------------------------ control API: market, faults

    def set_price(self, symbol: str, price: Decimal | float | str) -> None:
        with self._lock:
            self._prices[symbol] = Decimal(str(price))
            self._advance()

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

    def lose_answers(self, count: int = 1) -> None:
        """The next ``count`` accepted placeorders are acted on, then the connection is dropped."""
        with self._lock:
            self._lose_next = int(count)

    # ------------------------------------------------------------------ one API request

    def handle(self, endpoint: str, body: Any) -> Reply:
        """Answer one request; waits (delay, timeout_after_accept) happen outside the lock."""
        with self._lock:
            self._requests[endpoint] += 1
            if isinstance(body, dict):
                kept = {k: v for k, v in body.items() if k != "apikey"}
                self._bodies.setdefault(endpoint, []).append(kept)
            if endpoint not in ENDPOINTS:
                return error(404, f"unknown endpoint {endpoint}")
            fault = self._take_fault(endpoint, body)
        mode, params = (fault.mode, fault.params) if fault else (None, {})
        if mode == "delay":
            self._wait(float(params.get("seconds", 0.5)))
        early = early_fault(mode, params)
        if early is not None:
            return early
        with self._lock:
            reply, lost = self._answer(endpoint, body, mode)
        if mode == "timeout_after_accept":
            self._wait(float(params.get("seconds", 2.0)))
        elif mode in ACCEPTING:  # accept=True: the request was acted on, the answer is bad
            reply = late_fault(mode)
        return Reply(0, b"", drop=True) if lost else reply

    def _answer(self, endpoint: str, body: Any, mode: str | None) -> tuple[Reply, bool]:
        if self._rate_limited(endpoint):
            return Reply(429, dict(RATE_LIMITED)), False
        if body is INVALID_JSON:  # Flask raises inside the endpoint's try: a 500
            return error(500, "An unexpected error occurred"), False
        self._advance()
        values, errors = validate(endpoint, body, strict=self.cfg.strict_fields)
        if errors:
            return error(400, str(errors) if endpoint in STRINGIFIED_ERRORS else errors), False
        if values["apikey"] != self.api_key:
            return error(403, "Invalid openalgo apikey"), False
        reply = getattr(self, "_api_" + endpoint.replace("/", "_"))(values, mode)
        lost = (endpoint == "placeorder" and reply.status == 200 and "orderid" in reply.body
                and self._lose_answer())
        return reply, lost

    def wake_sleepers(self) -> None:
        """End every wait in progress now (used when the server stops)."""
        self._stopping.set()

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _take_fault(self, endpoint: str, body: Any) -> Fault | None:
        """The endpoint's fault for this request (``symbol=`` in its params: only that symbol's)."""
        fault = self._faults.get(endpoint)
        if fault is None:
            return None
        symbol = fault.params.get("symbol")
        if symbol is not None and not (isinstance(body, dict) and body.get("symbol") == symbol):
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[endpoint]
        return fault

    # ------------------------------------------------------------------ helpers (lock held)

    def _rate_limited(self, endpoint: str) -> bool:
        limit = self.cfg.order_rate_limit if endpoint in ORDER_ENDPOINTS else self.cfg.api_rate_limit
        return self._limiter.refuse(endpoint, limit)

    def _lose_answer(self) -> bool:
        if self._lose_next > 0:
            self._lose_next -= 1
            return True
        return self.cfg.lost_answer_rate > 0 and self._random.random() < self.cfg.lost_answer_rate

    def _plan_for(self, order: Order) -> FillPlan | None:
        for plan in self._plans:
            if plan.symbol in (None, order.symbol):
                if plan.remaining is not None:
                    plan.remaining -= 1
                    if plan.remaining <= 0:
                        self._plans.remove(plan)
                return plan
        if self.cfg.instant_fills or not self.cfg.partial_fill_rate:
            return None
        if self._random.random() >= self.cfg.partial_fill_rate:
            return None
        lot = self._lot(order)
        return FillPlan(now=(order.quantity // lot // 2) * lot, rest="later", after=self.cfg.partial_fill_delay)

    def _lot(self, order: Order) -> int:
        details = contract(order.symbol, order.exchange, mcx_quantity=self.cfg.mcx_quantity, extra=self._symbols)
        return int(details["lotsize"]) if details else 1

    def _mark_transient(self, order: Order) -> None:
        if self._forced_transient:
            forced = self._forced_transient[0]
            forced[0] -= 1
            if forced[0] <= 0:
                self._forced_transient.pop(0)
            seconds = self.cfg.transient_window if forced[1] is None else float(forced[1])
            order.transient_until, order.transient_error = self._mono() + seconds, forced[2]
        elif self.cfg.transient_rate and self._random.random() < self.cfg.transient_rate:
            order.transient_until = self._mono() + self.cfg.transient_window

    def _advance(self) -> None:
        for ledger in (self._live, self._sandbox):
            ledger.advance(self._mono(), *self._lag())

    def _lag(self) -> tuple[int, float]:
        return self.cfg.trade_lag_reads, self.cfg.trade_lag_seconds

    @staticmethod
    def _mono() -> float:
        return time.monotonic()

    def _ledger(self) -> Ledger:
        return self._sandbox if self.cfg.analyzer else self._live

    def _book(self, sandbox: bool) -> Ledger:
        return self._sandbox if sandbox else self._live

    def _order(self, order_id: str) -> Order:
        for ledger in (self._ledger(), self._live, self._sandbox):
            if str(order_id) in ledger.orders:
                return ledger.orders[str(order_id)]
        raise KeyError(f"unknown order {order_id}")

    def _price(self, symbol: str) -> Decimal:
        return self._prices.get(symbol, self.default_price)

