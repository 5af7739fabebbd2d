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
    """Symbols whose broker quantity may be about to change: order intents not finished, entries not
    yet settled, exit fills not yet booked, rollovers in progress."""
    from positions.models import ACTIVE_PHASES, OrderIntent, Position, Rollover
    from positions.models.intent import OPEN_INTENT_STATUSES

    keys: set[Key] = set(
        OrderIntent.objects.filter(status__in=OPEN_INTENT_STATUSES).values_list("symbol", "exchange")
    )
    for roll in Rollover.objects.filter(phase__in=ACTIVE_PHASES).select_related("position__instrument"):
        keys.update((symbol, roll.position.instrument.exchange) for symbol in roll.old_symbols + roll.new_symbols)
    unsettled = Position.objects.filter(status="opening").values(*_HELD_FIELDS)
    for row in unsettled:
        keys.update(key for key, _ in _held(row).legs())
    booking = Position.objects.filter(status="closing", intents__purpose="exit", intents__filled_quantity__gt=0)
    for row in booking.distinct().values(*_HELD_FIELDS):
        keys.update(key for key, _ in _held(row).legs())
    return keys


def positions_holding(*, symbol: str, exchange: str) -> list:
    """Our positions (open or closing) holding ``symbol`` on ``exchange``, oldest first."""
    from positions.models import Position

    return list(
        Position.objects.filter(Q(futures_symbol=symbol) | Q(pe_symbol=symbol) | Q(ce_symbol=symbol),
                                status__in=HOLDING_STATUSES, instrument__exchange=exchange)
        .select_related("instrument").order_by("layer", "id")
    )


def order_evidence(record) -> dict:
    """What ops need to settle an unresolved order: the intent, and the broker's order book rows of its
    symbol (read now), each marked when another intent already claimed it."""
    from positions.broker import BrokerError
    from positions.broker.factory import get_broker
    from positions.models import OrderIntent

    intent = record.order_intent
    evidence = {"intent": intent, "rows": [], "error": ""}
    try:
        book = get_broker().order_book()
    except BrokerError as exc:
        evidence["error"] = f"the broker's order book could not be read: {exc}"
        return evidence
    claimed = dict(OrderIntent.objects.exclude(broker_order_id=None).values_list("broker_order_id", "client_order_id"))
    evidence["rows"] = [{"order": row, "claimed_by": claimed.get(row.order_id, "")}
                        for row in book if row.symbol == intent.symbol]
    return evidence
