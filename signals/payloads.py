"""Webhook payload validation (DESIGN §5, Appendix A): pure, no database.

``validate_payload`` returns a ``ValidatedSignal`` or raises ``PayloadInvalid`` whose ``errors``
map every bad field to its messages, so one 400 names them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
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

    def number(self, field: str, *, minimum: Decimal | None = None, strictly: bool = False) -> Decimal | None:
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
        timestamp=timestamp,
        fingerprint=signal_fingerprint(
            instrument=instrument, signal_type=signal_type, position=position or None, timestamp=timestamp
        ),
        payload={k: v for k, v in data.items() if k != "secret"},
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
    is_exit = signal_type == "EXIT"
    fields = {
        "position": _field(c, "position", lambda v: _position(v, signal_type)),
        "price": c.number("price", minimum=Decimal(0), strictly=True),
        "stop": c.number("stop", minimum=Decimal(0), strictly=not is_exit),
        "atr": c.number("atr", minimum=Decimal(0)),
        "er": c.number("er"),
        "supertrend": c.number("supertrend"),
        "roc": c.number("roc"),
        "lots": _field(c, "lots", _lots),
    }
    if is_exit:
        fields["reason"] = _field(c, "reason", _exit_reason)
    return fields


def _market_data_fields(c: _Collector) -> dict:
    return {
        "price": c.number("price", minimum=Decimal(0), strictly=True),
        "atr": c.number("atr", minimum=Decimal(0)),
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
    if len(value.strip()) > 100:
        raise ValueError("must be at most 100 characters")
    return value.strip()
