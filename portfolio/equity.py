"""Equity arithmetic: position risk and volatility, blended equity, the ledger, free margin."""

from __future__ import annotations

from decimal import Decimal

from portfolio.params import exact, to_decimal

ZERO = Decimal(0)

CAPITAL_FLOWS = frozenset({"DEPOSIT", "WITHDRAW"})
PNL_KINDS = frozenset({"TRADING_PNL", "ROLLOVER_PNL"})
OPENING_BALANCE = "OPENING_BALANCE"


@exact
def position_risk(*, entry_price, current_stop, lots, point_value) -> Decimal:
    """Money lost if the stop is hit; nothing once the stop is at or above the entry."""
    gap = to_decimal(entry_price) - to_decimal(current_stop)
    return max(ZERO, gap) * to_decimal(lots) * to_decimal(point_value)


@exact
def position_vol(*, entry_atr, lots, point_value) -> Decimal:
    return to_decimal(entry_atr) * to_decimal(lots) * to_decimal(point_value)


@exact
def blended_equity(*, closed_equity, unrealized_pnl, weight=Decimal("0.5")) -> Decimal:
    return to_decimal(closed_equity) + to_decimal(weight) * to_decimal(unrealized_pnl)


@exact
def apply_ledger_entry(
    *, closed_equity, equity_high, kind: str, amount, equity_high_after=None
) -> tuple[Decimal, Decimal]:
    """Book one signed ledger amount; returns (new closed equity, new equity high).

    Capital flows move the high-water mark by the same amount (domain bug #47: after a withdrawal
    sizing must not keep using the pre-withdrawal high); P&L only ratchets it up.  The signs follow
    the ledger's own constraints: deposits positive, withdrawals negative.

    An ``OPENING_BALANCE`` restates the books carried over from another system (the legacy import):
    ``amount`` brings closed equity to the carried-over value and ``equity_high_after`` *is* the
    carried-over high-water mark (it cannot be derived from an amount: the other system's high
    reflects its own history), so it is required and may not be below the new closed equity.
    """
    closed, high, amount = to_decimal(closed_equity), to_decimal(equity_high), to_decimal(amount)
    if (kind == "DEPOSIT" and amount <= 0) or (kind == "WITHDRAW" and amount >= 0):
        raise ValueError(f"{kind} amount has the wrong sign: {amount}")
    if kind == OPENING_BALANCE:
        if equity_high_after is None:
            raise ValueError("an OPENING_BALANCE needs equity_high_after")
        closed, high = closed + amount, to_decimal(equity_high_after)
        if high < closed:
            raise ValueError(f"equity_high_after {high} is below the closed equity {closed}")
        return closed, high
    if equity_high_after is not None:
        raise ValueError(f"equity_high_after applies to OPENING_BALANCE only, not {kind}")
    if kind in CAPITAL_FLOWS:
        return closed + amount, high + amount
    if kind in PNL_KINDS:
        closed += amount
        return closed, max(high, closed)
    raise ValueError(f"unknown ledger kind {kind!r}")


@exact
def free_margin(*, equity_high, margin_in_use, margin_limit_percent) -> Decimal:
    """Margin still usable: the allowed share of equity_high minus what open positions hold (≥ 0).

    Domain bug #46: the earlier system ignored margin already in use.
    """
    allowed = to_decimal(margin_limit_percent) * to_decimal(equity_high) / 100  # exact: /100 shifts
    return max(ZERO, allowed - to_decimal(margin_in_use))
