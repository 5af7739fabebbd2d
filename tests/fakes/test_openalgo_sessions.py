"""The fake OpenAlgo refuses orders exactly when the application holds them: both evaluate the same
pure rules (portfolio/sessions.py), and with the holidays the application has stored, every moment of
these 2026 weeks gets the same answer from the fake and from the application's stored calendar (what
``portfolio.selectors.market_open`` evaluates).

The fake knows no special sessions (a weekend Budget session): the sampled weeks have none.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from portfolio.selectors import market_calendar, market_open
from portfolio.sessions import DEFAULT_RULES, IST, is_open
from tests.conftest import seed_market_calendar
from tests.fakes.openalgo_rules import SESSION_RULES, session_refusal

# New Year (MCX evening closed), 15 Jan (NSE closed, MCX morning closed), Holi and the US switch in
# March, a July week of US daylight saving time, Diwali week and the November US switch.
WEEKS = [date(2025, 12, 29), date(2026, 1, 12), date(2026, 3, 2), date(2026, 3, 9), date(2026, 7, 6),
         date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9)]


def _moments(monday: date):
    """Every 5 minutes, and one second either side of each, for the week."""
    start = datetime.combine(monday, datetime.min.time(), IST)
    for n in range(7 * 24 * 12):
        moment = start + timedelta(minutes=5 * n)
        yield from (moment - timedelta(seconds=1), moment, moment + timedelta(seconds=1))


def test_the_fake_uses_the_applications_default_sessions():
    assert SESSION_RULES["NFO"] == DEFAULT_RULES["NFO"] and SESSION_RULES["MCX"] == DEFAULT_RULES["MCX"]


@pytest.mark.django_db
@pytest.mark.parametrize("exchange", ["NFO", "MCX"])
def test_the_fake_and_the_application_agree_on_every_moment(exchange, settings):
    settings.PM_MARKET_SESSIONS = True
    seed_market_calendar()
    stored = market_calendar(exchange)
    holidays = dict(stored.closures)
    disagreements = []
    for monday in WEEKS:
        for moment in _moments(monday):
            ours = is_open(stored, moment)
            fake = session_refusal(exchange, moment, holidays) is None
            if ours != fake:
                disagreements.append((moment.isoformat(), ours, fake))
    assert disagreements == []
    # The selector the order paths call reads the same calendar.
    for moment in (datetime(2026, 1, 15, 10, 0, tzinfo=IST), datetime(2026, 1, 15, 18, 0, tzinfo=IST),
                   datetime(2026, 3, 9, 23, 40, tzinfo=IST), datetime(2026, 3, 6, 23, 40, tzinfo=IST)):
        assert market_open(exchange, moment) is (session_refusal(exchange, moment, holidays) is None)
