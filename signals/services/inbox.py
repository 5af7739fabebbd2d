"""Every write of a ``SignalLog``: the one owner of the signal state machine (DESIGN §6).

    (new) ──insert──► accepted ──claim──► processing ──finish──► executed | blocked | rejected | failed
                        ▲ ▲                   │ │               ignored
                        │ └─────release───────┘ │   failed (outcome unknown) ──settle──► executed | failed
                        │                       hold (exit, exchange closed)
                        └──requeue at the open── held

The insert is the dedup (DESIGN §2): ``INSERT … ON CONFLICT (fingerprint) DO NOTHING RETURNING id``
commits the signal or reports that it already exists.  Nothing else decides whether a signal is new;
a repeat delivery only counts a duplicate on the first row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from core.locks import instrument_lock
from portfolio.selectors import market_open
from portfolio.services import statistics_bump
from positions.selectors import has_queue_holding_intents, rollover_busy
from signals.models import TERMINAL_SIGNAL_STATUSES, SignalLog, SignalStatus
from signals.payloads import ValidatedSignal

log = structlog.get_logger(__name__)

_OUTCOME_COUNTER = {
    SignalStatus.EXECUTED: "signals_executed",
    SignalStatus.BLOCKED: "signals_blocked",
    SignalStatus.REJECTED: "signals_rejected",
    SignalStatus.FAILED: "signals_failed",
    SignalStatus.IGNORED: "signals_ignored",
}


def signal_insert(*, signal: ValidatedSignal, received_at: datetime) -> int | None:
    """The authoritative dedup: the new row's id, or None when the fingerprint already exists."""
    return _insert_unless_seen(SignalLog(
        fingerprint=signal.fingerprint, signal_type=signal.signal_type, instrument_id=signal.instrument,
        position=signal.position, signal_timestamp=signal.timestamp, received_at=received_at,
        payload=signal.payload,
    ))


def _insert_unless_seen(row: SignalLog) -> int | None:
    """``INSERT … ON CONFLICT (fingerprint) DO NOTHING RETURNING id``: the new id, or None."""
    fields = [f for f in SignalLog._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
    sql = (
        f"INSERT INTO {connection.ops.quote_name(SignalLog._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT (fingerprint) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    return inserted[0] if inserted else None


LEGACY_IMPORT = "legacy_import"


def signal_record_seen(*, fingerprint: str, signal_type: str, instrument: str, position: str,
                       signal_timestamp: datetime, received_at: datetime, payload: dict, detail: dict) -> int | None:
    """Record a signal another system already processed (the legacy import), so that a resend of it
    is answered ``duplicate`` and never executed here.  It is stored terminal (``ignored``, reason
    ``legacy_import``; the executor only claims ``accepted``) and counts in no statistic.  Returns
    the new id, or None when the fingerprint is already in the inbox (nothing changes)."""
    return _insert_unless_seen(SignalLog(
        fingerprint=fingerprint, signal_type=signal_type, instrument_id=instrument, position=position,
        signal_timestamp=signal_timestamp, received_at=received_at, processed_at=timezone.now(),
        processed_by=LEGACY_IMPORT, status=SignalStatus.IGNORED, reason=LEGACY_IMPORT,
        result={"legacy": detail}, payload=payload,
    ))


def signal_count_duplicate(*, fingerprint: str, signal_id: int | None = None) -> int | None:
    """Increment duplicate_count on the first row (and nothing else); its id, or None if absent."""
    rows = SignalLog.objects.filter(fingerprint=fingerprint)
    if signal_id is not None:
        rows = rows.filter(pk=signal_id)
    if rows.update(duplicate_count=F("duplicate_count") + 1, last_duplicate_at=timezone.now()) != 1:
        return None
    statistics_bump(duplicate_deliveries=1)
    return signal_id if signal_id is not None else SignalLog.objects.values_list("pk", flat=True).get(
        fingerprint=fingerprint
    )


def signal_claim_batch(*, instrument: str, instance: str, limit: int) -> list[SignalLog]:
    """Claim up to ``limit`` of the instrument's oldest queued signals (signal-time order) in one
    transaction, unless earlier work on it is unfinished.  Each claimed signal is then processed —
    decided, finished, its outcome committed — in a transaction of its own (``signals.executor``);
    the claim only reserves the run, so one claim and one commit serve the whole batch.

    Runs under the instrument lock, so only one worker's batch per instrument is ever ``processing``
    and the executor follows signal-time order whichever worker runs it.  Unresolved order intents
    (an unclear broker outcome) hold the queue until recovery resolves them.  Each claim carries a
    deadline that the worker's claim keeper pushes on while it works; a worker that dies mid-batch
    leaves claims that expire, and the sweeper hands those back (nothing of theirs was sent).

    ``held`` exits queue with the accepted signals: once the exchange is open the oldest of them is
    claimed even before the leader's job has re-queued it, so a signal arriving right after the open
    never overtakes an exit held overnight.  While the exchange is closed they are stepped over (bars
    still trail stops; entries are rejected; later exits are held behind them), and likewise while a
    rollover leg of the instrument is at the broker.
    """
    with transaction.atomic():
        instrument_lock(instrument)
        if SignalLog.objects.filter(instrument_id=instrument, status=SignalStatus.PROCESSING).exists():
            return []
        if has_queue_holding_intents(instrument=instrument):
            return []
        # No SKIP LOCKED: claimers are already serialized by the instrument lock, and the only other
        # row lock on an accepted signal is a duplicate delivery's brief counter update — skipping
        # over it would leave the signal unclaimed.
        queue = (SignalLog.objects.select_for_update(of=("self",)).select_related("instrument")
                 .filter(instrument_id=instrument).order_by("signal_timestamp", "id"))
        batch = list(queue.filter(status__in=[SignalStatus.ACCEPTED, SignalStatus.HELD])[:limit])
        if any(s.status == SignalStatus.HELD for s in batch) and (
                not market_open(batch[0].instrument.exchange) or rollover_busy(instrument=instrument)):
            batch = list(queue.filter(status=SignalStatus.ACCEPTED)[:limit])
        if not batch:
            return []
        now = timezone.now()
        expires = now + timedelta(seconds=settings.PM_SIGNAL_CLAIM_SECONDS)
        SignalLog.objects.filter(pk__in=[s.pk for s in batch]).update(
            status=SignalStatus.PROCESSING, claimed_at=now, processed_by=instance, claim_expires_at=expires,
            attempts=F("attempts") + 1)
        for signal in batch:  # the rows are locked until commit: what we wrote is what they hold
            signal.status, signal.claimed_at, signal.processed_by = SignalStatus.PROCESSING, now, instance
            signal.claim_expires_at, signal.attempts = expires, signal.attempts + 1
        return batch


def signal_claim_next(*, instrument: str, instance: str) -> SignalLog | None:
    """Claim the instrument's oldest queued signal (a batch of one)."""
    batch = signal_claim_batch(instrument=instrument, instance=instance, limit=1)
    return batch[0] if batch else None


def signal_unclaim(*, signal_ids: list[int], instance: str) -> int:
    """Hand claimed signals that were never started back to the queue (``processing → accepted``),
    as if they had never been claimed: the rest of a batch when the queue changed under it (an
    earlier signal arrived, an order is left unsettled) or the worker has to stop.  Only our own
    claims; returns how many went back."""
    if not signal_ids:
        return 0
    return SignalLog.objects.filter(pk__in=signal_ids, status=SignalStatus.PROCESSING, processed_by=instance).update(
        status=SignalStatus.ACCEPTED, claim_expires_at=None, reason="",
        attempts=F("attempts") - 1)


def signal_finish(*, signal_id: int, status: str, reason: str = "", result: dict | None = None,
                  instance: str = "", received_at: datetime | None = None) -> bool:
    """Record a terminal outcome for a signal we are processing (idempotent; counts it once)."""
    now = timezone.now()
    updated = SignalLog.objects.filter(pk=signal_id, status=SignalStatus.PROCESSING).update(
        status=status, reason=reason[:64], result=result or {}, processed_at=now,
        processed_by=instance or F("processed_by"), claim_expires_at=None,
    )
    if updated:
        statistics_bump(signals_received=1, **{_OUTCOME_COUNTER[status]: 1})
        if received_at is None:
            received_at = SignalLog.objects.values_list("received_at", flat=True).get(pk=signal_id)
        metrics.signal_to_executed.observe((now - received_at).total_seconds())
        metrics.signals_by_status.labels(status=status).inc()
        log.info("signal_finished", signal_id=signal_id, status=status, reason=reason)
    return bool(updated)


def signal_hold(*, signal_id: int, reason: str, result: dict, instance: str) -> bool:
    """processing → held: an exit waiting for its exchange to open (DESIGN §15.3).  Not an outcome, so
    nothing is counted; the signal is counted once, when it finally finishes."""
    updated = SignalLog.objects.filter(pk=signal_id, status=SignalStatus.PROCESSING).update(
        status=SignalStatus.HELD, reason=reason[:64], result=result, processed_by=instance or F("processed_by"),
        claim_expires_at=None,
    )
    if updated:
        log.info("signal_held", signal_id=signal_id, reason=reason)
    return bool(updated)


def signal_requeue_held(*, instruments: list[str]) -> list[int]:
    """held → accepted for ``instruments`` (their exchange is open): the executor then runs them in
    signal-time order, ahead of anything later.  Returns the ids re-queued."""
    ids = list(SignalLog.objects.filter(instrument_id__in=instruments, status=SignalStatus.HELD)
               .order_by("signal_timestamp", "id").values_list("pk", flat=True))
    if ids:
        SignalLog.objects.filter(pk__in=ids, status=SignalStatus.HELD).update(
            status=SignalStatus.ACCEPTED, reason="")
        log.info("held_signals_requeued", signal_ids=ids, instruments=sorted(set(instruments)))
    return ids


PENDING_OUTCOMES = frozenset({"waiting", "exit_pending", "unwinding"})  # positions.services.settle's


def outcome_of(settlements) -> tuple[str, str]:
    """(status, reason) of a signal whose orders settled as ``settlements``.  An exit queued for the
    exchange's next open is not a failure: it is what DESIGN §15.3 asks for."""
    failed = [s for s in settlements if not (s.succeeded or s.waits_for_open)]
    if not failed:
        return SignalStatus.EXECUTED, ""
    return SignalStatus.FAILED, failed[0].reason or "broker_rejected"


def signal_settle(*, signal_id: int, base_result: dict, settlements, instance: str,
                  received_at: datetime | None = None) -> tuple[str, str]:
    """Record the outcome of a signal's orders: from ``processing`` (normal path), or — for a signal
    that failed while its orders were still unsettled (an unknown outcome, an exit tried again) — once
    they have settled (recovery, the retry job).  ``result.awaiting_settlement`` says which is which."""
    status, reason = outcome_of(settlements)
    awaiting = any(s.outcome in PENDING_OUTCOMES for s in settlements)
    result = {**base_result, "awaiting_settlement": awaiting, "settlements": [
        {"position_id": s.position_id, "outcome": s.outcome, "reason": s.reason, **s.detail} for s in settlements
    ]}
    if signal_finish(signal_id=signal_id, status=status, reason=reason, result=result, instance=instance,
                     received_at=received_at):
        return status, reason
    if awaiting:
        return status, reason
    resolved = SignalLog.objects.filter(
        pk=signal_id, status=SignalStatus.FAILED, result__awaiting_settlement=True
    ).update(status=status, reason=reason, result={**result, "settled_later": True})
    if resolved and status != SignalStatus.FAILED:
        statistics_bump(signals_failed=-1, **{_OUTCOME_COUNTER[status]: 1})
    return status, reason


def signals_awaiting_settlement() -> list[int]:
    """Failed signals whose orders were still unsettled when they failed (recovery settles them)."""
    return list(SignalLog.objects.filter(status=SignalStatus.FAILED, result__awaiting_settlement=True)
                .order_by("id").values_list("pk", flat=True))


@transaction.atomic
def signal_claim_extend(*, signal_id: int, instance: str) -> bool:
    """The worker still processing the signal pushes its claim deadline on (DESIGN §15.1)."""
    return bool(signal_claims_extend(signal_ids=[signal_id], instance=instance))


@transaction.atomic
def signal_claims_extend(*, signal_ids: list[int], instance: str) -> set[int]:
    """The same for several claims of one worker in one statement; returns the ids still claimed."""
    rows = SignalLog.objects.select_for_update().filter(pk__in=signal_ids, status=SignalStatus.PROCESSING,
                                                        processed_by=instance)
    kept = set(rows.values_list("pk", flat=True))
    if kept:
        SignalLog.objects.filter(pk__in=kept).update(
            claim_expires_at=timezone.now() + timedelta(seconds=settings.PM_SIGNAL_CLAIM_SECONDS))
    return kept


@transaction.atomic
def signal_release(*, signal_id: int, note: str, claim_expired_before: datetime | None = None) -> bool:
    """Hand a processing signal back to the queue (its work never reached the broker).  With
    ``claim_expired_before``, only a claim that expired by then (the sweeper's hand-back)."""
    signal = SignalLog.objects.select_for_update().filter(pk=signal_id, status=SignalStatus.PROCESSING).first()
    if signal is None:
        return False
    if claim_expired_before is not None and (signal.claim_expires_at is None
                                             or signal.claim_expires_at >= claim_expired_before):
        return False
    result = {"released": note, "released_at": timezone.now().isoformat(), "previous_owner": signal.processed_by}
    return bool(SignalLog.objects.filter(pk=signal_id, status=SignalStatus.PROCESSING).update(
        status=SignalStatus.ACCEPTED, claim_expires_at=None, reason="", result=result))


def signal_log_cleanup(*, older_than_days: int = 7, batch: int = 1000) -> int:
    """Delete terminal signals received more than ``older_than_days`` ago; unfinished ones stay."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            SignalLog.objects.filter(received_at__lt=cutoff, status__in=TERMINAL_SIGNAL_STATUSES)
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += SignalLog.objects.filter(pk__in=ids).delete()[1].get("signals.SignalLog", 0)
