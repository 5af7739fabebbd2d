"""Checks shared by entries and pyramids, and the mapping from a failed check to an outcome.

Order (Appendix A): age → market session → pause → halt → state → pyramid gates → sizing → portfolio.
After the first failure the remaining state and gate checks still run, so ops see every reason.

The session check sits right after the staleness checks: like them it is about the signal's moment,
not about our state, and an order that cannot reach the exchange should not be sized at all.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from portfolio.gates import Check
from portfolio.models import PortfolioState
from portfolio.selectors import next_market_open, sessions_enforced
from positions.selectors import unresolved_intent_count
from reconciliation.selectors import open_discrepancy_count
from signals.models import SignalLog, SignalStatus
from signals.payloads import parse_number

REJECTING = {"stale_signal", "future_signal", "market_closed", "no_base_position", "layer_open", "position_not_open"}
REASON_FOR_CHECK = {"instrument_halted": "reconciliation_mismatch"}


def outcome_for(check: Check) -> tuple[str, str]:
    """(status, reason) of a signal stopped by ``check``."""
    status = SignalStatus.REJECTED if check.check in REJECTING else SignalStatus.BLOCKED
    if check.check == "zero_lots":
        return status, f"zero_lots:{check.detail['limiter']}"
    return status, REASON_FOR_CHECK.get(check.check, check.check)


def first_failure(checks: list[Check]) -> Check | None:
    return next((c for c in checks if not c.passed), None)


def checks_json(checks: list[Check]) -> list[dict]:
    return [c.as_dict() for c in checks]


def age_checks(signal: SignalLog) -> list[Check]:
    """Staleness is measured at receipt: waiting in the inbox never makes a signal stale."""
    age = (signal.received_at - signal.signal_timestamp).total_seconds()
    return [
        Check("stale_signal", age <= settings.PM_MAX_SIGNAL_AGE,
              {"age_seconds": round(age, 3), "max_age_seconds": settings.PM_MAX_SIGNAL_AGE}),
        Check("future_signal", -age <= settings.PM_MAX_SIGNAL_FUTURE,
              {"ahead_seconds": round(-age, 3), "max_future_seconds": settings.PM_MAX_SIGNAL_FUTURE}),
    ]


def session_check(signal: SignalLog) -> Check:
    """Whether the signal's exchange is in session now (when orders would be sent, not at signal time).
    Passes without a look at the calendar while sessions are not enforced (MARKET_SESSIONS=off)."""
    if not sessions_enforced():
        return Check("market_closed", True, {"enforced": False})
    now = timezone.now()
    exchange = signal.instrument.exchange
    opens = next_market_open(exchange, now)
    detail = {"exchange": exchange, "at": now.isoformat()}
    if opens != now:
        detail["next_open"] = opens.isoformat()
    return Check("market_closed", opens == now, detail)


def control_checks(*, state: PortfolioState, instrument: str) -> list[Check]:
    """The pause switch, and the entry halt: an open discrepancy of the instrument, or an order of it
    whose outcome is unresolved (even before its discrepancy is on record)."""
    halted_by = open_discrepancy_count(instrument=instrument)
    unresolved = unresolved_intent_count(instrument=instrument)
    detail = {"open_discrepancies": halted_by, **({"unresolved_orders": unresolved} if unresolved else {})}
    return [
        Check("trading_paused", not state.paused, {"paused_reason": state.paused_reason}),
        Check("instrument_halted", halted_by == 0 and not unresolved, detail),
    ]


def signal_number(signal: SignalLog, field: str) -> Decimal | None:
    """A numeric payload field (validated at ingest) as an exact Decimal."""
    value = signal.payload.get(field)
    return None if value is None else parse_number(value)
