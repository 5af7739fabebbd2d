"""Sanity checks of a held position's data, run by startup recovery (DESIGN §10).  Pure: plain values
in, warnings out.  A warning never changes anything; it tells ops what to look at.

A trailing stop above the entry price is normal (the trade is in profit), so "stop above entry" is
checked on the *initial* stop; the current stop is checked against the highest close it trails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from positions.symbols import parse_symbol

EXCHANGE_TIMEZONE = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True, slots=True)
class PositionFacts:
    position_id: int
    label: str
    instrument: str
    futures: bool  # the instrument trades futures (else a PE + CE synthetic)
    symbol_root: str
    order_quantity_per_lot: int
    lots: int
    quantity: int
    entry_price: Decimal | None
    initial_stop: Decimal
    current_stop: Decimal
    highest_close: Decimal
    expiry: date | None
    futures_symbol: str = ""
    pe_symbol: str = ""
    ce_symbol: str = ""
    strike: int | None = None


def _symbol_problems(facts: PositionFacts) -> tuple[list[str], list[str]]:
    """(missing symbol fields, symbols that disagree with the position)."""
    wanted = {"futures_symbol": facts.futures_symbol} if facts.futures else {
        "pe_symbol": facts.pe_symbol, "ce_symbol": facts.ce_symbol}
    missing = [name for name, value in wanted.items() if not value]
    wrong = []
    for name, value in wanted.items():
        if not value:
            continue
        try:
            parsed = parse_symbol(value)
        except ValueError:
            wrong.append(f"{name} {value!r} is not a futures or option symbol")
            continue
        kind = "FUT" if name == "futures_symbol" else name[:2].upper()
        if parsed.root != facts.symbol_root or parsed.kind != kind:
            wrong.append(f"{name} {value} is not a {facts.symbol_root} {kind} contract")
        if facts.expiry is not None and parsed.expiry != facts.expiry:
            wrong.append(f"{name} {value} expires {parsed.expiry}, the position says {facts.expiry}")
        if parsed.strike is not None and parsed.strike != facts.strike:
            wrong.append(f"{name} {value} has strike {parsed.strike}, the position says {facts.strike}")
    return missing, wrong


def position_warnings(facts: PositionFacts, *, today: date) -> list[dict]:
    """Every problem with one held position; ``today`` is the exchange-local date."""
    found: list[tuple[str, str]] = []
    if facts.lots <= 0:
        found.append(("lots_not_positive", f"lots is {facts.lots}"))
    elif facts.quantity != facts.lots * facts.order_quantity_per_lot:
        found.append(("quantity_inconsistent", f"quantity {facts.quantity} is not lots {facts.lots} × "
                                               f"{facts.order_quantity_per_lot}"))
    if facts.initial_stop < 0 or facts.current_stop < 0:
        found.append(("negative_stop", f"initial stop {facts.initial_stop}, current stop {facts.current_stop}"))
    if facts.entry_price is None or facts.entry_price <= 0:
        found.append(("entry_price_missing", f"entry price is {facts.entry_price}"))
    elif facts.initial_stop >= facts.entry_price:
        found.append(("stop_above_entry", f"initial stop {facts.initial_stop} is not below entry "
                                          f"{facts.entry_price} of a long position"))
    if facts.current_stop > facts.highest_close:
        found.append(("stop_above_high", f"current stop {facts.current_stop} is above the highest close "
                                         f"{facts.highest_close} it trails"))
    if facts.expiry is None:
        found.append(("expiry_missing", "the position has no contract expiry"))
    elif facts.expiry < today:
        found.append(("contract_expired", f"contract expired on {facts.expiry}"))
    missing, wrong = _symbol_problems(facts)
    if missing:
        found.append(("missing_symbols", f"no {', '.join(missing)}"))
    found.extend(("symbol_mismatch", text) for text in wrong)
    return [{"check": check, "position_id": facts.position_id, "label": facts.label, "instrument": facts.instrument,
             "detail": detail} for check, detail in found]
