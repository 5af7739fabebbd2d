"""Reads for the portfolio app: rule parameters as plain values, exposure, calendars."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portfolio.equity import blended_equity, free_margin, position_risk, position_vol
from portfolio.models import Holiday, Instrument, PortfolioState
from portfolio.params import InstrumentParams
from positions.calendars import TradingCalendar
from positions.pnl import unrealized_pnl

ZERO = Decimal("0")


def instrument_params(instrument: Instrument) -> InstrumentParams:
    return InstrumentParams(
        code=instrument.code,
        exchange=instrument.exchange,
        contract_kind=instrument.contract_kind,
        symbol_root=instrument.symbol_root,
        point_value=instrument.point_value,
        margin_per_lot=instrument.margin_per_lot,
        order_quantity_per_lot=instrument.order_quantity_per_lot,
        risk_percent=instrument.risk_percent,
        vol_percent=instrument.vol_percent,
        use_vol_constraint=instrument.use_vol_constraint,
        initial_stop_atr_multiple=instrument.initial_stop_atr_multiple,
        trailing_stop_atr_multiple=instrument.trailing_stop_atr_multiple,
        pyramid_spacing_atr=instrument.pyramid_spacing_atr,
        max_pyramids=instrument.max_pyramids,
        strike_step=instrument.strike_step,
        expiry_rule=instrument.expiry_rule,
        contract_months=instrument.contract_month_numbers,
        entry_roll_trading_days=instrument.entry_roll_trading_days,
        rollover_days=instrument.rollover_days,
    )


def trading_calendar(exchange: str) -> TradingCalendar:
    return TradingCalendar(frozenset(Holiday.objects.filter(exchange=exchange).values_list("date", flat=True)))


def instrument_codes() -> frozenset[str]:
    return frozenset(Instrument.objects.values_list("code", flat=True))


@dataclass(frozen=True)
class Exposure:
    """Portfolio totals derived from positions (never stored as the source of truth)."""

    margin_used: Decimal
    risk: Decimal
    vol: Decimal
    unrealized_pnl: Decimal

    def blended(self, state: PortfolioState) -> Decimal:
        return blended_equity(
            closed_equity=state.closed_equity, unrealized_pnl=self.unrealized_pnl, weight=state.unrealized_weight
        )

    def margin_free(self, state: PortfolioState) -> Decimal:
        return free_margin(
            equity_high=state.equity_high, margin_in_use=self.margin_used,
            margin_limit_percent=state.margin_limit_percent,
        )


def portfolio_exposure() -> Exposure:
    """Margin, risk and volatility of positions that hold or are acquiring margin (opening, open);
    unrealized P&L of positions still held (open, closing), marked at the instrument's last bar."""
    from positions.models import Position

    margin = risk = vol = unrealized = ZERO
    rows = Position.objects.filter(status__in=["opening", "open", "closing"]).select_related("instrument")
    for p in rows:
        inst = p.instrument
        entry = p.entry_price if p.entry_price is not None else p.signal_price
        if p.status in ("opening", "open"):
            margin += p.lots * inst.margin_per_lot
            risk += position_risk(
                entry_price=entry, current_stop=p.current_stop, lots=p.lots, point_value=inst.point_value
            )
            vol += position_vol(entry_atr=p.entry_atr, lots=p.lots, point_value=inst.point_value)
        if p.status in ("open", "closing"):
            mark = inst.mark_price if inst.mark_price is not None else entry
            unrealized += unrealized_pnl(
                entry_price=entry, mark_price=mark, lots=p.lots, point_value=inst.point_value
            )
    return Exposure(margin_used=margin, risk=risk, vol=vol, unrealized_pnl=unrealized)
