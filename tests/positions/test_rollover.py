"""Rollovers over real 2026 dates (DESIGN §8, §15.2), with time travel, the shipped holiday lists and
the paper broker: each position rolls inside its window, leg by leg, its P&L booked once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from portfolio.calendar_services import holidays_import
from portfolio.models import CapitalTransaction, TradingStatistics
from portfolio.selectors import instrument_params
from positions.calendars import next_expiry
from positions.models import OrderIntent, PaperOrder, Position, Rollover
from positions.selectors import trading_calendar
from positions.services.rollover_run import rollover_run
from recovery.jobs import job_run
from signals.models import SignalLog
from tests import payloads
from tests.conftest import Webhook

IST = timezone.get_fixed_timezone(330)


@pytest.fixture
def hook(client):
    return Webhook(client, timezone.now())


@pytest.fixture
def sessions(live_portfolio, settings):
    settings.PM_MARKET_SESSIONS = True


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST)


def post(hook: Webhook, payload: dict) -> SignalLog:
    response = hook.post(payload)
    assert response.status_code == 202, response.content
    return SignalLog.objects.get(pk=response.json()["signal_id"])


def open_position(hook: Webhook, moment: datetime, **entry) -> Position:
    with time_machine.travel(moment, tick=True):
        signal = post(hook, payloads.entry(timestamp=moment - timedelta(minutes=1), **entry))
    assert signal.status == "executed", signal.result
    return Position.objects.get(status="open", instrument_id=entry.get("instrument", "GOLD_MINI"))


def mark(hook: Webhook, moment: datetime, *, instrument: str, price, atr=500) -> None:
    with time_machine.travel(moment, tick=True):
        post(hook, payloads.bar(instrument=instrument, price=price, atr=atr, timestamp=moment - timedelta(minutes=1)))


def roll(moment: datetime, **kwargs) -> list[dict]:
    with time_machine.travel(moment, tick=True):
        return rollover_run(**kwargs)


def orders() -> list[tuple[str, str, int]]:
    return list(PaperOrder.objects.order_by("id").values_list("action", "symbol", "quantity"))


def test_gold_mini_rolls_from_february_to_march_inside_its_window(sessions, hook, leader):
    position = open_position(hook, at(date(2026, 1, 20), 11), instrument="GOLD_MINI", price=72000, stop=71000,
                             atr=500)
    assert (position.futures_symbol, position.expiry) == ("GOLDM05FEB26FUT", date(2026, 2, 5))
    entry_price, lots = position.entry_price, position.lots
    before = orders()

    mark(hook, at(date(2026, 1, 28), 10), instrument="GOLD_MINI", price=72600)
    assert roll(at(date(2026, 1, 28), 10, 5)) == []  # 8 days to expiry: not yet inside the 8-day window

    mark(hook, at(date(2026, 1, 29), 10), instrument="GOLD_MINI", price=72800)
    position.refresh_from_db()
    stop, highest = position.current_stop, position.highest_close
    with time_machine.travel(at(date(2026, 1, 29), 10, 5), tick=True):
        assert job_run(name="roll_positions", epoch=leader.epoch)["ran"] == "roll_positions"
    assert orders()[len(before):] == [("SELL", "GOLDM05FEB26FUT", lots), ("BUY", "GOLDM05MAR26FUT", lots)]

    position.refresh_from_db()
    assert (position.futures_symbol, position.expiry, position.rollover_status) == (
        "GOLDM05MAR26FUT", date(2026, 3, 5), "none")
    assert (position.original_expiry, position.original_entry_price) == (date(2026, 2, 5), entry_price)
    assert (position.current_stop, position.highest_close, position.rollover_count) == (stop, highest, 1)
    assert position.entry_price == Decimal("72800")  # the new contract's fill
    pnl = (Decimal("72800") - entry_price) * lots * 10
    booked = CapitalTransaction.objects.filter(kind="ROLLOVER_PNL", position=position)
    assert list(booked.values_list("amount", "rollover_number")) == [(pnl, 1)]
    assert position.rollover_pnl == pnl
    record = Rollover.objects.get()
    assert (record.phase, record.pnl, record.close_price, record.open_price) == ("done", pnl, 72800, 72800)
    assert [s["step"] for s in record.steps] == ["planned", "old_contract_closed", "new_contract_opened"]
    assert TradingStatistics.objects.get().rollovers == 1

    # The new contract is 35 days out: later runs leave it alone, and nothing is booked twice.
    assert roll(at(date(2026, 1, 29), 10, 20)) == []
    assert booked.count() == 1 and PaperOrder.objects.count() == len(before) + 2


def test_bank_nifty_rolls_to_the_next_monthly_expiry_at_the_new_atm_strike_with_four_legs(sessions, hook):
    position = open_position(hook, at(date(2026, 4, 10), 11), instrument="BANK_NIFTY", price=52000, stop=51300,
                             atr=350, er=0.8)
    assert (position.ce_symbol, position.pe_symbol) == ("BANKNIFTY28APR2652000CE", "BANKNIFTY28APR2652000PE")
    quantity, before = position.quantity, orders()

    mark(hook, at(date(2026, 4, 22), 10), instrument="BANK_NIFTY", price=53040, atr=350)
    report = roll(at(date(2026, 4, 22), 10, 5))
    assert [entry["outcome"] for entry in report] == ["done"]
    assert orders()[len(before):] == [
        ("BUY", "BANKNIFTY28APR2652000PE", quantity), ("SELL", "BANKNIFTY28APR2652000CE", quantity),
        ("BUY", "BANKNIFTY26MAY2653000CE", quantity), ("SELL", "BANKNIFTY26MAY2653000PE", quantity),
    ]
    position.refresh_from_db()
    assert (position.strike, position.expiry, position.original_strike) == (53000, date(2026, 5, 26), 52000)
    assert (position.ce_symbol, position.pe_symbol) == ("BANKNIFTY26MAY2653000CE", "BANKNIFTY26MAY2653000PE")
    assert position.entry_price == 53000 + position.ce_entry_price - position.pe_entry_price
    assert CapitalTransaction.objects.filter(kind="ROLLOVER_PNL", position=position).count() == 1


def test_silver_mini_rolls_across_its_bimonthly_gap(sessions, hook):
    position = open_position(hook, at(date(2026, 4, 6), 11), instrument="SILVER_MINI", price=90000, stop=88500,
                             atr=900)
    assert position.futures_symbol == "SILVERM30APR26FUT"
    mark(hook, at(date(2026, 4, 23), 11), instrument="SILVER_MINI", price=91000, atr=900)
    assert [e["outcome"] for e in roll(at(date(2026, 4, 23), 11, 5))] == ["done"]
    position.refresh_from_db()
    assert (position.futures_symbol, position.expiry) == ("SILVERM30JUN26FUT", date(2026, 6, 30))  # May is skipped


def test_a_holiday_imported_on_the_expiry_day_moves_the_expiry_and_the_rollover_day(sessions, hook):
    position = open_position(hook, at(date(2026, 1, 20), 11), instrument="GOLD_MINI", price=72000, stop=71000)
    mark(hook, at(date(2026, 1, 28), 10), instrument="GOLD_MINI", price=72600)
    assert roll(at(date(2026, 1, 28), 10, 5)) == []  # 5 Feb is 8 days away

    holidays_import(text="exchange,date,description\nMCX,2026-02-05,Exchange holiday (test)\n", actor="test",
                    source="test")
    # The contract now expires on 4 Feb, 7 days away: inside the window.
    assert [e["outcome"] for e in roll(at(date(2026, 1, 28), 10, 10))] == ["done"]
    position.refresh_from_db()
    assert position.original_expiry == date(2026, 2, 5) and position.futures_symbol == "GOLDM05MAR26FUT"
    # The calendar now moves the February contract's expiry for everyone (new entries included).
    assert next_expiry(params=instrument_params(position.instrument), on_or_after=date(2026, 1, 6),
                       calendar=trading_calendar("MCX")) == date(2026, 2, 4)


def test_no_rollover_outside_the_session_and_none_of_a_position_far_from_expiry(sessions, hook):
    position = open_position(hook, at(date(2026, 4, 10), 11), instrument="BANK_NIFTY", price=52000, stop=51300,
                             atr=350, er=0.8)
    mark(hook, at(date(2026, 4, 22), 10), instrument="BANK_NIFTY", price=52000, atr=350)
    report = roll(at(date(2026, 4, 22), 16, 0))  # NSE closed at 15:30
    assert [(e["outcome"], e["reason"]) for e in report] == [("skipped", "market_closed")]
    assert not Rollover.objects.exists()
    assert roll(at(date(2026, 4, 13), 10)) == []  # 15 days out
    position.refresh_from_db()
    assert position.rollover_count == 0


def test_dry_run_says_what_would_roll_and_writes_nothing(sessions, hook):
    open_position(hook, at(date(2026, 1, 20), 11), instrument="GOLD_MINI", price=72000, stop=71000)
    mark(hook, at(date(2026, 1, 30), 10), instrument="GOLD_MINI", price=72600)
    before = orders()
    [plan] = roll(at(date(2026, 1, 30), 10, 5), dry_run=True)
    assert (plan["outcome"], plan["old"], plan["new"]) == ("would_roll", ["GOLDM05FEB26FUT"], ["GOLDM05MAR26FUT"])
    assert orders() == before and not Rollover.objects.exists()
    assert not OrderIntent.objects.filter(rollover__isnull=False).exists()


def test_rollovers_run_while_trading_is_paused_and_the_instrument_is_halted(sessions, hook):
    from portfolio.services import trading_pause
    from reconciliation.models import Discrepancy

    position = open_position(hook, at(date(2026, 1, 20), 11), instrument="GOLD_MINI", price=72000, stop=71000)
    trading_pause(reason="holiday week", actor="ops")
    Discrepancy.objects.create(kind="mismatch", symbol=position.futures_symbol, exchange="MCX",
                               instrument_id="GOLD_MINI", expected_quantity=position.quantity, broker_quantity=0)
    mark(hook, at(date(2026, 1, 30), 10), instrument="GOLD_MINI", price=72600)
    assert [e["outcome"] for e in roll(at(date(2026, 1, 30), 10, 5))] == ["done"]
    position.refresh_from_db()
    assert position.futures_symbol == "GOLDM05MAR26FUT"
