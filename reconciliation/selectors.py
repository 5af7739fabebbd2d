"""Reads of the reconciliation app: our books as reconciliation sees them, discrepancies, the halt."""

from __future__ import annotations

from django.db.models import Q

from reconciliation.models import Discrepancy, DiscrepancyStatus
from reconciliation.rules import HeldPosition, InstrumentRef, Key

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
    from positions.selectors import current_batch

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
