"""Position sizing for base entries and pyramids (DESIGN §7).

Each constraint is one exact Decimal division, so a constraint of exactly N lots gives N lots.
Constraints are kept unfloored in the result so the caller can report the numbers behind the size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portfolio.equity import free_margin
from portfolio.params import InstrumentParams, detail_number, exact, floor_lots, to_decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SizingResult:
    lots: int
    limiter: str
    constraints: dict[str, Decimal]

    def as_detail(self) -> dict:
        """JSON-serialisable form for a signal's result."""
        values = {name: detail_number(value) for name, value in self.constraints.items()}
        return {"lots": self.lots, "limiter": self.limiter, "constraints": values}


def _lots(amount: Decimal, per_lot: Decimal) -> Decimal:
    """amount / per_lot, or 0 when nothing can be bought (no positive amount or no positive cost)."""
    if per_lot <= 0 or amount <= 0:
        return ZERO
    return amount / per_lot


def _result(constraints: dict[str, Decimal]) -> SizingResult:
    # min() returns the first minimum in insertion order, so ties go to the earlier constraint.
    limiter = min(constraints, key=constraints.__getitem__)
    return SizingResult(lots=floor_lots(constraints[limiter]), limiter=limiter, constraints=constraints)


def _margin_lots(*, params: InstrumentParams, equity_high, margin_in_use, margin_limit_percent) -> Decimal:
    free = free_margin(
        equity_high=equity_high, margin_in_use=margin_in_use, margin_limit_percent=margin_limit_percent
    )
    return _lots(free, params.margin_per_lot)


@exact
def size_base_entry(
    *, params: InstrumentParams, equity_high, price, stop, atr, er, margin_in_use, margin_limit_percent
) -> SizingResult:
    """Lots for a BASE_ENTRY: floor of the smallest of the risk, volatility (if on) and margin lots."""
    equity, pv = to_decimal(equity_high), params.point_value
    stop_distance = to_decimal(price) - to_decimal(stop)
    constraints = {
        "risk": _lots(equity * params.risk_percent * to_decimal(er), 100 * stop_distance * pv),
    }
    if params.use_vol_constraint:
        constraints["volatility"] = _lots(equity * params.vol_percent, 100 * to_decimal(atr) * pv)
    constraints["margin"] = _margin_lots(
        params=params, equity_high=equity, margin_in_use=margin_in_use, margin_limit_percent=margin_limit_percent
    )
    return _result(constraints)


@exact
def size_pyramid(
    *,
    params: InstrumentParams,
    equity_high,
    price,
    stop,
    layer: int,
    base_lots: int,
    base_entry_price,
    base_initial_stop,
    margin_in_use,
    margin_limit_percent,
) -> SizingResult:
    """Lots for pyramid layer ``layer`` (Long_2 is layer 2, k = layer − 2).

    Half of the base's profit beyond its initial risk is the budget the new layer may risk.
    """
    if layer < 2:
        raise ValueError(f"a pyramid is layer 2 or above, got {layer}")
    price, pv = to_decimal(price), params.point_value
    base_lots, base_entry = to_decimal(base_lots), to_decimal(base_entry_price)
    base_profit = (price - base_entry) * base_lots * pv
    base_risk = (base_entry - to_decimal(base_initial_stop)) * base_lots * pv
    constraints = {
        "margin": _margin_lots(
            params=params, equity_high=equity_high, margin_in_use=margin_in_use,
            margin_limit_percent=margin_limit_percent,
        ),
        "geometric": _lots(base_lots, Decimal(2 ** (layer - 1))),  # base × 0.5^(k+1), k = layer − 2
        "risk_budget": _lots(base_profit - base_risk, 2 * (price - to_decimal(stop)) * pv),
    }
    return _result(constraints)
