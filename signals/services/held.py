"""Exits held while their exchange was closed go back to the queue at the session open (DESIGN §15.3);
exits held while a rollover leg of their position was at the broker, once it has settled (§8).

Run every minute by the leader (recovery/jobs.py ``release_held_signals``).  The executor claims in
signal-time order, so a re-queued exit runs before any later signal of its instrument — and the claim
itself already prefers a held exit once its exchange is open, should a new signal arrive in the minute
before this job runs.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from portfolio.selectors import market_open
from positions.selectors import rollover_busy
from signals.models import SignalLog, SignalStatus
from signals.services.inbox import signal_requeue_held


def held_signals_release(*, now: datetime | None = None) -> dict:
    """Re-queue the held signals of every instrument whose exchange is open at ``now`` and hand those
    instruments to the executor.  Idempotent: nothing held, nothing done."""
    from signals.dispatch import enqueue_execution

    now = now or timezone.now()
    held = dict(SignalLog.objects.filter(status=SignalStatus.HELD)
                .values_list("instrument_id", "instrument__exchange").distinct())
    exchanges_open = {exchange: market_open(exchange, now) for exchange in set(held.values())}
    instruments = sorted(code for code, exchange in held.items()
                         if exchanges_open[exchange] and not rollover_busy(instrument=code))
    released = signal_requeue_held(instruments=instruments) if instruments else []
    for code in instruments:
        enqueue_execution(code)
    return {"released": released, "instruments": instruments,
            "still_held": sorted(code for code in held if code not in instruments)}
