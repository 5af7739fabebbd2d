"""The reconciliation service (DESIGN §10): compare our books with the broker's net positions, record
the run and keep the discrepancy list current.

Sequence, chosen so that trading going on meanwhile never produces a false discrepancy:

1. read our books (positions holding a contract, and symbols with work in flight);
2. read the broker's positions (outside any transaction: it is network I/O);
3. in one transaction, under the reconciliation lock: read our books again, treat every symbol whose
   holdings moved between the two reads as in flight, compare, write the run and its discrepancies.

Discrepancy upkeep (the database allows one *open* discrepancy per symbol):

* a disagreement already on record (same kind, same gap broker − expected) is the same discrepancy:
  its quantities, positions and ``last_seen_run`` are refreshed and its status (open or
  acknowledged) is kept, so an acknowledged discrepancy does not re-halt the instrument every hour;
* a different disagreement on a symbol supersedes the old record (resolved, audited as ``system``)
  with a new open one, and is alerted;
* a symbol that matches again (both sides agree, and it is not in flight) has its open or
  acknowledged discrepancy resolved automatically, audited as ``system`` with the run that saw it.

``dry_run`` reads and compares only: no run row, no discrepancy change, no alert.

The report's ``items`` list every symbol compared, matched ones included (ops see the whole book and
the position ids behind each contract); ``in_flight`` lists the symbols left for the next run.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.alerts import alert
from core.instance import instance_id
from core.locks import advisory_xact_lock
from core.services import audit_record
from positions.broker import Broker, BrokerError, BrokerPosition
from positions.broker.factory import get_broker
from reconciliation.models import (
    QUANTITY_KINDS,
    Discrepancy,
    DiscrepancyStatus,
    ReconciliationOutcome,
    ReconciliationRun,
    RunTrigger,
)
from reconciliation.rules import Comparison, Item, moved_keys, reconcile
from reconciliation.selectors import held_positions, in_flight_keys, instrument_refs, open_discrepancy_count

log = structlog.get_logger(__name__)

SYSTEM = "system"
UNRESOLVED = (DiscrepancyStatus.OPEN, DiscrepancyStatus.ACKNOWLEDGED)


def reconciliation_lock() -> None:
    """Serialize discrepancy writers (reconciliation runs and ops triage) inside a transaction."""
    advisory_xact_lock("reconciliation", "discrepancies")


def reconciliation_run(
    *, trigger: str, actor: str = "", dry_run: bool = False, broker: Broker | None = None
) -> dict:
    """Reconcile now and return the report (DESIGN Appendix A, plus ``in_flight`` and, when the
    broker could not be read, ``error``).  ``run_id`` is None for a dry run."""
    if trigger not in RunTrigger.values:
        raise ValueError(f"trigger must be one of {RunTrigger.values}, got {trigger!r}")
    trigger = RunTrigger(trigger).value
    broker = broker or get_broker()
    started = timezone.now()
    before = held_positions()
    busy_before = in_flight_keys()
    try:
        rows = broker.positions()
    except BrokerError as exc:
        return _broker_unavailable(trigger=trigger, actor=actor, dry_run=dry_run, started=started, error=exc)
    if dry_run:
        return _report(None, started, _compare(before, busy_before, rows))
    with transaction.atomic():
        reconciliation_lock()
        comparison = _compare(before, busy_before, rows)
        run = _record(trigger=trigger, actor=actor, started=started, outcome=comparison.outcome,
                      snapshot=[_snapshot_row(row) for row in rows])
        report = _report(run.pk, started, comparison)
        run.report = report
        run.save(update_fields=["report"])
        changes = _discrepancies_apply(run=run, comparison=comparison)
    _after_run(run_id=run.pk, changes=changes)
    log.info("reconciliation_finished", run_id=run.pk, trigger=trigger, outcome=comparison.outcome,
             discrepancies=len(comparison.discrepancies), in_flight=len(comparison.in_flight))
    return report


def reconciliation_run_now(*, actor: str, broker: Broker | None = None) -> dict:
    """Ops asked for a reconciliation now (admin, API): run it (trigger ``manual``) and write one
    audit row with the open discrepancies before and after and the run's outcome."""
    before = open_discrepancy_count()
    report = reconciliation_run(trigger=RunTrigger.MANUAL, actor=actor, broker=broker)
    audit_record(actor=actor, action="reconcile_now", target_type="reconciliation_run",
                 target_id=report["run_id"] or "", before={"open_discrepancies": before},
                 after={"open_discrepancies": open_discrepancy_count(), "outcome": report["outcome"]},
                 details={"error": report["error"]} if report.get("error") else None)
    return report


def _compare(before, busy_before, rows: list[BrokerPosition]) -> Comparison:
    after = held_positions()
    busy = busy_before | in_flight_keys() | moved_keys(before, after)
    return reconcile(positions=after, broker_positions=rows, instruments=instrument_refs(), in_flight=busy)


def _report(run_id: int | None, started: datetime, comparison: Comparison) -> dict:
    return {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "outcome": comparison.outcome,
        "items": [item.as_dict() for item in comparison.items],
        "other_symbols": list(comparison.other_symbols),
        "in_flight": [{k: v for k, v in item.as_dict().items() if k != "kind"} for item in comparison.in_flight],
    }


def _snapshot_row(row: BrokerPosition) -> dict:
    data = asdict(row)
    data["average_price"] = str(row.average_price) if row.average_price is not None else None
    return data


def _record(*, trigger: str, actor: str, started: datetime, outcome: str, snapshot: list, report=None):
    run = ReconciliationRun.objects.create(
        trigger=trigger, instance_id=instance_id(), requested_by=actor[:150], outcome=outcome,
        report=report or {}, broker_snapshot=snapshot, finished_at=timezone.now(),
    )
    ReconciliationRun.objects.filter(pk=run.pk).update(started_at=started)  # auto_now_add stamped the insert
    return run


def _broker_unavailable(*, trigger: str, actor: str, dry_run: bool, started: datetime, error: Exception) -> dict:
    message = f"{type(error).__name__}: {error}"[:500]
    report = {"run_id": None, "started_at": started.isoformat(), "outcome": ReconciliationOutcome.BROKER_UNAVAILABLE,
              "items": [], "other_symbols": [], "in_flight": [], "error": message}
    log.warning("reconciliation_broker_unavailable", trigger=trigger, error=message, dry_run=dry_run)
    if dry_run:
        return report
    with transaction.atomic():
        run = _record(trigger=trigger, actor=actor, started=started,
                      outcome=ReconciliationOutcome.BROKER_UNAVAILABLE, snapshot=[], report=report)
        report["run_id"] = run.pk
        ReconciliationRun.objects.filter(pk=run.pk).update(report=report)
    alert("broker_unreachable", during="reconciliation", run_id=run.pk, trigger=trigger, error=message)
    metrics.open_discrepancies.set(open_discrepancy_count())
    return report


# ---------------------------------------------------------------------------- discrepancy upkeep


def _same_disagreement(record: Discrepancy, item: Item) -> bool:
    return record.kind == item.kind and (
        record.broker_quantity - record.expected_quantity == item.broker - item.expected
    )


def _system_resolve(record: Discrepancy, *, note: str, action: str, run: ReconciliationRun) -> None:
    record.status, record.resolved_at, record.resolved_by = DiscrepancyStatus.RESOLVED, timezone.now(), SYSTEM
    record.resolution_note = note
    record.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note", "updated_at"])
    audit_record(actor=SYSTEM, action=action, target_type="discrepancy", target_id=record.pk, note=note,
                 details={"run_id": run.pk, "symbol": record.symbol, "exchange": record.exchange})


def _discrepancies_apply(*, run: ReconciliationRun, comparison: Comparison) -> dict:
    """Bring the discrepancy list in line with this run (caller holds the reconciliation lock)."""
    current: dict[tuple[str, str], Discrepancy] = {}
    quantity_records = Discrepancy.objects.select_for_update().filter(status__in=UNRESOLVED, kind__in=QUANTITY_KINDS)
    for record in quantity_records.order_by("created_at", "id"):
        key = (record.symbol, record.exchange)
        if key in current:  # an older leftover for the same symbol: the newer one stands for both
            _system_resolve(current[key], note=f"superseded by discrepancy #{record.pk}",
                            action="discrepancy_superseded", run=run)
        current[key] = record
    changes: dict[str, list] = {"created": [], "superseded": [], "seen": [], "resolved": []}
    for item in comparison.discrepancies:
        record = current.pop((item.symbol, item.exchange), None)
        if record is not None and _same_disagreement(record, item):
            record.expected_quantity, record.broker_quantity = item.expected, item.broker
            record.position_ids, record.last_seen_run = list(item.position_ids), run
            record.save(update_fields=["expected_quantity", "broker_quantity", "position_ids", "last_seen_run",
                                       "updated_at"])
            changes["seen"].append(record.pk)
            continue
        if record is not None:
            _system_resolve(record, note=f"superseded in run #{run.pk}: now {item.kind}, expected {item.expected}, "
                                         f"broker {item.broker}", action="discrepancy_superseded", run=run)
            changes["superseded"].append(record.pk)
        created = Discrepancy.objects.create(
            run=run, last_seen_run=run, kind=item.kind, symbol=item.symbol, exchange=item.exchange,
            instrument_id=item.instrument, expected_quantity=item.expected, broker_quantity=item.broker,
            position_ids=list(item.position_ids),
        )
        changes["created"].append({"id": created.pk, **item.as_dict()})
    in_flight = {(item.symbol, item.exchange) for item in comparison.in_flight}
    for key, record in current.items():
        if key in in_flight:
            continue  # cannot tell yet: keep it as it is
        _system_resolve(record, note=f"broker and our books agree again (run #{run.pk})",
                        action="discrepancy_auto_resolved", run=run)
        changes["resolved"].append({"id": record.pk, "symbol": record.symbol, "exchange": record.exchange,
                                    "instrument": record.instrument_id})
    return changes


def _after_run(*, run_id: int, changes: dict) -> None:
    for created in changes["created"]:
        alert(f"reconciliation_{created['kind']}", run_id=run_id, discrepancy_id=created["id"],
              symbol=created["symbol"], exchange=created["exchange"], instrument=created["instrument"],
              expected=created["expected"], broker=created["broker"], position_ids=created["position_ids"])
    for resolved in changes["resolved"]:
        alert("reconciliation_discrepancy_cleared", run_id=run_id, discrepancy_id=resolved["id"],
              symbol=resolved["symbol"], instrument=resolved["instrument"])
    metrics.open_discrepancies.set(open_discrepancy_count())
