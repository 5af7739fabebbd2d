"""The broker interface every adapter implements (paper broker, OpenAlgo REST).

Errors are typed so callers can tell "definitely not executed" from "may have executed":

* ``BrokerRejected``       the broker refused the request; nothing was executed.
* ``BrokerUnavailable``    the request did not reach the broker (connect error, auth or broker
                           session failure) or a read could not be answered; for an order this
                           means it was *not* placed.
* ``BrokerRateLimited``    a ``BrokerUnavailable``: the broker refused for rate; ``retry_after``
                           says how many seconds to wait (None when it did not say).
* ``BrokerOutcomeUnknown`` an order request may have been acted on (timeout after sending, 5xx,
                           a dropped connection, an unreadable answer).  Never resend: look the
                           order up (the order book has no tag; match symbol, side, quantity, time).
* ``BrokerOrderNotFound``  the broker does not know this order id (status, cancel or modify).

What the answers mean:

* ``place_order`` returns ``OrderAccepted(order_id)``, or ``OrderAwaitingApproval(pending_id)``
  when the gateway queues the order for the trader's approval (OpenAlgo semi-auto mode): there is
  no order yet, and one may appear in the book later, outside our control.
* ``OrderStatus.filled_quantity`` is None when the broker does not say (OpenAlgo never does: a
  part-filled then cancelled order reads ``cancelled``); ``average_price`` is None when unknown
  (OpenAlgo reports 0 while its trade book lags, and then the first fill's price, not a
  volume-weighted one).  Filled quantity and fill price come from ``trades()``, one row per fill.
* ``OrderStatus.tag`` is our client order id only where the broker echoes it (the paper broker);
  OpenAlgo's rows never carry it.
* ``cancel_order`` returns once nothing of the order can execute any more (cancelled now, or
  already finished); ``modify_order`` changes a resting order (limit chasing); a finished order
  cannot be modified (``BrokerRejected``).
* ``contract`` is the broker's view of a contract: ``lot_size`` is in the broker's order quantity
  units (MCX in lots or in units, depending on the broker), to be checked against the
  instrument's ``order_quantity_per_lot`` before the first order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class BrokerError(Exception):
    """Base class of broker failures."""


class BrokerRejected(BrokerError):
    """Refused by the broker (or refused here before sending); nothing was executed."""


class BrokerUnavailable(BrokerError):
    """Not reached, or a read not answered; an order was not placed."""


class BrokerRateLimited(BrokerUnavailable):
    """Refused for rate (HTTP 429); an order was not placed."""

    def __init__(self, message: str = "", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class BrokerOutcomeUnknown(BrokerError):
    """The request may have been acted on; look the order up, never resend."""


class BrokerOrderNotFound(BrokerError):
    """The broker does not know this order id (HTTP 404)."""


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
class OrderAccepted:
    """The broker accepted the order under this id."""

    order_id: str


@dataclass(frozen=True)
class OrderAwaitingApproval:
    """Queued for the trader's approval (OpenAlgo semi-auto); no broker order exists yet."""

    pending_id: str


@dataclass(frozen=True)
class OrderStatus:
    order_id: str
    status: str  # one of OrderState
    symbol: str
    exchange: str
    action: str
    quantity: int
    filled_quantity: int | None  # None: the broker does not say (use trades())
    average_price: Decimal | None  # None: unknown; never the limit price
    tag: str | None = None  # our client order id, when the broker echoes it
    placed_at: datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class Trade:
    """One fill from the broker's trade book."""

    order_id: str
    symbol: str
    exchange: str
    action: str
    quantity: int
    price: Decimal
    traded_at: datetime | None = None


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


@dataclass(frozen=True)
class Contract:
    symbol: str
    exchange: str
    lot_size: int  # in the broker's order quantity units
    tick_size: Decimal | None = None


class Broker(Protocol):
    name: str

    def place_order(self, request: OrderRequest) -> OrderAccepted | OrderAwaitingApproval:
        """Send the order once (never retried: there is no idempotency key)."""

    def order_status(self, order_id: str) -> OrderStatus: ...

    def order_book(self) -> list[OrderStatus]: ...

    def trades(self, order_id: str | None = None) -> list[Trade]:
        """The trade book: one row per fill (only ``order_id``'s, when given)."""

    def cancel_order(self, order_id: str) -> None:
        """Cancel what is left of an order; returns normally when it is already finished."""

    def modify_order(self, order_id: str, *, symbol: str, exchange: str, action: str, quantity: int,
                     price_type: str, price: Decimal | None) -> None: ...

    def positions(self) -> list[BrokerPosition]:
        """Net positions; rows with zero net quantity are left out."""

    def quote(self, symbol: str, exchange: str) -> Quote: ...

    def contract(self, symbol: str, exchange: str) -> Contract:
        """The contract's lot size and tick size; BrokerRejected for an unknown contract."""

    def analyzer_mode(self) -> bool:
        """True when orders go to a sandbox (OpenAlgo analyzer mode), not the exchange."""

    def ping(self) -> None:
        """Raise BrokerUnavailable when the broker cannot be used right now."""
