"""Reads for the portfolio app: rule parameters as plain values, the portfolio row, statistics."""

from __future__ import annotations

from portfolio.models import Instrument, PortfolioState, TradingStatistics
from portfolio.params import InstrumentParams


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


def instrument_codes() -> frozenset[str]:
    return frozenset(Instrument.objects.values_list("code", flat=True))


def portfolio_state() -> PortfolioState | None:
    return PortfolioState.objects.filter(pk=PortfolioState.SINGLETON_ID).first()


def trading_statistics() -> TradingStatistics:
    """The statistics row, or an all-zero one (unsaved) before the first signal has finished."""
    return TradingStatistics.objects.filter(pk=1).first() or TradingStatistics(pk=1)
