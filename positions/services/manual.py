"""Ops repairs of our books when they disagree with the broker (DESIGN §10 admin triage).

None of these sends an order: the broker already is where ops say it is, and these functions bring
our books there.  Each is one transaction that takes the same locks in the same order as every
position writer (instrument → portfolio row → position), validates everything before writing
anything, and raises ``ValidationError`` naming the bad field; the writes themselves are the
position lifecycle's (``lifecycle.py``), the same ones the broker fills drive.

Auditing (who, why) is the caller's job: the triage services record it with the discrepancy.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.locks import instrument_lock
from portfolio.gates import new_position_risk, new_position_vol
from portfolio.models import ContractKind, Instrument
from portfolio.services import locked_state
from positions.models import IntentStatus, Position, PositionStatus
from positions.models.intent import OPEN_INTENT_STATUSES
from positions.pnl import synthetic_price
from positions.selectors import live_position
from positions.services.intents import intents_cancel_pending
from positions.services.lifecycle import (
    HOLDING,
    position_close,
    position_create,
    position_lock,
    position_resize,
    position_set_base,
    totals_refresh,
)
from positions.symbols import parse_symbol


@dataclass(frozen=True)
class BrokerLeg:
    """One leg of a broker position to import: symbol, signed broker quantity, average price."""

    symbol: str
    quantity: int
    average_price: Decimal | None


def _positive(value, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError({field: f"must be a number, got {value!r}"}) from None
    if not number.is_finite() or number <= 0:
        raise ValidationError({field: "must be a number greater than zero"})
    return number


def _refuse_orders_in_flight(position: Position) -> None:
    sent = position.intents.filter(status__in=OPEN_INTENT_STATUSES).exclude(status=IntentStatus.PENDING)
    if sent.exists():
        raise ValidationError({"position": f"{position.label} #{position.pk} has orders in flight at the broker; "
                                           "let recovery resolve them first"})


@transaction.atomic
def position_close_at_price(*, position_id: int, price, actor: str, reason: str) -> Position:
    """Close a position that the broker no longer holds, at the price ops give; books its P&L once.
    Exit orders that were recorded but never sent are cancelled so they can never go out."""
    price = _positive(price, "price")
    position, _state = position_lock(position_id)
    if position.status not in HOLDING:
        raise ValidationError({"position": f"{position.label} #{position.pk} is {position.status}, not open"})
    _refuse_orders_in_flight(position)
    intents_cancel_pending(position_id=position.pk, error="not sent: position closed by ops at a price")
    return position_close(position_id=position.pk, actor=actor, price=price, reason=reason)


@transaction.atomic
def position_adopt_lots(*, position_id: int, lots, actor: str) -> tuple[int, Position]:
    """Set an open position's size to what the broker holds; returns (lots before, position).

    No P&L is booked: the price at which the difference changed hands is unknown (close the layer
    at a price instead when it is known).
    """
    if isinstance(lots, bool) or not isinstance(lots, int) or lots < 1:
        raise ValidationError({"lots": f"must be a whole number of at least 1, got {lots!r}"})
    position, _state = position_lock(position_id)
    if position.status != PositionStatus.OPEN:
        raise ValidationError({"position": f"{position.label} #{position.pk} is {position.status}, not open"})
    _refuse_orders_in_flight(position)
    return position_resize(position_id=position.pk, lots=lots)


def _import_symbols(instrument: Instrument, legs: list[BrokerLeg]) -> dict:
    """Position symbol fields, expiry and per-leg quantity for the broker legs; ValidationError if
    they do not form one long position of ``instrument``."""
    parsed = {}
    for leg in legs:
        try:
            parsed[leg.symbol] = parse_symbol(leg.symbol)
        except ValueError:
            raise ValidationError({"symbol": f"{leg.symbol} is not a futures or option symbol"}) from None
        if parsed[leg.symbol].root != instrument.symbol_root:
            raise ValidationError({"instrument": f"{leg.symbol} is not a {instrument.code} contract"})
    if instrument.contract_kind == ContractKind.FUTURES:
        if len(legs) != 1 or parsed[legs[0].symbol].kind != "FUT":
            raise ValidationError({"symbol": f"{instrument.code} positions hold one futures contract"})
        leg = legs[0]
        if leg.quantity <= 0:
            raise ValidationError({"quantity": f"the broker is short {leg.symbol} ({leg.quantity}); only long "
                                               "positions can be imported"})
        return {"futures_symbol": leg.symbol, "expiry": parsed[leg.symbol].expiry, "quantity": leg.quantity}
    by_kind = {parsed[leg.symbol].kind: leg for leg in legs}
    if set(by_kind) != {"PE", "CE"} or len(legs) != 2:
        raise ValidationError({"symbol": f"a {instrument.code} synthetic needs one PE and one CE leg at the broker"})
    pe, ce = parsed[by_kind["PE"].symbol], parsed[by_kind["CE"].symbol]
    if (pe.expiry, pe.strike) != (ce.expiry, ce.strike):
        raise ValidationError({"symbol": "the PE and CE legs must have the same expiry and strike"})
    if by_kind["CE"].quantity <= 0 or by_kind["PE"].quantity != -by_kind["CE"].quantity:
        raise ValidationError({"quantity": f"a long synthetic is short PE and long CE in equal units; the broker "
                                           f"has PE {by_kind['PE'].quantity}, CE {by_kind['CE'].quantity}"})
    return {"pe_symbol": by_kind["PE"].symbol, "ce_symbol": by_kind["CE"].symbol, "strike": pe.strike,
            "expiry": pe.expiry, "quantity": by_kind["CE"].quantity,
            "pe_entry_price": by_kind["PE"].average_price, "ce_entry_price": by_kind["CE"].average_price}


def _import_entry_price(instrument: Instrument, symbols: dict, legs: list[BrokerLeg], override) -> Decimal:
    if instrument.contract_kind == ContractKind.FUTURES:
        if override not in (None, ""):
            return _positive(override, "entry_price")
        if not legs[0].average_price:
            raise ValidationError({"entry_price": "the broker reports no average price; enter the entry price"})
        return _positive(legs[0].average_price, "entry_price")
    if not symbols["pe_entry_price"] or not symbols["ce_entry_price"]:
        raise ValidationError({"entry_price": "the broker reports no average price for a leg; a synthetic "
                                              "needs both leg prices"})
    return synthetic_price(strike=symbols["strike"], ce_price=symbols["ce_entry_price"],
                           pe_price=symbols["pe_entry_price"])


@transaction.atomic
def position_import(*, instrument: str, layer: int, legs: list[BrokerLeg], initial_stop, atr, actor: str,
                    entry_price=None) -> Position:
    """Record a position the broker holds and we do not, as ``open`` (no order is sent).

    Entry price = the broker's average price (futures: ``entry_price`` overrides it when given;
    Bank Nifty: strike + CE − PE from the legs' average prices).  Lots = broker quantity / order
    quantity per lot.  The layer must be free (one live position per instrument layer).
    """
    inst = Instrument.objects.filter(code=instrument).first()
    if inst is None:
        raise ValidationError({"instrument": f"unknown instrument {instrument!r}"})
    if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= 6:
        raise ValidationError({"layer": f"must be 1 (base) to 6, got {layer!r}"})
    symbols = _import_symbols(inst, legs)
    quantity = symbols.pop("quantity")
    if quantity % inst.order_quantity_per_lot:
        raise ValidationError({"quantity": f"broker quantity {quantity} is not a whole number of lots of "
                                           f"{inst.order_quantity_per_lot}"})
    lots = quantity // inst.order_quantity_per_lot
    entry = _import_entry_price(inst, symbols, legs, entry_price)
    stop, atr = _positive(initial_stop, "initial_stop"), _positive(atr, "atr")
    if stop >= entry:
        raise ValidationError({"initial_stop": f"must be below the entry price {entry} for a long position"})
    instrument_lock(inst.code)
    state = locked_state()
    existing = live_position(instrument=inst.code, layer=layer)
    if existing is not None:
        raise ValidationError({"layer": f"{existing.label} #{existing.pk} is already {existing.status} on layer "
                                        f"{layer}"})
    values = dict(
        instrument=inst, layer=layer, label=f"{inst.code}_Long_{layer}", is_base_position=layer == 1,
        status=PositionStatus.OPEN, lots=lots, quantity=quantity, signal_price=entry, entry_price=entry,
        initial_stop=stop, current_stop=stop, highest_close=entry, entry_atr=atr, limiter="imported",
        risk_at_entry=new_position_risk(price=entry, stop=stop, lots=lots, point_value=inst.point_value),
        vol_at_entry=new_position_vol(atr=atr, lots=lots, point_value=inst.point_value),
        opened_at=timezone.now(), **symbols,
    )
    try:
        with transaction.atomic():
            position = position_create(**values)
    except IntegrityError:
        raise ValidationError({"layer": f"layer {layer} of {inst.code} was taken meanwhile"}) from None
    if layer == 1:
        position_set_base(position=position)
    totals_refresh(state=state)
    return position

