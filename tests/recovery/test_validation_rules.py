"""Startup validation of held positions (pure rules, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from recovery.services.validation import PositionFacts, position_warnings

D = Decimal
TODAY = date(2026, 1, 20)
GOLD = PositionFacts(
    position_id=1, label="GOLD_MINI_Long_1", instrument="GOLD_MINI", futures=True, symbol_root="GOLDM",
    order_quantity_per_lot=1, lots=4, quantity=4, entry_price=D("72000"), initial_stop=D("71500"),
    current_stop=D("71800"), highest_close=D("72900"), expiry=date(2026, 2, 5), futures_symbol="GOLDM05FEB26FUT",
)
BANK = PositionFacts(
    position_id=2, label="BANK_NIFTY_Long_1", instrument="BANK_NIFTY", futures=False, symbol_root="BANKNIFTY",
    order_quantity_per_lot=30, lots=2, quantity=60, entry_price=D("52000"), initial_stop=D("51475"),
    current_stop=D("51475"), highest_close=D("52000"), expiry=date(2026, 2, 24), strike=52000,
    pe_symbol="BANKNIFTY24FEB2652000PE", ce_symbol="BANKNIFTY24FEB2652000CE",
)


def checks(facts, today=TODAY):
    return [w["check"] for w in position_warnings(facts, today=today)]


def test_healthy_positions_have_no_warnings():
    assert checks(GOLD) == [] and checks(BANK) == []


def test_a_trailing_stop_above_entry_is_normal():
    assert checks(replace(GOLD, current_stop=D("72500"), highest_close=D("73600"))) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"lots": 0, "quantity": 0}, ["lots_not_positive"]),
    ({"quantity": 5}, ["quantity_inconsistent"]),
    ({"initial_stop": D("-1"), "current_stop": D("-1")}, ["negative_stop"]),
    ({"initial_stop": D("72000")}, ["stop_above_entry"]),
    ({"current_stop": D("73000")}, ["stop_above_high"]),
    ({"entry_price": None}, ["entry_price_missing"]),
    ({"expiry": date(2026, 1, 19), "futures_symbol": "GOLDM19JAN26FUT"}, ["contract_expired"]),
    ({"futures_symbol": ""}, ["missing_symbols"]),
    ({"futures_symbol": "SILVERM05FEB26FUT"}, ["symbol_mismatch"]),
    ({"futures_symbol": "GOLDM05MAR26FUT"}, ["symbol_mismatch"]),
    ({"futures_symbol": "nonsense"}, ["symbol_mismatch"]),
])
def test_each_problem_is_named(change, expected):
    assert checks(replace(GOLD, **change)) == expected


def test_the_expiry_day_itself_is_not_expired():
    assert checks(GOLD, today=date(2026, 2, 5)) == []
    assert checks(GOLD, today=date(2026, 2, 6)) == ["contract_expired"]


def test_synthetic_legs_are_checked():
    assert checks(replace(BANK, ce_symbol="")) == ["missing_symbols"]
    assert checks(replace(BANK, ce_symbol="BANKNIFTY24FEB2652500CE")) == ["symbol_mismatch"]
    assert checks(replace(BANK, pe_symbol="BANKNIFTY24FEB2652000CE")) == ["symbol_mismatch"]
    warning = position_warnings(replace(BANK, lots=3), today=TODAY)[0]
    assert warning == {"check": "quantity_inconsistent", "position_id": 2, "label": "BANK_NIFTY_Long_1",
                       "instrument": "BANK_NIFTY", "detail": "quantity 60 is not lots 3 × 30"}
