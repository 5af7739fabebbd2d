"""Broker adapters.  ``get_broker()`` returns the configured one (paper by default)."""

from positions.broker.base import (
    Broker,
    BrokerError,
    BrokerOutcomeUnknown,
    BrokerPosition,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    OrderState,
    OrderStatus,
    Quote,
)

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerOutcomeUnknown",
    "BrokerPosition",
    "BrokerRateLimited",
    "BrokerRejected",
    "BrokerUnavailable",
    "OrderRequest",
    "OrderState",
    "OrderStatus",
    "Quote",
]
