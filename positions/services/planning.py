"""Phase 1 of every order: the decision's rows — the position in ``opening``/``closing`` and its
order intents — committed together by the caller's transaction before any broker call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from portfolio.models import ContractKind, ExecutionStyle, Instrument
from portfolio.selectors import instrument_params
from positions.calendars import entry_contract_expiry
from positions.models import IntentPurpose, Leg, OrderAction, Position, PositionStatus, PriceType
from positions.selectors import trading_calendar
from positions.services.intents import intent_create
from positions.services.lifecycle import position_create, position_exit_start
from positions.stops import initial_stop
from positions.symbols import atm_strike, futures_symbol, option_symbol


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


def entry_legs(position: Position) -> list[tuple[str, str, str]]:
    """(leg, symbol, action) of a long entry, in send order.  Long synthetic = BUY CE, then SELL PE:
    the call first, so the broker never holds a short put without it (``positions.legs``)."""
    if position.futures_symbol:
        return [(Leg.FUT, position.futures_symbol, OrderAction.BUY)]
    return [(Leg.CE, position.ce_symbol, OrderAction.BUY), (Leg.PE, position.pe_symbol, OrderAction.SELL)]


def exit_legs(position: Position) -> list[tuple[str, str, str]]:
    """(leg, symbol, action) of closing a long, in send order, on the symbols stored on the position:
    BUY PE back first, then SELL CE (never a short put without its call)."""
    if position.futures_symbol:
        return [(Leg.FUT, position.futures_symbol, OrderAction.SELL)]
    return [(Leg.PE, position.pe_symbol, OrderAction.BUY), (Leg.CE, position.ce_symbol, OrderAction.SELL)]


def price_type(instrument: Instrument) -> str:
    return PriceType.LIMIT if instrument.execution_style == ExecutionStyle.LIMIT_CHASE else PriceType.MARKET


def contract_symbols(instrument: Instrument, *, expiry: date, price: Decimal) -> dict:
    """The contract of ``expiry``: its futures symbol, or (options) the ATM strike of ``price`` and its legs."""
    if instrument.contract_kind == ContractKind.FUTURES:
        return {"futures_symbol": futures_symbol(root=instrument.symbol_root, expiry=expiry)}
    strike = atm_strike(price=price, step=instrument.strike_step)
    return {
        "strike": strike,
        "pe_symbol": option_symbol(root=instrument.symbol_root, expiry=expiry, strike=strike, option_type="PE"),
        "ce_symbol": option_symbol(root=instrument.symbol_root, expiry=expiry, strike=strike, option_type="CE"),
    }


def entry_plan(*, instrument: Instrument, order: EntryOrder, signal) -> Position:
    expiry = entry_contract_expiry(
        params=instrument_params(instrument), today=order.trade_date, calendar=trading_calendar(instrument.exchange)
    )
    stop = initial_stop(price=order.price, atr=order.atr, multiple=instrument.initial_stop_atr_multiple)
    position = position_create(
        instrument=instrument, layer=order.layer, label=f"{instrument.code}_Long_{order.layer}",
        is_base_position=order.layer == 1, status=PositionStatus.OPENING, lots=order.lots,
        quantity=order.lots * instrument.order_quantity_per_lot, signal_price=order.price, initial_stop=stop,
        current_stop=stop, highest_close=order.price, entry_atr=order.atr, entry_er=order.er, limiter=order.limiter,
        risk_at_entry=order.risk, vol_at_entry=order.vol, entry_signal=signal, expiry=expiry,
        **contract_symbols(instrument, expiry=expiry, price=order.price),
    )
    for sequence, (leg, symbol, action) in enumerate(entry_legs(position), start=1):
        intent_create(position=position, purpose=IntentPurpose.ENTRY, leg=leg, sequence=sequence, symbol=symbol,
                      action=action, reference_price=order.price, signal=signal, price_type=price_type(instrument))
    return position


def exit_plan(*, position: Position, reason: str, reference_price: Decimal, signal=None) -> bool:
    """Move ``open → closing`` and record the exit intents; False (nothing written) when the position
    was no longer open, so a TradingView EXIT and a stop exit can never both sell."""
    if not position_exit_start(position=position, reason=reason, signal=signal):
        return False
    for sequence, (leg, symbol, action) in enumerate(exit_legs(position), start=1):
        intent_create(position=position, purpose=IntentPurpose.EXIT, leg=leg, sequence=sequence, symbol=symbol,
                      action=action, reference_price=reference_price, signal=signal,
                      price_type=price_type(position.instrument))
    return True
