"""Entry gates: the portfolio caps and the pyramid gates (DESIGN §7, Appendix A).

Every gate returns a ``Check`` whether it passes or not, so a refusal can list every failing check
with the numbers behind it.  Comparisons are made on exact Decimals, never on rounded percentages.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portfolio.equity import position_risk, position_vol
from portfolio.params import detail_number, exact, to_decimal


@dataclass(frozen=True, slots=True)
class Check:
    check: str
    passed: bool
    detail: dict

    def as_dict(self) -> dict:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


def new_position_risk(*, price, stop, lots, point_value) -> Decimal:
    """Risk the new position adds, measured from the signal's stop."""
    return position_risk(entry_price=price, current_stop=stop, lots=lots, point_value=point_value)


def new_position_vol(*, atr, lots, point_value) -> Decimal:
    return position_vol(entry_atr=atr, lots=lots, point_value=point_value)


def _cap_check(*, name: str, existing, new, blended: Decimal, limit_percent) -> Check:
    existing, new, limit = to_decimal(existing), to_decimal(new), to_decimal(limit_percent)
    total = existing + new
    detail = {
        "existing": detail_number(existing),
        "new": detail_number(new),
        "blended_equity": detail_number(blended),
        "limit_percent": detail_number(limit),
    }
    if blended <= 0:
        return Check(name, False, {**detail, "reason": "non_positive_equity"})
    # total / blended × 100 ≤ limit, multiplied out so the inclusive boundary is exact.
    passed = total * 100 <= limit * blended
    return Check(name, passed, {**detail, "projected_percent": detail_number(total * 100 / blended)})


@exact
def portfolio_gate(
    *, new_risk, new_vol, existing_risk, existing_vol, blended_equity, max_risk_percent, max_vol_percent
) -> list[Check]:
    """Projected portfolio risk and volatility as a share of blended equity; caps are inclusive."""
    blended = to_decimal(blended_equity)
    return [
        _cap_check(
            name="portfolio_risk", existing=existing_risk, new=new_risk, blended=blended,
            limit_percent=max_risk_percent,
        ),
        _cap_check(
            name="portfolio_vol", existing=existing_vol, new=new_vol, blended=blended,
            limit_percent=max_vol_percent,
        ),
    ]


def _one_r_gate(*, price: Decimal, base_entry: Decimal, base_initial_stop: Decimal) -> Check:
    """The price must have moved STRICTLY more than the base's initial risk R above the base entry."""
    moved, r = price - base_entry, base_entry - base_initial_stop
    detail = {"moved": detail_number(moved), "r": detail_number(r)}
    if r <= 0:
        return Check("1r_gate", False, {**detail, "reason": "invalid_initial_risk"})
    return Check("1r_gate", moved > r, {**detail, "price_move_r": detail_number(moved / r)})


def _spacing_gate(*, price: Decimal, last_entry_price: Decimal, atr: Decimal, spacing_atr: Decimal) -> Check:
    """At least ``spacing_atr`` ATRs above the last entry (inclusive).

    With an ATR of 0 the spacing cannot be measured, so the gate fails rather than letting every
    pyramid through on a degenerate bar.
    """
    distance, required = price - last_entry_price, spacing_atr * atr
    detail = {"distance": detail_number(distance), "required": detail_number(required), "atr": detail_number(atr)}
    if atr <= 0:
        return Check("atr_spacing", False, {**detail, "reason": "no_atr"})
    return Check("atr_spacing", distance >= required, detail)


@exact
def pyramid_gates(
    *,
    price,
    atr,
    base_entry_price,
    base_initial_stop,
    last_entry_price,
    instrument_open_pnl,
    pyramids_since_base: int,
    max_pyramids: int,
    spacing_atr,
) -> list[Check]:
    """All four pyramid gates, in reason order, each always evaluated."""
    price, open_pnl = to_decimal(price), to_decimal(instrument_open_pnl)
    return [
        _one_r_gate(
            price=price, base_entry=to_decimal(base_entry_price), base_initial_stop=to_decimal(base_initial_stop)
        ),
        _spacing_gate(
            price=price, last_entry_price=to_decimal(last_entry_price), atr=to_decimal(atr),
            spacing_atr=to_decimal(spacing_atr),
        ),
        Check("instrument_pnl", open_pnl > 0, {"open_pnl": detail_number(open_pnl)}),
        Check(
            "max_pyramids",
            pyramids_since_base < max_pyramids,
            {"pyramids_since_base": pyramids_since_base, "max_pyramids": max_pyramids},
        ),
    ]
