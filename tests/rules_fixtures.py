"""Rule parameters of the four seeded instruments (DESIGN §7 / §8 table values), for pure rule tests.

The MCX instruments differ from Gold Mini only where listed.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from portfolio.params import ALL_MONTHS, InstrumentParams

D = Decimal

BANK_NIFTY = InstrumentParams(
    code="BANK_NIFTY",
    exchange="NFO",
    contract_kind="synthetic_options",
    symbol_root="BANKNIFTY",
    point_value=D("30"),
    margin_per_lot=D("270000"),
    order_quantity_per_lot=30,
    risk_percent=D("1.0"),
    vol_percent=D("0.5"),
    use_vol_constraint=False,
    initial_stop_atr_multiple=D("1.5"),
    trailing_stop_atr_multiple=D("2.5"),
    pyramid_spacing_atr=D("0.5"),
    max_pyramids=5,
    strike_step=500,
    expiry_rule="last_tuesday",
    contract_months=ALL_MONTHS,
    entry_roll_trading_days=5,
    rollover_days=7,
)

GOLD_MINI = InstrumentParams(
    code="GOLD_MINI",
    exchange="MCX",
    contract_kind="futures",
    symbol_root="GOLDM",
    point_value=D("10"),
    margin_per_lot=D("105000"),
    order_quantity_per_lot=1,
    risk_percent=D("1.0"),
    vol_percent=D("0.2"),
    use_vol_constraint=False,
    initial_stop_atr_multiple=D("1.0"),
    trailing_stop_atr_multiple=D("2.0"),
    pyramid_spacing_atr=D("0.5"),
    max_pyramids=3,
    strike_step=None,
    expiry_rule="fifth",
    contract_months=ALL_MONTHS,
    entry_roll_trading_days=3,
    rollover_days=8,
)

SILVER_MINI = dataclasses.replace(
    GOLD_MINI,
    code="SILVER_MINI",
    symbol_root="SILVERM",
    point_value=D("5"),
    margin_per_lot=D("385000"),
    initial_stop_atr_multiple=D("2.0"),
    trailing_stop_atr_multiple=D("3.0"),
    max_pyramids=5,
    expiry_rule="last_day",
    contract_months=(2, 4, 6, 8, 11),
    entry_roll_trading_days=8,
)

COPPER = dataclasses.replace(
    GOLD_MINI,
    code="COPPER",
    symbol_root="COPPER",
    point_value=D("2500"),
    margin_per_lot=D("300000"),
    initial_stop_atr_multiple=D("3.0"),
    trailing_stop_atr_multiple=D("5.0"),
    expiry_rule="last_day",
)

ALL_INSTRUMENTS = (BANK_NIFTY, GOLD_MINI, SILVER_MINI, COPPER)
