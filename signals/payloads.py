"""Webhook payload validation (DESIGN §5, Appendix A): pure, no database.

``validate_payload`` returns a ``ValidatedSignal`` or raises ``PayloadInvalid`` whose ``errors``
map every bad field to its messages, so one 400 names them all.

Input hygiene (DESIGN §15.4): whatever a client sends is either refused here with a 400 naming the
field, or made storable (``sanitise``) before it reaches PostgreSQL, so nothing a client sends can be
mistaken for a database outage.  PostgreSQL refuses NUL characters, unpaired UTF-16 surrogates and the
JSON literals NaN / Infinity, all of which Python's json module lets through.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from signals.fingerprint import parse_signal_timestamp, signal_fingerprint

ORDER_TYPES = ("BASE_ENTRY", "PYRAMID", "EXIT")
SIGNAL_TYPES = (*ORDER_TYPES, "MARKET_DATA", "EOD_MONITOR")
LAYERS = tuple(f"Long_{n}" for n in range(1, 7))
_ORDER_REQUIRED = ("type", "instrument", "position", "price", "stop", "lots", "atr", "er", "supertrend", "timestamp")
REQUIRED = {
    "BASE_ENTRY": _ORDER_REQUIRED,
    "PYRAMID": _ORDER_REQUIRED,
    "EXIT": (*_ORDER_REQUIRED, "reason"),
    "MARKET_DATA": ("type", "instrument", "timestamp", "price", "atr", "supertrend"),
    "EOD_MONITOR": ("type", "instrument", "timestamp"),
}
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_LIMIT = Decimal("1e9")
REQUIRED_MESSAGE = "This field is required."
ENTRY_TYPES = ("BASE_ENTRY", "PYRAMID")
# Deeper bodies are refused as malformed: Python's json and the renderers recurse (a 10 KB body can
# nest 5,000 levels), and no real alert nests more than two or three.
MAX_DEPTH = 32
# Characters PostgreSQL cannot store in text or jsonb: NUL, and surrogates (json.loads leaves an
# unpaired \ud800 escape as a lone surrogate; a valid pair becomes one astral character).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# Fields the rules never read (DESIGN §15.4): an undefined Pine series renders as NaN here.
INFORMATIONAL_NAN_FIELDS = ("roc",)


class PayloadInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class ValidatedSignal:
    signal_type: str
    instrument: str
    position: str  # "" for MARKET_DATA / EOD_MONITOR
    timestamp: datetime
    fingerprint: str
    payload: dict  # as received, minus the secret
    price: Decimal | None = None
    stop: Decimal | None = None
    atr: Decimal | None = None
    er: Decimal | None = None
    supertrend: Decimal | None = None
    roc: Decimal | None = None
    lots: int | None = None
    reason: str = ""


def json_depth_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """True if containers nest deeper than ``limit`` (iterative: safe on any input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def storable_text(text: str) -> str:
    """``text`` with every character PostgreSQL refuses replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def has_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def sanitise(value: object) -> object:
    """A JSON value made storable in jsonb: NUL and lone surrogates replaced (in keys too), NaN and
    ±Infinity (Python floats, also what an overflowing literal such as 1e400 parses to) → None."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {storable_text(str(key)): sanitise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [sanitise(item) for item in value]
    return value


def is_nan(value: object) -> bool:
    """NaN as Pine renders an undefined series: the JSON literal, or the same word quoted."""
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() == "nan"


def stored_payload(data: dict) -> dict:
    """The payload as stored: as received, minus the secret, informational NaN as null, sanitised."""
    payload = {key: value for key, value in data.items() if key != "secret"}
    for name in INFORMATIONAL_NAN_FIELDS:
        if is_nan(payload.get(name)):
            payload[name] = None
    return sanitise(payload)


def parse_number(value: object) -> Decimal:
    """A JSON number or a plain ASCII decimal string, finite; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError("must be a number (plain decimal digits)")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if abs(number) >= _LIMIT:
        raise ValueError("is out of range")
    return number


def _canonical_word(value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    canonical = {choice.upper(): choice for choice in allowed}.get(value.strip().upper())
    if canonical is None:
        raise ValueError(f"must be one of {', '.join(allowed)}")
    return canonical


class _Collector:
    """Collects per-field errors so every bad field is reported at once."""

    def __init__(self, data: dict) -> None:
        self.data, self.errors = data, {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def number(self, field: str, *, minimum: Decimal | None = None, strictly: bool = False,
               maximum: Decimal | None = None) -> Decimal | None:
        if field not in self.data or self.data[field] is None:
            return None
        try:
            value = parse_number(self.data[field])
        except ValueError as exc:
            self.add(field, str(exc))
            return None
        if minimum is not None and (value <= minimum if strictly else value < minimum):
            self.add(field, f"must be {'greater than' if strictly else 'at least'} {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.add(field, f"must be at most {maximum}")
            return None
        return value


def validate_payload(data: object, *, instruments: frozenset[str], default_tz: str) -> ValidatedSignal:
    if not isinstance(data, dict):
        raise PayloadInvalid({"non_field_errors": ["The body must be a JSON object."]})
    c = _Collector(data)
    signal_type = _field(c, "type", lambda v: _canonical_word(v, SIGNAL_TYPES))
    instrument = _field(c, "instrument", lambda v: _canonical_word(v, tuple(sorted(instruments))))
    for name in REQUIRED.get(signal_type, ("type", "instrument", "timestamp")):
        if data.get(name) is None and name not in c.errors:
            c.add(name, REQUIRED_MESSAGE)
    timestamp = _field(c, "timestamp", lambda v: parse_signal_timestamp(v, default_tz=default_tz))
    if signal_type in ORDER_TYPES:
        fields = _order_fields(c, signal_type)
    elif signal_type == "MARKET_DATA":
        fields = _market_data_fields(c)
    else:
        fields = {}
    if c.errors:
        raise PayloadInvalid(c.errors)
    position = fields.pop("position", "")
    return ValidatedSignal(
        signal_type=signal_type,
        instrument=instrument,
        position=position,
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO-8601 (and Python) allow to ±23:59.
        timestamp=timestamp.astimezone(UTC),
        fingerprint=signal_fingerprint(
            instrument=instrument, signal_type=signal_type, position=position or None, timestamp=timestamp
        ),
        payload=stored_payload(data),
        **fields,
    )


def _field(c: _Collector, name: str, parse):
    if c.data.get(name) is None:
        return None
    try:
        return parse(c.data[name])
    except ValueError as exc:
        c.add(name, str(exc))
        return None


def _order_fields(c: _Collector, signal_type: str) -> dict:
    """Entries are sized from these numbers, so they are bounded (DESIGN §15.4): ATR > 0 (ATR 0 would
    ratchet every stop to the highest close), ER a fraction in (0, 1] (82 for 0.82 would size ten
    times over), the stop below the price (longs).  EXIT keeps its looser rules: stop 0, lots 0."""
    entry = signal_type in ENTRY_TYPES
    fields = {
        "position": _field(c, "position", lambda v: _position(v, signal_type)),
        "price": c.number("price", minimum=Decimal(0), strictly=True),
        "stop": c.number("stop", minimum=Decimal(0), strictly=entry),
        "atr": c.number("atr", minimum=Decimal(0), strictly=entry),
        "er": c.number("er", minimum=Decimal(0), strictly=True, maximum=Decimal(1)) if entry else c.number("er"),
        "supertrend": c.number("supertrend"),
        "roc": None if is_nan(c.data.get("roc")) else c.number("roc"),
        "lots": _field(c, "lots", _lots),
    }
    if entry and fields["price"] is not None and fields["stop"] is not None and fields["stop"] >= fields["price"]:
        c.add("stop", "must be below price")
        fields["stop"] = None
    if signal_type == "EXIT":
        fields["reason"] = _field(c, "reason", _exit_reason)
    return fields


def _market_data_fields(c: _Collector) -> dict:
    return {
        "price": c.number("price", minimum=Decimal(0), strictly=True),
        "atr": c.number("atr", minimum=Decimal(0), strictly=True),
        "supertrend": c.number("supertrend", minimum=Decimal(0), strictly=True),
    }


def _position(value: object, signal_type: str) -> str:
    position = _canonical_word(value, (*LAYERS, "ALL"))
    if signal_type == "BASE_ENTRY" and position != "Long_1":
        raise ValueError("must be Long_1 for BASE_ENTRY")
    if signal_type == "PYRAMID" and position not in LAYERS[1:]:
        raise ValueError("must be Long_2 … Long_6 for PYRAMID")
    return position


def _lots(value: object) -> int:
    number = parse_number(value)
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    if number < 0:
        raise ValueError("must be at least 0")
    return int(number)


def _exit_reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    if has_unstorable(value):  # it becomes a position's exit_reason column
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    if len(value.strip()) > 100:
        raise ValueError("must be at most 100 characters")
    return value.strip()
