"""The executor: claim a batch → for each signal in signal-time order: decide (phase 1) → send and
confirm (phase 2) → book (phase 3), per instrument, looping until the instrument's queue is empty
(DESIGN §6).

A batch is one claim (one transaction, one commit) for up to ``BATCH_SIZE`` queued signals; each
signal is still its own unit of work: its decision and terminal outcome commit in one transaction
of its own, its orders go through the outbox as before.  The rest of a batch is handed back and
claimed afresh when an earlier signal has arrived since the claim (checked in each signal's
decision transaction), and after a signal whose orders did not all settle (the claim then holds the
queue until they do), so the order and the hold of the one-signal-at-a-time claim are kept.
"""

from __future__ import annotations

from enum import Enum

import structlog
from django.db import connection
from django.db.utils import DatabaseError, DataError

from core.alerts import alert
from core.db import atomic_with_retry
from core.faults import fault_point
from core.instance import instance_id
from core.locks import LockBusy, instrument_lock, signal_lock
from portfolio.models import Instrument
from positions.broker import Broker
from positions.broker.factory import get_broker
from positions.selectors import signal_has_sent_orders
from positions.services.settle import Settlement, position_drive
from reconciliation.services.orders import order_discrepancies_sync
from signals.claims import claims_kept
from signals.decisions import Decision, decide
from signals.models import SignalLog, SignalStatus
from signals.services.inbox import (
    signal_claim_batch,
    signal_finish,
    signal_hold,
    signal_release,
    signal_settle,
    signal_unclaim,
)

log = structlog.get_logger(__name__)

BATCH_SIZE = 50  # signals per claim; a worker that dies mid-batch delays them by one claim period


class Step(Enum):
    NEXT = "next"  # done; go on with the batch
    RECLAIM = "reclaim"  # not started: the queue changed under the batch; hand it back from here, claim again
    SETTLE_FIRST = "settle_first"  # done, but its orders are unsettled: hand the rest back, claim again
    STOP = "stop"  # leave the instrument for now (the signal lock is held elsewhere)


def instrument_execute(*, instrument: str, broker: Broker | None = None) -> int:
    """Execute every accepted signal of ``instrument`` now; returns how many this call handled."""
    broker = broker or get_broker()
    me = instance_id()
    handled = 0
    while True:
        batch = signal_claim_batch(instrument=instrument, instance=me, limit=BATCH_SIZE)
        if not batch:
            return handled
        with claims_kept([s.pk for s in batch], me):
            done, step = _run_batch(batch, broker, me)
        handled += done
        if step == Step.STOP:
            return handled


def _run_batch(batch: list[SignalLog], broker: Broker, me: str) -> tuple[int, Step]:
    """Process a claimed batch in order; signals not started are handed back when it ends early."""
    started = 0
    try:
        for signal in batch:
            with structlog.contextvars.bound_contextvars(signal_id=signal.pk, fingerprint=signal.fingerprint,
                                                         instrument=signal.instrument_id):
                step = _process(signal, broker, me)
            if step == Step.RECLAIM:
                break
            started += 1
            if step in (Step.STOP, Step.SETTLE_FIRST):
                break
        else:
            return started, Step.NEXT
    except Exception:
        # A database failure (the task retries) or a bug outside any one signal: the signals not
        # started go back to the queue now rather than when their claims expire.
        _unclaim_quietly(batch[started + 1:], me)
        raise
    signal_unclaim(signal_ids=[s.pk for s in batch[started:]], instance=me)
    return started, step


def _unclaim_quietly(signals: list[SignalLog], me: str) -> None:
    try:
        signal_unclaim(signal_ids=[s.pk for s in signals], instance=me)
    except Exception:  # noqa: BLE001 — the sweeper hands them back when their claims expire
        log.warning("batch_unclaim_failed", signal_ids=[s.pk for s in signals])


def _process(signal: SignalLog, broker: Broker, me: str) -> Step:
    """Process one claimed signal."""
    try:
        with signal_lock(signal.fingerprint):
            decision = atomic_with_retry(lambda: _decide(signal, me), name="decide")
            if decision is Step.RECLAIM:
                return Step.RECLAIM
            if decision is None or decision.terminal:
                return Step.NEXT
            fault_point("after_intent_commit")
            settlements = [position_drive(position_id=pid, broker=broker) for pid in decision.position_ids]
            _finish(signal, decision, settlements, me)
            if not all(s.succeeded for s in settlements):
                order_discrepancies_sync()  # an unresolved order halts entries from now on
                # The next claim decides whether the queue must wait for these orders to settle.
                return Step.SETTLE_FIRST
            return Step.NEXT
    except LockBusy:
        # A previous holder (e.g. a killed worker) still has the signal lock; try again later.
        signal_release(signal_id=signal.pk, note="signal lock busy")
        return Step.STOP
    except DatabaseError as exc:
        if not isinstance(exc, DataError):
            log.exception("executor_database_error")
            raise  # a Celery worker retries with backoff; the sweeper hands back an abandoned claim
        return _fail_loudly(signal, exc, me)  # a value the database refuses fails the same way again
    except Exception as exc:  # a bug must not wedge the queue: fail this signal loudly
        return _fail_loudly(signal, exc, me)


def _fail_loudly(signal: SignalLog, exc: Exception, me: str) -> Step:
    """Called from an ``except`` block: the signal failed for good (a bug, or a value the database
    refuses); record it, alert, and let the queue go on."""
    log.exception("executor_internal_error")
    if not signal_has_sent_orders(signal_id=signal.pk):
        signal_finish(signal_id=signal.pk, status=SignalStatus.FAILED, reason="internal_error",
                      result={"error": repr(exc)[:500]}, instance=me)
    alert("signal_failed", signal_id=signal.pk, reason="internal_error", error=repr(exc)[:200])
    return Step.SETTLE_FIRST  # orders of it may be in flight: let the next claim look


def _claimed(claimed: SignalLog) -> SignalLog:
    """Lock the claimed row and read what may have changed since the batch was claimed: its status
    and owner (the sweeper may have handed it back), the instrument's parameters (edited in the
    admin), and whether an earlier signal of the instrument has arrived since (it must run first)."""
    signals, instruments = SignalLog._meta.db_table, Instrument._meta.db_table
    lock = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""
    # One hand-written statement, as it runs once per signal: the row-value comparison walks the
    # claim-queue index (instrument, signal time, id) backwards from this signal.
    instrument = next(iter(Instrument.objects.raw(
        f"SELECT i.*, s.status AS signal_status, s.processed_by AS signal_owner, EXISTS (SELECT 1 FROM {signals} e"
        f" WHERE e.instrument_id = s.instrument_id AND e.status = %s AND (e.signal_timestamp, e.id) <"
        f" (s.signal_timestamp, s.id)) AS overtaken FROM {signals} s JOIN {instruments} i ON i.code = s.instrument_id"
        f" WHERE s.id = %s{lock}", [SignalStatus.ACCEPTED, claimed.pk])))
    claimed.instrument = instrument
    claimed.status, claimed.processed_by = instrument.signal_status, instrument.signal_owner
    claimed.overtaken = bool(instrument.overtaken)
    return claimed


def _decide(claimed: SignalLog, me: str) -> Decision | Step | None:
    instrument_lock(claimed.instrument_id)  # always the instrument lock first, then rows
    signal = _claimed(claimed)
    if signal.status != SignalStatus.PROCESSING or signal.processed_by != me:
        return None  # handed back by the sweeper while we were away: not ours any more
    if signal.overtaken:
        return Step.RECLAIM
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
                                   instance=me, received_at=signal.received_at)
    if status == SignalStatus.FAILED:
        alert("signal_failed", signal_id=signal.pk, instrument=signal.instrument_id, signal_type=signal.signal_type,
              reason=reason, outcomes=[s.outcome for s in settlements if not s.succeeded])
