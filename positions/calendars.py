"""Trading days, contract expiries, the entry contract and rollover candidacy (DESIGN §8).

Expiries are ``date`` objects end to end (domain bug #31: strings in two formats disagreed).
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from portfolio.params import InstrumentParams

ONE_DAY = timedelta(days=1)
TUESDAY = 1
# Every listed contract month has an expiry, so a search longer than this means bad parameters.
MAX_MONTHS_AHEAD = 24


@dataclass(frozen=True, slots=True)
class TradingCalendar:
    """Weekdays that are not exchange holidays."""

    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_trading_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self.holidays

    def previous_trading_day(self, d: date) -> date:
        """``d`` itself when it is a trading day, else the last trading day before it."""
        while not self.is_trading_day(d):
            d -= ONE_DAY
        return d

    def next_trading_day(self, d: date) -> date:
        """``d`` itself when it is a trading day, else the first trading day after it."""
        while not self.is_trading_day(d):
            d += ONE_DAY
        return d

    def trading_days_between(self, start: date, end: date) -> int:
        """Trading days strictly after ``start`` and strictly before ``end`` (0 if none)."""
        days = ((start + timedelta(days=n)) for n in range(1, (end - start).days))
        return sum(1 for d in days if self.is_trading_day(d))


def _nominal_expiry(rule: str, year: int, month: int) -> date:
    last_day = _calendar.monthrange(year, month)[1]
    if rule == "last_day":
        return date(year, month, last_day)
    if rule == "fifth":
        return date(year, month, 5)
    if rule == "last_tuesday":
        last = date(year, month, last_day)
        return last - timedelta(days=(last.weekday() - TUESDAY) % 7)
    raise ValueError(f"unknown expiry rule {rule!r}")


def expiry_for_month(*, rule: str, year: int, month: int, calendar: TradingCalendar) -> date:
    """The contract month's expiry: the rule's nominal day moved back to a trading day."""
    return calendar.previous_trading_day(_nominal_expiry(rule, year, month))


def _months_from(year: int, month: int):
    for offset in range(MAX_MONTHS_AHEAD + 1):
        y, m = divmod(month - 1 + offset, 12)
        yield year + y, m + 1


def next_expiry(*, params: InstrumentParams, on_or_after: date, calendar: TradingCalendar) -> date:
    """The first expiry of a listed contract month that falls on or after ``on_or_after``.

    The comparison uses the SHIFTED expiry (domain bug #37: Gold's 5th on a weekend expires earlier,
    so on the 4th that contract is already gone).  An earlier month's expiry is on or before its
    nominal day, hence before ``on_or_after``'s month, so the search can begin at that month.
    """
    for year, month in _months_from(on_or_after.year, on_or_after.month):
        if month not in params.contract_months:
            continue
        expiry = expiry_for_month(rule=params.expiry_rule, year=year, month=month, calendar=calendar)
        if expiry >= on_or_after:
            return expiry
    raise ValueError(f"no {params.code} expiry within {MAX_MONTHS_AHEAD} months of {on_or_after}")


def following_expiry(*, params: InstrumentParams, expiry: date, calendar: TradingCalendar) -> date:
    """The first expiry strictly after ``expiry``."""
    return next_expiry(params=params, on_or_after=expiry + ONE_DAY, calendar=calendar)


def entry_contract_expiry(*, params: InstrumentParams, today: date, calendar: TradingCalendar) -> date:
    """Expiry of the contract a new entry should trade today.

    When the current contract has ``entry_roll_trading_days`` trading days or fewer left (counted
    strictly between today and expiry), a new entry goes straight to the next contract.
    """
    current = next_expiry(params=params, on_or_after=today, calendar=calendar)
    if calendar.trading_days_between(today, current) <= params.entry_roll_trading_days:
        return following_expiry(params=params, expiry=current, calendar=calendar)
    return current


def days_to_expiry(*, expiry: date, today: date) -> int:
    """Calendar days left; negative once the expiry has passed."""
    return (expiry - today).days


def is_rollover_candidate(*, expiry: date, today: date, rollover_days: int) -> bool:
    """Fewer than ``rollover_days`` calendar days left (an expired contract is a candidate too).

    A pure function of the position's current expiry: once rolled, the new, later expiry decides,
    so no sticky "rolled" state can stop a second roll (domain bug #33).
    """
    return days_to_expiry(expiry=expiry, today=today) < rollover_days
