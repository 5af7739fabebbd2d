"""The broker interface every adapter implements (paper broker, OpenAlgo REST).

Errors are typed so callers can tell "definitely not executed" from "may have executed":

* ``BrokerRejected``      the broker refused the request; nothing was executed.
* ``BrokerUnavailable``   the request did not reach the broker (connect error, auth/session
                          failure, rate limit) or a read could not be answered; for an order
                          this means it was *not* placed.
* ``BrokerOutcomeUnknown`` an order request may have been placed (timeout after sending, 5xx,
                          "success" without an order id).  Never resend: look the order up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class BrokerError(Exception):
    """Base class of broker failures."""


class BrokerRejected(BrokerError):
    pass


class BrokerUnavailable(BrokerError):
    pass


class BrokerRateLimited(BrokerUnavailable):
    pass


class BrokerOutcomeUnknown(BrokerError):
    pass


class OrderState:
    """Normalised order states (OpenAlgo's lower-case vocabulary)."""

    COMPLETE = "complete"
    OPEN = "open"
    PENDING = "pending"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    TERMINAL = frozenset({COMPLETE, REJECTED, CANCELLED})


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    exchange: str
    action: str  # "BUY" | "SELL"
    quantity: int
    price_type: str = "MARKET"  # "MARKET" | "LIMIT"
    price: Decimal | None = None
    reference_price: Decimal | None = None  # underlying price when decided; the paper broker fills on it


@dataclass(frozen=True)
class OrderStatus:
    order_id: str
    status: str  # one of OrderState
    symbol: str
    exchange: str
    action: str
    quantity: int
    filled_quantity: int
    average_price: Decimal | None
    tag: str | None = None  # our client order id, when the broker echoes it
    placed_at: datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    exchange: str
    net_quantity: int  # signed: long positive, short negative
    average_price: Decimal | None = None
    product: str = "NRML"


@dataclass(frozen=True)
class Quote:
    symbol: str
    exchange: str
    ltp: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None


class Broker(Protocol):
    name: str

    def place_order(self, request: OrderRequest) -> str:
        """Place an order and return the broker's order id."""

    def order_status(self, order_id: str) -> OrderStatus: ...

    def cancel_order(self, order_id: str) -> None: ...

    def order_book(self) -> list[OrderStatus]: ...

    def positions(self) -> list[BrokerPosition]:
        """Net positions; rows with zero net quantity may be omitted."""

    def quote(self, symbol: str, exchange: str) -> Quote: ...

    def ping(self) -> None:
        """Raise BrokerUnavailable when the broker cannot be used right now."""
