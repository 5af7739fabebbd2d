"""Reads for the portfolio app: rule parameters as plain values, the portfolio row, statistics, and the
market calendar (sessions, holidays) with the ``market_open`` / ``next_market_open`` questions every
order-sending path asks."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models.functions import ExtractYear
from django.utils import timezone

from portfolio.models import ExchangeSession, Holiday, Instrument, PortfolioState, SpecialSession, TradingStatistics
from portfolio.params import InstrumentParams
from portfolio.sessions import DEFAULT_RULES, IST, ExchangeCalendar, SessionRules, next_open


def instrument_params(instrument: Instrument) -> InstrumentParams:
    return InstrumentParams(
        code=instrument.code,
        exchange=instrument.exchange,
        contract_kind=instrument.contract_kind,
        symbol_root=instrument.symbol_root,
        point_value=instrument.point_value,
        margin_per_lot=instrument.margin_per_lot,
        order_quantity_per_lot=instrument.order_quantity_per_lot,
        risk_percent=instrument.risk_percent,
        vol_percent=instrument.vol_percent,
        use_vol_constraint=instrument.use_vol_constraint,
        initial_stop_atr_multiple=instrument.initial_stop_atr_multiple,
        trailing_stop_atr_multiple=instrument.trailing_stop_atr_multiple,
        pyramid_spacing_atr=instrument.pyramid_spacing_atr,
        max_pyramids=instrument.max_pyramids,
        strike_step=instrument.strike_step,
        expiry_rule=instrument.expiry_rule,
        contract_months=instrument.contract_month_numbers,
        entry_roll_trading_days=instrument.entry_roll_trading_days,
        rollover_days=instrument.rollover_days,
    )


def instrument_codes() -> frozenset[str]:
    return frozenset(Instrument.objects.values_list("code", flat=True))


def portfolio_state() -> PortfolioState | None:
    return PortfolioState.objects.filter(pk=PortfolioState.SINGLETON_ID).first()


def trading_statistics() -> TradingStatistics:
    """The statistics row, or an all-zero one (unsaved) before the first signal has finished."""
    return TradingStatistics.objects.filter(pk=1).first() or TradingStatistics(pk=1)


# ------------------------------------------------------------------ market calendar (DESIGN §15.3)


def sessions_enforced() -> bool:
    """Whether orders wait for the exchange session (MARKET_SESSIONS; default on with BROKER=openalgo)."""
    return bool(getattr(settings, "PM_MARKET_SESSIONS", False))


def session_rules(exchange: str) -> SessionRules:
    """The exchange's session as edited in admin, or the shipped default when its row is missing."""
    row = ExchangeSession.objects.filter(exchange=exchange).first()
    if row is None:
        if exchange not in DEFAULT_RULES:
            raise LookupError(f"no session is defined for exchange {exchange!r}")
        return DEFAULT_RULES[exchange]
    return SessionRules(opens=row.opens, closes=row.closes, closes_us_dst=row.closes_us_dst,
                        evening_opens=row.evening_opens)


def market_calendar(exchange: str, *, since: datetime | None = None) -> ExchangeCalendar:
    """The exchange's calendar; with ``since``, only holidays and special sessions from that day on
    (all that ``is_open`` / ``next_open`` at or after ``since`` can need)."""
    holidays = Holiday.objects.filter(exchange=exchange)
    specials = SpecialSession.objects.filter(exchange=exchange, opens__isnull=False, closes__isnull=False)
    if since is not None:
        first_day = since.astimezone(IST).date()
        holidays, specials = holidays.filter(date__gte=first_day), specials.filter(date__gte=first_day)
    return ExchangeCalendar(
        exchange=exchange, rules=session_rules(exchange),
        closures=dict(holidays.values_list("date", "closed")),
        special={d: (o, c) for d, o, c in specials.values_list("date", "opens", "closes")},
    )


def next_market_open(exchange: str, at: datetime | None = None) -> datetime:
    """When orders for ``exchange`` may be sent at or after ``at`` (default now): ``at`` itself while
    the session is open or while sessions are not enforced, else the next session's opening time."""
    at = at or timezone.now()
    if not sessions_enforced():
        return at
    return next_open(market_calendar(exchange, since=at), at)


def market_open(exchange: str, at: datetime | None = None) -> bool:
    """Whether orders for ``exchange`` may be sent at ``at`` (default now); always True while sessions
    are not enforced (the paper broker's default)."""
    at = at or timezone.now()
    return next_market_open(exchange, at) == at


def holiday_years() -> dict[str, set[int]]:
    """Years with at least one holiday on record, per exchange."""
    years: dict[str, set[int]] = {}
    rows = Holiday.objects.annotate(year=ExtractYear("date")).values_list("exchange", "year").distinct()
    for exchange, year in rows:
        years.setdefault(exchange, set()).add(year)
    return years


def traded_exchanges() -> set[str]:
    """Exchanges of the active instruments."""
    return set(Instrument.objects.filter(is_active=True).values_list("exchange", flat=True))
