"""Broker symbols and the ATM strike (DESIGN §7; domain-notes §2.3, §2.5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from positions.calendars import TradingCalendar, expiry_for_month
from positions.symbols import (
    ParsedSymbol,
    atm_strike,
    format_expiry,
    futures_symbol,
    option_symbol,
    parse_symbol,
)
from tests.rules_fixtures import ALL_INSTRUMENTS, BANK_NIFTY

D = Decimal


def every_expiry_2025_2030(params):
    return [
        expiry_for_month(rule=params.expiry_rule, year=year, month=month, calendar=TradingCalendar())
        for year in range(2025, 2031)
        for month in params.contract_months
    ]


@pytest.mark.parametrize(
    ("day", "code"),
    [(date(2026, 1, 5), "05JAN26"), (date(2025, 12, 30), "30DEC25"), (date(2026, 2, 27), "27FEB26")],
)
def test_format_expiry(day, code):
    assert format_expiry(day) == code


def test_futures_symbols():
    assert futures_symbol(root="GOLDM", expiry=date(2026, 1, 5)) == "GOLDM05JAN26FUT"
    assert futures_symbol(root="SILVERM", expiry=date(2026, 2, 27)) == "SILVERM27FEB26FUT"
    assert futures_symbol(root="COPPER", expiry=date(2025, 12, 31)) == "COPPER31DEC25FUT"


def test_option_symbols():
    assert option_symbol(root="BANKNIFTY", expiry=date(2025, 12, 30), strike=60000, option_type="PE") == (
        "BANKNIFTY30DEC2560000PE"
    )
    assert option_symbol(root="BANKNIFTY", expiry=date(2025, 12, 30), strike=60000, option_type="CE") == (
        "BANKNIFTY30DEC2560000CE"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"root": "BANK NIFTY", "strike": 60000, "option_type": "PE"},
        {"root": "banknifty", "strike": 60000, "option_type": "PE"},
        {"root": "BANKNIFTY", "strike": 0, "option_type": "PE"},
        {"root": "BANKNIFTY", "strike": D("60000"), "option_type": "PE"},
        {"root": "BANKNIFTY", "strike": 60000, "option_type": "XE"},
    ],
)
def test_bad_option_symbol_parts_are_refused(arguments):
    with pytest.raises(ValueError):
        option_symbol(expiry=date(2025, 12, 30), **arguments)


def test_bug_7_strike_is_not_swallowing_the_year():
    parsed = parse_symbol("BANKNIFTY27JAN2660000CE")
    assert parsed == ParsedSymbol(root="BANKNIFTY", expiry=date(2026, 1, 27), kind="CE", strike=60000)


def test_parse_futures_symbol():
    expected = ParsedSymbol(root="GOLDM", expiry=date(2026, 1, 5), kind="FUT", strike=None)
    assert parse_symbol("GOLDM05JAN26FUT") == expected
    assert parse_symbol("BANKNIFTY30DEC2560000PE").kind == "PE"


@pytest.mark.parametrize(
    "text",
    [
        "", "GOLDM", "GOLDM05JAN26", "GOLDM05XYZ26FUT", "GOLDM31FEB26FUT", "GOLDM5JAN26FUT",
        "05JAN26FUT", "goldm05jan26fut", "GOLDM05JAN26FUTX", " GOLDM05JAN26FUT",
        "BANKNIFTY27JAN26CE", "BANKNIFTY27JAN2600000CE", "BANKNIFTY27JAN2660000XE",
        "BANKNIFTY 27JAN26 60000 CE", "GOLDM٠٥JAN26FUT", None, 60000,
    ],
)
def test_garbage_is_not_a_symbol(text):
    with pytest.raises(ValueError):
        parse_symbol(text)


@pytest.mark.parametrize("params", ALL_INSTRUMENTS, ids=lambda p: p.code)
def test_every_futures_symbol_2025_2030_round_trips(params):
    for expiry in every_expiry_2025_2030(params):
        parsed = parse_symbol(futures_symbol(root=params.symbol_root, expiry=expiry))
        assert parsed == ParsedSymbol(root=params.symbol_root, expiry=expiry, kind="FUT", strike=None)


@given(
    expiry=st.sampled_from(every_expiry_2025_2030(BANK_NIFTY)),
    strike=st.integers(min_value=1, max_value=10_000_000),
    option_type=st.sampled_from(["PE", "CE"]),
)
def test_every_bank_nifty_option_symbol_2025_2030_round_trips(expiry, strike, option_type):
    text = option_symbol(root=BANK_NIFTY.symbol_root, expiry=expiry, strike=strike, option_type=option_type)
    assert parse_symbol(text) == ParsedSymbol(root="BANKNIFTY", expiry=expiry, kind=option_type, strike=strike)


@given(
    root=st.sampled_from([p.symbol_root for p in ALL_INSTRUMENTS]),
    expiry=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
)
def test_any_date_round_trips_in_a_futures_symbol(root, expiry):
    assert parse_symbol(futures_symbol(root=root, expiry=expiry)).expiry == expiry


@pytest.mark.parametrize(
    ("price", "strike"),
    [
        (D("50347"), 50500),
        (D("50750"), 51000),
        (D("50250"), 50000),
        (D("59740"), 59500),
        (D("59760"), 60000),
        (D("51250"), 51000),
        (D("51750"), 52000),
        (D("50249.95"), 50000),
        (D("50250.05"), 50500),
        (52000, 52000),
    ],
)
def test_atm_strike_nearest_500_with_ties_to_the_1000(price, strike):
    assert atm_strike(price=price) == strike


def test_atm_strike_with_another_step():
    assert atm_strike(price=D("24150"), step=100) == 24200
    assert atm_strike(price=D("24050"), step=100) == 24000


@pytest.mark.parametrize("price", [D("0"), D("-100")])
def test_atm_strike_refuses_non_positive_prices(price):
    with pytest.raises(ValueError):
        atm_strike(price=price)


@given(st.decimals(min_value=1, max_value=500_000, places=2))
def test_atm_strike_is_a_nearest_multiple(price):
    strike = atm_strike(price=price)
    assert strike % 500 == 0
    assert abs(price - strike) <= 250
    if abs(price - strike) == 250:
        assert strike % 1000 == 0
