"""Reads for positions."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from positions.models import LIVE_STATUSES, OrderIntent, Position, PositionStatus, PyramidingState
from positions.models.intent import UNRESOLVED_INTENT_STATUSES
from positions.pnl import unrealized_pnl


def live_position(*, instrument: str, layer: int) -> Position | None:
    return Position.objects.filter(instrument_id=instrument, layer=layer, status__in=LIVE_STATUSES).first()


def open_positions(*, instrument: str, lock: bool = False) -> list[Position]:
    qs: QuerySet[Position] = Position.objects.filter(instrument_id=instrument, status=PositionStatus.OPEN)
    if lock:
        qs = qs.select_for_update()
    return list(qs.select_related("instrument").order_by("layer", "id"))


def pyramiding_state(*, instrument: str, lock: bool = False) -> PyramidingState:
    qs = PyramidingState.objects.select_related("base_position")
    if lock:
        qs = qs.select_for_update(of=("self",))
    state = qs.filter(instrument_id=instrument).first()
    return state if state is not None else PyramidingState.objects.create(instrument_id=instrument)


def open_base(*, instrument: str) -> Position | None:
    """The instrument's current base position, if it is open."""
    base = pyramiding_state(instrument=instrument).base_position
    return base if base is not None and base.status == PositionStatus.OPEN else None


def pyramids_since(*, base: Position) -> int:
    """Pyramids executed since the base opened (closed ones count; failed ones never opened)."""
    return Position.objects.filter(
        instrument_id=base.instrument_id,
        layer__gt=1,
        opened_at__gte=base.opened_at,
        status__in=[PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.CLOSED],
    ).count()


def instrument_open_pnl(*, instrument: str, price: Decimal, point_value: Decimal) -> Decimal:
    return sum(
        (
            unrealized_pnl(entry_price=p.entry_price, mark_price=price, lots=p.lots, point_value=point_value)
            for p in Position.objects.filter(instrument_id=instrument, status=PositionStatus.OPEN)
        ),
        Decimal("0"),
    )


def has_unresolved_intents(*, instrument: str) -> bool:
    return OrderIntent.objects.filter(
        position__instrument_id=instrument, status__in=UNRESOLVED_INTENT_STATUSES
    ).exists()
