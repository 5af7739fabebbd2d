"""OpenAlgo REST adapter: ``POST {base_url}/api/v1/<endpoint>`` with ``"apikey"`` in the JSON body.

Money rule: ``place_order`` is sent once.  OpenAlgo has no idempotency key, so once the request may
have left (read/write timeout, 5xx, a dropped connection, an unreadable answer, "success" without
an order id) the outcome is *unknown* and the caller must look the order up, never resend.  Only
failures that prove the request was not acted on (connect error, auth/session failure, 429, 4xx)
say "not placed".  Retry and rate-limit rules: ``openalgo_http``; row parsing: ``openalgo_rows``.

What real OpenAlgo does and this adapter copes with (``/work/shared/reference/openalgo-facts.md``):

* Order-book rows carry neither our ``strategy`` tag nor an average price; ``orderstatus`` reports
  the first trade-book row's price, 0 while the trade book lags (``average_price`` None here).
  The limit ``price`` field is never read as a fill price.  No filled quantity anywhere:
  ``filled_quantity`` is None and fills come from ``trades()``.
* A young order can make ``orderstatus``/``orderbook`` fail with 500: retried as a read.
* ``cancelorder`` of a finished order answers 500: the order is then read, and a finished order
  counts as cancelled-enough (nothing more can execute); 404 means the order is unknown.
* Semi-auto mode answers ``placeorder`` with ``pending_order_id`` and no ``orderid``:
  ``OrderAwaitingApproval``.  Analyzer (sandbox) mode is reported by ``analyzer_mode()``.
* Quantities are passed through unchanged; ``contract()`` reads ``/symbol``'s ``lotsize`` so the
  caller can check how the broker counts (MCX in lots or in units).

``modify_order`` is a write: sent once, and a timeout or 5xx after sending is
``BrokerOutcomeUnknown`` (the change may or may not be in force; read the order).

The api key is sent in request bodies only; it never appears in logs, reprs or exception text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import structlog

from positions.broker import openalgo_rows as rows
from positions.broker.base import (
    BrokerOutcomeUnknown,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    Contract,
    OrderAccepted,
    OrderAwaitingApproval,
    OrderRequest,
    OrderState,
    OrderStatus,
    Quote,
    Trade,
)
from positions.broker.openalgo_http import OpenAlgoHttp, ServerError

log = structlog.get_logger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)
STRATEGY_MAX_LENGTH = 40
PRODUCT = "NRML"  # carried positions (futures and options held overnight)


class OpenAlgoBroker:
    name = "openalgo"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        read_retries: int = 2,
        strategy_prefix: str = "PM",
        retry_backoff: float = 0.2,
        max_read_wait: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key:
            raise ValueError("OpenAlgo api key is empty")
        if read_retries < 0:
            raise ValueError("read_retries must be >= 0")
        if max_read_wait < 0:
            raise ValueError("max_read_wait must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.strategy_prefix = strategy_prefix
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._http = OpenAlgoHttp(
            base_url=self.base_url, api_key=api_key, timeout=self.timeout, transport=transport,
            read_retries=read_retries, retry_backoff=retry_backoff, max_read_wait=max_read_wait,
            sleep=sleep, clock=clock,
        )

    @property
    def read_retries(self) -> int:
        return self._http.read_retries

    @property
    def max_read_wait(self) -> float:
        return self._http.max_read_wait

    def __repr__(self) -> str:
        return f"OpenAlgoBroker(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAlgoBroker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ orders

    def place_order(self, request: OrderRequest) -> OrderAccepted | OrderAwaitingApproval:
        """Send the order once (see the module's money rule)."""
        body = {
            "strategy": rows.strategy_for(self.strategy_prefix, request.client_order_id, STRATEGY_MAX_LENGTH),
            **self._order_fields(f"order {request.client_order_id}", symbol=request.symbol,
                                 exchange=request.exchange, action=request.action, quantity=request.quantity,
                                 price_type=request.price_type, price=request.price),
        }
        payload = self._http.write("placeorder", body, order_endpoint=False)
        self._warn_if_sandbox("placeorder", payload)
        order_id = payload.get("orderid")
        if order_id not in (None, ""):
            return OrderAccepted(order_id=str(order_id))
        pending_id = payload.get("pending_order_id")
        if pending_id not in (None, ""):
            log.warning("broker_order_awaiting_approval", client_order_id=request.client_order_id,
                        pending_id=str(pending_id))
            return OrderAwaitingApproval(pending_id=str(pending_id))
        log.warning("broker_outcome_unknown", endpoint="placeorder", client_order_id=request.client_order_id,
                    reason="success without orderid")
        raise BrokerOutcomeUnknown("placeorder: answer without an order id")

    def order_status(self, order_id: str) -> OrderStatus:
        data = self._http.read("orderstatus", {"orderid": str(order_id), "strategy": self.strategy_prefix},
                               order_endpoint=True)
        if not isinstance(data, dict):
            raise BrokerUnavailable(f"orderstatus: unreadable data for order {order_id}")
        return rows.order_from_row(data, order_id=str(order_id))

    def order_book(self) -> list[OrderStatus]:
        return self._read_parsed("orderbook", {}, rows.orders_from_book)

    def trades(self, order_id: str | None = None) -> list[Trade]:
        # OpenAlgo has no per-order trade read: the whole day's book is fetched, and only the rows
        # asked for are parsed (a long day's book must not cost every fill lookup a full parse).
        return self._read_parsed("tradebook", {}, lambda data: rows.trades_from_book(data, order_id=order_id))

    def cancel_order(self, order_id: str) -> None:
        """Cancel what is left of an order.  OpenAlgo answers 500 for an order that is already
        complete/cancelled/rejected, so a 500 is followed by a status read: a finished order
        returns normally, anything else raises BrokerUnavailable."""
        fields = {"orderid": str(order_id), "strategy": self.strategy_prefix}
        try:
            self._http.read("cancelorder", fields, order_endpoint=True, retry_server_errors=False, block=False)
            return
        except ServerError as exc:
            refusal = str(exc)
        status = self.order_status(order_id)
        if status.status in OrderState.TERMINAL:
            log.info("broker_cancel_of_finished_order", order_id=str(order_id), status=status.status)
            return
        raise BrokerUnavailable(f"{refusal}; order {order_id} is still {status.status}")

    def modify_order(self, order_id: str, *, symbol: str, exchange: str, action: str, quantity: int,
                     price_type: str, price: Decimal | None) -> None:
        """Change a resting order (OpenAlgo ``modifyorder``, every field required)."""
        body = {
            "strategy": self.strategy_prefix, "orderid": str(order_id),
            **self._order_fields(f"order {order_id}", symbol=symbol, exchange=exchange, action=action,
                                 quantity=quantity, price_type=price_type, price=price),
        }
        payload = self._http.write("modifyorder", body, order_endpoint=True)
        self._warn_if_sandbox("modifyorder", payload)

    # ------------------------------------------------------------------ account and market

    def positions(self) -> list[BrokerPosition]:
        """Net positions; rows with quantity "0" (closed today) are left out."""
        return self._read_parsed("positionbook", {}, rows.positions_from_book)

    def quote(self, symbol: str, exchange: str) -> Quote:
        fields = {"symbol": symbol, "exchange": exchange}
        return self._read_parsed("quotes", fields, lambda data: rows.quote_from_data(data, **fields))

    def contract(self, symbol: str, exchange: str) -> Contract:
        """Lot size and tick size from ``/symbol``; BrokerRejected for an unknown contract (404)."""
        fields = {"symbol": symbol, "exchange": exchange}
        return self._read_parsed("symbol", fields, lambda data: rows.contract_from_data(data, **fields))

    def analyzer_mode(self) -> bool:
        """True when OpenAlgo's analyzer (sandbox) mode is on: orders are simulated."""
        return self._read_parsed("analyzer", {}, rows.analyzer_from_data)

    def ping(self) -> None:
        """Raise BrokerUnavailable when OpenAlgo or its broker session cannot be used (403)."""
        self._http.read("ping", {})

    # ------------------------------------------------------------------ internals

    def _read_parsed(self, endpoint: str, fields: dict[str, str], parse: Callable[[Any], T]) -> T:
        """A read's data through ``parse``; data that cannot be read is BrokerUnavailable."""
        data = self._http.read(endpoint, fields)
        try:
            return parse(data)
        except ValueError as exc:
            where = " ".join([endpoint, *(f"{v}" for v in fields.values())])
            raise BrokerUnavailable(f"{where}: {exc}") from None

    def _order_fields(self, what: str, *, symbol: str, exchange: str, action: str, quantity: int,
                      price_type: str, price: Decimal | None) -> dict[str, str]:
        """The order fields placeorder and modifyorder share, checked before anything is sent."""
        price_type = price_type.upper()
        action = action.upper()
        if price_type not in ("MARKET", "LIMIT"):
            raise BrokerRejected(f"{what}: price type {price_type!r} is not MARKET or LIMIT")
        if action not in ("BUY", "SELL"):
            raise BrokerRejected(f"{what}: action {action!r} is not BUY or SELL")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise BrokerRejected(f"{what}: quantity {quantity!r} is not a positive whole number")
        if price_type == "LIMIT" and (price is None or price <= 0):
            raise BrokerRejected(f"{what}: a LIMIT order needs a positive price")
        return {
            "symbol": symbol, "exchange": exchange, "action": action, "product": PRODUCT,
            "pricetype": price_type, "quantity": str(quantity),
            "price": format(price, "f") if price_type == "LIMIT" else "0",
            "trigger_price": "0", "disclosed_quantity": "0",
        }

    @staticmethod
    def _warn_if_sandbox(endpoint: str, payload: dict[str, Any]) -> None:
        if str(payload.get("mode", "")).lower() == "analyze":
            log.warning("broker_analyzer_mode_answer", endpoint=endpoint)
