"""The market calendar as stored: the shipped 2026 lists (data migration) and the DB-backed
``market_open`` / ``next_market_open`` the order paths call (portfolio/selectors.py)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from portfolio.models import ExchangeSession, Holiday, SpecialSession
from portfolio.selectors import market_calendar, market_open, next_market_open, sessions_enforced
from portfolio.sessions import DEFAULT_RULES, IST, SessionRules
from tests.conftest import seed_market_calendar

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def calendar(db):
    seed_market_calendar()  # already there from the migration, unless a transactional test flushed it


@pytest.fixture
def enforced(settings):
    settings.PM_MARKET_SESSIONS = True


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


def test_the_shipped_sessions_are_the_defaults():
    for row in ExchangeSession.objects.all():
        assert SessionRules(row.opens, row.closes, row.closes_us_dst, row.evening_opens) == DEFAULT_RULES[row.exchange]
    assert set(ExchangeSession.objects.values_list("exchange", flat=True)) == {"NFO", "MCX"}


def test_the_shipped_2026_holidays():
    nfo = Holiday.objects.filter(exchange="NFO", date__year=2026)
    weekday = nfo.filter(date__week_day__in=[2, 3, 4, 5, 6])
    assert weekday.count() == 16 and nfo.count() == 20  # 15 + 15 Jan (NSE/FAOP/72262); 4 on weekends
    assert set(nfo.values_list("closed", flat=True)) == {"full"}
    assert nfo.filter(date=date(2026, 6, 26), description="Muharram").exists()  # not 21 July
    mcx = dict(Holiday.objects.filter(exchange="MCX", date__year=2026).values_list("date", "closed"))
    assert len(mcx) == 21
    assert [d for d, c in mcx.items() if c == "evening"] == [date(2026, 1, 1)]
    assert sorted(d for d, c in mcx.items() if c == "full" and d.weekday() < 5) == [
        date(2026, 1, 26), date(2026, 4, 3), date(2026, 10, 2), date(2026, 12, 25)]
    assert sum(1 for c in mcx.values() if c == "morning") == 12
    assert mcx[date(2026, 3, 3)] == mcx[date(2026, 3, 26)] == mcx[date(2026, 1, 15)] == "morning"


def test_the_shipped_special_sessions():
    budget = dict(SpecialSession.objects.filter(date=date(2026, 2, 1)).values_list("exchange", "opens"))
    assert budget == {"NFO": time(9, 15), "MCX": time(9, 0)}
    muhurat = SpecialSession.objects.filter(date=date(2026, 11, 8))
    assert muhurat.count() == 2 and not muhurat.exclude(opens=None).exists()  # timings never published here
    assert date(2026, 11, 8) not in market_calendar("NFO").special  # a pending session changes nothing


def test_sessions_are_off_unless_enforced_and_then_everything_is_open(settings):
    settings.PM_MARKET_SESSIONS = False
    assert not sessions_enforced()
    sunday = ist(2026, 1, 11, 3, 0)
    assert market_open("NFO", sunday) and next_market_open("NFO", sunday) == sunday


def test_market_open_reads_the_stored_calendar(enforced):
    assert market_open("NFO", ist(2026, 1, 7, 11, 0))
    assert not market_open("NFO", ist(2026, 1, 7, 15, 45))
    assert not market_open("NFO", ist(2026, 1, 26, 11, 0))  # Republic Day
    assert market_open("NFO", ist(2026, 2, 1, 10, 0))  # Budget Sunday
    assert not market_open("MCX", ist(2026, 3, 3, 11, 0)) and market_open("MCX", ist(2026, 3, 3, 18, 0))
    assert market_open("MCX", ist(2026, 1, 1, 11, 0)) and not market_open("MCX", ist(2026, 1, 1, 18, 0))
    assert market_open("MCX", ist(2026, 1, 7, 23, 0)) and market_open("MCX", ist(2026, 1, 7, 23, 45))
    assert market_open("MCX", ist(2026, 7, 8, 23, 0)) and not market_open("MCX", ist(2026, 7, 8, 23, 45))


def test_next_market_open_skips_a_holiday_and_a_weekend(enforced):
    opens = next_market_open("NFO", ist(2026, 4, 2, 15, 45))  # Thursday; Good Friday; weekend
    assert opens == ist(2026, 4, 6, 9, 15) and opens.tzinfo is not None


def test_admin_edits_and_imports_are_seen_at_once(enforced):
    ExchangeSession.objects.filter(exchange="NFO").update(closes=time(16, 0))
    assert market_open("NFO", ist(2026, 1, 7, 15, 45))
    Holiday.objects.create(exchange="NFO", date=date(2026, 1, 7), description="test closure")
    assert not market_open("NFO", ist(2026, 1, 7, 15, 45))
    assert next_market_open("NFO", ist(2026, 1, 7, 10, 0)) == ist(2026, 1, 8, 9, 15)


def test_a_missing_session_row_falls_back_to_the_shipped_default(enforced):
    ExchangeSession.objects.filter(exchange="MCX").delete()
    assert market_calendar("MCX").rules == DEFAULT_RULES["MCX"]
    assert market_open("MCX", ist(2026, 1, 7, 23, 0))


def test_the_calendar_can_be_limited_to_the_days_that_matter():
    assert date(2026, 1, 26) in market_calendar("NFO").closures
    later = market_calendar("NFO", since=ist(2026, 6, 1, 0, 0))
    assert date(2026, 1, 26) not in later.closures and date(2026, 12, 25) in later.closures
