"""Exchange sessions and holidays as pure rules (DESIGN §15.3): is an exchange open at a moment, when
does it open next, and which years lack a holiday list.

No I/O and no Django, so every user can call it with plain values: the executor and the order
lifecycle (through ``portfolio.selectors.market_open`` / ``next_market_open``), startup recovery,
/health, and the fake OpenAlgo in tests/fakes, which must refuse orders exactly when we hold them.

Rules, all in IST wall-clock time (India keeps no daylight saving time):

* a weekday is open from ``opens`` to ``closes`` (the close excluded); MCX's close depends on US
  daylight saving time, taken from the America/New_York zone on that date (never hard-coded dates);
* a holiday closes the whole day, or only the morning session (before ``evening_opens``; the evening
  session runs) or only the evening session (from ``evening_opens``) — MCX publishes all three kinds;
  on an exchange with one session a partial holiday closes the whole day;
* weekends are closed, except a special session (e.g. the Union Budget on Sunday 2026-02-01), which
  replaces the day's normal hours whatever they were — holiday, weekend or weekday.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")

FULL, MORNING, EVENING = "full", "morning", "evening"  # which part of the day a holiday closes
CLOSURES = (FULL, MORNING, EVENING)
# A calendar never needs to look further: every exchange opens at least once a year.
SEARCH_DAYS = 370


def us_daylight_saving(day: date) -> bool:
    """Whether New York observes daylight saving time on ``day`` (read at noon there, after the 2 a.m.
    switch: the switch falls on a Sunday, and the exchange week starts on the Monday after it)."""
    return bool(datetime.combine(day, time(12), NEW_YORK).dst())


@dataclass(frozen=True, slots=True)
class SessionRules:
    """An exchange's regular weekday session."""

    opens: time
    closes: time
    closes_us_dst: time | None = None  # the close while the US observes daylight saving time
    evening_opens: time | None = None  # where the morning session ends and the evening one begins

    def closing_time(self, day: date) -> time:
        if self.closes_us_dst is not None and us_daylight_saving(day):
            return self.closes_us_dst
        return self.closes


def rules_problems(*, opens: time, closes: time, closes_us_dst: time | None = None,
                   evening_opens: time | None = None) -> dict[str, str]:
    """What is wrong with these session times, by field name (empty when they are consistent)."""
    problems: dict[str, str] = {}
    if closes <= opens:
        problems["closes"] = "must be after the opening time"
    if closes_us_dst is not None and closes_us_dst <= opens:
        problems["closes_us_dst"] = "must be after the opening time"
    if evening_opens is not None:
        earliest_close = min(closes, closes_us_dst or closes)
        if not opens < evening_opens < earliest_close:
            problems["evening_opens"] = "must fall strictly between the opening and the closing time"
    return problems


@dataclass(frozen=True)
class ExchangeCalendar:
    """One exchange's rules plus its holidays (date → closure kind) and special sessions (date →
    (open, close)).  Special sessions whose times are not yet published are simply left out."""

    exchange: str
    rules: SessionRules
    closures: Mapping[date, str] = field(default_factory=dict)
    special: Mapping[date, tuple[time, time]] = field(default_factory=dict)

    def hours(self, day: date) -> tuple[time, time] | None:
        """(open, close) on ``day``, or None when the exchange does not trade that day."""
        if day in self.special:
            return self.special[day]
        if day.weekday() >= 5:
            return None
        opens, closes = self.rules.opens, self.rules.closing_time(day)
        closed = self.closures.get(day)
        if closed is None:
            return opens, closes
        split = self.rules.evening_opens
        if closed == MORNING and split is not None:
            return split, closes
        if closed == EVENING and split is not None:
            return opens, split
        return None  # a full closure, or a partial one on an exchange that has a single session

    def is_trading_day(self, day: date) -> bool:
        return self.hours(day) is not None


def _local(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"need an aware datetime, got naive {at!r}")
    return at.astimezone(IST)


def is_open(calendar: ExchangeCalendar, at: datetime) -> bool:
    """Whether ``calendar``'s exchange is in session at the aware moment ``at``."""
    local = _local(at)
    hours = calendar.hours(local.date())
    return hours is not None and hours[0] <= local.time() < hours[1]


def next_open(calendar: ExchangeCalendar, at: datetime) -> datetime:
    """The earliest moment at or after ``at`` when the exchange is in session: ``at`` itself while it
    is open, else the next session's opening time (aware, IST)."""
    local = _local(at)
    if is_open(calendar, at):
        return at
    today = local.date()
    for offset in range(SEARCH_DAYS):
        day = today + timedelta(days=offset)
        hours = calendar.hours(day)
        if hours is None or (offset == 0 and local.time() >= hours[0]):
            continue
        return datetime.combine(day, hours[0], IST)
    raise ValueError(f"{calendar.exchange} has no session within {SEARCH_DAYS} days of {at.isoformat()}")


def session_close(calendar: ExchangeCalendar, at: datetime) -> datetime | None:
    """When the session ``at`` falls in closes (aware, IST); None when the exchange is closed at ``at``."""
    if not is_open(calendar, at):
        return None
    day = _local(at).date()
    return datetime.combine(day, calendar.hours(day)[1], IST)


# The sessions the project ships (also seeded into ExchangeSession by a data migration, where ops edit
# them).  MCX closes at 23:30 while the US observes daylight saving time and at 23:55 otherwise, as MCX
# announces twice a year (e.g. MCX/TRD/675/2023: 23:55 from 6 Nov 2023, after US DST ended).
DEFAULT_RULES: dict[str, SessionRules] = {
    "NFO": SessionRules(opens=time(9, 15), closes=time(15, 30)),
    "MCX": SessionRules(opens=time(9, 0), closes=time(23, 55), closes_us_dst=time(23, 30),
                        evening_opens=time(17, 0)),
}


def holiday_years_needed(*, today: date, exchanges: Iterable[str],
                         position_expiries: Mapping[str, Iterable[date]]) -> dict[str, set[int]]:
    """Years whose holiday list each exchange needs: the current year for every exchange we trade, and
    every later year in which one of its held positions expires (its expiry shift depends on it)."""
    needed = {exchange: {today.year} for exchange in exchanges}
    for exchange, expiries in position_expiries.items():
        needed.setdefault(exchange, {today.year}).update(e.year for e in expiries if e.year > today.year)
    return needed


def missing_holiday_years(*, needed: Mapping[str, Iterable[int]],
                          recorded: Mapping[str, Iterable[int]]) -> list[tuple[str, int]]:
    """(exchange, year) pairs needed but with no holiday on record, sorted."""
    return sorted((exchange, year) for exchange, years in needed.items() for year in years
                  if year not in set(recorded.get(exchange, ())))
