"""Equity arithmetic: risk, volatility, blended equity, the ledger and free margin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.equity import apply_ledger_entry, blended_equity, free_margin, position_risk, position_vol

D = Decimal


def test_position_risk_is_distance_to_stop_times_lots_and_point_value():
    assert position_risk(entry_price=D("52000"), current_stop=D("51475"), lots=3, point_value=D("30")) == 47250


@pytest.mark.parametrize("stop", [D("52000"), D("52500")])
def test_position_risk_vanishes_once_the_stop_reaches_the_entry(stop):
    assert position_risk(entry_price=D("52000"), current_stop=stop, lots=3, point_value=D("30")) == 0


def test_position_vol():
    assert position_vol(entry_atr=D("450"), lots=2, point_value=D("10")) == 9000


def test_blended_equity_counts_half_the_unrealized_pnl():
    assert blended_equity(closed_equity=D("5000000"), unrealized_pnl=D("200000")) == D("5100000")
    assert blended_equity(closed_equity=D("5000000"), unrealized_pnl=D("-200000")) == D("4900000")
    assert blended_equity(closed_equity=D("100"), unrealized_pnl=D("10"), weight=D("1")) == 110


def test_free_margin_is_the_limit_share_of_equity_high_minus_margin_in_use():
    assert free_margin(equity_high=D("5000000"), margin_in_use=D("1000000"), margin_limit_percent=D("60")) == D(
        "2000000"
    )


def test_free_margin_never_goes_negative():
    assert free_margin(equity_high=D("1000000"), margin_in_use=D("900000"), margin_limit_percent=D("60")) == 0


# --- ledger ---------------------------------------------------------------------------------------


def test_bug_47_deposit_moves_equity_high():
    assert apply_ledger_entry(
        closed_equity=D("4800000"), equity_high=D("5000000"), kind="DEPOSIT", amount=D("1000000")
    ) == (D("5800000"), D("6000000"))


def test_bug_47_withdrawal_moves_equity_high_down():
    assert apply_ledger_entry(
        closed_equity=D("5000000"), equity_high=D("5000000"), kind="WITHDRAW", amount=D("-2000000")
    ) == (D("3000000"), D("3000000"))


@pytest.mark.parametrize("kind", ["TRADING_PNL", "ROLLOVER_PNL"])
def test_profit_above_the_high_raises_it(kind):
    assert apply_ledger_entry(
        closed_equity=D("4900000"), equity_high=D("5000000"), kind=kind, amount=D("150000")
    ) == (D("5050000"), D("5050000"))


@pytest.mark.parametrize("kind", ["TRADING_PNL", "ROLLOVER_PNL"])
def test_profit_below_the_high_and_losses_leave_it(kind):
    assert apply_ledger_entry(
        closed_equity=D("4900000"), equity_high=D("5000000"), kind=kind, amount=D("50000")
    ) == (D("4950000"), D("5000000"))
    assert apply_ledger_entry(
        closed_equity=D("4900000"), equity_high=D("5000000"), kind=kind, amount=D("-1980")
    ) == (D("4898020"), D("5000000"))


@pytest.mark.parametrize(
    ("kind", "amount"),
    [("DEPOSIT", D("0")), ("DEPOSIT", D("-5")), ("WITHDRAW", D("5")), ("WITHDRAW", D("0")), ("BONUS", D("5"))],
)
def test_wrong_sign_or_unknown_kind_is_refused(kind, amount):
    with pytest.raises(ValueError):
        apply_ledger_entry(closed_equity=D("10"), equity_high=D("10"), kind=kind, amount=amount)


amounts = st.decimals(min_value=-1_000_000, max_value=1_000_000, places=2).filter(lambda a: a != 0)
ledger_kinds = st.sampled_from(["DEPOSIT", "WITHDRAW", "TRADING_PNL", "ROLLOVER_PNL"])


def with_ledger_sign(kind: str, amount: Decimal) -> Decimal:
    """Deposits are positive and withdrawals negative in the ledger; P&L carries its own sign."""
    return {"DEPOSIT": abs(amount), "WITHDRAW": -abs(amount)}.get(kind, amount)


@given(st.lists(st.tuples(ledger_kinds, amounts)))
def test_equity_high_stays_at_least_closed_equity_and_closed_is_the_ledger_sum(entries):
    entries = [(kind, with_ledger_sign(kind, amount)) for kind, amount in entries]
    closed = high = D("5000000")
    for kind, amount in entries:
        closed, high = apply_ledger_entry(closed_equity=closed, equity_high=high, kind=kind, amount=amount)
        assert high >= closed
    assert closed == D("5000000") + sum((amount for _, amount in entries), D(0))


# --- opening balance (books carried over from the legacy system) -------------------------------------


def test_an_opening_balance_sets_closed_equity_and_carries_the_high_water_mark_over():
    assert apply_ledger_entry(closed_equity=D("0"), equity_high=D("0"), kind="OPENING_BALANCE",
                              amount=D("9993400.50"), equity_high_after=D("10184500")) == (
        D("9993400.50"), D("10184500"))
    # Onto a portfolio opened with a deposit: the amount is the difference, the high is restated.
    assert apply_ledger_entry(closed_equity=D("5000000"), equity_high=D("5000000"), kind="OPENING_BALANCE",
                              amount=D("4993400.50"), equity_high_after=D("10184500")) == (
        D("9993400.50"), D("10184500"))


def test_an_opening_balance_needs_a_high_at_least_the_closed_equity():
    with pytest.raises(ValueError, match="needs equity_high_after"):
        apply_ledger_entry(closed_equity=D("0"), equity_high=D("0"), kind="OPENING_BALANCE", amount=D("100"))
    with pytest.raises(ValueError, match="below the closed equity"):
        apply_ledger_entry(closed_equity=D("0"), equity_high=D("0"), kind="OPENING_BALANCE", amount=D("100"),
                           equity_high_after=D("99"))


@pytest.mark.parametrize("kind", ["DEPOSIT", "TRADING_PNL"])
def test_only_an_opening_balance_carries_a_high(kind):
    with pytest.raises(ValueError, match="OPENING_BALANCE only"):
        apply_ledger_entry(closed_equity=D("10"), equity_high=D("10"), kind=kind, amount=D("5"),
                           equity_high_after=D("20"))


@given(st.lists(st.tuples(ledger_kinds, amounts)))
def test_after_an_opening_balance_the_rules_carry_on_from_the_carried_high(entries):
    closed, high = apply_ledger_entry(closed_equity=D("0"), equity_high=D("0"), kind="OPENING_BALANCE",
                                      amount=D("9993400.50"), equity_high_after=D("10184500"))
    for kind, amount in ((k, with_ledger_sign(k, a)) for k, a in entries):
        closed, high = apply_ledger_entry(closed_equity=closed, equity_high=high, kind=kind, amount=amount)
        assert high >= closed
