"""Trading days, expiries, entry contract and rollover candidacy over real 2026 dates (DESIGN §8)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from positions.calendars import (
    TradingCalendar,
    days_to_expiry,
    entry_contract_expiry,
    expiry_for_month,
    following_expiry,
    is_rollover_candidate,
    next_expiry,
)
from tests.rules_fixtures import ALL_INSTRUMENTS, BANK_NIFTY, COPPER, GOLD_MINI, SILVER_MINI

NO_HOLIDAYS = TradingCalendar()
REPUBLIC_DAY_2026 = date(2026, 1, 26)  # a Monday, an NSE holiday


def expiries_2026(params, calendar=NO_HOLIDAYS):
    return [
        expiry_for_month(rule=params.expiry_rule, year=2026, month=month, calendar=calendar)
        for month in params.contract_months
    ]


# --- trading days ---------------------------------------------------------------------------------


def test_weekends_and_holidays_are_not_trading_days():
    calendar = TradingCalendar(frozenset({REPUBLIC_DAY_2026}))
    assert calendar.is_trading_day(date(2026, 1, 23))  # Friday
    assert not calendar.is_trading_day(date(2026, 1, 24))  # Saturday
    assert not calendar.is_trading_day(date(2026, 1, 25))  # Sunday
    assert not calendar.is_trading_day(REPUBLIC_DAY_2026)
    assert NO_HOLIDAYS.is_trading_day(REPUBLIC_DAY_2026)


def test_previous_and_next_trading_day_skip_weekend_and_holiday():
    calendar = TradingCalendar(frozenset({REPUBLIC_DAY_2026}))
    assert calendar.previous_trading_day(REPUBLIC_DAY_2026) == date(2026, 1, 23)
    assert calendar.next_trading_day(date(2026, 1, 24)) == date(2026, 1, 27)
    assert calendar.previous_trading_day(date(2026, 1, 27)) == date(2026, 1, 27)
    assert calendar.next_trading_day(date(2026, 1, 27)) == date(2026, 1, 27)


def test_trading_days_between_excludes_both_ends_weekends_and_holidays():
    calendar = TradingCalendar(frozenset({REPUBLIC_DAY_2026}))
    assert calendar.trading_days_between(date(2026, 1, 16), date(2026, 1, 27)) == 5  # 19–23 Jan
    assert NO_HOLIDAYS.trading_days_between(date(2026, 1, 16), date(2026, 1, 27)) == 6
    assert NO_HOLIDAYS.trading_days_between(date(2026, 1, 27), date(2026, 1, 28)) == 0
    assert NO_HOLIDAYS.trading_days_between(date(2026, 1, 27), date(2026, 1, 27)) == 0
    assert NO_HOLIDAYS.trading_days_between(date(2026, 1, 28), date(2026, 1, 20)) == 0


# --- expiries over real 2026 dates ----------------------------------------------------------------


def test_bank_nifty_2026_expiries_are_last_tuesdays():
    assert expiries_2026(BANK_NIFTY) == [
        date(2026, 1, 27), date(2026, 2, 24), date(2026, 3, 31), date(2026, 4, 28),
        date(2026, 5, 26), date(2026, 6, 30), date(2026, 7, 28), date(2026, 8, 25),
        date(2026, 9, 29), date(2026, 10, 27), date(2026, 11, 24), date(2026, 12, 29),
    ]


def test_bug_32_bank_nifty_expiry_is_last_tuesday_not_wednesday():
    january = expiry_for_month(rule="last_tuesday", year=2026, month=1, calendar=NO_HOLIDAYS)
    assert january == date(2026, 1, 27) and january.weekday() == 1
    assert all(d.weekday() == 1 and (d + timedelta(days=7)).month != d.month for d in expiries_2026(BANK_NIFTY))


def test_gold_mini_2026_expiries_are_the_5th_moved_back_off_weekends():
    assert expiries_2026(GOLD_MINI) == [
        date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5),
        date(2026, 4, 3),  # 5 Apr is a Sunday
        date(2026, 5, 5), date(2026, 6, 5),
        date(2026, 7, 3),  # 5 Jul is a Sunday
        date(2026, 8, 5),
        date(2026, 9, 4),  # 5 Sep is a Saturday
        date(2026, 10, 5), date(2026, 11, 5),
        date(2026, 12, 4),  # 5 Dec is a Saturday
    ]


def test_silver_mini_2026_expiries_are_bimonthly_last_days():
    assert expiries_2026(SILVER_MINI) == [
        date(2026, 2, 27),  # 28 Feb is a Saturday
        date(2026, 4, 30), date(2026, 6, 30), date(2026, 8, 31), date(2026, 11, 30),
    ]


def test_copper_2026_expiries_are_last_days_moved_back_off_weekends():
    assert expiries_2026(COPPER) == [
        date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 31), date(2026, 4, 30),
        date(2026, 5, 29), date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31),
        date(2026, 9, 30), date(2026, 10, 30), date(2026, 11, 30), date(2026, 12, 31),
    ]


def test_a_holiday_on_the_last_tuesday_moves_the_expiry_to_monday():
    calendar = TradingCalendar(frozenset({date(2026, 3, 31)}))
    assert expiry_for_month(rule="last_tuesday", year=2026, month=3, calendar=calendar) == date(2026, 3, 30)


def test_a_holiday_before_a_weekend_expiry_moves_it_further_back():
    calendar = TradingCalendar(frozenset({date(2026, 4, 3), date(2026, 4, 2)}))  # Good Friday and the day before
    assert expiry_for_month(rule="fifth", year=2026, month=4, calendar=calendar) == date(2026, 4, 1)


def test_unknown_expiry_rule_is_refused():
    with pytest.raises(ValueError):
        expiry_for_month(rule="last_thursday", year=2026, month=1, calendar=NO_HOLIDAYS)


# --- next / following expiry ----------------------------------------------------------------------


def test_bug_31_expiry_is_a_date_and_days_to_expiry_are_real_days():
    expiry = next_expiry(params=BANK_NIFTY, on_or_after=date(2026, 1, 20), calendar=NO_HOLIDAYS)
    assert type(expiry) is date and expiry == date(2026, 1, 27)
    assert days_to_expiry(expiry=expiry, today=date(2026, 1, 20)) == 7  # not 1827 (2027-01-26)


def test_next_expiry_on_the_expiry_day_is_that_day():
    assert next_expiry(params=BANK_NIFTY, on_or_after=date(2026, 1, 27), calendar=NO_HOLIDAYS) == date(2026, 1, 27)
    assert next_expiry(params=BANK_NIFTY, on_or_after=date(2026, 1, 28), calendar=NO_HOLIDAYS) == date(2026, 2, 24)


@pytest.mark.parametrize(
    ("on_or_after", "expected"),
    [
        (date(2026, 4, 2), date(2026, 4, 3)),
        (date(2026, 4, 3), date(2026, 4, 3)),
        (date(2026, 4, 4), date(2026, 5, 5)),  # the old "day ≤ 5 → this month" rule said April
        (date(2026, 4, 5), date(2026, 5, 5)),
    ],
)
def test_bug_37_gold_expiry_compares_against_the_shifted_date(on_or_after, expected):
    assert next_expiry(params=GOLD_MINI, on_or_after=on_or_after, calendar=NO_HOLIDAYS) == expected


def test_silver_next_expiry_skips_months_without_a_contract():
    assert next_expiry(params=SILVER_MINI, on_or_after=date(2026, 8, 31), calendar=NO_HOLIDAYS) == date(2026, 8, 31)
    assert next_expiry(params=SILVER_MINI, on_or_after=date(2026, 9, 1), calendar=NO_HOLIDAYS) == date(2026, 11, 30)
    assert next_expiry(params=SILVER_MINI, on_or_after=date(2026, 12, 1), calendar=NO_HOLIDAYS) == date(2027, 2, 26)


def test_following_expiry_is_the_next_contract():
    assert following_expiry(params=BANK_NIFTY, expiry=date(2026, 12, 29), calendar=NO_HOLIDAYS) == date(2027, 1, 26)
    assert following_expiry(params=SILVER_MINI, expiry=date(2026, 2, 27), calendar=NO_HOLIDAYS) == date(2026, 4, 30)


# --- entry contract -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "today", "expected"),
    [
        (GOLD_MINI, date(2026, 1, 29), date(2026, 2, 5)),  # 4 trading days left (30 Jan, 2–4 Feb)
        (GOLD_MINI, date(2026, 1, 30), date(2026, 3, 5)),  # 3 left → next contract
        (GOLD_MINI, date(2026, 2, 2), date(2026, 3, 5)),  # 2 left
        (GOLD_MINI, date(2026, 2, 5), date(2026, 3, 5)),  # expiry day itself
        (SILVER_MINI, date(2026, 2, 13), date(2026, 2, 27)),  # 9 left
        (SILVER_MINI, date(2026, 2, 16), date(2026, 4, 30)),  # 8 left
        (COPPER, date(2026, 3, 24), date(2026, 3, 31)),  # 4 left (25, 26, 27, 30 Mar)
        (COPPER, date(2026, 3, 25), date(2026, 4, 30)),  # 3 left
        (BANK_NIFTY, date(2026, 1, 16), date(2026, 1, 27)),  # 6 left without holidays
        (BANK_NIFTY, date(2026, 1, 20), date(2026, 2, 24)),  # 4 left
    ],
)
def test_entry_contract_rolls_to_the_next_when_few_trading_days_remain(params, today, expected):
    assert entry_contract_expiry(params=params, today=today, calendar=NO_HOLIDAYS) == expected


def test_a_holiday_counts_against_the_entry_contract():
    calendar = TradingCalendar(frozenset({REPUBLIC_DAY_2026}))
    # From 16 Jan only 19–23 Jan remain (5) once Republic Day is a holiday → the February contract.
    assert entry_contract_expiry(params=BANK_NIFTY, today=date(2026, 1, 16), calendar=calendar) == date(2026, 2, 24)


# --- rollover candidacy ---------------------------------------------------------------------------


@pytest.mark.parametrize(("today", "candidate"), [(date(2026, 1, 20), False), (date(2026, 1, 21), True)])
def test_bank_nifty_becomes_a_candidate_with_fewer_than_7_days_left(today, candidate):
    assert is_rollover_candidate(expiry=date(2026, 1, 27), today=today, rollover_days=7) is candidate


def test_mcx_candidate_with_fewer_than_8_days_left():
    assert not is_rollover_candidate(expiry=date(2026, 2, 27), today=date(2026, 2, 19), rollover_days=8)
    assert is_rollover_candidate(expiry=date(2026, 2, 27), today=date(2026, 2, 20), rollover_days=8)


def test_an_expired_contract_is_still_a_candidate():
    assert days_to_expiry(expiry=date(2026, 1, 27), today=date(2026, 1, 29)) == -2
    assert is_rollover_candidate(expiry=date(2026, 1, 27), today=date(2026, 1, 29), rollover_days=7)


def test_bug_33_a_rolled_position_is_a_candidate_again_near_its_new_expiry():
    today = date(2026, 1, 22)
    assert is_rollover_candidate(expiry=date(2026, 1, 27), today=today, rollover_days=7)
    new_expiry = following_expiry(params=BANK_NIFTY, expiry=date(2026, 1, 27), calendar=NO_HOLIDAYS)
    assert new_expiry == date(2026, 2, 24)
    assert not is_rollover_candidate(expiry=new_expiry, today=today, rollover_days=7)
    # No sticky "rolled" state: a month later the same position must roll again.
    assert is_rollover_candidate(expiry=new_expiry, today=date(2026, 2, 18), rollover_days=7)


# --- properties -----------------------------------------------------------------------------------

days_2025_2030 = st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31))
holiday_sets = st.frozensets(days_2025_2030, max_size=120)


@given(params=st.sampled_from(ALL_INSTRUMENTS), holidays=holiday_sets, today=days_2025_2030)
def test_every_computed_expiry_is_a_trading_day(params, holidays, today):
    calendar = TradingCalendar(holidays)
    current = next_expiry(params=params, on_or_after=today, calendar=calendar)
    entry = entry_contract_expiry(params=params, today=today, calendar=calendar)
    following = following_expiry(params=params, expiry=current, calendar=calendar)
    assert all(calendar.is_trading_day(d) for d in (current, entry, following))
    assert today <= current <= entry and current < following
    assert entry in (current, following)


@given(
    params=st.sampled_from(ALL_INSTRUMENTS),
    holidays=holiday_sets,
    year=st.integers(min_value=2025, max_value=2030),
    month=st.integers(min_value=1, max_value=12),
)
def test_expiry_for_month_is_the_last_trading_day_on_or_before_the_rule_day(params, holidays, year, month):
    calendar = TradingCalendar(holidays)
    expiry = expiry_for_month(rule=params.expiry_rule, year=year, month=month, calendar=calendar)
    nominal = expiry_for_month(rule=params.expiry_rule, year=year, month=month, calendar=TradingCalendar(frozenset()))
    assert calendar.is_trading_day(expiry) and expiry <= nominal
    assert calendar.trading_days_between(expiry, nominal + timedelta(days=1)) == 0


# --- the calendar factory sees the Holiday table (shipped lists and imports) ------------------------


@pytest.mark.django_db
def test_trading_calendar_sees_imported_holidays_and_moves_the_expiry():
    from portfolio.calendar_services import holidays_import
    from positions.selectors import trading_calendar

    def gold_january_2027():
        return expiry_for_month(rule="fifth", year=2027, month=1, calendar=trading_calendar("MCX"))

    assert gold_january_2027() == date(2027, 1, 5)  # a Tuesday
    holidays_import(text="MCX,2027-01-05,Test closure on an expiry day\n", actor="test")
    assert gold_january_2027() == date(2027, 1, 4)
    assert next_expiry(params=GOLD_MINI, on_or_after=date(2027, 1, 5), calendar=trading_calendar("MCX")) == \
        date(2027, 2, 5)


@pytest.mark.django_db
def test_the_shipped_2026_lists_move_expiries_and_an_evening_only_closure_does_not():
    from portfolio.calendar_services import holidays_import
    from positions.selectors import trading_calendar
    from tests.conftest import seed_market_calendar

    seed_market_calendar()
    nfo, mcx = trading_calendar("NFO"), trading_calendar("MCX")
    # Bank Nifty: last Tuesdays 31 Mar (Mahavir Jayanti) and 24 Nov (Guru Nanak Jayanti) are NSE holidays.
    assert expiry_for_month(rule="last_tuesday", year=2026, month=3, calendar=nfo) == date(2026, 3, 30)
    assert expiry_for_month(rule="last_tuesday", year=2026, month=11, calendar=nfo) == date(2026, 11, 23)
    # Copper, 31 Mar: MCX closes only the morning session, and that moves an expiry too.
    assert expiry_for_month(rule="last_day", year=2026, month=3, calendar=mcx) == date(2026, 3, 30)
    holidays_import(text="MCX,2027-02-05,Evening closed only,evening\n", actor="test")
    assert expiry_for_month(rule="fifth", year=2027, month=2, calendar=trading_calendar("MCX")) == date(2027, 2, 5)
