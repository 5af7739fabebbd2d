"""Exchange sessions as pure rules (portfolio/sessions.py) over real 2026 dates: weekends, holidays,
partial MCX holidays, special weekend sessions, the US daylight-saving close, and next_open."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.sessions import (
    DEFAULT_RULES,
    EVENING,
    FULL,
    IST,
    MORNING,
    ExchangeCalendar,
    SessionRules,
    holiday_years_needed,
    is_open,
    missing_holiday_years,
    next_open,
    rules_problems,
    session_close,
    us_daylight_saving,
)

# The shipped 2026 lists, in part: enough for every case below.
NFO = ExchangeCalendar("NFO", DEFAULT_RULES["NFO"], closures={
    date(2026, 1, 26): FULL, date(2026, 3, 31): FULL, date(2026, 4, 3): FULL, date(2026, 4, 14): FULL,
    date(2026, 11, 10): FULL, date(2026, 11, 24): FULL,
}, special={date(2026, 2, 1): (time(9, 15), time(15, 30))})
MCX = ExchangeCalendar("MCX", DEFAULT_RULES["MCX"], closures={
    date(2026, 1, 1): EVENING, date(2026, 1, 26): FULL, date(2026, 3, 3): MORNING, date(2026, 4, 3): FULL,
    date(2026, 12, 25): FULL,
}, special={date(2026, 2, 1): (time(9, 0), time(17, 0))})


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


# ------------------------------------------------------------------ regular sessions and weekends


@pytest.mark.parametrize(("at", "open_"), [
    (ist(2026, 1, 7, 9, 14, 59), False),
    (ist(2026, 1, 7, 9, 15), True),
    (ist(2026, 1, 7, 12, 0), True),
    (ist(2026, 1, 7, 15, 29, 59), True),
    (ist(2026, 1, 7, 15, 30), False),  # the close itself is outside the session
    (ist(2026, 1, 7, 15, 45), False),
    (ist(2026, 1, 9, 11, 0), True),  # Friday
    (ist(2026, 1, 10, 11, 0), False),  # Saturday
    (ist(2026, 1, 11, 11, 0), False),  # Sunday
    (ist(2026, 1, 26, 11, 0), False),  # Republic Day
    (ist(2026, 4, 3, 11, 0), False),  # Good Friday
])
def test_nse_fo_trades_weekdays_0915_to_1530_except_holidays(at, open_):
    assert is_open(NFO, at) is open_


def test_any_aware_moment_is_read_in_ist_and_naive_ones_are_refused():
    assert is_open(NFO, datetime(2026, 1, 7, 3, 45, tzinfo=timezone.utc))  # 09:15 IST
    assert not is_open(NFO, datetime(2026, 1, 7, 3, 44, 59, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="aware"):
        is_open(NFO, datetime(2026, 1, 7, 11, 0))


@pytest.mark.parametrize(("at", "open_"), [
    (ist(2026, 1, 7, 8, 59, 59), False),
    (ist(2026, 1, 7, 9, 0), True),
    (ist(2026, 1, 7, 17, 0), True),  # the evening session follows without a break
    (ist(2026, 1, 7, 23, 0), True),
    (ist(2026, 1, 7, 23, 45), True),  # January: US standard time, open to 23:55
    (ist(2026, 1, 7, 23, 54, 59), True),
    (ist(2026, 1, 7, 23, 55), False),
    (ist(2026, 7, 8, 23, 0), True),
    (ist(2026, 7, 8, 23, 29, 59), True),  # July: US daylight saving time, open to 23:30
    (ist(2026, 7, 8, 23, 30), False),
    (ist(2026, 7, 8, 23, 45), False),
    (ist(2026, 1, 10, 11, 0), False),  # Saturday
])
def test_mcx_trades_0900_to_2355_or_2330_during_us_daylight_saving(at, open_):
    assert is_open(MCX, at) is open_


@pytest.mark.parametrize(("day", "dst"), [
    (date(2026, 3, 6), False), (date(2026, 3, 7), False),  # the Friday and Saturday before the switch
    (date(2026, 3, 8), True), (date(2026, 3, 9), True),  # second Sunday of March 2026, and the Monday
    (date(2026, 10, 30), True), (date(2026, 10, 31), True),
    (date(2026, 11, 1), False), (date(2026, 11, 2), False),  # first Sunday of November 2026
    (date(2027, 3, 12), False), (date(2027, 3, 15), True),  # 2027 switches on 14 March: nothing hard-coded
    (date(2027, 11, 5), True), (date(2027, 11, 8), False),
])
def test_us_daylight_saving_comes_from_the_new_york_zone(day, dst):
    assert us_daylight_saving(day) is dst


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


@given(st.dates(min_value=date(2008, 1, 1), max_value=date(2037, 12, 31)))
def test_us_daylight_saving_matches_the_us_rule_since_2007(day):
    """Second Sunday of March to the first Sunday of November (the Energy Policy Act of 2005)."""
    assert us_daylight_saving(day) is (_nth_sunday(day.year, 3, 2) <= day < _nth_sunday(day.year, 11, 1))


def test_mcx_close_moves_across_the_us_switch_weekends():
    assert is_open(MCX, ist(2026, 3, 6, 23, 40)) and not is_open(MCX, ist(2026, 3, 9, 23, 40))
    assert not is_open(MCX, ist(2026, 10, 30, 23, 40)) and is_open(MCX, ist(2026, 11, 2, 23, 40))


# ------------------------------------------------------------------ partial holidays and special sessions


def test_an_mcx_morning_closure_keeps_the_evening_session():
    assert not is_open(MCX, ist(2026, 3, 3, 9, 0))  # Holi
    assert not is_open(MCX, ist(2026, 3, 3, 16, 59, 59))
    assert is_open(MCX, ist(2026, 3, 3, 17, 0))
    assert is_open(MCX, ist(2026, 3, 3, 23, 50))  # before the US switch: to 23:55
    assert MCX.hours(date(2026, 3, 3)) == (time(17, 0), time(23, 55))


def test_an_mcx_evening_closure_keeps_the_morning_session():
    assert is_open(MCX, ist(2026, 1, 1, 9, 0))  # New Year: morning open, evening closed
    assert is_open(MCX, ist(2026, 1, 1, 16, 59, 59))
    assert not is_open(MCX, ist(2026, 1, 1, 17, 0))
    assert not is_open(MCX, ist(2026, 1, 1, 23, 0))


def test_a_partial_closure_on_a_single_session_exchange_closes_the_whole_day():
    nfo = ExchangeCalendar("NFO", DEFAULT_RULES["NFO"], closures={date(2026, 3, 3): MORNING,
                                                                  date(2026, 3, 4): EVENING})
    assert nfo.hours(date(2026, 3, 3)) is None and nfo.hours(date(2026, 3, 4)) is None
    assert not is_open(nfo, ist(2026, 3, 4, 10, 0))


def test_special_sessions_open_a_weekend_day_with_their_own_hours():
    # Union Budget, Sunday 1 Feb 2026: NSE 09:15-15:30, MCX 09:00-17:00 with no evening session.
    assert not is_open(NFO, ist(2026, 2, 1, 9, 14)) and is_open(NFO, ist(2026, 2, 1, 9, 15))
    assert is_open(NFO, ist(2026, 2, 1, 15, 29)) and not is_open(NFO, ist(2026, 2, 1, 15, 30))
    assert is_open(MCX, ist(2026, 2, 1, 9, 0)) and is_open(MCX, ist(2026, 2, 1, 16, 59))
    assert not is_open(MCX, ist(2026, 2, 1, 17, 0)) and not is_open(MCX, ist(2026, 2, 1, 23, 0))
    assert not is_open(NFO, ist(2026, 2, 8, 10, 0))  # the next Sunday is an ordinary one


def test_a_special_session_replaces_a_holiday_or_a_weekday():
    muhurat = ExchangeCalendar("NFO", DEFAULT_RULES["NFO"], closures={date(2025, 10, 21): FULL},
                               special={date(2025, 10, 21): (time(13, 45), time(14, 45)),
                                        date(2025, 10, 22): (time(10, 0), time(11, 0))})
    assert not is_open(muhurat, ist(2025, 10, 21, 10, 0)) and is_open(muhurat, ist(2025, 10, 21, 14, 0))
    assert is_open(muhurat, ist(2025, 10, 22, 10, 30)) and not is_open(muhurat, ist(2025, 10, 22, 12, 0))


# ------------------------------------------------------------------ next_open and session_close


@pytest.mark.parametrize(("calendar", "at", "expected"), [
    (NFO, ist(2026, 1, 7, 11, 0), ist(2026, 1, 7, 11, 0)),  # open: the moment itself
    (NFO, ist(2026, 1, 7, 8, 0), ist(2026, 1, 7, 9, 15)),  # before today's open
    (NFO, ist(2026, 1, 7, 15, 45), ist(2026, 1, 8, 9, 15)),  # after the close: tomorrow
    (NFO, ist(2026, 1, 9, 15, 45), ist(2026, 1, 12, 9, 15)),  # Friday evening: Monday
    (NFO, ist(2026, 4, 2, 15, 45), ist(2026, 4, 6, 9, 15)),  # Thursday, then Good Friday and a weekend
    (NFO, ist(2026, 4, 3, 12, 0), ist(2026, 4, 6, 9, 15)),  # on the Friday holiday itself
    (NFO, ist(2026, 1, 23, 16, 0), ist(2026, 1, 27, 9, 15)),  # Friday, weekend, Monday Republic Day
    (NFO, ist(2026, 1, 31, 10, 0), ist(2026, 2, 1, 9, 15)),  # Saturday: the Budget Sunday session
    (NFO, ist(2026, 3, 30, 15, 30), ist(2026, 4, 1, 9, 15)),  # Mahavir Jayanti on Tuesday 31 March
    (MCX, ist(2026, 3, 3, 10, 0), ist(2026, 3, 3, 17, 0)),  # morning closure: the evening session
    (MCX, ist(2026, 1, 1, 17, 0), ist(2026, 1, 2, 9, 0)),  # evening closure: the next morning
    (MCX, ist(2026, 7, 8, 23, 45), ist(2026, 7, 9, 9, 0)),  # after the US-DST close
    (MCX, ist(2026, 1, 7, 23, 45), ist(2026, 1, 7, 23, 45)),  # still open in January
    (MCX, ist(2026, 12, 24, 23, 56), ist(2026, 12, 28, 9, 0)),  # Christmas Friday, then the weekend
])
def test_next_open(calendar, at, expected):
    result = next_open(calendar, at)
    assert result == expected and result.tzinfo is not None


def test_next_open_keeps_the_callers_instant_and_zone_when_open():
    at = datetime(2026, 1, 7, 6, 0, tzinfo=timezone.utc)  # 11:30 IST
    assert next_open(NFO, at) is at


def test_a_calendar_that_never_opens_is_an_error_not_a_hang():
    never = ExchangeCalendar("NFO", DEFAULT_RULES["NFO"],
                             closures={date(2026, 1, 1) + timedelta(days=n): FULL for n in range(400)})
    with pytest.raises(ValueError, match="no session"):
        next_open(never, ist(2026, 1, 1, 10, 0))


def test_session_close():
    assert session_close(NFO, ist(2026, 1, 7, 11, 0)) == ist(2026, 1, 7, 15, 30)
    assert session_close(MCX, ist(2026, 7, 8, 11, 0)) == ist(2026, 7, 8, 23, 30)
    assert session_close(MCX, ist(2026, 1, 1, 11, 0)) == ist(2026, 1, 1, 17, 0)
    assert session_close(NFO, ist(2026, 1, 7, 16, 0)) is None


moments = st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2027, 1, 10),
                       timezones=st.just(IST))


@given(calendar=st.sampled_from([NFO, MCX]), at=moments)
def test_next_open_is_the_first_open_moment_at_or_after(calendar, at):
    opens = next_open(calendar, at)
    assert opens >= at and is_open(calendar, opens)
    assert (opens == at) is is_open(calendar, at)
    if opens > at:  # nothing earlier was skipped: the instant before the open is closed, ...
        assert not is_open(calendar, opens - timedelta(microseconds=1))
        today = at.date()
        if opens.date() > today and calendar.hours(today) is not None:
            assert at.time() >= calendar.hours(today)[1]  # ... today's session is over, ...
        day = today + timedelta(days=1)
        while day < opens.date():  # ... and no day in between trades
            assert calendar.hours(day) is None
            day += timedelta(days=1)


# ------------------------------------------------------------------ rules and warnings


def test_session_rules_are_checked():
    assert rules_problems(opens=time(9, 15), closes=time(15, 30)) == {}
    assert set(rules_problems(opens=time(9, 15), closes=time(9, 0))) == {"closes"}
    assert set(rules_problems(opens=time(9), closes=time(23, 55), closes_us_dst=time(8))) == {"closes_us_dst"}
    assert set(rules_problems(opens=time(9), closes=time(23, 55), closes_us_dst=time(23, 30),
                              evening_opens=time(23, 40))) == {"evening_opens"}
    assert rules_problems(**{k: getattr(DEFAULT_RULES["MCX"], k)
                             for k in ("opens", "closes", "closes_us_dst", "evening_opens")}) == {}


def test_a_rule_without_a_us_close_keeps_its_close_all_year():
    rules = SessionRules(opens=time(9, 15), closes=time(15, 30))
    assert rules.closing_time(date(2026, 7, 8)) == rules.closing_time(date(2026, 1, 7)) == time(15, 30)


def test_years_needed_and_missing():
    needed = holiday_years_needed(today=date(2026, 12, 20), exchanges={"NFO", "MCX"},
                                  position_expiries={"MCX": [date(2027, 1, 5), date(2026, 12, 31)]})
    assert needed == {"NFO": {2026}, "MCX": {2026, 2027}}
    assert missing_holiday_years(needed=needed, recorded={"NFO": {2026}, "MCX": {2026}}) == [("MCX", 2027)]
    assert missing_holiday_years(needed=needed, recorded={}) == [("MCX", 2026), ("MCX", 2027), ("NFO", 2026)]
    # A position on an exchange no active instrument trades any more still needs its years.
    assert holiday_years_needed(today=date(2026, 6, 1), exchanges=(),
                                position_expiries={"NFO": [date(2026, 6, 30)]}) == {"NFO": {2026}}
