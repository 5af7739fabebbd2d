"""The stuck-work sweeper (DESIGN §6, §10): returns abandoned work to a state where it finishes.

1. A signal stuck in ``processing`` past its claim deadline (a live worker keeps extending it) whose
   orders never left (no intent beyond PENDING) is handed back to the queue: its pending intents are
   cancelled, its opening position marked failed, its closing positions reopened — in one
   transaction, with every intent of the signal locked first, so a slow worker that wakes up later
   finds its intents cancelled and can no longer send them, and an intent being sent keeps the
   signal from being handed back.
2. Positions in ``opening``/``closing`` are driven to a settled state by resolving their intents
   against the broker (never by resending), and their signals settled; exits the broker did not
   take are tried again when due (``retry_due``, every few seconds).  Rollovers under way are driven
   on from where they stopped.
3. Discrepancies of unresolved orders and lot sizes are brought in step with the orders.
4. Instruments with accepted signals are handed to the executor again; signals that have waited
   too long (no worker took them) are executed by the sweeper's own process.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.instance import instance_id
from core.locks import instrument_lock, revoke_abandoned_lock
from positions.broker import Broker
from positions.broker.factory import get_broker
from positions.models import Position, PositionStatus
from positions.selectors import positions_due_for_retry, signal_positions
from positions.services.intents import intents_cancel_unsent
from positions.services.lifecycle import position_exit_revert, position_fail_entry
from positions.services.rollover_run import rollovers_resume
from positions.services.settle import position_drive, settlement_of
from reconciliation.services.orders import order_discrepancies_sync
from signals.models import SignalLog, SignalStatus
from signals.selectors import signals_claimed_live
from signals.services.inbox import signal_release, signal_settle, signals_awaiting_settlement

log = structlog.get_logger(__name__)


def sweep(*, broker: Broker | None = None, now: datetime | None = None, kick: bool = True) -> dict:
    broker = broker or get_broker()
    now = now or timezone.now()
    report = {"released": [], "settled": [], "kicked": []}
    for signal_id, code, fingerprint, owner in SignalLog.objects.filter(
        status=SignalStatus.PROCESSING, claim_expires_at__lt=now
    ).values_list("pk", "instrument_id", "fingerprint", "processed_by"):
        if _release_if_unsent(signal_id=signal_id, instrument=code, now=now):
            revoke_abandoned_lock("signal_lock", fingerprint, owner=owner)
            report["released"].append(signal_id)
    report["settled"] = complete_incomplete_positions(broker=broker, now=now)
    report["rollovers"] = rollovers_resume(broker=broker, now=now)
    if kick:
        report["kicked"] = kick_accepted(now=now)
    if report["released"] or report["settled"]:
        log.warning("sweeper_repaired_work", **report)
    return report


@transaction.atomic
def _release_if_unsent(*, signal_id: int, instrument: str, now: datetime) -> bool:
    """Hand back a signal whose claim expired and whose orders never left: its never-sent intents are
    cancelled, its opening positions fail, its closing positions reopen — in one transaction under
    the instrument lock."""
    instrument_lock(instrument)
    signal = SignalLog.objects.select_for_update().get(pk=signal_id)
    if signal.status != SignalStatus.PROCESSING or signal.claim_expires_at is None or signal.claim_expires_at >= now:
        return False
    if not intents_cancel_unsent(signal_id=signal_id, error="abandoned before sending; the signal was re-queued"):
        return False  # an order left (or is leaving): recovery resolves it (step 2)
    for position_id in signal_positions(signal_id=signal_id, status=PositionStatus.OPENING, opened_by=True):
        position_fail_entry(position_id=position_id, note="abandoned before sending")
    for position_id in signal_positions(signal_id=signal_id, status=PositionStatus.CLOSING, opened_by=False):
        position_exit_revert(position_id=position_id)
    return signal_release(signal_id=signal_id, note="claim expired before any order was sent",
                          claim_expired_before=now)


def _busy_signal_ids(now: datetime) -> set[int]:
    """Signals a live worker is still processing: their positions are not ours to drive."""
    return set(signals_claimed_live(now=now).values_list("pk", flat=True))


def complete_incomplete_positions(*, broker: Broker, now: datetime, instrument: str | None = None,
                                  only: list[int] | None = None) -> list[dict]:
    """Drive positions with orders in flight (or a retry due) whose signal no live worker holds."""
    busy = _busy_signal_ids(now)
    positions = Position.objects.filter(status__in=[PositionStatus.OPENING, PositionStatus.CLOSING])
    positions = positions.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    if instrument:
        positions = positions.filter(instrument_id=instrument)
    if only is not None:
        positions = positions.filter(pk__in=only)
    done = []
    touched_signals: set[int] = set(signals_awaiting_settlement())
    for position in positions.order_by("id"):
        signal_id = position.entry_signal_id if position.status == PositionStatus.OPENING else position.exit_signal_id
        if signal_id in busy:
            continue
        _revoke_abandoned_position_lock(position.pk, signal_id)
        settlement = position_drive(position_id=position.pk, broker=broker, now=now, inline_retries=False)
        done.append({"position_id": position.pk, "outcome": settlement.outcome})
        if signal_id:
            touched_signals.add(signal_id)
    for signal_id in sorted(touched_signals):
        _settle_signal(signal_id)
    order_discrepancies_sync()
    return done


def _revoke_abandoned_position_lock(position_id: int, signal_id: int | None) -> None:
    """A worker whose claim on the signal expired (it died or stalled) may still hold the position's
    lock for up to its TTL; take it back so the position is driven now.  Should the stalled worker
    wake up, the intents' row locks and states keep the two from sending anything twice."""
    owner = SignalLog.objects.filter(pk=signal_id).values_list("processed_by", flat=True).first() if signal_id else None
    if owner and owner != instance_id():
        revoke_abandoned_lock("position", str(position_id), owner=owner)


def retry_due(*, broker: Broker | None = None, now: datetime | None = None) -> list[dict]:
    """Exits (and entry unwindings) and rollovers whose retry is due: try them again now."""
    now = now or timezone.now()
    due = positions_due_for_retry(now=now)
    driven = complete_incomplete_positions(broker=broker or get_broker(), now=now, only=due) if due else []
    return driven + rollovers_resume(broker=broker, now=now)


def _settle_signal(signal_id: int) -> None:
    signal = SignalLog.objects.get(pk=signal_id)
    if not (signal.status == SignalStatus.PROCESSING or
            (signal.status == SignalStatus.FAILED and signal.result.get("awaiting_settlement"))):
        return
    positions = Position.objects.filter(Q(entry_signal_id=signal_id) | Q(exit_signal_id=signal_id))
    settlements = [settlement_of(position=p, signal_id=signal_id) for p in positions]
    if settlements:
        base = {k: v for k, v in signal.result.items() if k != "settlements"}
        signal_settle(signal_id=signal_id, base_result={**base, "completed_by": "recovery"},
                      settlements=settlements, instance=instance_id())


OVERDUE_SECONDS = 15  # an accepted signal still waiting this long was not picked up by any worker


def kick_accepted(*, now: datetime | None = None) -> list[str]:
    """Hand instruments with accepted signals to the executor.  Those whose signals have waited longer
    than OVERDUE_SECONDS while no worker holds a live claim of them run here and now: the normal path
    evidently did not take them.  An instrument a worker is still draining (a backlog after a burst)
    is only handed over: running it here too would just queue behind the worker's instrument lock."""
    from signals.dispatch import enqueue_execution, run_executor

    now = now or timezone.now()
    waiting = SignalLog.objects.filter(status=SignalStatus.ACCEPTED)
    overdue = set(waiting.filter(received_at__lt=now - timedelta(seconds=OVERDUE_SECONDS))
                  .values_list("instrument_id", flat=True))
    if overdue:
        overdue -= set(signals_claimed_live(now=now).values_list("instrument_id", flat=True))
    instruments = sorted(set(waiting.values_list("instrument_id", flat=True)))
    for code in instruments:
        if code in overdue:
            log.warning("executing_overdue_signals", instrument=code, overdue_after=OVERDUE_SECONDS)
            run_executor(code)
        else:
            enqueue_execution(code)
    return instruments
