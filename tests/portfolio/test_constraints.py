"""The database, not the code, is the final guard: each invariant rejects a violating row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from portfolio.models import CapitalTransaction, Holiday, Instrument, PortfolioState
from positions.models import OrderIntent
from tests.factories import make_position, make_signal

pytestmark = pytest.mark.django_db


def _violates(callable_) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_second_live_position_on_a_layer_is_refused():
    make_position("GOLD_MINI", layer=1, status="open")
    _violates(lambda: make_position("GOLD_MINI", layer=1, status="opening"))
    _violates(lambda: make_position("GOLD_MINI", layer=1, status="closing"))


def test_closed_and_failed_positions_free_the_layer():
    make_position("GOLD_MINI", layer=1, status="closed")
    make_position("GOLD_MINI", layer=1, status="failed")
    live = make_position("GOLD_MINI", layer=1, status="open")
    assert live.label == "GOLD_MINI_Long_1"


def test_duplicate_fingerprint_is_refused():
    first = make_signal()
    _violates(lambda: make_signal(fingerprint=first.fingerprint))


def test_second_portfolio_state_row_is_refused():
    PortfolioState.objects.create(initial_capital=1, closed_equity=1, equity_high=1)
    _violates(lambda: PortfolioState.objects.create(id=2, initial_capital=1, closed_equity=1, equity_high=1))


@pytest.mark.parametrize(
    "model_update",
    [
        lambda p, s: type(p).objects.filter(pk=p.pk).update(status="exploded"),
        lambda p, s: type(p).objects.filter(pk=p.pk).update(rollover_status="rolled"),
        lambda p, s: type(s).objects.filter(pk=s.pk).update(status="done"),
        lambda p, s: type(s).objects.filter(pk=s.pk).update(signal_type="SHORT_ENTRY"),
        lambda p, s: type(s).objects.filter(pk=s.pk).update(position="Long_7"),
    ],
    ids=["position-status", "rollover-status", "signal-status", "signal-type", "signal-position"],
)
def test_unknown_enum_values_are_refused(model_update):
    position, signal = make_position(), make_signal()
    _violates(lambda: model_update(position, signal))


def test_unknown_intent_status_is_refused():
    position = make_position()
    intent = OrderIntent.objects.create(
        client_order_id="pm-1", position=position, purpose="entry", leg="FUT", sequence=1,
        symbol="GOLDM05FEB26FUT", exchange="MCX", action="BUY", quantity=2,
    )
    _violates(lambda: OrderIntent.objects.filter(pk=intent.pk).update(status="LOST"))
    _violates(lambda: OrderIntent.objects.create(
        client_order_id="pm-1", position=position, purpose="entry", leg="FUT", sequence=2,
        symbol="GOLDM05FEB26FUT", exchange="MCX", action="BUY", quantity=2,
    ))


def test_position_rows_must_be_coherent():
    _violates(lambda: make_position(layer=2, is_base_position=True))
    _violates(lambda: make_position(layer=7))
    _violates(lambda: make_position(status="open", entry_price=None))
    _violates(lambda: make_position(futures_symbol=""))  # neither a futures symbol nor option legs


def test_ledger_rejects_broken_chain_and_second_pnl_booking():
    position = make_position(status="closed")
    entry = dict(kind="TRADING_PNL", amount=Decimal("100"), equity_before=Decimal("1000"),
                 equity_after=Decimal("1100"), position=position, created_by="t")
    CapitalTransaction.objects.create(**entry)
    _violates(lambda: CapitalTransaction.objects.create(**entry))  # one TRADING_PNL per position
    _violates(lambda: CapitalTransaction.objects.create(**{**entry, "kind": "DEPOSIT", "position": None,
                                                           "equity_after": Decimal("999")}))
    _violates(lambda: CapitalTransaction.objects.create(kind="WITHDRAW", amount=Decimal("5"), equity_before=0,
                                                        equity_after=Decimal("5"), created_by="t"))
    _violates(lambda: CapitalTransaction.objects.create(kind="TRADING_PNL", amount=1, equity_before=0,
                                                        equity_after=1, created_by="t"))


def test_holiday_unique_per_exchange_and_instrument_parameters_positive():
    Holiday.objects.create(exchange="MCX", date="2030-01-28")  # 2026 is seeded by a migration
    Holiday.objects.create(exchange="NFO", date="2030-01-28")
    _violates(lambda: Holiday.objects.create(exchange="MCX", date="2030-01-28"))
    _violates(lambda: Holiday.objects.create(exchange="NYSE", date="2030-01-29"))
    _violates(lambda: Holiday.objects.create(exchange="MCX", date="2030-01-30", closed="noon"))
    _violates(lambda: Instrument.objects.filter(code="COPPER").update(point_value=0))


def test_session_times_are_checked_by_the_database():
    from datetime import time

    from portfolio.models import ExchangeSession, SpecialSession

    _violates(lambda: ExchangeSession.objects.filter(exchange="NFO").update(closes=time(9, 0)))
    _violates(lambda: ExchangeSession.objects.filter(exchange="MCX").update(evening_opens=time(8, 0)))
    _violates(lambda: SpecialSession.objects.create(exchange="NFO", date="2030-02-03", opens=time(9, 15)))
    _violates(lambda: SpecialSession.objects.create(exchange="NFO", date="2030-02-03", opens=time(10),
                                                    closes=time(9)))


def test_seeded_instruments_match_the_design_table():
    rows = {i.code: i for i in Instrument.objects.all()}
    assert set(rows) == {"BANK_NIFTY", "GOLD_MINI", "SILVER_MINI", "COPPER"}
    bn, gold, silver, copper = rows["BANK_NIFTY"], rows["GOLD_MINI"], rows["SILVER_MINI"], rows["COPPER"]
    assert (bn.point_value, bn.margin_per_lot, bn.order_quantity_per_lot, bn.max_pyramids) == (30, 270000, 30, 5)
    assert (bn.initial_stop_atr_multiple, bn.trailing_stop_atr_multiple, bn.vol_percent) == (
        Decimal("1.5"), Decimal("2.5"), Decimal("0.5"))
    assert (gold.point_value, gold.margin_per_lot, gold.max_pyramids, gold.rollover_days) == (10, 105000, 3, 8)
    assert (silver.point_value, silver.margin_per_lot, silver.contract_month_numbers) == (5, 385000, (2, 4, 6, 8, 11))
    assert (copper.point_value, copper.margin_per_lot, copper.initial_stop_atr_multiple) == (2500, 300000, 3)
    assert {i.entry_roll_trading_days for i in rows.values()} == {5, 3, 8}


def test_ledger_high_is_never_below_equity_and_an_opening_balance_carries_one_once():
    opening = dict(kind="OPENING_BALANCE", amount=Decimal("100"), equity_before=0, equity_after=Decimal("100"),
                   created_by="t")
    _violates(lambda: CapitalTransaction.objects.create(**opening))  # no carried high
    _violates(lambda: CapitalTransaction.objects.create(**opening, equity_high_after=Decimal("99")))  # below closed
    _violates(lambda: CapitalTransaction.objects.create(kind="DEPOSIT", amount=2, equity_before=0, equity_after=2,
                                                        equity_high_after=1, created_by="t"))  # a high below equity
    CapitalTransaction.objects.create(**opening, equity_high_after=Decimal("150"))
    _violates(lambda: CapitalTransaction.objects.create(**{**opening, "equity_before": Decimal("100"),
                                                           "equity_after": Decimal("200")},
                                                        equity_high_after=Decimal("200")))  # a second one


def test_a_legacy_campaign_layer_is_imported_once():
    make_position("GOLD_MINI", layer=1, status="closed", legacy_key="GOLD_MINI_Long_1@2026-11-09T11:00:00")
    _violates(lambda: make_position("GOLD_MINI", layer=1, status="open",
                                    legacy_key="GOLD_MINI_Long_1@2026-11-09T11:00:00"))
    make_position("GOLD_MINI", layer=2, status="open")
    make_position("GOLD_MINI", layer=3, status="open")  # our own positions: legacy_key empty, never unique
