"""Booking of settled orders: each function is one transaction that takes the instrument lock,
then the portfolio row, then the position row (always in that order, so bookings never deadlock),
and is idempotent — booking an already booked position changes nothing."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.locks import instrument_lock
from portfolio.models import TransactionKind
from portfolio.services import (
    ledger_post,
    locked_state,
    portfolio_totals_refresh,
    statistics_bump,
    statistics_record_trade,
)
from positions.models import IntentPurpose, IntentStatus, Leg, Position, PositionStatus
from positions.pnl import futures_pnl, synthetic_pnl, synthetic_price
from positions.selectors import pyramiding_state

STOP_HIT = "PM_STOP_HIT"
CENT = Decimal("0.01")


def _lock(position_id: int) -> tuple[Position, object]:
    code = Position.objects.values_list("instrument_id", flat=True).get(pk=position_id)
    instrument_lock(code)
    state = locked_state()
    position = Position.objects.select_for_update().select_related("instrument").get(pk=position_id)
    return position, state


def _fills(position: Position, purpose: str) -> dict[str, Decimal]:
    from positions.services.settle import current_batch

    batch = current_batch(position, purpose)
    assert all(i.status == IntentStatus.FILLED for i in batch), "booking needs every leg filled"
    return {i.leg: i.fill_price for i in batch}


@transaction.atomic
def entry_book(*, position_id: int) -> Position:
    position, state = _lock(position_id)
    if position.status != PositionStatus.OPENING:
        return position
    fills = _fills(position, IntentPurpose.ENTRY)
    if position.futures_symbol:
        position.entry_price = fills[Leg.FUT]
    else:
        position.pe_entry_price, position.ce_entry_price = fills[Leg.PE], fills[Leg.CE]
        position.entry_price = synthetic_price(strike=position.strike, ce_price=fills[Leg.CE], pe_price=fills[Leg.PE])
    position.status, position.opened_at = PositionStatus.OPEN, timezone.now()
    position.version += 1
    position.save()
    pyramiding = pyramiding_state(instrument=position.instrument_id, lock=True)
    if position.is_base_position:
        pyramiding.base_position = position
    pyramiding.last_pyramid_price = position.signal_price
    pyramiding.save()
    statistics_bump(**{"base_entries" if position.is_base_position else "pyramid_entries": 1})
    portfolio_totals_refresh(state=state)
    return position


@transaction.atomic
def entry_fail(*, position_id: int, note: str) -> Position:
    position, state = _lock(position_id)
    if position.status == PositionStatus.OPENING:
        Position.objects.filter(pk=position.pk).update(
            status=PositionStatus.FAILED, exit_reason=f"entry failed: {note}"[:100],
            version=F("version") + 1, updated_at=timezone.now(),
        )
        portfolio_totals_refresh(state=state)
    position.refresh_from_db()
    return position


@transaction.atomic
def exit_book(*, position_id: int) -> Position:
    position, state = _lock(position_id)
    if position.status != PositionStatus.CLOSING:
        return position
    fills = _fills(position, IntentPurpose.EXIT)
    point_value = position.instrument.point_value
    if position.futures_symbol:
        exit_price = fills[Leg.FUT]
        pnl = futures_pnl(entry_price=position.entry_price, exit_price=exit_price, lots=position.lots,
                          point_value=point_value)
    else:
        exit_price = synthetic_price(strike=position.strike, ce_price=fills[Leg.CE], pe_price=fills[Leg.PE])
        pnl = synthetic_pnl(quantity=position.quantity, pe_entry=position.pe_entry_price,
                            ce_entry=position.ce_entry_price, pe_exit=fills[Leg.PE], ce_exit=fills[Leg.CE])
    pnl = pnl.quantize(CENT, rounding=ROUND_HALF_EVEN)
    position.status, position.exit_price, position.realized_pnl = PositionStatus.CLOSED, exit_price, pnl
    position.closed_at, position.unrealized_pnl = timezone.now(), Decimal("0")
    position.version += 1
    position.save()
    ledger_post(state=state, kind=TransactionKind.TRADING_PNL, amount=pnl, actor="system", position=position,
                note=f"{position.label} closed: {position.exit_reason}"[:200])
    pyramiding = pyramiding_state(instrument=position.instrument_id, lock=True)
    if pyramiding.base_position_id == position.pk:
        pyramiding.base_position = None  # pyramids stay open; new pyramids need a new base
        pyramiding.save()
    statistics_record_trade(pnl=pnl, stop_exit=position.exit_reason == STOP_HIT)
    portfolio_totals_refresh(state=state)
    return position


@transaction.atomic
def exit_revert(*, position_id: int) -> Position:
    """Every exit leg failed before anything sold: the position is still open."""
    position, _state = _lock(position_id)
    if position.status == PositionStatus.CLOSING:
        Position.objects.filter(pk=position.pk).update(
            status=PositionStatus.OPEN, exit_reason="", exit_signal=None,
            version=F("version") + 1, updated_at=timezone.now(),
        )
    position.refresh_from_db()
    return position
