"""Ops triage of discrepancies (DESIGN §10): acknowledge, resolve, and the three repairs of our books
(close at a price, adopt the broker quantity, import a broker position).  No broker order is sent.

Every function is one transaction: it takes the reconciliation lock (so a reconciliation run never
writes over a decision being made), locks the discrepancy row, validates, applies the repair
through ``positions.services.manual``, updates the discrepancy and writes one ``OpsAuditLog`` row
(who, what, note, details).  Bad input raises ``ValidationError`` naming the field; nothing is written.

Policy: an *open* discrepancy halts new entries and pyramids of its instrument; acknowledging it
("we know, keep trading") or resolving it lifts the halt.  Exits are never halted.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.services import audit_record
from positions.models import Position
from positions.services.manual import BrokerLeg, position_adopt_lots, position_close_at_price, position_import
from positions.symbols import option_symbol, parse_symbol
from reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyStatus
from reconciliation.rules import HeldPosition, expected_book
from reconciliation.selectors import open_discrepancy_count, positions_holding
from reconciliation.services.reconcile import UNRESOLVED, reconciliation_lock


def _locked(discrepancy_id: int) -> Discrepancy:
    reconciliation_lock()
    record = Discrepancy.objects.select_for_update().filter(pk=discrepancy_id).first()
    if record is None:
        raise ValidationError({"discrepancy": f"discrepancy #{discrepancy_id} does not exist"})
    if record.status not in UNRESOLVED:
        raise ValidationError({"discrepancy": f"discrepancy #{record.pk} is already {record.status}"})
    transaction.on_commit(lambda: metrics.open_discrepancies.set(open_discrepancy_count()))
    return record


def _audit(record: Discrepancy, *, actor: str, action: str, note: str, before: dict, after: dict | None = None,
           **details) -> None:
    """One row per triage action: ``before`` / ``after`` hold the discrepancy's status and whatever
    the repair changed (positions' lots or status, the order's outcome)."""
    audit_record(actor=actor, action=action, target_type="discrepancy", target_id=record.pk, note=note,
                 before=before, after={"status": record.status, **(after or {})},
                 details={"symbol": record.symbol, "exchange": record.exchange, "kind": record.kind,
                          "instrument": record.instrument_id, "expected": record.expected_quantity,
                          "broker": record.broker_quantity, **details})


def _position_state(position: Position) -> dict:
    return {"id": position.pk, "label": position.label, "status": position.status, "lots": position.lots}


def _resolve(record: Discrepancy, *, actor: str, note: str) -> None:
    record.status, record.resolved_at, record.resolved_by = DiscrepancyStatus.RESOLVED, timezone.now(), actor
    record.resolution_note = note
    record.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note", "updated_at"])


def _expected_now(symbol: str, exchange: str) -> int:
    held = [_as_held(p) for p in positions_holding(symbol=symbol, exchange=exchange)]
    return expected_book(held).get((symbol, exchange), (0, None, ()))[0]


def _as_held(position: Position) -> HeldPosition:
    return HeldPosition(position.pk, position.instrument_id, position.instrument.exchange, position.quantity,
                        position.futures_symbol, position.pe_symbol, position.ce_symbol)


@transaction.atomic
def discrepancy_acknowledge(*, discrepancy_id: int, actor: str, note: str = "") -> Discrepancy:
    """Ops know about it: the instrument may trade again while they work on it."""
    record = _locked(discrepancy_id)
    if record.status == DiscrepancyStatus.ACKNOWLEDGED:
        raise ValidationError({"discrepancy": f"discrepancy #{record.pk} is already acknowledged"})
    before = {"status": record.status}
    record.status = DiscrepancyStatus.ACKNOWLEDGED
    record.resolution_note = note.strip()
    record.save(update_fields=["status", "resolution_note", "updated_at"])
    _audit(record, actor=actor, action="discrepancy_acknowledged", note=note.strip(), before=before)
    return record


@transaction.atomic
def discrepancy_resolve(*, discrepancy_id: int, actor: str, note: str) -> Discrepancy:
    """Close the case with an explanation (e.g. fixed at the broker by hand)."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "a note is required to resolve a discrepancy"})
    record = _locked(discrepancy_id)
    before = {"status": record.status}
    _resolve(record, actor=actor, note=note)
    _audit(record, actor=actor, action="discrepancy_resolved", note=note, before=before)
    return record


def _holding_ids(record: Discrepancy) -> dict[int, Position]:
    return {p.pk: p for p in positions_holding(symbol=record.symbol, exchange=record.exchange)}


@transaction.atomic
def discrepancy_close_positions(*, discrepancy_id: int, position_ids: list[int], price, actor: str,
                                note: str = "") -> Discrepancy:
    """The broker no longer holds these positions: close them at ``price`` and book their P&L.

    The discrepancy is resolved when our books then expect what the broker held; otherwise it
    stays as it was (the next reconciliation shows what remains).
    """
    record = _locked(discrepancy_id)
    holding = _holding_ids(record)
    chosen = sorted({int(pid) for pid in position_ids})
    if not chosen:
        raise ValidationError({"positions": "choose at least one position to close"})
    strangers = [pid for pid in chosen if pid not in holding]
    if strangers:
        raise ValidationError({"positions": f"positions {strangers} do not hold {record.symbol}"})
    reason = f"ops close at price (discrepancy #{record.pk}): {note.strip()}".strip().rstrip(":")
    before = {"status": record.status, "positions": [_position_state(holding[pid]) for pid in chosen]}
    closed = [position_close_at_price(position_id=pid, price=price, actor=actor, reason=reason) for pid in chosen]
    expected = _expected_now(record.symbol, record.exchange)
    resolved = expected == record.broker_quantity
    if resolved:
        _resolve(record, actor=actor, note=note.strip() or f"closed {', '.join(p.label for p in closed)} at {price}")
    _audit(record, actor=actor, action="discrepancy_positions_closed", note=note.strip(), price=str(price),
           before=before, after={"positions": [_position_state(p) for p in closed]},
           resolved=resolved, expected_after=expected,
           positions=[{"id": p.pk, "label": p.label, "lots": p.lots, "entry_price": str(p.entry_price),
                       "exit_price": str(p.exit_price), "realized_pnl": str(p.realized_pnl)} for p in closed])
    return record


@transaction.atomic
def discrepancy_adopt_broker_quantity(*, discrepancy_id: int, lots: dict[int, int], actor: str,
                                      note: str = "") -> Discrepancy:
    """Resize our positions on the symbol so that together they hold what the broker holds."""
    record = _locked(discrepancy_id)
    holding = _holding_ids(record)
    if not holding:
        raise ValidationError({"lots": f"we hold no position on {record.symbol}; import the broker position instead"})
    expected = _expected_now(record.symbol, record.exchange)
    if record.broker_quantity == 0 or (record.broker_quantity > 0) != (expected > 0):
        raise ValidationError({"lots": f"the broker holds {record.broker_quantity} where we expect {expected}: "
                                       "our long positions cannot adopt that; close ours at a price and settle "
                                       "the broker side by hand"})
    if set(lots) != set(holding):
        raise ValidationError({"lots": f"give new lots for exactly the positions holding {record.symbol}: "
                                       f"{sorted(holding)}"})
    unit = holding[next(iter(holding))].instrument.order_quantity_per_lot
    planned = {pid: lots[pid] for pid in holding}
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in planned.values()):
        raise ValidationError({"lots": "every position needs a whole number of lots of at least 1"})
    key = (record.symbol, record.exchange)
    would_hold = sum((1 if signed > 0 else -1) * planned[pid] * unit
                     for pid in holding for leg, signed in _as_held(holding[pid]).legs() if leg == key)
    if would_hold != record.broker_quantity:
        raise ValidationError({"lots": f"these lots would hold {would_hold} of {record.symbol}; the broker holds "
                                       f"{record.broker_quantity}"})
    changes = []
    before = {"status": record.status, "positions": [_position_state(holding[pid]) for pid in sorted(planned)]}
    for pid in sorted(planned):
        lots_before, position = position_adopt_lots(position_id=pid, lots=planned[pid], actor=actor)
        changes.append({"id": pid, "label": position.label, "lots_before": lots_before, "lots_after": position.lots})
    _resolve(record, actor=actor, note=note.strip() or f"adopted the broker quantity {record.broker_quantity}")
    _audit(record, actor=actor, action="discrepancy_quantity_adopted", note=note.strip(), positions=changes,
           before=before, after={"positions": [{"id": c["id"], "label": c["label"], "lots": c["lots_after"]}
                                               for c in changes]})
    return record


def _snapshot_leg(record: Discrepancy, symbol: str) -> BrokerLeg | None:
    """The broker's net quantity and average price of ``symbol`` in the run that last saw ``record``."""
    run = record.last_seen_run or record.run
    rows = [r for r in run.broker_snapshot if r.get("symbol") == symbol and r.get("exchange") == record.exchange]
    quantity = sum(int(r["net_quantity"]) for r in rows)
    if not rows or quantity == 0:
        return None
    priced = [(abs(int(r["net_quantity"])), Decimal(r["average_price"])) for r in rows if r.get("average_price")]
    average = None
    if priced and sum(q for q, _ in priced):
        average = sum(q * p for q, p in priced) / sum(q for q, _ in priced)
    return BrokerLeg(symbol=symbol, quantity=quantity, average_price=average)


def import_legs(record: Discrepancy) -> list[BrokerLeg]:
    """The broker legs an import of ``record`` would record: its symbol, plus the other option leg
    of a Bank Nifty synthetic (same expiry and strike).  ValidationError when one is not there."""
    leg = _snapshot_leg(record, record.symbol)
    if leg is None:
        raise ValidationError({"discrepancy": f"the broker snapshot of the last run has no {record.symbol}"})
    try:
        parsed = parse_symbol(record.symbol)
    except ValueError:
        raise ValidationError({"discrepancy": f"{record.symbol} is not a futures or option symbol"}) from None
    if parsed.kind == "FUT":
        return [leg]
    other = option_symbol(root=parsed.root, expiry=parsed.expiry, strike=parsed.strike,
                          option_type="CE" if parsed.kind == "PE" else "PE")
    other_leg = _snapshot_leg(record, other)
    if other_leg is None:
        raise ValidationError({"discrepancy": f"a synthetic needs both legs; the broker holds no {other}"})
    if positions_holding(symbol=other, exchange=record.exchange):
        raise ValidationError({"discrepancy": f"we already hold positions on {other}; import needs both legs missing"})
    return [leg, other_leg]


@transaction.atomic
def discrepancy_import_position(*, discrepancy_id: int, layer: int, initial_stop, atr, actor: str,
                                entry_price=None, note: str = "") -> Position:
    """Record the broker-only position as ours (status open, no order sent) and resolve the
    discrepancy (and the other leg's, for a Bank Nifty synthetic)."""
    record = _locked(discrepancy_id)
    if record.kind != DiscrepancyKind.MISSING:
        raise ValidationError({"discrepancy": f"only a missing position can be imported; this one is {record.kind}"})
    if record.instrument_id is None:
        raise ValidationError({"instrument": f"{record.symbol} belongs to none of our instruments"})
    legs = import_legs(record)
    before = {"status": record.status, "position": None}
    position = position_import(instrument=record.instrument_id, layer=layer, legs=legs, initial_stop=initial_stop,
                               atr=atr, actor=actor, entry_price=entry_price)
    text = note.strip() or f"imported as {position.label} #{position.pk}"
    _resolve(record, actor=actor, note=text)
    others = list(Discrepancy.objects.select_for_update().filter(
        status__in=UNRESOLVED, exchange=record.exchange, symbol__in=[leg.symbol for leg in legs[1:]]
    ))
    for other in others:
        _resolve(other, actor=actor, note=text)
    _audit(record, actor=actor, action="discrepancy_position_imported", note=note.strip(), position_id=position.pk,
           before=before, after={"position": _position_state(position)},
           label=position.label, lots=position.lots, entry_price=str(position.entry_price),
           initial_stop=str(position.initial_stop), legs=[{"symbol": leg.symbol, "quantity": leg.quantity}
                                                            for leg in legs],
           also_resolved=[o.pk for o in others])
    return position


def discrepancy_settle_order(*, discrepancy_id: int, actor: str, broker_order_id: str = "", note: str = "",
                             broker=None) -> Discrepancy:
    """Settle an unresolved order from the broker's order book: it became ``broker_order_id``, or
    (empty) it was never placed.  The discrepancy is resolved and audited; then the position is
    driven on (the linked order's fill is booked, or the entry fails / the exit is tried again)."""
    from positions.broker.factory import get_broker
    from positions.services.intents import intent_settle_by_ops
    from positions.services.settle import position_drive

    broker_order_id = (broker_order_id or "").strip()
    with transaction.atomic():
        record = _locked(discrepancy_id)
        if record.kind != DiscrepancyKind.UNRESOLVED_ORDER:
            raise ValidationError({"discrepancy": f"discrepancy #{record.pk} is {record.kind}, not an unresolved order"})
        intent = record.order_intent
        before = {"status": record.status, "order": {"status": intent.status,
                                                     "broker_order_id": intent.broker_order_id}}
        try:
            intent_settle_by_ops(intent, broker_order_id=broker_order_id or None, actor=actor)
        except ValueError as exc:
            raise ValidationError({"broker_order_id": str(exc)}) from None
        outcome = f"linked to broker order {broker_order_id}" if broker_order_id else "declared not placed"
        intent.refresh_from_db(fields=["status", "broker_order_id"])
        _resolve(record, actor=actor, note=note.strip() or f"{intent.client_order_id} {outcome}")
        _audit(record, actor=actor, action="unresolved_order_settled", note=note.strip(), before=before,
               after={"order": {"status": intent.status, "broker_order_id": intent.broker_order_id}},
               intent=intent.client_order_id, broker_order_id=broker_order_id or None, outcome=outcome)
    position_drive(position_id=intent.position_id, broker=broker or get_broker(), inline_retries=False)
    record.refresh_from_db()
    return record
