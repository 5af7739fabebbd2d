"""The stuck-work sweeper (DESIGN §6, §10): returns abandoned work to a state where it finishes.

1. A signal stuck in ``processing`` past its claim deadline whose orders never left (no intent
   beyond PENDING) is handed back to the queue: its pending intents are cancelled, its opening
   position marked failed, its closing positions reopened — in one transaction, so a slow worker
   that wakes up later finds its intents cancelled and can no longer send them.
2. Positions in ``opening``/``closing`` whose orders did leave are driven to a settled state by
   resolving their intents against the broker (never by resending), and their signals settled.
3. Instruments with accepted signals are handed to the executor again; signals that have waited
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
from positions.selectors import signal_has_sent_orders, signal_positions
from positions.services.intents import intents_cancel_pending
from positions.services.lifecycle import position_exit_revert, position_fail_entry
from positions.services.settle import position_drive, settlement_of
from signals.models import SignalLog, SignalStatus
from signals.services.inbox import signal_release, signal_settle

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
    if kick:
        report["kicked"] = kick_accepted(now=now)
    if report["released"] or report["settled"]:
        log.warning("sweeper_repaired_work", **report)
    return report


@transaction.atomic
def _release_if_unsent(*, signal_id: int, instrument: str, now: datetime) -> bool:
    """Hand back a signal whose claim expired and whose orders never left: its never-sent intents are
    cancelled (a slow worker waking up later can no longer send them), its opening positions fail, its
    closing positions reopen — in one transaction under the instrument lock."""
    instrument_lock(instrument)
    signal = SignalLog.objects.select_for_update().get(pk=signal_id)
    if signal.status != SignalStatus.PROCESSING or signal.claim_expires_at is None or signal.claim_expires_at >= now:
        return False
    if signal_has_sent_orders(signal_id=signal_id):
        return False  # orders left: recovery resolves them (step 2)
    intents_cancel_pending(signal_id=signal_id, error="abandoned before sending; the signal was re-queued")
    for position_id in signal_positions(signal_id=signal_id, status=PositionStatus.OPENING, opened_by=True):
        position_fail_entry(position_id=position_id, note="abandoned before sending")
    for position_id in signal_positions(signal_id=signal_id, status=PositionStatus.CLOSING, opened_by=False):
        position_exit_revert(position_id=position_id)
    return signal_release(signal_id=signal_id, note="claim expired before any order was sent",
                          claim_expired_before=now)


def _busy_signal_ids(now: datetime) -> set[int]:
    """Signals a live worker is still processing: their positions are not ours to drive."""
    return set(
        SignalLog.objects.filter(status=SignalStatus.PROCESSING, claim_expires_at__gte=now).values_list("pk", flat=True)
    )


def complete_incomplete_positions(*, broker: Broker, now: datetime, instrument: str | None = None) -> list[dict]:
    busy = _busy_signal_ids(now)
    positions = Position.objects.filter(status__in=[PositionStatus.OPENING, PositionStatus.CLOSING])
    if instrument:
        positions = positions.filter(instrument_id=instrument)
    done = []
    touched_signals: set[int] = set()
    for position in positions.order_by("id"):
        signal_id = position.entry_signal_id if position.status == PositionStatus.OPENING else position.exit_signal_id
        if signal_id in busy:
            continue
        settlement = position_drive(position_id=position.pk, broker=broker, now=now)
        done.append({"position_id": position.pk, "outcome": settlement.outcome})
        if signal_id:
            touched_signals.add(signal_id)
    for signal_id in touched_signals:
        _settle_signal(signal_id)
    return done


def _settle_signal(signal_id: int) -> None:
    signal = SignalLog.objects.get(pk=signal_id)
    if not (signal.status == SignalStatus.PROCESSING or
            (signal.status == SignalStatus.FAILED and signal.reason == "broker_outcome_unknown")):
        return
    positions = Position.objects.filter(Q(entry_signal_id=signal_id) | Q(exit_signal_id=signal_id))
    settlements = [settlement_of(position=p, signal_id=signal_id) for p in positions]
    if settlements:
        base = {k: v for k, v in signal.result.items() if k != "settlements"}
        signal_settle(signal_id=signal_id, base_result={**base, "completed_by": "recovery"},
                      settlements=settlements, instance=instance_id())


OVERDUE_SECONDS = 15  # an accepted signal still waiting this long was not picked up by any worker


def kick_accepted(*, now: datetime | None = None) -> list[str]:
    """Hand instruments with accepted signals to the executor.  Those that have waited longer than
    OVERDUE_SECONDS run here and now: the normal path (a worker) evidently did not take them."""
    from signals.dispatch import enqueue_execution, run_executor

    now = now or timezone.now()
    waiting = SignalLog.objects.filter(status=SignalStatus.ACCEPTED)
    overdue = set(waiting.filter(received_at__lt=now - timedelta(seconds=OVERDUE_SECONDS))
                  .values_list("instrument_id", flat=True))
    instruments = sorted(set(waiting.values_list("instrument_id", flat=True)))
    for code in instruments:
        if code in overdue:
            log.warning("executing_overdue_signals", instrument=code, overdue_after=OVERDUE_SECONDS)
            run_executor(code)
        else:
            enqueue_execution(code)
    return instruments
