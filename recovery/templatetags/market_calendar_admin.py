"""Template tag for the back office: the market-calendar box on the admin index (sessions enforced or
not, which exchanges are open now, years with no holidays on record)."""

from __future__ import annotations

from django import template
from django.utils import timezone

from portfolio.selectors import market_calendar, traded_exchanges
from portfolio.sessions import is_open
from recovery.selectors import calendar_warnings, market_sessions_mode

register = template.Library()


@register.simple_tag
def market_calendar_status() -> dict:
    now = timezone.now()
    return {
        "mode": market_sessions_mode(),
        "exchanges": [(code, is_open(market_calendar(code, since=now), now)) for code in sorted(traded_exchanges())],
        "warnings": calendar_warnings(),
    }
