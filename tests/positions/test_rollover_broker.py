"""Rollovers against the faithful fake OpenAlgo (DESIGN §8, §15.2): refused legs are retried until the
new contract is held or ops are asked to step in; an exit arriving mid-rollover never sells twice and
never leaves a position open in our books with nothing at the broker."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from portfolio.models import CapitalTransaction, PortfolioState
from positions.models import Position, Rollover
from positions.services.rollover import FLAG_AFTER
from positions.services.rollover_run import rollover_run, rollovers_resume
from reconciliation.models import Discrepancy
from reconciliation.services.orders import order_discrepancies_sync
from signals.checks import control_checks
from signals.dispatch import run_executor
from signals.models import SignalLog
from tests.signals.conftest import gold_symbol

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alerts():
    with mock.patch("positions.services.rollover.alert") as sent:
        yield sent


@pytest.fixture
def gold(fake, webhook):
    """An open Gold Mini position of 3 lots at 72000, its next contract priced at 72400."""
    old = gold_symbol(webhook)
    fake.set_price(old, 72000)
    assert webhook.entry("GOLD_MINI", minute=0, price=72000, stop=71000, atr=500).status_code == 202
    position = Position.objects.get(status="open")
    fake.set_price(old, 72300)
    assert webhook.bar("GOLD_MINI", minute=1, price=72300).status_code == 202
    return position


def new_symbol(position: Position) -> str:
    return rollover_run(position_id=position.pk, dry_run=True)[0]["new"][0]


def broker_orders(fake, symbol: str) -> list[tuple[str, int]]:
    return [(o["action"], int(o["quantity"])) for o in fake.orders() if o["symbol"] == symbol]


def later(seconds: float = 400):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_refused_open_after_the_close_is_retried_until_the_new_contract_is_held(fake, gold, alerts):
    old, new = gold.futures_symbol, new_symbol(gold)
    fake.set_price(new, 72400)
    fake.set_fault("placeorder", "reject", count=3, symbol=new, message="RMS: margin exceeds")
    [report] = rollover_run(position_id=gold.pk)
    assert report["outcome"] == "retry_pending" and "margin" in report["error"]

    gold.refresh_from_db()
    roll = Rollover.objects.get()
    assert (gold.status, gold.rollover_status, roll.phase) == ("open", "failed", "opening")
    assert gold.entry_price == 72300 and gold.futures_symbol == old  # flat: the basis is the old close
    assert CapitalTransaction.objects.filter(kind="ROLLOVER_PNL").count() == 1
    assert alerts.call_args.args[0] == "rollover_failed"

    assert [r["outcome"] for r in rollovers_resume(now=later())] == ["done"]
    gold.refresh_from_db()
    assert (gold.futures_symbol, gold.entry_price, gold.rollover_status) == (new, 72400, "none")
    assert broker_orders(fake, old)[-1:] == [("SELL", gold.quantity)]
    assert broker_orders(fake, new) == [("BUY", gold.quantity)]  # refused attempts placed nothing
    assert CapitalTransaction.objects.filter(kind="ROLLOVER_PNL").count() == 1


def test_an_open_refused_again_and_again_asks_ops_and_halts_entries_until_it_is_held(fake, gold, alerts):
    new = new_symbol(gold)
    fake.set_fault("placeorder", "reject", count=None, symbol=new, message="contract not tradable")
    rollover_run(position_id=gold.pk)
    moment = timezone.now()
    for _ in range(FLAG_AFTER + 1):
        moment += timedelta(seconds=400)
        rollovers_resume(now=moment)
    roll = Rollover.objects.get()
    assert roll.flagged_at is not None and roll.attempts >= FLAG_AFTER
    assert "rollover_needs_ops" in [c.args[0] for c in alerts.call_args_list]
    order_discrepancies_sync()
    record = Discrepancy.objects.get(kind="rollover_incomplete")
    assert (record.symbol, record.expected_quantity, record.broker_quantity, record.status) == (
        new, gold.quantity, 0, "open")
    halted = {c.check: c for c in control_checks(state=PortfolioState.objects.get(), instrument="GOLD_MINI")}
    assert not halted["instrument_halted"].passed

    fake.clear_faults()
    assert [r["outcome"] for r in rollovers_resume(now=moment + timedelta(seconds=400))] == ["done"]
    order_discrepancies_sync()
    record.refresh_from_db()
    assert record.status == "resolved" and broker_orders(fake, new) == [("BUY", gold.quantity)]


def test_an_exit_while_flat_between_contracts_closes_at_the_old_close_without_an_order(fake, gold, webhook, alerts):
    old, new = gold.futures_symbol, new_symbol(gold)
    fake.set_fault("placeorder", "reject", count=None, symbol=new)
    rollover_run(position_id=gold.pk)
    sent = len(fake.orders())
    assert webhook.exit("GOLD_MINI", minute=2, price=72500).status_code == 202
    signal = SignalLog.objects.get(signal_type="EXIT")
    assert signal.status == "executed" and signal.result["closed_during_rollover"] == [gold.pk]
    gold.refresh_from_db()
    assert (gold.status, gold.exit_price, gold.realized_pnl) == ("closed", 72300, 0)
    assert Rollover.objects.get().phase == "cancelled" and len(fake.orders()) == sent  # no order at all
    pnl = (72300 - 72000) * gold.lots * 10
    assert list(CapitalTransaction.objects.filter(position=gold).order_by("id").values_list("kind", "amount")) == [
        ("ROLLOVER_PNL", pnl), ("TRADING_PNL", 0)]
    assert fake.position(old, "MCX") == 0 and fake.position(new, "MCX") == 0


def test_an_exit_before_anything_was_closed_cancels_the_rollover_and_sells_the_old_contract(fake, gold, webhook):
    old = gold.futures_symbol
    fake.set_fault("placeorder", "reject", count=None, symbol=old)
    rollover_run(position_id=gold.pk)
    fake.clear_faults()
    assert webhook.exit("GOLD_MINI", minute=2, price=72500).status_code == 202
    gold.refresh_from_db()
    assert gold.status == "closed" and Rollover.objects.get().phase == "cancelled"
    assert broker_orders(fake, old) == [("BUY", gold.quantity), ("SELL", gold.quantity)]
    assert not CapitalTransaction.objects.filter(kind="ROLLOVER_PNL").exists()


def test_an_exit_waits_for_a_rollover_leg_at_the_broker_then_sells_the_new_contract(fake, gold, webhook):
    new = new_symbol(gold)
    fake.set_price(new, 72400)
    fake.set_fault("placeorder", "pending", count=1, symbol=new)  # the open rests unfilled at the broker
    assert rollover_run(position_id=gold.pk)[0]["outcome"] == "waiting"
    assert webhook.exit("GOLD_MINI", minute=2, price=72500).status_code == 202
    exit_signal = SignalLog.objects.get(signal_type="EXIT")
    assert exit_signal.status == "accepted"  # the instrument's queue waits for the order in flight

    fake.fill_pending()
    assert [r["outcome"] for r in rollovers_resume(now=later(1))] == ["done"]
    run_executor("GOLD_MINI")
    exit_signal.refresh_from_db()
    gold.refresh_from_db()
    assert exit_signal.status == "executed" and gold.status == "closed"
    assert broker_orders(fake, new) == [("BUY", gold.quantity), ("SELL", gold.quantity)]
