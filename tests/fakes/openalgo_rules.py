"""Pure rules of the fake OpenAlgo: request schemas, contracts and lot sizes, exchange sessions, and
the Zerodha order-status mapping (with its stale-status quirk).

Learnt from OpenAlgo's source (marketcalls/openalgo: ``restx_api/*schema*.py``,
``database/symbol.py``, ``broker/zerodha/mapping/order_data.py``); no code is copied.  Stdlib only
(plus the application's pure session rules), no state: everything here is a function of its arguments.
"""

from __future__ import annotations

import re
import zlib
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from portfolio.sessions import DEFAULT_RULES, FULL, ExchangeCalendar, SessionRules, is_open

IST = timezone(timedelta(hours=5, minutes=30))

# ------------------------------------------------------------------ request schemas

VALID_EXCHANGES = ("NSE", "NFO", "CDS", "BSE", "BFO", "BCD", "MCX", "NCDEX", "NCO", "NSE_INDEX",
                   "BSE_INDEX", "MCX_INDEX", "GLOBAL_INDEX", "CRYPTO")
ACTIONS = ("BUY", "SELL", "buy", "sell")
PRICE_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("MIS", "NRML", "CNC")

# field -> (kind, required, default-or-choices).  kind: str | float+ (> 0) | float0 (>= 0) |
# int0 (int >= 0) | bool | choice.  A default of ... means "no default".
_ORDER = {
    "apikey": ("str", True, ...), "strategy": ("str", True, ...),
    "exchange": ("choice", True, VALID_EXCHANGES), "symbol": ("str", True, ...),
    "action": ("choice", True, ACTIONS), "quantity": ("float+", True, ...),
    "pricetype": ("choice", False, PRICE_TYPES), "product": ("choice", False, PRODUCTS),
    "price": ("float0", False, ...), "trigger_price": ("float0", False, ...),
    "disclosed_quantity": ("int0", False, ...), "underlying_ltp": ("float?", False, ...),
}
_MODIFY = {**{k: (kind, True, extra) for k, (kind, _, extra) in _ORDER.items()
              if k not in ("underlying_ltp",)}, "orderid": ("str", True, ...)}
_KEY_ONLY = {"apikey": ("str", True, ...)}
SCHEMAS: dict[str, dict] = {
    "placeorder": _ORDER,
    "modifyorder": _MODIFY,
    "cancelorder": {**_KEY_ONLY, "strategy": ("str", True, ...), "orderid": ("str", True, ...)},
    "orderstatus": {**_KEY_ONLY, "strategy": ("str", True, ...), "orderid": ("str", True, ...)},
    "orderbook": _KEY_ONLY, "tradebook": _KEY_ONLY, "positionbook": _KEY_ONLY,
    "funds": _KEY_ONLY, "ping": _KEY_ONLY, "analyzer": _KEY_ONLY,
    "analyzer/toggle": {**_KEY_ONLY, "mode": ("bool", True, ...)},
    "quotes": {**_KEY_ONLY, "symbol": ("str", True, ...), "exchange": ("choice", True, VALID_EXCHANGES)},
    "symbol": {**_KEY_ONLY, "symbol": ("str", True, ...), "exchange": ("choice", True, VALID_EXCHANGES)},
}
# Endpoints whose validation message is str(errors) (the others send the errors dict as is).
STRINGIFIED_ERRORS = frozenset({"placeorder", "modifyorder", "cancelorder", "orderstatus",
                                "analyzer", "analyzer/toggle"})


def validate(endpoint: str, body: Any, *, strict: bool = True) -> tuple[dict, dict]:
    """Check ``body`` like OpenAlgo's marshmallow schema for ``endpoint``.

    Returns ``(values, errors)``: values are the loaded fields (numbers as Decimal/int/bool);
    errors maps a field to its messages.  ``strict=False`` ignores unknown fields.
    """
    schema = SCHEMAS[endpoint]
    if not isinstance(body, dict):
        return {}, {"_schema": ["Invalid input type."]}
    values: dict = {}
    errors: dict[str, list[str]] = {}
    for name, (kind, required, extra) in schema.items():
        if name not in body:
            if required:
                errors[name] = ["Missing data for required field."]
            continue
        message, value = _load(name, kind, extra, body[name])
        if message:
            errors[name] = [message]
        else:
            values[name] = value
    if strict:
        for name in body:
            if name not in schema:
                errors[name] = ["Unknown field."]
    if not errors and endpoint in ("placeorder", "modifyorder"):
        quantity = values["quantity"]
        if values["exchange"] != "CRYPTO" and quantity != quantity.to_integral_value():
            errors["quantity"] = [f"Fractional quantity ({quantity}) is not allowed for non-crypto exchanges."]
        else:
            values["quantity"] = int(quantity)
    return values, errors


def _load(name: str, kind: str, extra: Any, value: Any) -> tuple[str | None, Any]:
    if value is None:
        return (None, None) if kind == "float?" else ("Field may not be null.", None)
    if kind == "str":
        return (None, value) if isinstance(value, str) else ("Not a valid string.", None)
    if kind == "choice":
        if value in extra:
            return None, value
        return f"Must be one of: {', '.join(extra)}.", None
    if kind == "bool":
        truthy = {True, 1, "true", "True", "TRUE", "1", "yes", "on", "t", "y"}
        falsy = {False, 0, "false", "False", "FALSE", "0", "no", "off", "f", "n"}
        if isinstance(value, (bool, int, str)) and value in truthy:
            return None, True
        if isinstance(value, (bool, int, str)) and value in falsy:
            return None, False
        return "Not a valid boolean.", None
    number = to_number(value)
    if kind == "int0":
        if number is None or number != number.to_integral_value():
            return "Not a valid integer.", None
        return (None, int(number)) if number >= 0 else ("Disclosed quantity must be a non-negative integer.", None)
    if number is None:
        return "Not a valid number.", None
    if kind == "float+" and number <= 0:
        return "Quantity must be a positive number.", None
    if kind == "float0" and number < 0:
        label = name.replace("_", " ").capitalize()
        return f"{label} must be a non-negative number.", None
    return None, number


def to_number(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON number or a numeric string (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# ------------------------------------------------------------------ contracts and lot sizes

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_SYMBOL = re.compile(r"(?P<root>[A-Z]+)(?P<day>\d{2})(?P<month>" + "|".join(MONTHS) + r")(?P<year>\d{2})"
                     r"(?:FUT|(?P<strike>[1-9]\d*)(?P<kind>PE|CE))")
# (exchange, root) -> (units per lot, tick size, freeze quantity).  MCX counts in lots or units
# (a switch); NFO options always count in units.
ROOTS: dict[tuple[str, str], tuple[int, Decimal, int]] = {
    ("MCX", "GOLDM"): (100, Decimal("1"), 1),
    ("MCX", "SILVERM"): (5, Decimal("1"), 1),
    ("MCX", "COPPER"): (2500, Decimal("0.05"), 1),
    ("NFO", "BANKNIFTY"): (30, Decimal("0.05"), 600),
}
MCX_QUANTITY_MODES = ("lots", "units")


def contract(symbol: str, exchange: str, *, mcx_quantity: str = "lots",
             extra: dict | None = None) -> dict | None:
    """OpenAlgo's ``/symbol`` data for a contract, or None when the master contract lacks it.

    ``extra`` holds contracts registered by tests (``add_symbol``), keyed by (symbol, exchange).
    """
    if extra and (symbol, exchange) in extra:
        return dict(extra[(symbol, exchange)])
    match = _SYMBOL.fullmatch(symbol) if isinstance(symbol, str) else None
    root = match["root"] if match else None
    if match is None or (exchange, root) not in ROOTS:
        return None
    try:
        expiry = date(2000 + int(match["year"]), MONTHS.index(match["month"]) + 1, int(match["day"]))
    except ValueError:
        return None
    units, tick, freeze = ROOTS[(exchange, root)]
    lotsize = 1 if exchange == "MCX" and mcx_quantity == "lots" else units
    kind = match["kind"] or "FUT"
    strike = Decimal(match["strike"]) if match["strike"] else Decimal("0")
    yymmm = f"{expiry:%y}{MONTHS[expiry.month - 1]}"
    return {
        "id": zlib.crc32(f"{exchange}:{symbol}".encode()) % 1_000_000,
        "symbol": symbol, "brsymbol": f"{root}{yymmm}{match['strike'] or ''}{kind}",
        "name": root, "exchange": exchange, "brexchange": exchange,
        "token": str(zlib.crc32(symbol.encode()) % 10_000_000),
        "expiry": f"{expiry.day:02d}-{MONTHS[expiry.month - 1]}-{expiry:%y}",
        "strike": float(strike), "lotsize": lotsize, "instrumenttype": kind,
        "tick_size": float(tick), "freeze_qty": freeze,
    }


# ------------------------------------------------------------------ exchange sessions
# The session rules are the application's own pure module (portfolio/sessions.py: stdlib only, no
# Django), so the fake refuses an order exactly when the application would hold it.  NFO and MCX use
# the shipped defaults; the other exchanges OpenAlgo knows get plain weekday sessions.

_OTHER_SESSIONS = {"NSE": SessionRules(time(9, 15), time(15, 30)), "BFO": SessionRules(time(9, 15), time(15, 30)),
                   "BSE": SessionRules(time(9, 15), time(15, 30)), "CDS": SessionRules(time(9, 0), time(17, 0)),
                   "BCD": SessionRules(time(9, 0), time(17, 0))}
SESSION_RULES = {**_OTHER_SESSIONS, **DEFAULT_RULES}
CLOSED_MESSAGE = "Markets are closed right now. Use GTT for placing long standing orders instead."


def session_calendar(exchange: str, holidays: Mapping[date, str] | set[date] = frozenset()) -> ExchangeCalendar | None:
    """The exchange's calendar with ``holidays`` (dates close the whole day, or date → full | morning |
    evening); None for an exchange without a session rule (orders there are never refused)."""
    rules = SESSION_RULES.get(exchange)
    if rules is None:
        return None
    closures = dict(holidays) if isinstance(holidays, Mapping) else dict.fromkeys(holidays, FULL)
    return ExchangeCalendar(exchange=exchange, rules=rules, closures=closures)


def session_refusal(exchange: str, at: datetime, holidays: Mapping[date, str] | set[date] = frozenset()) -> str | None:
    """Why an order for ``exchange`` at ``at`` is refused (None: the session is open)."""
    calendar = session_calendar(exchange, holidays)
    if calendar is None or is_open(calendar, at):
        return None
    return CLOSED_MESSAGE


# ------------------------------------------------------------------ Zerodha order-status mapping

KNOWN_STATUSES = {"COMPLETE": "complete", "REJECTED": "rejected", "TRIGGER PENDING": "trigger pending",
                  "OPEN": "open", "CANCELLED": "cancelled"}
TRANSIENT_STATUS = "OPEN PENDING"  # one of the broker states the mapping does not know
UNBOUND_MESSAGE = "cannot access local variable 'order_status' where it is not associated with a value"


class MappingError(Exception):
    """The mapping met an unknown status before any known one (OpenAlgo answers 500)."""


def map_statuses(broker_statuses: list[str]) -> list[str]:
    """OpenAlgo's words for broker statuses in book order: an unknown status takes the previous
    row's word, and an unknown status on the first row fails the whole call."""
    words: list[str] = []
    last: str | None = None
    for status in broker_statuses:
        if status in KNOWN_STATUSES:
            last = KNOWN_STATUSES[status]
        elif last is None:
            raise MappingError(UNBOUND_MESSAGE)
        words.append(last)
    return words
