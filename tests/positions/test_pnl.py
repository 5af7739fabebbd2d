"""Futures and Bank Nifty synthetic P&L (DESIGN §7; domain-notes §2.5, §6.3, §7.6)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from positions.pnl import futures_pnl, synthetic_pnl, synthetic_price, unrealized_pnl
from tests.rules_fixtures import BANK_NIFTY

D = Decimal


def test_futures_pnl_is_price_change_times_lots_and_point_value():
    assert futures_pnl(entry_price=D("72000"), exit_price=D("72500"), lots=2, point_value=D("10")) == 10000
    assert futures_pnl(entry_price=D("812.40"), exit_price=D("810.15"), lots=3, point_value=D("2500")) == D(
        "-16875"
    )


def test_unrealized_pnl_marks_at_the_mark_price():
    assert unrealized_pnl(entry_price=D("90000"), mark_price=D("90450"), lots=4, point_value=D("5")) == 9000


def test_synthetic_price_is_strike_plus_call_minus_put():
    assert synthetic_price(strike=52000, ce_price=D("812.5"), pe_price=D("610.25")) == D("52202.25")


def test_bug_6_synthetic_loss_comes_from_leg_fills():
    # SELL PE at 600, BUY CE at 800; exit BUY PE at 700, SELL CE at 734, one lot of 30 units.
    pnl = synthetic_pnl(quantity=30, pe_entry=D("600"), ce_entry=D("800"), pe_exit=D("700"), ce_exit=D("734"))
    assert pnl == D("-4980")  # (600 − 700) × 30 + (734 − 800) × 30


legs = st.decimals(min_value=0, max_value=5_000, places=2)


@given(
    lots=st.integers(min_value=0, max_value=50),
    strike=st.integers(min_value=40, max_value=160).map(lambda n: n * 500),
    pe_entry=legs, ce_entry=legs, pe_exit=legs, ce_exit=legs,
)
def test_synthetic_pnl_equals_futures_pnl_of_the_synthetic_prices(lots, strike, pe_entry, ce_entry, pe_exit, ce_exit):
    quantity = lots * BANK_NIFTY.order_quantity_per_lot
    legs_pnl = synthetic_pnl(quantity=quantity, pe_entry=pe_entry, ce_entry=ce_entry, pe_exit=pe_exit, ce_exit=ce_exit)
    entry = synthetic_price(strike=strike, ce_price=ce_entry, pe_price=pe_entry)
    exit_ = synthetic_price(strike=strike, ce_price=ce_exit, pe_price=pe_exit)
    assert legs_pnl == futures_pnl(entry_price=entry, exit_price=exit_, lots=lots, point_value=BANK_NIFTY.point_value)
