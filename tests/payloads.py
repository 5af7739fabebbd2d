"""Builders of TradingView alert bodies (DESIGN §5) for every test that posts signals: one place that
knows the fields each type needs.  Timestamps are ISO strings; the caller picks the instant."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone


def stamp(minutes_ago: float = 5) -> str:
    """A signal time ``minutes_ago`` before now, to the second: fresh, neither stale nor ahead."""
    return (timezone.now() - timedelta(minutes=minutes_ago)).replace(microsecond=0).isoformat()


def entry(*, timestamp: str | datetime, instrument="GOLD_MINI", position="Long_1", price=72000, stop=71500,
          atr=500, er=0.9, lots=1, **fields) -> dict:
    """A BASE_ENTRY (Long_1) or a PYRAMID (Long_2 … Long_6)."""
    kind = "BASE_ENTRY" if position == "Long_1" else "PYRAMID"
    return dict(type=kind, instrument=instrument, position=position, price=price, stop=stop, lots=lots, atr=atr,
                er=er, supertrend=stop, timestamp=_iso(timestamp), **fields)


def bar(*, timestamp: str | datetime, instrument="GOLD_MINI", price=72000, atr=500, **fields) -> dict:
    """A MARKET_DATA bar close."""
    return dict(type="MARKET_DATA", instrument=instrument, price=price, atr=atr, supertrend=price - atr,
                timestamp=_iso(timestamp), **fields)


def exit_(*, timestamp: str | datetime, instrument="GOLD_MINI", position="ALL", price=72500, reason="SuperTrend",
          atr=500, **fields) -> dict:
    """An EXIT of one layer or of ALL."""
    return dict(type="EXIT", instrument=instrument, position=position, price=price, stop=0, lots=0, atr=atr, er=0.8,
                supertrend=price, reason=reason, timestamp=_iso(timestamp), **fields)


def _iso(value: str | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else value
