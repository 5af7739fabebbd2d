"""Rule parameters as plain frozen values, and the exact-Decimal helpers every rule uses.

The trading rules (sizing, gates, stops, calendars…) take these instead of ORM objects so they stay
pure: the executor reads an ``Instrument`` / ``PortfolioState`` row and builds the values once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

# Money has at most 18 digits and prices 14, so 60 significant digits hold every product exactly and
# keep a non-terminating quotient far enough from the next integer that a floor can never flip.
PRECISION = 60

CONTRACT_KINDS = ("synthetic_options", "futures")
EXPIRY_RULES = ("last_tuesday", "fifth", "last_day")
ALL_MONTHS = tuple(range(1, 13))


def to_decimal(value: Decimal | int) -> Decimal:
    """Decimal as is, int converted exactly; floats (and bools) are refused: they are never exact."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"expected Decimal or int, got {type(value).__name__}")


def exact(function):
    """Run ``function`` in a high-precision Decimal context (the caller's context is untouched)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with localcontext() as context:
            context.prec = PRECISION
            return function(*args, **kwargs)

    return wrapper


def floor_lots(value: Decimal) -> int:
    """Whole lots allowed by an exact lot value: floor, and never below zero."""
    return max(0, int(value.to_integral_value(rounding=ROUND_FLOOR)))


@dataclass(frozen=True, slots=True)
class InstrumentParams:
    """Every per-instrument parameter of DESIGN §7 and §8."""

    code: str
    exchange: str
    contract_kind: str
    symbol_root: str
    point_value: Decimal
    margin_per_lot: Decimal
    order_quantity_per_lot: int
    risk_percent: Decimal
    vol_percent: Decimal
    use_vol_constraint: bool
    initial_stop_atr_multiple: Decimal
    trailing_stop_atr_multiple: Decimal
    pyramid_spacing_atr: Decimal
    max_pyramids: int
    strike_step: int | None
    expiry_rule: str
    contract_months: tuple[int, ...]
    entry_roll_trading_days: int
    rollover_days: int

    def __post_init__(self) -> None:
        if self.contract_kind not in CONTRACT_KINDS:
            raise ValueError(f"unknown contract_kind {self.contract_kind!r}")
        if self.expiry_rule not in EXPIRY_RULES:
            raise ValueError(f"unknown expiry_rule {self.expiry_rule!r}")
        if not self.contract_months or any(m not in ALL_MONTHS for m in self.contract_months):
            raise ValueError(f"contract_months must be months 1..12, got {self.contract_months!r}")
        if self.point_value <= 0 or self.margin_per_lot <= 0:
            raise ValueError("point_value and margin_per_lot must be positive")
        if self.contract_kind == "synthetic_options" and not self.strike_step:
            raise ValueError("synthetic options need a strike_step")
        if not self.symbol_root.isalpha():
            raise ValueError(f"symbol_root must be letters only, got {self.symbol_root!r}")


@dataclass(frozen=True, slots=True)
class PortfolioParams:
    """Portfolio-wide limits (percent values are percents: 15 means 15 %)."""

    max_risk_percent: Decimal = Decimal("15")
    max_vol_percent: Decimal = Decimal("5")
    pyramid_max_risk_percent: Decimal = Decimal("12")
    pyramid_max_vol_percent: Decimal = Decimal("4")
    margin_limit_percent: Decimal = Decimal("60")
    unrealized_weight: Decimal = Decimal("0.5")


@exact
def detail_number(value: Decimal) -> str:
    """A Decimal for a JSON check detail: exact when short, else rounded to 6 places for reading."""
    if value.as_tuple().exponent < -6:
        value = value.quantize(Decimal("0.000001"))
    return format(value, "f")
