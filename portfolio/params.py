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
        _refuse(instrument_problems({name: getattr(self, name) for name in self.__slots__}))


@dataclass(frozen=True, slots=True)
class PortfolioParams:
    """Portfolio-wide limits (percent values are percents: 15 means 15 %)."""

    max_risk_percent: Decimal = Decimal("15")
    max_vol_percent: Decimal = Decimal("5")
    pyramid_max_risk_percent: Decimal = Decimal("12")
    pyramid_max_vol_percent: Decimal = Decimal("4")
    margin_limit_percent: Decimal = Decimal("60")
    unrealized_weight: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        _refuse(portfolio_problems({name: getattr(self, name) for name in self.__slots__}))


# ---------------------------------------------------------------- rules of the parameters
# One set of rules for the frozen values above and for the admin's edits of the rows they are built
# from (``Instrument.clean`` / ``PortfolioState.clean``): a bad edit is refused with the field named,
# instead of being saved and then breaking every later decision of the instrument.

HUNDRED = Decimal("100")
# A trade risking (or moving) more than a tenth of equity is a typo, not a setting: 1.0 means 1 %.
PER_TRADE_PERCENT_MAX = Decimal("10")


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        raise ValueError("; ".join(f"{field}: {message}" for field, message in problems.items()))


def _percent(problems: dict, values: dict, field: str, *, most: Decimal = HUNDRED) -> None:
    value = values.get(field)
    if value is not None and not (0 < value <= most):
        problems[field] = f"must be above 0 and at most {most} (a percent: 1 means 1 %), got {value}"


def instrument_problems(values: dict) -> dict[str, str]:
    """Every broken rule of an instrument's parameters, by field (empty when they are all fine).
    Values that are missing (None) are not judged here: the field itself requires them."""
    problems: dict[str, str] = {}
    get = values.get
    if get("contract_kind") is not None and get("contract_kind") not in CONTRACT_KINDS:
        problems["contract_kind"] = f"unknown contract kind {get('contract_kind')!r}"
    if get("expiry_rule") is not None and get("expiry_rule") not in EXPIRY_RULES:
        problems["expiry_rule"] = f"unknown expiry rule {get('expiry_rule')!r}"
    months = get("contract_months")
    if months is not None and (not months or any(m not in ALL_MONTHS for m in months)):
        problems["contract_months"] = f"must be months 1..12, got {months!r}"
    for field in ("point_value", "margin_per_lot", "initial_stop_atr_multiple", "trailing_stop_atr_multiple"):
        if get(field) is not None and not get(field) > 0:
            problems[field] = f"must be positive, got {get(field)}"
    if get("pyramid_spacing_atr") is not None and get("pyramid_spacing_atr") < 0:
        problems["pyramid_spacing_atr"] = f"must not be negative, got {get('pyramid_spacing_atr')}"
    for field in ("risk_percent", "vol_percent"):
        _percent(problems, values, field, most=PER_TRADE_PERCENT_MAX)
    if get("order_quantity_per_lot") is not None and get("order_quantity_per_lot") < 1:
        problems["order_quantity_per_lot"] = "must be at least 1"
    if get("max_pyramids") is not None and not 0 <= get("max_pyramids") <= 5:
        problems["max_pyramids"] = f"must be 0 to 5 (six layers at most), got {get('max_pyramids')}"
    if get("contract_kind") == "synthetic_options" and not get("strike_step"):
        problems["strike_step"] = "synthetic options need a strike step"
    if get("strike_step") is not None and get("strike_step") < 0:
        problems["strike_step"] = "must be positive"
    root = get("symbol_root")
    if root is not None and not (root.isascii() and root.isalpha() and root.isupper()):
        problems["symbol_root"] = f"must be capital letters only, got {root!r}"
    for field in ("entry_roll_trading_days", "rollover_days"):
        if get(field) is not None and get(field) < 0:
            problems[field] = "must not be negative"
    return problems


def portfolio_problems(values: dict) -> dict[str, str]:
    """Every broken rule of the portfolio-wide limits, by field (empty when they are all fine)."""
    problems: dict[str, str] = {}
    for field in ("max_risk_percent", "max_vol_percent", "pyramid_max_risk_percent", "pyramid_max_vol_percent",
                  "margin_limit_percent"):
        _percent(problems, values, field)
    for cap, pyramid in (("max_risk_percent", "pyramid_max_risk_percent"),
                         ("max_vol_percent", "pyramid_max_vol_percent")):
        if pyramid not in problems and cap not in problems and None not in (values.get(cap), values.get(pyramid)):
            if values[pyramid] > values[cap]:
                problems[pyramid] = f"must not exceed {cap} ({values[cap]})"
    weight = values.get("unrealized_weight")
    if weight is not None and not 0 <= weight <= 1:
        problems["unrealized_weight"] = f"must be between 0 and 1, got {weight}"
    return problems


@exact
def detail_number(value: Decimal) -> str:
    """A Decimal for a JSON check detail: exact when short, else rounded to 6 places for reading."""
    if value.as_tuple().exponent < -6:
        value = value.quantize(Decimal("0.000001"))
    return format(value, "f")
