"""Discrepancies the order lifecycle raises (DESIGN §15.1), kept in step with the orders themselves:

* ``unresolved_order`` — an order intent whose outcome stayed unknown past the resolution window.
  It halts the instrument's entries (exits still run) until the intent is resolved: by a later
  broker lookup that finds the order, or by ops (link a broker order id, or declare it not placed).
* ``lot_size`` — the broker counts a contract's quantity in another unit than we send: nothing is
  sent for it, and the instrument's entries are halted until the instrument is corrected.
* ``rollover_incomplete`` — a rollover closed the old contract and could not open the new one after
  repeated attempts (it keeps trying): the position is flat at the broker while open in our books.

``order_discrepancies_sync`` opens what is missing and resolves what no longer holds; the executor,
the sweeper and startup recovery call it.  It takes the reconciliation lock like every writer of
discrepancies.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core import metrics
from core.services import audit_record
from positions.selectors import flagged_rollovers, unresolved_intents
from positions.services.guards import lot_size_mismatches
from reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyStatus
from reconciliation.selectors import open_discrepancy_count
from reconciliation.services.reconcile import UNRESOLVED, reconciliation_lock

SYSTEM = "system"


@transaction.atomic
def order_discrepancies_sync() -> dict:
    reconciliation_lock()
    changes = {"opened": [], "resolved": []}
    _sync_unresolved_orders(changes)
    _sync_lot_sizes(changes)
    _sync_stuck_rollovers(changes)
    if changes["opened"] or changes["resolved"]:
        transaction.on_commit(lambda: metrics.open_discrepancies.set(open_discrepancy_count()))
    return changes


def _sync_unresolved_orders(changes: dict) -> None:
    unresolved = {intent.pk: intent for intent in unresolved_intents()}
    records = Discrepancy.objects.select_for_update(of=("self",)).filter(kind=DiscrepancyKind.UNRESOLVED_ORDER,
                                                             status__in=UNRESOLVED)
    for record in records.select_related("order_intent"):
        if record.order_intent_id in unresolved:
            del unresolved[record.order_intent_id]
            continue
        intent = record.order_intent
        _system_resolve(record, note=f"order {intent.client_order_id} is now {intent.status}"
                                     f"{' as broker order ' + intent.broker_order_id if intent.broker_order_id else ''}")
        changes["resolved"].append(record.pk)
    for intent in unresolved.values():
        record = Discrepancy.objects.create(
            kind=DiscrepancyKind.UNRESOLVED_ORDER, order_intent=intent, symbol=intent.symbol,
            exchange=intent.exchange, instrument_id=intent.position.instrument_id,
            expected_quantity=intent.quantity if intent.action == "BUY" else -intent.quantity, broker_quantity=0,
            position_ids=[intent.position_id])
        changes["opened"].append(record.pk)


def _sync_lot_sizes(changes: dict) -> None:
    wrong = {(m["symbol"], m["exchange"]): m for m in lot_size_mismatches()}
    for record in Discrepancy.objects.select_for_update().filter(kind=DiscrepancyKind.LOT_SIZE, status__in=UNRESOLVED):
        if wrong.pop((record.symbol, record.exchange), None) is None:
            _system_resolve(record, note="the broker's lot size and ours agree again")
            changes["resolved"].append(record.pk)
    for mismatch in wrong.values():
        record = Discrepancy.objects.create(
            kind=DiscrepancyKind.LOT_SIZE, symbol=mismatch["symbol"], exchange=mismatch["exchange"],
            instrument_id=mismatch["instrument"], expected_quantity=mismatch["order_quantity_per_lot"],
            broker_quantity=mismatch["broker_lot"])
        changes["opened"].append(record.pk)


def _sync_stuck_rollovers(changes: dict) -> None:
    stuck = {(r.new_symbols[0], r.position.instrument.exchange): r for r in flagged_rollovers()}
    records = Discrepancy.objects.select_for_update().filter(kind=DiscrepancyKind.ROLLOVER_INCOMPLETE,
                                                             status__in=UNRESOLVED)
    for record in records:
        if stuck.pop((record.symbol, record.exchange), None) is None:
            _system_resolve(record, note="the rollover has finished or was cancelled")
            changes["resolved"].append(record.pk)
    for (symbol, exchange), roll in stuck.items():
        held = sum(roll.intents.filter(purpose="rollover_open", symbol=symbol).values_list("filled_quantity", flat=True))
        record = Discrepancy.objects.create(
            kind=DiscrepancyKind.ROLLOVER_INCOMPLETE, symbol=symbol, exchange=exchange,
            instrument_id=roll.position.instrument_id, expected_quantity=roll.quantity, broker_quantity=held,
            position_ids=[roll.position_id])
        changes["opened"].append(record.pk)


def _system_resolve(record: Discrepancy, *, note: str) -> None:
    record.status, record.resolved_at, record.resolved_by = DiscrepancyStatus.RESOLVED, timezone.now(), SYSTEM
    record.resolution_note = note
    record.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note", "updated_at"])
    audit_record(actor=SYSTEM, action="discrepancy_auto_resolved", target_type="discrepancy", target_id=record.pk,
                 note=note, details={"kind": record.kind, "symbol": record.symbol})

