"""Profit and loss of futures and Bank Nifty synthetic futures (DESIGN §7)."""

from __future__ import annotations

from decimal import Decimal

from portfolio.params import exact, to_decimal


@exact
def futures_pnl(*, entry_price, exit_price, lots, point_value) -> Decimal:
    return (to_decimal(exit_price) - to_decimal(entry_price)) * to_decimal(lots) * to_decimal(point_value)


def unrealized_pnl(*, entry_price, mark_price, lots, point_value) -> Decimal:
    """Open P&L marked at ``mark_price``: what the position would realise if it closed there."""
    return futures_pnl(entry_price=entry_price, exit_price=mark_price, lots=lots, point_value=point_value)


@exact
def synthetic_price(*, strike, ce_price, pe_price) -> Decimal:
    """Price of a synthetic future from its legs (put-call parity, ignoring carry)."""
    return to_decimal(strike) + to_decimal(ce_price) - to_decimal(pe_price)


@exact
def synthetic_pnl(*, quantity: int, pe_entry, ce_entry, pe_exit, ce_exit) -> Decimal:
    """P&L of a long synthetic (SELL PE + BUY CE) from its leg fills; quantity is in units per leg.

    Domain bug #6: deriving it from any other price (e.g. the index at the signal) misstates it.
    """
    quantity = to_decimal(quantity)
    short_put = (to_decimal(pe_entry) - to_decimal(pe_exit)) * quantity
    long_call = (to_decimal(ce_exit) - to_decimal(ce_entry)) * quantity
    return short_put + long_call
