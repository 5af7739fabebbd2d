"""Reads of the ops layer: held positions to validate, every piece of half-done work, the portfolio
summary (equity, exposure, statistics, pause, open discrepancies), market-calendar warnings, and the
dependency checks behind /health (the cockpit's health strip shows the same checks)."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone

from core.instance import instance_id
from core.redis_client import RedisUnavailable, call, redis_configured
from portfolio.selectors import holiday_years, portfolio_state, sessions_enforced, traded_exchanges, trading_statistics
from portfolio.services import PortfolioNotInitialised
from portfolio.sessions import IST, holiday_years_needed, missing_holiday_years
from positions.selectors import portfolio_exposure
from reconciliation.selectors import HOLDING_STATUSES, open_discrepancy_count


def held_position_facts() -> list:
    """Open and closing positions as ``PositionFacts`` for startup validation."""
    from positions.models import Position
    from recovery.services.validation import PositionFacts

    rows = Position.objects.filter(status__in=HOLDING_STATUSES).order_by("id").values(
        "id", "label", "instrument_id", "instrument__contract_kind", "instrument__symbol_root",
        "instrument__order_quantity_per_lot", "lots", "quantity", "entry_price", "initial_stop", "current_stop",
        "highest_close", "expiry", "futures_symbol", "pe_symbol", "ce_symbol", "strike",
    )
    return [
        PositionFacts(
            position_id=r["id"], label=r["label"], instrument=r["instrument_id"],
            futures=r["instrument__contract_kind"] == "futures", symbol_root=r["instrument__symbol_root"],
            order_quantity_per_lot=r["instrument__order_quantity_per_lot"], lots=r["lots"], quantity=r["quantity"],
            entry_price=r["entry_price"], initial_stop=r["initial_stop"], current_stop=r["current_stop"],
            highest_close=r["highest_close"], expiry=r["expiry"], futures_symbol=r["futures_symbol"],
            pe_symbol=r["pe_symbol"], ce_symbol=r["ce_symbol"], strike=r["strike"],
        )
        for r in rows
    ]


def incomplete_work() -> dict[str, list[dict]]:
    """Everything half-done: what startup recovery must finish (or flag) before trading resumes."""
    from positions.models import OrderIntent, Position
    from positions.models.intent import OPEN_INTENT_STATUSES
    from signals.models import SignalLog

    def listed(qs, *fields):
        return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                for row in qs.values(*fields)]

    return {
        "positions": listed(Position.objects.filter(status__in=["opening", "closing"]).order_by("id"),
                            "id", "label", "instrument_id", "status"),
        "rollovers": listed(Position.objects.filter(rollover_status__in=["pending", "in_progress", "failed"],
                                                    status__in=["opening", *HOLDING_STATUSES]).order_by("id"),
                            "id", "label", "instrument_id", "rollover_status", "expiry"),
        "signals": listed(SignalLog.objects.filter(status="processing").order_by("id"),
                          "id", "instrument_id", "signal_type", "position", "processed_by", "claim_expires_at"),
        "signals_awaiting_settlement": listed(
            SignalLog.objects.filter(status="failed", result__awaiting_settlement=True).order_by("id"),
            "id", "instrument_id", "signal_type", "position"),
        "intents": listed(OrderIntent.objects.filter(status__in=OPEN_INTENT_STATUSES).order_by("id"),
                          "id", "client_order_id", "position_id", "position__instrument_id", "purpose", "status",
                          "symbol"),
    }


def _percent(amount: Decimal, of: Decimal) -> Decimal:
    return (amount * 100 / of).quantize(Decimal("0.001")) if of > 0 else Decimal("0")


def portfolio_summary() -> dict:
    state = portfolio_state()
    if state is None:
        raise PortfolioNotInitialised("Portfolio not initialised: run `manage.py init_portfolio --capital N`.")
    exposure = portfolio_exposure()
    blended = exposure.blended(state)
    statistics = trading_statistics()
    cent = Decimal("0.01")
    return {
        "closed_equity": state.closed_equity, "equity_high": state.equity_high,
        "blended_equity": blended.quantize(cent), "unrealized_pnl": exposure.unrealized_pnl.quantize(cent),
        "total_risk_amount": exposure.risk.quantize(cent), "total_risk_percent": _percent(exposure.risk, blended),
        "total_vol_amount": exposure.vol.quantize(cent), "total_vol_percent": _percent(exposure.vol, blended),
        "margin_used": exposure.margin_used.quantize(cent), "margin_free": exposure.margin_free(state).quantize(cent),
        "paused": state.paused, "paused_reason": state.paused_reason,
        "open_discrepancies": open_discrepancy_count(), "statistics": statistics,
    }


def calendar_warnings(*, today: date | None = None) -> list[dict]:
    """A year with no holidays on record for an exchange we trade: the current year, and any year in
    which a held position expires (DESIGN §15.3).  Shown on /health, in startup recovery and on the
    admin index."""
    from positions.models import LIVE_STATUSES, Position

    today = today or timezone.now().astimezone(IST).date()
    expiries: dict[str, list[date]] = {}
    for exchange, expiry in Position.objects.filter(status__in=LIVE_STATUSES).values_list(
            "instrument__exchange", "expiry").distinct():
        expiries.setdefault(exchange, []).append(expiry)
    needed = holiday_years_needed(today=today, exchanges=traded_exchanges(), position_expiries=expiries)
    return [
        {"check": "holidays_missing", "exchange": exchange, "year": year,
         "detail": f"no {exchange} holidays on record for {year}: every weekday counts as a trading day for "
                   "expiries and sessions; import the exchange's list (manage.py import_holidays or admin)"}
        for exchange, year in missing_holiday_years(needed=needed, recorded=holiday_years())
    ]


def market_sessions_mode() -> str:
    """``enforced`` or ``off`` (MARKET_SESSIONS), as /health reports it."""
    return "enforced" if sessions_enforced() else "off"


# ------------------------------------------------------------------------------------------ health

BROKER_CHECK_TTL = 5  # seconds a broker check is reused: health probes must not hammer the broker


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        status = check()
    except Exception:
        status = "down"
    return {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def database_check() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def redis_check() -> str:
    if not redis_configured():
        return "disabled"
    try:
        call(lambda r: r.ping())
    except RedisUnavailable:
        return "down"
    return "ok"


def broker_check() -> dict:
    def ping():
        from positions.broker.factory import get_broker
        from positions.services.guards import analyzer_blocker

        broker = get_broker()
        broker.ping()
        return "degraded" if analyzer_blocker(broker) else "ok"  # reachable, but no order may go to it

    return cache.get_or_set("health:broker", lambda: _timed(ping), BROKER_CHECK_TTL)


def health_checks() -> dict[str, dict]:
    """{"database"|"redis"|"broker": {"status": "ok"|"down"|"disabled"|"degraded", "latency_ms"}} (Appendix A)."""
    return {"database": _timed(database_check), "redis": _timed(redis_check), "broker": broker_check()}


def health_report() -> dict:
    """The /health body: healthy exactly when the database answers; who leads; every check."""
    from core.leader import current_leader

    checks = health_checks()
    healthy = checks["database"]["status"] == "ok"
    try:
        leader = current_leader()
    except DatabaseError:
        leader = None
    me = instance_id()
    return {"status": "healthy" if healthy else "unhealthy", "instance_id": me, "is_leader": leader == me,
            "leader": leader, "checks": checks, "market_sessions": market_sessions_mode(),
            "warnings": health_warnings() if healthy else []}


def health_warnings() -> list[dict]:
    """Things ops should fix that do not make the instance unhealthy (e.g. a year without holidays)."""
    try:
        return calendar_warnings()
    except DatabaseError:
        return []
