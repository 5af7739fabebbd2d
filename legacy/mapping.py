"""Legacy position rows → our position values, as plain rules (no database); shared row helpers.

Each ``map_*`` takes one legacy row (a dict, as read by ``legacy.source``) and returns what we
would write, with warnings for what it had to interpret; a row it cannot map raises ``Unmappable``
with every reason at once, so ops can fix the legacy row in one go.  The quirks handled here are the
legacy schema's (ha-notes §C) and its known bugs (domain-notes §12): naive IST timestamps, natural
position ids reused across campaigns (#45), expiries as text (#31), MCX rows without a futures
symbol (#30), Bank Nifty entry prices in futures terms (#38), quantities in two conventions (#42),
an ATR never stored by live entries (§9.2).  The portfolio and pyramiding rows: ``legacy.state``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from legacy.expiry import ExpiryError, parse_contract_month, parse_expiry, plausible
from portfolio.gates import new_position_risk, new_position_vol
from portfolio.params import InstrumentParams
from positions.calendars import TradingCalendar, expiry_for_month
from positions.pnl import synthetic_price
from positions.symbols import futures_symbol, option_symbol, parse_symbol

IST = "Asia/Kolkata"
CENT = Decimal("0.01")
ATR_PLACES = Decimal("0.0001")
HOLIDAY_SLACK, WEEKEND_SLACK = timedelta(days=5), timedelta(days=2)
LIVE_LEGACY_STATUSES = ("open", "partial", "closing")
_LABEL = re.compile(r"(?:(?P<instrument>[A-Z][A-Z_]*?)_)?Long_(?P<layer>[1-6])")
# Legacy limiter names (domain-notes §3) → ours (DESIGN Appendix A).
_LIMITERS = {"risk": "risk", "margin": "margin", "volatility": "volatility", "vol": "volatility",
             "risk_budget": "risk_budget", "invalid_risk": "risk"}


class Unmappable(Exception):
    """A legacy row we cannot import; ``reasons`` lists every problem found in it."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class RowError:
    table: str
    row_id: str
    reason: str

    def as_dict(self) -> dict:
        return {"table": self.table, "id": self.row_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """What mapping needs to know of one of our instruments."""

    params: InstrumentParams
    lot_size: int
    calendar: TradingCalendar = field(default_factory=TradingCalendar)


def aware(value: datetime | None, tz: str = IST) -> datetime | None:
    """A legacy ``TIMESTAMP`` (naive, IST wall clock) as an aware datetime; aware values pass."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(tz))


def legacy_limiter(value: str | None) -> str:
    """Our name for the legacy sizing limiter (``geometric_0.5^1`` → ``geometric``)."""
    text = (value or "").strip().lower()
    if text.startswith("geometric"):
        return "geometric"
    return _LIMITERS.get(text, "legacy")


def label_layer(position_id: str, instrument: str) -> tuple[int | None, str | None]:
    """(layer, problem) from a legacy natural key ``{INSTRUMENT}_Long_n``."""
    match = _LABEL.fullmatch(position_id or "")
    if match is None:
        return None, f"position_id {position_id!r} is not {instrument}_Long_1..6"
    if match["instrument"] and match["instrument"] != instrument:
        return None, f"position_id {position_id!r} names another instrument than {instrument}"
    return int(match["layer"]), None


class RowReader:
    """Field readers that collect problems instead of stopping at the first."""

    def __init__(self, row: Mapping):
        self.row, self.problems, self.warnings = row, [], []

    def number(self, name: str, *, required: bool = True, positive: bool = True) -> Decimal | None:
        value = self.row.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is empty")
            return None
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            self.problems.append(f"{name} {value!r} is not a number")
            return None
        if not number.is_finite() or (positive and number <= 0):
            self.problems.append(f"{name} {value} must be a number above 0")
            return None
        return number

    def whole(self, name: str) -> int | None:
        value = self.number(name)
        if value is not None and value != value.to_integral_value():
            self.problems.append(f"{name} {value} is not a whole number")
            return None
        return None if value is None else int(value)

    def text(self, name: str) -> str:
        return str(self.row.get(name) or "").strip()


# ------------------------------------------------------------------------------------ positions


@dataclass
class MappedPosition:
    legacy_id: str
    legacy_key: str
    instrument: str
    layer: int
    values: dict  # keyword arguments for positions.services.lifecycle.position_create
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        v = self.values
        keys = ("lots", "quantity", "entry_price", "signal_price", "initial_stop", "current_stop", "highest_close",
                "entry_atr", "limiter", "expiry", "futures_symbol", "strike", "pe_symbol", "ce_symbol",
                "pe_entry_price", "ce_entry_price", "opened_at")
        return {"legacy_id": self.legacy_id, "legacy_key": self.legacy_key, "label": v["label"],
                "instrument": self.instrument, "layer": self.layer,
                **{k: _json(v.get(k)) for k in keys}, "warnings": list(self.warnings)}


def _json(value):
    if isinstance(value, (Decimal, date, datetime)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def _symbol(text: str, root: str, kinds: tuple[str, ...], r: RowReader, column: str):
    try:
        parsed = parse_symbol(text)
    except ValueError:
        r.problems.append(f"{column} {text!r} is not a broker symbol")
        return None
    if parsed.root != root or parsed.kind not in kinds:
        r.problems.append(f"{column} {text!r} is not a {root} {'/'.join(kinds)} contract")
        return None
    return parsed


def expiry_fits(spec: InstrumentSpec) -> Callable[[date], bool]:
    """Whether a date can be an expiry of the instrument: a listed month, and within a few days before
    the rule's day (an exchange holiday moves it back; our holiday table may not know it)."""
    params, weekdays_only = spec.params, TradingCalendar()

    def fits(value: date) -> bool:
        if value.month not in params.contract_months:
            return False
        rule_day = expiry_for_month(rule=params.expiry_rule, year=value.year, month=value.month, calendar=weekdays_only)
        return rule_day - HOLIDAY_SLACK <= value <= rule_day + WEEKEND_SLACK

    return fits


def _text_expiry(r: RowReader, column: str, opened_on: date | None, spec: InstrumentSpec, *,
                 strict: bool) -> date | None:
    """The expiry column read in every format the legacy system wrote (None when empty).  Not
    ``strict`` (the row's symbols say the expiry), an unreadable text is only a warning."""
    text = r.text(column)
    if not text:
        return None
    try:
        return parse_expiry(text, opened_on=opened_on, fits=expiry_fits(spec), rule=spec.params.expiry_rule).value
    except ExpiryError as exc:
        (r.problems if strict else r.warnings).append(str(exc) if strict else f"{exc}: the symbol says the expiry")
        return None


def _futures_contract(r: RowReader, spec: InstrumentSpec, opened_on: date | None) -> dict:
    root = spec.params.symbol_root
    symbol = r.text("futures_symbol").upper()
    parsed = _symbol(symbol, root, ("FUT",), r, "futures_symbol") if symbol else None
    expiry = _text_expiry(r, "expiry", opened_on, spec, strict=not symbol)
    month = r.text("contract_month")
    by_month = None
    if month:
        try:
            year, number = parse_contract_month(month)
            by_month = expiry_for_month(rule=spec.params.expiry_rule, year=year, month=number, calendar=spec.calendar)
        except ExpiryError as exc:
            r.warnings.append(f"{exc}: ignored")
    if parsed is not None:
        if expiry is not None and expiry != parsed.expiry:
            r.warnings.append(f"expiry {r.text('expiry')!r} disagrees with {symbol}: the symbol (what the broker "
                              f"holds) wins")
        return {"futures_symbol": symbol, "expiry": parsed.expiry}
    if symbol:
        return {}
    source = f"expiry {r.text('expiry')!r}"
    if expiry is None and by_month is not None:
        if not plausible(by_month, opened_on=opened_on):
            r.problems.append(f"contract_month {month!r} ({by_month}) is not within reach of the entry on {opened_on}")
            return {}
        expiry, source = by_month, f"contract_month {month!r}"
    if expiry is None:
        if not r.text("expiry"):
            r.problems.append("no contract: futures_symbol, expiry and contract_month are all empty")
        return {}
    built = futures_symbol(root=root, expiry=expiry)
    r.warnings.append(f"no futures_symbol (legacy bug #30): {built} built from the {source} ({expiry})")
    return {"futures_symbol": built, "expiry": expiry}


def _option_contract(r: RowReader, spec: InstrumentSpec, opened_on: date | None) -> dict:
    root = spec.params.symbol_root
    pe_text, ce_text = r.text("pe_symbol").upper(), r.text("ce_symbol").upper()
    expiry = _text_expiry(r, "expiry", opened_on, spec, strict=not (pe_text and ce_text))
    strike_column = r.row.get("strike")
    if pe_text and ce_text:
        pe = _symbol(pe_text, root, ("PE",), r, "pe_symbol")
        ce = _symbol(ce_text, root, ("CE",), r, "ce_symbol")
        if pe is None or ce is None:
            return {}
        if (pe.expiry, pe.strike) != (ce.expiry, ce.strike):
            r.problems.append(f"{pe_text} and {ce_text} are not one strike and expiry (a synthetic needs both)")
            return {}
        if strike_column is not None and int(strike_column) != pe.strike:
            r.warnings.append(f"strike column {strike_column} disagrees with the symbols' strike {pe.strike} "
                              "(legacy bug #7): the symbols win")
        if expiry is not None and expiry != pe.expiry:
            r.warnings.append(f"expiry {r.text('expiry')!r} disagrees with {pe_text}: the symbols win")
        return {"pe_symbol": pe_text, "ce_symbol": ce_text, "strike": pe.strike, "expiry": pe.expiry}
    if pe_text or ce_text:
        r.problems.append("only one option leg symbol is stored; a synthetic needs its PE and CE symbols")
        return {}
    if strike_column is None or expiry is None:
        if not r.text("expiry") or strike_column is None:
            r.problems.append("no contract: pe_symbol/ce_symbol empty and no strike and expiry to build them")
        return {}
    strike = int(strike_column)
    built = {kind: option_symbol(root=root, expiry=expiry, strike=strike, option_type=kind) for kind in ("PE", "CE")}
    r.warnings.append(f"no leg symbols stored: {built['PE']} / {built['CE']} built from strike and expiry")
    return {"pe_symbol": built["PE"], "ce_symbol": built["CE"], "strike": strike, "expiry": expiry}


def _quantity(r: RowReader, spec: InstrumentSpec, lots: int) -> int:
    ours = lots * spec.params.order_quantity_per_lot
    stored = r.row.get("quantity")
    if stored is None or int(stored) == ours:
        return ours
    if int(stored) == lots * spec.lot_size:
        r.warnings.append(f"legacy quantity {stored} counts lots × lot size {spec.lot_size} (legacy bug #42); ours is "
                          f"the broker quantity per leg: {ours}")
        return ours
    r.problems.append(f"quantity {stored} is neither lots × {spec.params.order_quantity_per_lot} nor lots × lot "
                      f"size {spec.lot_size}")
    return ours


def _status_notes(r: RowReader) -> None:
    status = r.text("status")
    if status == "partial":
        r.warnings.append("status partial (entry partly filled): imported as open with the filled lots")
    elif status == "closing":
        r.warnings.append("status closing (a legacy exit was in flight when it stopped): imported as open; the "
                          "reconciliation after the import shows whether the broker still holds it")
    elif status not in LIVE_LEGACY_STATUSES:
        r.problems.append(f"status {status!r} is not open, partial or closing")
    if r.row.get("is_test"):
        r.problems.append("test-mode position (is_test): clear it in the legacy system (POST /test/clear) first")


def _rollover(r: RowReader, opened_on: date | None, tz: str) -> dict:
    status = r.text("rollover_status") or "none"
    if status == "rolled":
        r.warnings.append("rollover_status rolled is never reset by the legacy system (bug #33): imported as none")
    elif status != "none":
        r.warnings.append(f"legacy rollover was {status} and never persisted its legs (bug #34): imported as none; "
                          "the reconciliation shows which contract the broker holds")
    original_expiry = None
    if r.text("original_expiry"):
        try:
            original_expiry = parse_expiry(r.text("original_expiry"), opened_on=opened_on).value
        except ExpiryError as exc:
            r.warnings.append(f"original_{exc}: left empty")
    original_strike = r.row.get("original_strike")
    return {
        "rollover_status": "none", "rollover_count": int(r.row.get("rollover_count") or 0),
        "original_expiry": original_expiry, "original_strike": int(original_strike) if original_strike else None,
        "original_entry_price": r.number("original_entry_price", required=False),
        "rollover_pnl": Decimal(str(r.row.get("rollover_pnl") or 0)).quantize(CENT),
        "rollover_at": aware(r.row.get("rollover_timestamp"), tz),
    }


def map_position(row: Mapping, *, specs: Mapping[str, InstrumentSpec], tz: str = IST) -> MappedPosition:
    """One open (or partial, or closing) legacy position → the values of our ``open`` position."""
    r = RowReader(row)
    legacy_id = r.text("position_id")
    code = r.text("instrument").upper()
    spec = specs.get(code)
    if spec is None:
        raise Unmappable([f"instrument {code!r} is not one of ours ({', '.join(sorted(specs))})"])
    layer, problem = label_layer(legacy_id, code)
    if problem:
        r.problems.append(problem)
    elif not legacy_id.startswith(code):
        r.warnings.append(f"position_id {legacy_id!r} lacks the instrument prefix (legacy bug #13)")
    _status_notes(r)
    lots = r.whole("lots")
    opened_at = aware(row.get("entry_timestamp"), tz)
    if opened_at is None:
        r.problems.append("entry_timestamp is empty")
    opened_on = opened_at.date() if opened_at else None
    futures = spec.params.contract_kind == "futures"
    contract = _futures_contract(r, spec, opened_on) if futures else _option_contract(r, spec, opened_on)
    signal_price = r.number("entry_price")
    initial, current = r.number("initial_stop"), r.number("current_stop")
    highest = r.number("highest_close", required=False)
    legs = {} if futures else {name: r.number(name) for name in ("pe_entry_price", "ce_entry_price")}
    atr = r.number("atr", required=False, positive=False)
    rollover = _rollover(r, opened_on, tz)
    base_flag = bool(row.get("is_base_position"))
    if r.problems or lots is None or layer is None:
        raise Unmappable(r.problems)
    quantity = _quantity(r, spec, lots)
    if initial >= signal_price:
        r.problems.append(f"initial_stop {initial} is not below the entry price {signal_price}")
    if r.problems:
        raise Unmappable(r.problems)
    entry = signal_price
    if not futures:
        entry = synthetic_price(strike=contract["strike"], ce_price=legs["ce_entry_price"],
                                pe_price=legs["pe_entry_price"])
        if entry != signal_price:
            r.warnings.append(f"entry_price {signal_price} is in futures terms (legacy bug #38); ours is the synthetic "
                              f"strike + CE − PE = {entry}; {signal_price} is kept as the signal price")
    if current < initial:
        r.warnings.append(f"current_stop {current} is below initial_stop {initial}: imported as is")
    if highest is None:
        highest = signal_price
        r.warnings.append("highest_close is empty: the entry price is used")
    multiple = spec.params.initial_stop_atr_multiple
    if atr is None or atr <= 0:
        atr = ((signal_price - initial) / multiple).quantize(ATR_PLACES)
        r.warnings.append(f"atr is empty (legacy live entries never stored it, domain-notes §9.2): derived from the "
                          f"initial stop as (entry − initial stop) / {multiple} = {atr}")
    if base_flag != (layer == 1):
        r.warnings.append(f"is_base_position {base_flag} on layer {layer}: our base is always Long_1")
    pv = spec.params.point_value
    values = dict(
        instrument_id=code, layer=layer, label=f"{code}_Long_{layer}", is_base_position=layer == 1, status="open",
        lots=lots, quantity=quantity, signal_price=signal_price, entry_price=entry, initial_stop=initial,
        current_stop=current, highest_close=highest, entry_atr=atr, limiter=legacy_limiter(row.get("limiter")),
        risk_at_entry=new_position_risk(price=signal_price, stop=initial, lots=lots, point_value=pv).quantize(CENT),
        vol_at_entry=new_position_vol(atr=atr, lots=lots, point_value=pv).quantize(CENT),
        opened_at=opened_at, legacy_key=f"{legacy_id}@{opened_at.replace(tzinfo=None).isoformat()}",
        **{"futures_symbol": "", "strike": None, "pe_symbol": "", "ce_symbol": "", **contract}, **legs, **rollover,
    )
    return MappedPosition(legacy_id, values["legacy_key"], code, layer, values, r.warnings)
