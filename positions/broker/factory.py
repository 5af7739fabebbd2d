"""The configured broker adapter (``BROKER`` = paper | openalgo)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from positions.broker.base import Broker

_override: Broker | None = None
_openalgo: dict[int, Broker] = {}


def get_broker() -> Broker:
    if _override is not None:
        return _override
    if settings.PM_BROKER == "openalgo":
        import os

        from positions.broker.openalgo import OpenAlgoBroker

        pid = os.getpid()  # one HTTP connection pool per process (never shared across a fork)
        if pid not in _openalgo:
            _openalgo[pid] = OpenAlgoBroker(base_url=settings.PM_OPENALGO_URL, api_key=settings.PM_OPENALGO_API_KEY)
        return _openalgo[pid]
    from positions.broker.paper import PaperBroker

    return PaperBroker(
        slippage_percent=Decimal(settings.PM_PAPER_SLIPPAGE_PERCENT),
        option_time_value=Decimal(settings.PM_PAPER_OPTION_TIME_VALUE),
    )


def set_broker_override(broker: Broker | None) -> None:
    """Tests (and only tests) substitute a broker, e.g. one pointed at the fake OpenAlgo server."""
    global _override
    _override = broker
