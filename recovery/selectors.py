"""Reads for the recovery app."""

from __future__ import annotations

from django.db.models import Q

from recovery.models import Discrepancy, DiscrepancyStatus
from recovery.reconciliation import HeldPosition, InstrumentRef, Key

HOLDING_STATUSES = ("open", "closing")  # a closing position still holds its contract until the exit fills


def open_discrepancy_count(*, instrument: str | None = None) -> int:
    qs = Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN)
    if instrument is not None:
        qs = qs.filter(instrument_id=instrument)
    return qs.count()


def halted_instruments() -> dict[str, int]:
    """Instrument code → number of open discrepancies (each one halts that instrument's entries)."""
    counts: dict[str, int] = {}
    for code in Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).values_list("instrument_id", flat=True):
        counts[code or "?"] = counts.get(code or "?", 0) + 1
    return dict(sorted(counts.items()))


def instrument_refs() -> tuple[InstrumentRef, ...]:
    from portfolio.models import Instrument

    return tuple(InstrumentRef(code, exchange, root)
                 for code, exchange, root in Instrument.objects.values_list("code", "exchange", "symbol_root"))


def _held(row: dict) -> HeldPosition:
    return HeldPosition(
        position_id=row["id"], instrument=row["instrument_id"], exchange=row["instrument__exchange"],
        quantity=row["quantity"], futures_symbol=row["futures_symbol"], pe_symbol=row["pe_symbol"],
        ce_symbol=row["ce_symbol"],
    )


_HELD_FIELDS = ("id", "instrument_id", "instrument__exchange", "quantity", "futures_symbol", "pe_symbol", "ce_symbol")


def held_positions() -> tuple[HeldPosition, ...]:
    """Every position that holds its contract at the broker, as plain values."""
    from positions.models import Position

    rows = Position.objects.filter(status__in=HOLDING_STATUSES).order_by("id").values(*_HELD_FIELDS)
    return tuple(_held(row) for row in rows)


def in_flight_keys() -> set[Key]:
    """Symbols whose broker quantity may be about to change: unresolved order intents, entries not yet
    settled, exits filled but not yet booked, rollovers in progress."""
    from positions.models import IntentPurpose, IntentStatus, OrderIntent, Position
    from positions.models.intent import UNRESOLVED_INTENT_STATUSES
    from positions.services.settle import current_batch

    keys: set[Key] = set(
        OrderIntent.objects.filter(status__in=UNRESOLVED_INTENT_STATUSES).values_list("symbol", "exchange")
    )
    unsettled = Position.objects.filter(
        Q(status="opening") | Q(status__in=HOLDING_STATUSES, rollover_status="in_progress")
    ).values(*_HELD_FIELDS)
    for row in unsettled:
        keys.update(key for key, _ in _held(row).legs())
    for position in Position.objects.filter(status="closing").select_related("instrument"):
        batch = current_batch(position, IntentPurpose.EXIT)
        if batch and all(intent.status == IntentStatus.FILLED for intent in batch):
            keys.update((symbol, position.instrument.exchange) for symbol in position.symbols)
    return keys


def positions_holding(*, symbol: str, exchange: str) -> list:
    """Our positions (open or closing) holding ``symbol`` on ``exchange``, oldest first."""
    from positions.models import Position

    return list(
        Position.objects.filter(Q(futures_symbol=symbol) | Q(pe_symbol=symbol) | Q(ce_symbol=symbol),
                                status__in=HOLDING_STATUSES, instrument__exchange=exchange)
        .select_related("instrument").order_by("layer", "id")
    )


def held_position_facts() -> list:
    """Open and closing positions as ``PositionFacts`` for startup validation."""
    from positions.models import Position
    from recovery.services.validation import PositionFacts

    rows = Position.objects.filter(status__in=HOLDING_STATUSES).order_by("id").values(
        "id", "label", "instrument_id", "instrument__contract_kind", "instrument__symbol_root",
        "instrument__order_quantity_per_lot", "lots", "quantity", "entry_price", "initial_stop", "current_stop",
        "highest_close", "expiry", "futures_symbol", "pe_symbol", "ce_symbol", "strike",
    )
    return [
        PositionFacts(
            position_id=r["id"], label=r["label"], instrument=r["instrument_id"],
            futures=r["instrument__contract_kind"] == "futures", symbol_root=r["instrument__symbol_root"],
            order_quantity_per_lot=r["instrument__order_quantity_per_lot"], lots=r["lots"], quantity=r["quantity"],
            entry_price=r["entry_price"], initial_stop=r["initial_stop"], current_stop=r["current_stop"],
            highest_close=r["highest_close"], expiry=r["expiry"], futures_symbol=r["futures_symbol"],
            pe_symbol=r["pe_symbol"], ce_symbol=r["ce_symbol"], strike=r["strike"],
        )
        for r in rows
    ]


def incomplete_work() -> dict[str, list[dict]]:
    """Everything half-done: what startup recovery must finish (or flag) before trading resumes."""
    from positions.models import OrderIntent, Position
    from positions.models.intent import UNRESOLVED_INTENT_STATUSES
    from signals.models import SignalLog

    def listed(qs, *fields):
        return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                for row in qs.values(*fields)]

    return {
        "positions": listed(Position.objects.filter(status__in=["opening", "closing"]).order_by("id"),
                            "id", "label", "instrument_id", "status"),
        "rollovers": listed(Position.objects.filter(rollover_status__in=["pending", "in_progress", "failed"],
                                                    status__in=["opening", *HOLDING_STATUSES]).order_by("id"),
                            "id", "label", "instrument_id", "rollover_status", "expiry"),
        "signals": listed(SignalLog.objects.filter(status="processing").order_by("id"),
                          "id", "instrument_id", "signal_type", "position", "processed_by", "claim_expires_at"),
        "signals_outcome_unknown": listed(
            SignalLog.objects.filter(status="failed", reason="broker_outcome_unknown").order_by("id"),
            "id", "instrument_id", "signal_type", "position"),
        "intents": listed(OrderIntent.objects.filter(status__in=UNRESOLVED_INTENT_STATUSES).order_by("id"),
                          "id", "client_order_id", "position_id", "position__instrument_id", "purpose", "status",
                          "symbol"),
    }
