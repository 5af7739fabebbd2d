"""Broker adapters.  ``get_broker()`` returns the configured one (paper by default)."""

from positions.broker.base import (
    Broker,
    BrokerError,
    BrokerOrderNotFound,
    BrokerOutcomeUnknown,
    BrokerPosition,
    BrokerRateLimited,
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

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerOrderNotFound",
    "BrokerOutcomeUnknown",
    "BrokerPosition",
    "BrokerRateLimited",
    "BrokerRejected",
    "BrokerUnavailable",
    "Contract",
    "OrderAccepted",
    "OrderAwaitingApproval",
    "OrderRequest",
    "OrderState",
    "OrderStatus",
    "Quote",
    "Trade",
]
