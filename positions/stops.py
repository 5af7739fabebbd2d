"""Stops: the initial ATR stop, the trailing ratchet and the stop-hit test (DESIGN §7)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portfolio.params import exact, to_decimal


def _atr_distance(atr, multiple) -> Decimal:
    atr, multiple = to_decimal(atr), to_decimal(multiple)
    if atr < 0 or multiple < 0:
        raise ValueError(f"ATR and its multiple must not be negative (atr={atr}, multiple={multiple})")
    return multiple * atr


@exact
def initial_stop(*, price, atr, multiple) -> Decimal:
    return to_decimal(price) - _atr_distance(atr, multiple)


@dataclass(frozen=True, slots=True)
class StopUpdate:
    stop: Decimal
    highest_close: Decimal
    moved: bool  # the stop went up (the highest close may change without moving the stop)


@exact
def trail_stop(*, current_stop, highest_close, price, atr, multiple) -> StopUpdate:
    """Apply one bar close: raise the highest close, then ratchet the stop. A stop never goes down."""
    current_stop = to_decimal(current_stop)
    highest = max(to_decimal(highest_close), to_decimal(price))
    stop = max(current_stop, highest - _atr_distance(atr, multiple))
    return StopUpdate(stop=stop, highest_close=highest, moved=stop != current_stop)


def stop_hit(*, price, stop) -> bool:
    """Hit only when the close is strictly below the stop."""
    return to_decimal(price) < to_decimal(stop)
