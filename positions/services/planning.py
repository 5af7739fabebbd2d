"""Phase 1 of every order: the decision's rows — the position in ``opening``/``closing`` and its
order intents — committed together by the caller's transaction before any broker call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from portfolio.models import ContractKind, Instrument
from portfolio.selectors import instrument_params, trading_calendar
from positions.calendars import entry_contract_expiry
from positions.models import (
    IntentPurpose,
    Leg,
    OrderAction,
    OrderIntent,
    Position,
    PositionStatus,
)
from positions.stops import initial_stop
from positions.symbols import atm_strike, futures_symbol, option_symbol

_PURPOSE_CODE = {
    IntentPurpose.ENTRY: "en",
    IntentPurpose.EXIT: "ex",
    IntentPurpose.REVERSAL: "rv",
    IntentPurpose.ROLLOVER_CLOSE: "rc",
    IntentPurpose.ROLLOVER_OPEN: "ro",
}
_OPPOSITE = {OrderAction.BUY: OrderAction.SELL, OrderAction.SELL: OrderAction.BUY}


@dataclass(frozen=True)
class EntryOrder:
    """What the rules decided for an entry or a pyramid."""

    layer: int
    lots: int
    limiter: str
    price: Decimal
    atr: Decimal
    er: Decimal | None
    risk: Decimal
    vol: Decimal
    trade_date: date


def client_order_id(*, position_id: int, purpose: str, leg: str, attempt: int = 1) -> str:
    """Deterministic per (position, purpose, leg, attempt): a resend can never mint a new id."""
    return f"pm-{position_id}-{_PURPOSE_CODE[purpose]}-{leg}-{attempt}"


def _intent(position: Position, *, purpose: str, leg: str, sequence: int, symbol: str, action: str,
            reference_price: Decimal, signal=None, attempt: int = 1) -> OrderIntent:
    return OrderIntent.objects.create(
        client_order_id=client_order_id(position_id=position.pk, purpose=purpose, leg=leg, attempt=attempt),
        position=position,
        signal=signal,
        purpose=purpose,
        leg=leg,
        sequence=sequence,
        symbol=symbol,
        exchange=position.instrument.exchange,
        action=action,
        quantity=position.quantity,
        reference_price=reference_price,
    )


def entry_legs(position: Position) -> list[tuple[str, str, str]]:
    """(leg, symbol, action) of a long entry, in send order.  Long synthetic = SELL PE, then BUY CE."""
    if position.futures_symbol:
        return [(Leg.FUT, position.futures_symbol, OrderAction.BUY)]
    return [(Leg.PE, position.pe_symbol, OrderAction.SELL), (Leg.CE, position.ce_symbol, OrderAction.BUY)]


def exit_legs(position: Position) -> list[tuple[str, str, str]]:
    """The entry legs reversed, always on the symbols stored on the position."""
    return [(leg, symbol, _OPPOSITE[action]) for leg, symbol, action in entry_legs(position)]


def entry_plan(*, instrument: Instrument, order: EntryOrder, signal) -> Position:
    params = instrument_params(instrument)
    expiry = entry_contract_expiry(
        params=params, today=order.trade_date, calendar=trading_calendar(instrument.exchange)
    )
    stop = initial_stop(price=order.price, atr=order.atr, multiple=instrument.initial_stop_atr_multiple)
    symbols: dict = {}
    if instrument.contract_kind == ContractKind.FUTURES:
        symbols["futures_symbol"] = futures_symbol(root=instrument.symbol_root, expiry=expiry)
    else:
        strike = atm_strike(price=order.price, step=instrument.strike_step)
        symbols.update(
            strike=strike,
            pe_symbol=option_symbol(root=instrument.symbol_root, expiry=expiry, strike=strike, option_type="PE"),
            ce_symbol=option_symbol(root=instrument.symbol_root, expiry=expiry, strike=strike, option_type="CE"),
        )
    position = Position.objects.create(
        instrument=instrument,
        layer=order.layer,
        label=f"{instrument.code}_Long_{order.layer}",
        is_base_position=order.layer == 1,
        status=PositionStatus.OPENING,
        lots=order.lots,
        quantity=order.lots * instrument.order_quantity_per_lot,
        signal_price=order.price,
        initial_stop=stop,
        current_stop=stop,
        highest_close=order.price,
        entry_atr=order.atr,
        entry_er=order.er,
        limiter=order.limiter,
        risk_at_entry=order.risk,
        vol_at_entry=order.vol,
        entry_signal=signal,
        expiry=expiry,
        **symbols,
    )
    for sequence, (leg, symbol, action) in enumerate(entry_legs(position), start=1):
        _intent(position, purpose=IntentPurpose.ENTRY, leg=leg, sequence=sequence, symbol=symbol,
                action=action, reference_price=order.price, signal=signal)
    return position


def exit_plan(*, position: Position, reason: str, reference_price: Decimal, signal=None) -> bool:
    """Move ``open → closing`` by a conditional update and record the exit intents.

    Returns False (and writes nothing) when the position was no longer open: a TradingView EXIT
    and a stop exit for the same position can never both sell.
    """
    changed = Position.objects.filter(pk=position.pk, status=PositionStatus.OPEN).update(
        status=PositionStatus.CLOSING, exit_reason=reason[:100], exit_signal=signal,
        version=F("version") + 1, updated_at=timezone.now(),
    )
    if changed != 1:
        return False
    attempt = 1 + OrderIntent.objects.filter(position=position, purpose=IntentPurpose.EXIT).count() // max(
        1, len(exit_legs(position))
    )
    for sequence, (leg, symbol, action) in enumerate(exit_legs(position), start=1):
        _intent(position, purpose=IntentPurpose.EXIT, leg=leg, sequence=sequence, symbol=symbol,
                action=action, reference_price=reference_price, signal=signal, attempt=attempt)
    return True


def reversal_plan(*, position: Position, filled: list[OrderIntent]) -> list[OrderIntent]:
    """Undo the legs of a failed entry that did fill (e.g. the PE sold before the CE buy failed)."""
    return [
        _intent(position, purpose=IntentPurpose.REVERSAL, leg=intent.leg, sequence=10 + intent.sequence,
                symbol=intent.symbol, action=_OPPOSITE[intent.action], reference_price=intent.reference_price,
                signal=intent.signal)
        for intent in filled
    ]
