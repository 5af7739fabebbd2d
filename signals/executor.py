"""The executor: claim → decide (phase 1) → send and confirm (phase 2) → book (phase 3), per
instrument, one signal at a time, looping until the instrument's queue is empty (DESIGN §6)."""

from __future__ import annotations

import structlog
from django.db.utils import DatabaseError

from core.alerts import alert
from core.db import atomic_with_retry
from core.faults import fault_point
from core.instance import instance_id
from core.locks import LockBusy, instrument_lock, signal_lock
from positions.broker import Broker
from positions.broker.factory import get_broker
from positions.selectors import signal_has_sent_orders
from positions.services.settle import Settlement, position_drive
from reconciliation.services.orders import order_discrepancies_sync
from signals.claims import claim_kept
from signals.decisions import Decision, decide
from signals.models import SignalLog, SignalStatus
from signals.services.inbox import signal_claim_next, signal_finish, signal_hold, signal_release, signal_settle

log = structlog.get_logger(__name__)


def instrument_execute(*, instrument: str, broker: Broker | None = None) -> int:
    """Execute every accepted signal of ``instrument`` now; returns how many this call handled."""
    broker = broker or get_broker()
    me = instance_id()
    handled = 0
    while True:
        signal = signal_claim_next(instrument=instrument, instance=me)
        if signal is None:
            return handled
        handled += 1
        with structlog.contextvars.bound_contextvars(signal_id=signal.pk, fingerprint=signal.fingerprint,
                                                     instrument=instrument):
            if not _process(signal, broker, me):
                return handled


def _process(signal: SignalLog, broker: Broker, me: str) -> bool:
    """Process one claimed signal.  False when the instrument's loop should stop for now."""
    try:
        with signal_lock(signal.fingerprint), claim_kept(signal.pk, me):
            decision = atomic_with_retry(lambda: _decide(signal, me), name="decide")
            if decision is None or decision.terminal:
                return True
            fault_point("after_intent_commit")
            settlements = [position_drive(position_id=pid, broker=broker) for pid in decision.position_ids]
            _finish(signal, decision, settlements, me)
            if not all(s.succeeded for s in settlements):
                order_discrepancies_sync()  # an unresolved order halts entries from now on
            return True
    except LockBusy:
        # A previous holder (e.g. a killed worker) still has the signal lock; try again later.
        signal_release(signal_id=signal.pk, note="signal lock busy")
        return False
    except DatabaseError:
        log.exception("executor_database_error")
        raise  # a Celery worker retries with backoff; the sweeper hands back an abandoned claim
    except Exception as exc:  # a bug must not wedge the queue: fail this signal loudly
        log.exception("executor_internal_error")
        if not signal_has_sent_orders(signal_id=signal.pk):
            signal_finish(signal_id=signal.pk, status=SignalStatus.FAILED, reason="internal_error",
                          result={"error": repr(exc)[:500]}, instance=me)
        alert("signal_failed", signal_id=signal.pk, reason="internal_error", error=repr(exc)[:200])
        return True


def _decide(claimed: SignalLog, me: str) -> Decision | None:
    instrument_lock(claimed.instrument_id)  # always the instrument lock first, then rows
    signal = SignalLog.objects.select_for_update().select_related("instrument").get(pk=claimed.pk)
    if signal.status != SignalStatus.PROCESSING or signal.processed_by != me:
        return None  # handed back by the sweeper while we were away: not ours any more
    decision = decide(signal)
    if decision.status != SignalStatus.HELD and "held" in signal.result:
        decision.result.setdefault("held", signal.result["held"])  # it waited for the open: keep the record
    if decision.status == SignalStatus.HELD:
        signal_hold(signal_id=signal.pk, reason=decision.reason, result=decision.result, instance=me)
    elif decision.terminal:
        signal_finish(signal_id=signal.pk, status=decision.status, reason=decision.reason, result=decision.result,
                      instance=me, received_at=signal.received_at)
    return decision


def _finish(signal: SignalLog, decision: Decision, settlements: list[Settlement], me: str) -> None:
    status, reason = signal_settle(signal_id=signal.pk, base_result=decision.result, settlements=settlements,
                                   instance=me)
    if status == SignalStatus.FAILED:
        alert("signal_failed", signal_id=signal.pk, instrument=signal.instrument_id, signal_type=signal.signal_type,
              reason=reason, outcomes=[s.outcome for s in settlements if not s.succeeded])
