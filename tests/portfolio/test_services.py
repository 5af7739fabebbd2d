from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from core.models import OpsAuditLog
from portfolio.models import CapitalTransaction, PortfolioState, TradingStatistics
from portfolio.services import (
    PortfolioNotInitialised,
    capital_deposit,
    capital_withdraw,
    portfolio_initialise,
    trading_pause,
    trading_resume,
)

pytestmark = pytest.mark.django_db


def _ledger_sum() -> Decimal:
    return CapitalTransaction.objects.aggregate(total=Sum("amount"))["total"]


def test_initialise_creates_state_and_opening_deposit_once():
    state, created = portfolio_initialise(capital="5000000", actor="ops")
    assert created
    assert (state.initial_capital, state.closed_equity, state.equity_high) == (5_000_000, 5_000_000, 5_000_000)
    again, created_again = portfolio_initialise(capital="9999999", actor="ops")
    assert not created_again and again.initial_capital == 5_000_000
    assert CapitalTransaction.objects.filter(kind="DEPOSIT").count() == 1
    assert TradingStatistics.objects.count() == 1


@pytest.mark.parametrize("bad", ["-5", "0", "abc", "", "NaN", "Infinity", "1.005", "1e20"])
def test_initialise_refuses_bad_capital(bad):
    with pytest.raises(ValidationError) as excinfo:
        portfolio_initialise(capital=bad, actor="ops")
    assert "capital" in excinfo.value.message_dict
    assert not PortfolioState.objects.exists() and not CapitalTransaction.objects.exists()


def test_capital_flows_move_equity_and_high_water_mark():
    portfolio_initialise(capital="5000000", actor="ops")
    capital_deposit(amount="1000000", actor="ops", note="top-up")
    withdrawal = capital_withdraw(amount="2500000", actor="ops")
    state = PortfolioState.objects.get()
    assert withdrawal.amount == Decimal("-2500000") and withdrawal.equity_after == Decimal("3500000")
    # Capital flows move the high-water mark too (earlier system's bug #47).
    assert state.closed_equity == state.equity_high == Decimal("3500000")
    assert _ledger_sum() == state.closed_equity
    assert state.version == 4


def test_withdrawal_beyond_equity_is_refused_and_changes_nothing():
    portfolio_initialise(capital="100000", actor="ops")
    with pytest.raises(ValidationError) as excinfo:
        capital_withdraw(amount="100000.01", actor="ops")
    assert "amount" in excinfo.value.message_dict
    assert CapitalTransaction.objects.count() == 1


def test_capital_flow_without_portfolio_is_refused():
    with pytest.raises(PortfolioNotInitialised):
        capital_deposit(amount="10", actor="ops")


def test_pause_requires_reason_and_is_audited():
    portfolio_initialise(capital="100000", actor="ops")
    with pytest.raises(ValidationError):
        trading_pause(reason="  ", actor="ops")
    state = trading_pause(reason="broker maintenance", actor="alice")
    assert state.paused and state.paused_by == "alice"
    state = trading_resume(actor="bob")
    assert not state.paused and state.paused_reason == ""
    assert list(OpsAuditLog.objects.order_by("id").values_list("actor", "action")) == [
        ("alice", "trading_paused"), ("bob", "trading_resumed")]


# --- opening balance (legacy import) ---------------------------------------------------------------


def _open_balance(**overrides):
    from portfolio.services import portfolio_open_balance

    values = dict(initial_capital=Decimal("10000000"), closed_equity=Decimal("9993400.50"),
                  equity_high=Decimal("10184500"), actor="command:ops", note="from the legacy system")
    values.update(overrides)
    return portfolio_open_balance(**values)


def test_an_opening_balance_opens_a_fresh_portfolio_at_the_carried_values():
    entry = _open_balance()
    state = PortfolioState.objects.get()
    assert (state.initial_capital, state.closed_equity, state.equity_high) == (
        Decimal("10000000"), Decimal("9993400.50"), Decimal("10184500"))
    assert (entry.kind, entry.equity_before, entry.equity_after, entry.equity_high_after) == (
        "OPENING_BALANCE", 0, Decimal("9993400.50"), Decimal("10184500"))
    assert TradingStatistics.objects.filter(pk=1).exists()


def test_an_opening_balance_onto_an_initialised_portfolio_books_the_difference():
    portfolio_initialise(capital="5000000", actor="ops")
    entry = _open_balance()
    assert entry.amount == Decimal("4993400.50")
    state = PortfolioState.objects.get()
    assert (state.closed_equity, state.equity_high, state.initial_capital) == (
        Decimal("9993400.50"), Decimal("10184500"), Decimal("10000000"))
    assert _ledger_sum() == state.closed_equity


def test_the_books_are_carried_over_once():
    first = _open_balance()
    assert _open_balance(closed_equity=Decimal("1"), equity_high=Decimal("1")) is None
    assert list(CapitalTransaction.objects.values_list("pk", flat=True)) == [first.pk]
    assert PortfolioState.objects.get().closed_equity == Decimal("9993400.50")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"equity_high": Decimal("9000000")}, "equity_high"),
    ({"initial_capital": Decimal("0")}, "initial_capital"),
    ({"closed_equity": Decimal("1.005")}, "closed_equity"),
    ({"closed_equity": "9993400.50"}, "closed_equity"),
])
def test_a_bad_opening_balance_is_refused_and_changes_nothing(overrides, field):
    with pytest.raises(ValidationError) as caught:
        _open_balance(**overrides)
    assert field in caught.value.message_dict
    assert not PortfolioState.objects.exists() and not CapitalTransaction.objects.exists()


def test_the_drawdown_carries_over_from_the_opening_balance():
    from portfolio.services import statistics_replace

    _open_balance()
    capital_deposit(amount="100000", actor="ops")
    assert statistics_replace(trade_figures={}).max_drawdown == Decimal("191099.50")  # 10184500 − 9993400.50


def test_ledger_rows_record_the_equity_high_and_the_migration_backfills_it(portfolio):
    """equity_high_after is what the state held after each row (the cockpit's curve reads it)."""
    import importlib

    from django.apps import apps

    capital_withdraw(amount="300000", actor="t")
    capital_deposit(amount="50000", actor="t")
    rows = list(CapitalTransaction.objects.order_by("id").values_list("equity_after", "equity_high_after"))
    assert rows == [(Decimal("5000000"), Decimal("5000000")), (Decimal("4700000"), Decimal("4700000")),
                    (Decimal("4750000"), Decimal("4750000"))]
    CapitalTransaction.objects.update(equity_high_after=None)
    importlib.import_module("portfolio.migrations.0007_ledger_equity_high").backfill(apps, None)
    assert list(CapitalTransaction.objects.order_by("id").values_list("equity_after", "equity_high_after")) == rows
