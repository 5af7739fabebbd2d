"""OpenAlgo REST adapter: ``POST {base_url}/api/v1/<endpoint>`` with ``"apikey"`` in the JSON body.

Money rule: ``place_order`` is sent once.  OpenAlgo has no idempotency key, so once the request may
have left (read/write timeout, 5xx, unreadable body, "success" without an order id) the outcome is
*unknown* and the caller must look the order up, never resend.  Only failures that prove the
request was not acted on (connect error, auth/session failure, 429, 4xx) say "not placed".

Reads (and the idempotent cancel) are retried on timeouts, connect errors, 429 and 5xx with a short
exponential backoff, then reported as ``BrokerUnavailable`` (``BrokerRateLimited`` when the last
answer was 429).

The api key is sent in request bodies only; it never appears in logs, reprs or exception text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog

from positions.broker import openalgo_rows as rows
from positions.broker.base import (
    BrokerOutcomeUnknown,
    BrokerPosition,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    OrderStatus,
    Quote,
)

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)
STRATEGY_MAX_LENGTH = 40
# Failures of the connect phase: the request never left, so nothing can have been placed.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class _Retryable(Exception):
    """A read attempt failed in a way worth another try (timeout, connection, 429, 5xx)."""

    def __init__(self, message: str, *, rate_limited: bool = False):
        super().__init__(message)
        self.rate_limited = rate_limited


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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("OpenAlgo api key is empty")
        if read_retries < 0:
            raise ValueError("read_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.read_retries = read_retries
        self.strategy_prefix = strategy_prefix
        self.retry_backoff = retry_backoff
        self._sleep = sleep
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._client = httpx.Client(
            base_url=f"{self.base_url}/api/v1/",
            timeout=self.timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"OpenAlgoBroker(base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAlgoBroker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ orders

    def place_order(self, request: OrderRequest) -> str:
        """Send the order once and return OpenAlgo's order id (see the module's money rule)."""
        body = self._order_body(request)
        endpoint = "placeorder"
        try:
            response = self._client.post(endpoint, json=body)
        except _NOT_SENT as exc:
            raise BrokerUnavailable(self._text(f"{endpoint}: not sent ({type(exc).__name__})")) from exc
        except httpx.HTTPError as exc:
            log.warning("broker_outcome_unknown", endpoint=endpoint, error=type(exc).__name__,
                        client_order_id=request.client_order_id)
            raise BrokerOutcomeUnknown(
                self._text(f"{endpoint}: no answer after sending ({type(exc).__name__})")
            ) from exc
        payload = self._json(response)
        code = response.status_code
        message = self._message(endpoint, response, payload)
        if code == 429:
            raise BrokerRateLimited(message)
        if code in (401, 403):
            raise BrokerUnavailable(message)
        if 400 <= code < 500:
            raise BrokerRejected(message)
        if code >= 500 or not 200 <= code < 300 or payload is None:
            log.warning("broker_outcome_unknown", endpoint=endpoint, status_code=code,
                        client_order_id=request.client_order_id)
            raise BrokerOutcomeUnknown(message)
        status = str(payload.get("status", "")).lower()
        if status == "error":
            raise BrokerRejected(message)
        order_id = payload.get("orderid")
        if status != "success" or order_id in (None, ""):
            log.warning("broker_outcome_unknown", endpoint=endpoint, status_code=code,
                        client_order_id=request.client_order_id, reason="success without orderid")
            raise BrokerOutcomeUnknown(
                self._text(f"{endpoint}: answer without an order id (status {status or 'missing'!r})")
            )
        return str(order_id)

    def order_status(self, order_id: str) -> OrderStatus:
        data = self._read("orderstatus", {"orderid": order_id, "strategy": self.strategy_prefix})
        if not isinstance(data, dict):
            raise BrokerUnavailable(f"orderstatus: unreadable data for order {order_id}")
        return rows.order_from_row(data, prefix=self.strategy_prefix, order_id=order_id)

    def cancel_order(self, order_id: str) -> None:
        """Cancel an open order; OpenAlgo answers success for an already-cancelled one too."""
        self._read("cancelorder", {"orderid": order_id, "strategy": self.strategy_prefix})

    def order_book(self) -> list[OrderStatus]:
        data = self._read("orderbook", {})
        try:
            return rows.orders_from_book(data, prefix=self.strategy_prefix)
        except ValueError as exc:
            raise BrokerUnavailable(f"orderbook: {exc}") from exc

    # ------------------------------------------------------------------ account and market

    def positions(self) -> list[BrokerPosition]:
        """Net positions; rows with quantity "0" (closed today) are left out."""
        data = self._read("positionbook", {})
        try:
            return rows.positions_from_book(data)
        except ValueError as exc:
            raise BrokerUnavailable(f"positionbook: {exc}") from exc

    def quote(self, symbol: str, exchange: str) -> Quote:
        data = self._read("quotes", {"symbol": symbol, "exchange": exchange})
        try:
            return rows.quote_from_data(data, symbol=symbol, exchange=exchange)
        except ValueError as exc:
            raise BrokerUnavailable(f"quotes {symbol}@{exchange}: {exc}") from exc

    def ping(self) -> None:
        """Raise BrokerUnavailable when OpenAlgo or its broker session cannot be used (403)."""
        self._read("ping", {})

    # ------------------------------------------------------------------ internals

    def _order_body(self, request: OrderRequest) -> dict[str, str]:
        price_type = request.price_type.upper()
        if price_type == "LIMIT":
            if request.price is None or request.price <= 0:
                raise BrokerRejected(f"LIMIT order {request.client_order_id} without a positive price")
            price = str(request.price)
        else:
            price = "0"
        if request.quantity <= 0:
            raise BrokerRejected(f"order {request.client_order_id} with quantity {request.quantity}")
        return {
            "apikey": self._api_key,
            "strategy": rows.strategy_for(
                self.strategy_prefix, request.client_order_id, STRATEGY_MAX_LENGTH
            ),
            "symbol": request.symbol,
            "exchange": request.exchange,
            "action": request.action.upper(),
            "product": "NRML",
            "pricetype": price_type,
            "quantity": str(request.quantity),
            "price": price,
            "trigger_price": "0",
            "disclosed_quantity": "0",
        }

    def _read(self, endpoint: str, fields: dict[str, Any]) -> Any:
        """POST a read, retrying transient failures; return the response's ``data``."""
        attempts = self.read_retries + 1
        for attempt in range(attempts):
            try:
                return self._read_once(endpoint, fields)
            except _Retryable as exc:
                if attempt + 1 >= attempts:
                    error = BrokerRateLimited if exc.rate_limited else BrokerUnavailable
                    raise error(f"{exc} (after {attempts} attempts)") from None
                delay = self.retry_backoff * (2**attempt)
                log.info("broker_read_retry", endpoint=endpoint, attempt=attempt + 1,
                         reason=str(exc), delay=delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_once(self, endpoint: str, fields: dict[str, Any]) -> Any:
        try:
            response = self._client.post(endpoint, json={"apikey": self._api_key, **fields})
        except httpx.HTTPError as exc:
            raise _Retryable(self._text(f"{endpoint}: {type(exc).__name__}")) from None
        payload = self._json(response)
        code = response.status_code
        message = self._message(endpoint, response, payload)
        if code == 429:
            raise _Retryable(message, rate_limited=True)
        if code >= 500:
            raise _Retryable(message)
        if code in (401, 403):
            raise BrokerUnavailable(message)
        if 400 <= code < 500:
            raise BrokerRejected(message)
        if payload is None or not 200 <= code < 300:
            raise _Retryable(message)
        status = str(payload.get("status", "")).lower()
        if status == "error":
            raise BrokerRejected(message)
        if status != "success":
            raise _Retryable(message)
        return payload.get("data")

    @staticmethod
    def _json(response: httpx.Response) -> dict | None:
        try:
            payload = response.json()
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def _message(self, endpoint: str, response: httpx.Response, payload: dict | None) -> str:
        detail = ""
        if payload is not None:
            detail = str(payload.get("message") or payload.get("status") or "")
        elif response.content:
            detail = "unreadable body"
        text = f"{endpoint}: HTTP {response.status_code}"
        return self._text(f"{text}: {detail[:300]}" if detail else text)

    def _text(self, text: str) -> str:
        """Scrub the api key from text that may echo server or library messages."""
        return text.replace(self._api_key, "***")
