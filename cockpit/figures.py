"""The cockpit's arithmetic, pure (no database): equity ranges, how far a position is from its stop,
days to expiry and rollover state, exposure against its caps, and the colour of each signal outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

ZERO = Decimal(0)

# Equity-curve ranges: key → (label, span; None = the whole ledger).
RANGES: dict[str, tuple[str, timedelta | None]] = {
    "1d": ("1 day", timedelta(days=1)),
    "1w": ("1 week", timedelta(days=7)),
    "1m": ("1 month", timedelta(days=30)),
    "3m": ("3 months", timedelta(days=91)),
    "1y": ("1 year", timedelta(days=365)),
    "all": ("all", None),
}
DEFAULT_RANGE = "all"

# Outcome colours of the signal timeline (and the badges' CSS, core/static/core/pm.css).  A status this
# table does not know (added later, or in flight) gets the neutral colour.
NEUTRAL = "#667085"
STATUS_COLOURS = {
    "executed": "#11772e",
    "blocked": "#d97706",
    "rejected": "#c2410c",
    "failed": "#b42318",
    "held": "#6941c6",
    "ignored": "#98a2b3",
}
OUTCOMES = ("executed", "blocked", "rejected", "failed", "held")  # the legend, in this order


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, NEUTRAL)


def range_key(value: str | None) -> str:
    """A known range key (anything else, e.g. a typo in the URL, is the default)."""
    return value if value in RANGES else DEFAULT_RANGE


def range_start(key: str, now: datetime) -> datetime | None:
    span = RANGES[range_key(key)][1]
    return None if span is None else now - span


@dataclass(frozen=True)
class StopDistance:
    """How far the mark is above the stop: in points, in R (multiples of the initial risk per point,
    entry − initial stop) and in ₹ for the position's lots (what a stop-out gives back from here)."""

    points: Decimal | None
    r: Decimal | None
    money: Decimal | None


def stop_distance(*, entry, initial_stop, current_stop, mark, lots: int, point_value) -> StopDistance:
    if mark is None or current_stop is None:
        return StopDistance(None, None, None)
    points = Decimal(mark) - Decimal(current_stop)
    risk_per_point = (Decimal(entry) - Decimal(initial_stop)) if entry is not None else ZERO
    r = (points / risk_per_point).quantize(Decimal("0.01")) if risk_per_point > 0 else None
    return StopDistance(points, r, points * lots * Decimal(point_value))


def days_to_expiry(expiry: date | None, today: date) -> int | None:
    return None if expiry is None else (expiry - today).days


def rollover_state(*, rollover_status: str, days_left: int | None, rollover_days: int) -> str:
    """The saga state when one is running or failed; otherwise ``due`` inside the rollover window
    (fewer than ``rollover_days`` calendar days left, DESIGN §8), else ``none``."""
    if rollover_status and rollover_status != "none":
        return rollover_status
    if days_left is not None and days_left < rollover_days:
        return "due"
    return "none"


@dataclass(frozen=True)
class CapBar:
    """One exposure against its cap: risk and volatility as % of blended equity, margin as % of
    equity high.  ``fill`` is the bar's width (0–100, the cap at 100)."""

    key: str
    label: str
    used_percent: Decimal
    cap_percent: Decimal
    amount: Decimal

    @property
    def fill(self) -> Decimal:
        if self.cap_percent <= 0:
            return Decimal(100)
        return min(Decimal(100), max(ZERO, self.used_percent * 100 / self.cap_percent)).quantize(Decimal("0.1"))

    @property
    def state(self) -> str:
        """``over`` past the cap, ``near`` from 80 % of it, else ``ok``."""
        if self.used_percent > self.cap_percent:
            return "over"
        return "near" if self.fill >= 80 else "ok"


def percent_of(amount: Decimal, whole: Decimal) -> Decimal:
    return (Decimal(amount) * 100 / Decimal(whole)).quantize(Decimal("0.001")) if whole and whole > 0 else ZERO
