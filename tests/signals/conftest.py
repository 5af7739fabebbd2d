"""The signal pipeline against the fake OpenAlgo (faithful: tagless book rows, lagging trade book,
transient states, partial fills ...): symbol helpers (the ``fake`` fixture is in tests/conftest.py)."""

from __future__ import annotations

from django.utils import timezone

from portfolio.models import Instrument
from portfolio.selectors import instrument_params
from positions.calendars import entry_contract_expiry
from positions.selectors import trading_calendar
from positions.symbols import futures_symbol, option_symbol
from signals.models import SignalLog


def _expiry(code: str, webhook):
    inst = Instrument.objects.get(code=code)
    day = webhook.base_time.astimezone(timezone.get_default_timezone()).date()
    return entry_contract_expiry(params=instrument_params(inst), today=day, calendar=trading_calendar(inst.exchange))


def gold_symbol(webhook) -> str:
    return futures_symbol(root="GOLDM", expiry=_expiry("GOLD_MINI", webhook))


def bank_legs(webhook, strike=52000) -> tuple[str, str]:
    expiry = _expiry("BANK_NIFTY", webhook)
    return tuple(option_symbol(root="BANKNIFTY", expiry=expiry, strike=strike, option_type=t) for t in ("PE", "CE"))


def latest_signal(kind="BASE_ENTRY") -> SignalLog:
    return SignalLog.objects.filter(signal_type=kind).latest("id")
