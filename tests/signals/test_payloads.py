"""Every validation rule of DESIGN §5 / Appendix A, each naming the bad field (pure, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from signals.payloads import PayloadInvalid, validate_payload

INSTRUMENTS = frozenset({"BANK_NIFTY", "GOLD_MINI", "SILVER_MINI", "COPPER"})
ENTRY = dict(type="BASE_ENTRY", instrument="BANK_NIFTY", position="Long_1", price=52000, stop=51650, lots=5,
             atr=350, er=0.82, supertrend=51650, roc=2.5, timestamp="2025-11-28T10:30:00Z")
EXIT = {**ENTRY, "type": "EXIT", "position": "ALL", "stop": 0, "lots": 0, "reason": "Manual Exit"}
BAR = dict(type="MARKET_DATA", instrument="SILVER_MINI", timestamp="2025-12-29T14:00:00", price=238000.0,
           atr=1500.0, supertrend=235000.0)


def validate(data):
    return validate_payload(data, instruments=INSTRUMENTS, default_tz="Asia/Kolkata")


def errors_of(data) -> dict:
    with pytest.raises(PayloadInvalid) as excinfo:
        validate(data)
    return excinfo.value.errors


def test_valid_entry_is_canonicalised():
    signal = validate({**ENTRY, "type": "base_entry", "instrument": "bank_nifty", "position": "LONG_1",
                       "secret": "s", "strategy_note": "kept"})
    assert (signal.signal_type, signal.instrument, signal.position) == ("BASE_ENTRY", "BANK_NIFTY", "Long_1")
    assert signal.price == Decimal("52000") and signal.er == Decimal("0.82") and signal.lots == 5
    assert "secret" not in signal.payload and signal.payload["strategy_note"] == "kept"
    assert signal.timestamp.utcoffset().total_seconds() == 0


def test_numeric_strings_are_numbers():
    signal = validate({**ENTRY, "price": "52000.5", "lots": "5", "atr": "350", "er": ".82", "roc": None})
    assert signal.price == Decimal("52000.5") and signal.lots == 5 and signal.roc is None


def test_market_data_and_eod_monitor():
    bar = validate(BAR)
    assert bar.position == "" and bar.supertrend == Decimal("235000.0")
    eod = validate({"type": "eod_monitor", "instrument": "GOLD_MINI", "timestamp": "2025-12-29T14:00:00",
                    "conditions": {"anything": True}})
    assert eod.signal_type == "EOD_MONITOR"


@pytest.mark.parametrize("missing", ["type", "instrument", "position", "price", "stop", "lots", "atr", "er",
                                     "supertrend", "timestamp"])
def test_each_required_entry_field_is_named(missing):
    data = {k: v for k, v in ENTRY.items() if k != missing}
    assert missing in errors_of(data)


@pytest.mark.parametrize("missing", ["timestamp", "price", "atr", "supertrend"])
def test_each_required_market_data_field_is_named(missing):
    assert missing in errors_of({k: v for k, v in BAR.items() if k != missing})


def test_every_bad_field_is_reported_at_once():
    errors = errors_of({**ENTRY, "price": -1, "stop": "abc", "lots": 5.5, "atr": -3, "timestamp": "yesterday"})
    assert set(errors) == {"price", "stop", "lots", "atr", "timestamp"}


@pytest.mark.parametrize(
    "field, value",
    [
        ("type", "SHORT_ENTRY"), ("type", 5), ("instrument", "NIFTY"), ("instrument", None),
        ("position", "Long_7"), ("position", "Short_1"), ("position", "Long_2"),  # BASE_ENTRY must be Long_1
        ("position", "ALL"), ("price", 0), ("price", -5), ("price", True), ("price", "NaN"), ("price", "1e5"),
        ("price", " 52000"), ("price", "५२०००"), ("price", [1]), ("stop", 0), ("atr", -0.1), ("er", "high"),
        ("supertrend", False), ("lots", 5.5), ("lots", "5.5"), ("lots", -1), ("lots", True),
        ("timestamp", "28/11/2025 10:30"), ("timestamp", 1732789800), ("price", 1e12),
    ],
)
def test_invalid_entry_field_is_named(field, value):
    errors = errors_of({**ENTRY, field: value})
    assert field in errors, errors


def test_float_nan_and_infinity_from_json_are_refused():
    assert "price" in errors_of({**ENTRY, "price": float("nan")})
    assert "atr" in errors_of({**ENTRY, "atr": float("inf")})


def test_integer_valued_lots_are_accepted():
    assert validate({**ENTRY, "lots": 5.0}).lots == 5
    assert validate({**ENTRY, "lots": "5"}).lots == 5


def test_pyramid_positions():
    assert validate({**ENTRY, "type": "PYRAMID", "position": "long_6"}).position == "Long_6"
    assert "position" in errors_of({**ENTRY, "type": "PYRAMID", "position": "Long_1"})


def test_exit_rules():
    assert validate(EXIT).stop == 0  # EXIT may send stop 0
    assert validate({**EXIT, "position": "Long_3"}).position == "Long_3"
    assert validate({**EXIT, "reason": "  Stop Loss Hit  "}).reason == "Stop Loss Hit"
    for bad in ("", "   ", None, 7):
        assert "reason" in errors_of({**EXIT, "reason": bad})
    assert "reason" in errors_of({k: v for k, v in EXIT.items() if k != "reason"})
    assert "stop" in errors_of({**EXIT, "stop": -1})


def test_market_data_supertrend_must_be_positive():
    assert "supertrend" in errors_of({**BAR, "supertrend": 0})


@pytest.mark.parametrize("body", [[1, 2], None, "text", 42])
def test_non_object_body(body):
    assert errors_of(body) == {"non_field_errors": ["The body must be a JSON object."]}


def test_fingerprint_ignores_format_and_positionless_types():
    a = validate({**ENTRY, "timestamp": "2025-11-28T10:30:00+05:30"})
    b = validate({**ENTRY, "timestamp": "2025-11-28T05:00:00Z"})
    c = validate({**ENTRY, "timestamp": "2025-11-28T10:30:00"})  # naive = IST
    assert a.fingerprint == b.fingerprint == c.fingerprint
    bar1 = validate({**BAR, "position": "Long_1"})
    assert bar1.fingerprint == validate(BAR).fingerprint and bar1.position == ""


# --- input hygiene (DESIGN §15.4) ------------------------------------------------------------------

@pytest.mark.parametrize("kind, field, value", [
    ("entry", "atr", 0), ("entry", "er", 82), ("entry", "er", 0), ("entry", "er", "1.01"), ("entry", "stop", 52000),
    ("entry", "stop", 60000), ("pyramid", "atr", 0), ("pyramid", "er", 1.5), ("pyramid", "stop", 52000),
    ("bar", "atr", 0), ("bar", "price", 0),
])
def test_value_bounds_name_the_field(kind, field, value):
    base = {"entry": ENTRY, "pyramid": {**ENTRY, "type": "PYRAMID", "position": "Long_2"}, "bar": BAR}[kind]
    assert set(errors_of({**base, field: value})) == {field}


def test_bounds_are_inclusive_where_the_design_says_and_exits_stay_loose():
    assert validate({**ENTRY, "er": 1}).er == 1
    assert validate({**ENTRY, "stop": "51999.99"}).stop == Decimal("51999.99")
    loose = validate({**EXIT, "atr": 0, "er": 82, "stop": 60000})
    assert (loose.atr, loose.er, loose.stop, loose.lots) == (0, 82, 60000, 0)


@pytest.mark.parametrize("roc", [float("nan"), "NaN", "nan", None])
def test_roc_nan_is_stored_null(roc):
    signal = validate({**ENTRY, "roc": roc})
    assert signal.roc is None and signal.payload["roc"] is None


@pytest.mark.parametrize("field", ["price", "stop", "atr", "er", "supertrend", "lots"])
def test_nan_in_a_field_the_rules_use_is_named(field):
    assert field in errors_of({**ENTRY, field: float("nan")})
    assert field in errors_of({**ENTRY, field: "NaN"})


def test_infinite_roc_is_refused():
    assert "roc" in errors_of({**ENTRY, "roc": float("inf")})


def test_unknown_fields_are_stored_sanitised():
    signal = validate({**ENTRY, "secret": "s", "note": "a\x00b\ud800", "k\x00": [float("nan"), float("-inf"), 1.5],
                       "nested": {"\udfff": {"x": float("inf")}}})
    assert signal.payload["note"] == "a\ufffdb\ufffd"
    assert signal.payload["k\ufffd"] == [None, None, 1.5]
    assert signal.payload["nested"] == {"\ufffd": {"x": None}}
    assert "secret" not in signal.payload and signal.payload["price"] == ENTRY["price"]


def test_exit_reason_must_be_storable():
    assert "reason" in errors_of({**EXIT, "reason": "Stop\x00"})
    assert "reason" in errors_of({**EXIT, "reason": "\udc00Stop"})


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59-01:00", "0001-01-01T00:00:00", "0001-01-01T03:00+05:31"])
def test_timestamp_overflowing_utc_is_named(timestamp):
    assert set(errors_of({**ENTRY, "timestamp": timestamp})) == {"timestamp"}


def test_json_depth_limit():
    from signals.payloads import MAX_DEPTH, json_depth_exceeds

    def nest(levels):
        value: object = 1
        for _ in range(levels - 1):
            value = [value]
        return {"a": value}

    assert not json_depth_exceeds(nest(MAX_DEPTH))  # the object is level 1, its deepest list level 32
    assert json_depth_exceeds(nest(MAX_DEPTH + 1))
    assert not json_depth_exceeds({"a": [], "b": {}, "c": "x" * 10})
    assert json_depth_exceeds(nest(100_000))  # iterative: no RecursionError
