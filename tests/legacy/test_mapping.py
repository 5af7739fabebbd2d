"""Legacy rows → our values (legacy/mapping.py), without a database."""

from __future__ import annotations

import importlib
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from legacy.mapping import InstrumentSpec, Unmappable, legacy_limiter, map_position
from legacy.state import map_portfolio, map_pyramiding
from portfolio.models import Instrument
from portfolio.selectors import instrument_params

D = Decimal
IST = ZoneInfo("Asia/Kolkata")
SEED = importlib.import_module("portfolio.migrations.0003_seed_instruments").INSTRUMENTS
SPECS = {values["code"]: InstrumentSpec(instrument_params(Instrument(**values)), values["lot_size"]) for values in SEED}


def gold(**fields) -> dict:
    row = dict(position_id="GOLD_MINI_Long_2", instrument="GOLD_MINI", status="open",
               entry_timestamp=datetime(2026, 11, 13, 15, 0), entry_price=D("138450.00"), lots=2, quantity=2,
               initial_stop=D("136950.00"), current_stop=D("137600.00"), highest_close=D("139300.00"),
               futures_symbol="GOLDM05JAN27FUT", expiry="05JAN27", contract_month=None, atr=D("1500.00"),
               limiter="geometric_0.5^0", is_base_position=False, rollover_status="none", rollover_count=0,
               rollover_pnl=D("0"), is_test=False)
    row.update(fields)
    return row


def bank_nifty(**fields) -> dict:
    row = dict(position_id="BANK_NIFTY_Long_1", instrument="BANK_NIFTY", status="open",
               entry_timestamp=datetime(2026, 11, 16, 10, 15), entry_price=D("59480.00"), lots=2, quantity=60,
               initial_stop=D("58955.00"), current_stop=D("59210.50"), highest_close=D("60120.00"), strike=59500,
               expiry="29DEC26", pe_symbol="BANKNIFTY29DEC2659500PE", ce_symbol="BANKNIFTY29DEC2659500CE",
               pe_entry_price=D("412.35"), ce_entry_price=D("398.10"), atr=D("350.00"), limiter="risk",
               is_base_position=True)
    row.update(fields)
    return row


def reasons(row: dict) -> str:
    with pytest.raises(Unmappable) as caught:
        map_position(row, specs=SPECS)
    return str(caught.value)


def test_a_gold_pyramid_maps_to_our_open_position():
    mapped = map_position(gold(), specs=SPECS)
    v = mapped.values
    assert (mapped.instrument, mapped.layer, v["label"], v["is_base_position"], v["status"]) == (
        "GOLD_MINI", 2, "GOLD_MINI_Long_2", False, "open")
    assert (v["lots"], v["quantity"], v["entry_price"], v["signal_price"]) == (2, 2, D("138450"), D("138450"))
    assert (v["initial_stop"], v["current_stop"], v["highest_close"], v["entry_atr"]) == (
        D("136950"), D("137600"), D("139300"), D("1500"))
    assert (v["expiry"], v["futures_symbol"], v["pe_symbol"], v["strike"]) == (
        date(2027, 1, 5), "GOLDM05JAN27FUT", "", None)
    assert v["limiter"] == "geometric"
    assert v["opened_at"] == datetime(2026, 11, 13, 15, 0, tzinfo=IST)  # naive legacy time is IST
    assert v["legacy_key"] == mapped.legacy_key == "GOLD_MINI_Long_2@2026-11-13T15:00:00"
    assert (v["risk_at_entry"], v["vol_at_entry"]) == (D("30000.00"), D("30000.00"))  # 1500 × 2 × 10
    assert mapped.warnings == []


def test_a_bank_nifty_synthetic_keeps_its_legs_and_books_the_synthetic_entry():
    mapped = map_position(bank_nifty(), specs=SPECS)
    v = mapped.values
    assert (v["pe_symbol"], v["ce_symbol"], v["strike"], v["expiry"]) == (
        "BANKNIFTY29DEC2659500PE", "BANKNIFTY29DEC2659500CE", 59500, date(2026, 12, 29))
    assert (v["pe_entry_price"], v["ce_entry_price"], v["quantity"]) == (D("412.35"), D("398.10"), 60)
    assert (v["entry_price"], v["signal_price"]) == (D("59485.75"), D("59480.00"))  # 59500 + 398.10 − 412.35
    assert v["futures_symbol"] == "" and v["is_base_position"]
    assert any("bug #38" in w for w in mapped.warnings)


def test_the_yymondd_expiry_and_missing_symbol_atr_and_lot_size_quantity_are_interpreted():
    mapped = map_position(gold(position_id="GOLD_MINI_Long_1", is_base_position=True, futures_symbol=None,
                               expiry="27JAN05", atr=None, quantity=200), specs=SPECS)
    v = mapped.values
    assert (v["expiry"], v["futures_symbol"], v["quantity"]) == (date(2027, 1, 5), "GOLDM05JAN27FUT", 2)
    assert v["entry_atr"] == D("1500")  # (138450 − 136950) / 1.0
    text = " | ".join(mapped.warnings)
    assert "bug #30" in text and "bug #42" in text and "atr is empty" in text


def test_a_contract_month_alone_gives_the_expiry_by_the_instrument_rule():
    mapped = map_position(gold(futures_symbol="", expiry=None, contract_month="JAN27"), specs=SPECS)
    assert (mapped.values["expiry"], mapped.values["futures_symbol"]) == (date(2027, 1, 5), "GOLDM05JAN27FUT")


def test_the_symbol_wins_over_a_disagreeing_expiry_text_and_strike_column():
    mapped = map_position(bank_nifty(expiry="2026-12-22", strike=659500), specs=SPECS)
    assert (mapped.values["expiry"], mapped.values["strike"]) == (date(2026, 12, 29), 59500)
    text = " | ".join(mapped.warnings)
    assert "not a last_tuesday expiry" in text and "the symbol says the expiry" in text and "bug #7" in text
    stale = map_position(gold(expiry="05DEC26"), specs=SPECS)  # a readable but different expiry
    assert stale.values["expiry"] == date(2027, 1, 5)
    assert any("disagrees with GOLDM05JAN27FUT" in w for w in stale.warnings)


@pytest.mark.parametrize(("status", "note"), [("closing", "in flight"), ("partial", "partly filled")])
def test_closing_and_partial_positions_are_imported_open_with_a_warning(status, note):
    mapped = map_position(gold(status=status), specs=SPECS)
    assert mapped.values["status"] == "open"
    assert any(note in w for w in mapped.warnings)


def test_a_legacy_rollover_state_is_reset_with_a_warning():
    mapped = map_position(gold(rollover_status="rolled", rollover_count=1, original_expiry="05DEC26",
                               original_entry_price=D("137000")), specs=SPECS)
    v = mapped.values
    assert (v["rollover_status"], v["rollover_count"], v["original_expiry"]) == ("none", 1, date(2026, 12, 5))
    assert any("bug #33" in w for w in mapped.warnings)


def test_an_id_without_the_instrument_prefix_is_understood():
    mapped = map_position(gold(position_id="Long_2"), specs=SPECS)
    assert mapped.values["label"] == "GOLD_MINI_Long_2"
    assert any("bug #13" in w for w in mapped.warnings)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"instrument": "NIFTY"}, "instrument 'NIFTY' is not one of ours"),
    ({"position_id": "manual_gold_20251205_1540"}, "is not GOLD_MINI_Long_1..6"),
    ({"position_id": "SILVER_MINI_Long_2"}, "names another instrument"),
    ({"is_test": True}, "test-mode position"),
    ({"lots": 0}, "lots 0 must be a number above 0"),
    ({"quantity": 7}, "quantity 7 is neither lots × 1 nor lots × lot size 100"),
    ({"initial_stop": D("138450")}, "initial_stop 138450 is not below the entry price"),
    ({"entry_timestamp": None}, "entry_timestamp is empty"),
    ({"futures_symbol": "SILVERM26FEB27FUT"}, "is not a GOLDM FUT contract"),
    ({"futures_symbol": None, "expiry": "NEXTMONTH"}, "expiry 'NEXTMONTH' is in no format"),
    ({"futures_symbol": None, "expiry": None}, "no contract"),
    ({"futures_symbol": None, "expiry": "05MAR26"}, "not within 120 days after the entry on 2026-11-13"),
    ({"futures_symbol": None, "expiry": "2027-01-12"}, "not a fifth expiry"),
])
def test_an_unmappable_gold_row_is_refused_with_the_reason(fields, reason):
    assert reason in reasons(gold(**fields))


@pytest.mark.parametrize(("fields", "reason"), [
    ({"pe_entry_price": None}, "pe_entry_price is empty"),
    ({"ce_symbol": ""}, "only one option leg symbol"),
    ({"ce_symbol": "BANKNIFTY29DEC2660000CE"}, "are not one strike and expiry"),
    ({"pe_symbol": None, "ce_symbol": None, "strike": None}, "no contract"),
])
def test_an_unmappable_bank_nifty_row_is_refused_with_the_reason(fields, reason):
    assert reason in reasons(bank_nifty(**fields))


def test_every_problem_of_a_row_is_reported_at_once():
    text = reasons(gold(lots=None, current_stop=D("-1"), futures_symbol=None, expiry="garbage"))
    assert "lots is empty" in text and "current_stop -1" in text and "'garbage'" in text


def test_bank_nifty_legs_can_be_rebuilt_from_strike_and_expiry():
    mapped = map_position(bank_nifty(pe_symbol=None, ce_symbol=None), specs=SPECS)
    assert (mapped.values["pe_symbol"], mapped.values["ce_symbol"]) == (
        "BANKNIFTY29DEC2659500PE", "BANKNIFTY29DEC2659500CE")


@pytest.mark.parametrize(("legacy", "ours"), [
    ("risk", "risk"), ("margin", "margin"), ("geometric_0.5^2", "geometric"), ("risk_budget", "risk_budget"),
    ("test_mode_min", "legacy"), (None, "legacy"),
])
def test_legacy_limiters_take_our_names(legacy, ours):
    assert legacy_limiter(legacy) == ours


# --- portfolio -------------------------------------------------------------------------------------

LEDGER = [
    {"id": 1, "transaction_type": "DEPOSIT", "amount": D("5000000"), "equity_after": D("5000000")},
    {"id": 2, "transaction_type": "TRADING_PNL", "amount": D("184500"), "equity_after": D("5184500")},
    {"id": 3, "transaction_type": "WITHDRAW", "amount": D("200000"), "equity_after": D("4984500")},  # pre-013: positive
]


def test_portfolio_values_are_the_legacy_state_row_with_the_ledger_cross_checked():
    mapped = map_portfolio({"initial_capital": D("5000000"), "closed_equity": D("4984500"),
                            "equity_high": D("5184500")}, LEDGER)
    assert (mapped.initial_capital, mapped.closed_equity, mapped.equity_high) == (
        D("5000000"), D("4984500"), D("5184500"))
    assert mapped.ledger["by_type"]["WITHDRAW"] == {"count": 1, "sum": "-200000"}
    assert mapped.ledger["sum"] == "4984500"
    assert mapped.ledger["equity_high_by_our_rule"] == "4984500"  # the withdrawal lowers ours (bug #47)
    assert len(mapped.warnings) == 1 and "bug #47" in mapped.warnings[0]


def test_a_missing_or_lagging_high_water_mark_falls_back_to_closed_equity():
    missing = map_portfolio({"initial_capital": 1, "closed_equity": D("4984500"), "equity_high": None}, [])
    assert missing.equity_high == D("4984500") and "migration 015" in missing.warnings[0]
    below = map_portfolio({"initial_capital": 1, "closed_equity": D("4984500"), "equity_high": D("4000000")}, [])
    assert below.equity_high == D("4984500") and "bugs #40, #47" in below.warnings[0]


def test_a_ledger_that_disagrees_with_the_state_row_is_reported():
    mapped = map_portfolio({"initial_capital": 1, "closed_equity": D("4990000"), "equity_high": D("5184500")}, LEDGER)
    assert any("A5.4" in w for w in mapped.warnings)


def test_a_missing_state_row_is_unmappable():
    with pytest.raises(Unmappable, match="no row id = 1"):
        map_portfolio(None, [])


# --- pyramiding ------------------------------------------------------------------------------------


def test_pyramiding_takes_the_open_base_and_the_last_entry_price():
    base = map_position(gold(position_id="GOLD_MINI_Long_1", is_base_position=True,
                             entry_timestamp=datetime(2026, 11, 9, 11)), specs=SPECS)
    pyramid = map_position(gold(), specs=SPECS)
    [mapped] = map_pyramiding([{"instrument": "GOLD_MINI", "last_pyramid_price": D("139420"),
                                "base_position_id": "GOLD_MINI_Long_1"}], [base, pyramid])
    assert (mapped.base_legacy_key, mapped.last_pyramid_price, mapped.warnings) == (base.legacy_key, D("139420"), [])
    [derived] = map_pyramiding([], [base, pyramid])
    assert derived.last_pyramid_price == D("138450") and "last_pyramid_price is empty" in derived.warnings[1]
    [baseless] = map_pyramiding([{"instrument": "GOLD_MINI", "last_pyramid_price": D("1"),
                                  "base_position_id": "GOLD_MINI_Long_1"}], [pyramid])
    assert baseless.base_legacy_key is None and "is not open" in baseless.warnings[0]
