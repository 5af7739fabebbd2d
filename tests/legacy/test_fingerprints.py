"""Legacy signal_log rows → our fingerprint (legacy/fingerprints.py), without a database."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from legacy.fingerprints import canonical_position, map_signal
from legacy.mapping import Unmappable
from signals.payloads import validate_payload

CODES = frozenset({"BANK_NIFTY", "GOLD_MINI", "SILVER_MINI", "COPPER"})
IST = ZoneInfo("Asia/Kolkata")


def legacy_row(**fields) -> dict:
    """A signal_log row as the legacy system wrote it (its own fingerprint over its own time text)."""
    payload = {"type": "PYRAMID", "instrument": "GOLD_MINI", "position": "Long_4", "price": 139650, "stop": 138150,
               "lots": 1, "atr": 1500, "er": 0.83, "supertrend": 138150, "timestamp": "2026-11-28T18:10:00"}
    row = dict(id=8, instrument="GOLD_MINI", signal_type="PYRAMID", position="Long_4",
               signal_timestamp=datetime(2026, 11, 28, 18, 10), processed_at=datetime(2026, 11, 28, 18, 10, 4),
               processing_status="blocked", payload=payload,
               fingerprint=hashlib.sha256(b"GOLD_MINI:PYRAMID:Long_4:2026-11-28T18:10:00").hexdigest())
    row.update(fields)
    return row


def our_webhook_fingerprint(payload: dict) -> str:
    return validate_payload(payload, instruments=CODES, default_tz="Asia/Kolkata").fingerprint


def test_the_fingerprint_is_ours_recomputed_never_the_legacy_one():
    row = legacy_row()
    mapped = map_signal(row, instruments=CODES)
    assert mapped.fingerprint == our_webhook_fingerprint(row["payload"])  # a resend is a duplicate
    assert mapped.fingerprint != row["fingerprint"]
    assert mapped.detail["legacy_fingerprint"] == row["fingerprint"]
    assert (mapped.signal_type, mapped.instrument, mapped.position) == ("PYRAMID", "GOLD_MINI", "Long_4")
    assert mapped.signal_timestamp == datetime(2026, 11, 28, 18, 10, tzinfo=IST)
    assert mapped.received_at == datetime(2026, 11, 28, 18, 10, 4, tzinfo=IST)
    assert mapped.warnings == []


def test_a_z_the_column_dropped_is_kept_from_the_payload():
    payload = {**legacy_row()["payload"], "timestamp": "2026-11-28T18:10:00Z"}  # Pine V7 style
    mapped = map_signal(legacy_row(payload=payload), instruments=CODES)
    assert mapped.fingerprint == our_webhook_fingerprint(payload)
    assert mapped.signal_timestamp == datetime(2026, 11, 28, 18, 10, tzinfo=ZoneInfo("UTC"))
    assert "an offset the column dropped" in mapped.warnings[0]


def test_without_a_payload_the_column_is_read_as_ist():
    mapped = map_signal(legacy_row(payload=None), instruments=CODES)
    assert mapped.fingerprint == our_webhook_fingerprint(legacy_row()["payload"])
    assert mapped.detail["timestamp_source"].startswith("signal_timestamp column")
    assert mapped.payload["timestamp"] == "2026-11-28T18:10:00+05:30"


def test_the_secret_never_travels_into_our_inbox():
    payload = {**legacy_row()["payload"], "secret": "legacy-secret"}
    assert "secret" not in map_signal(legacy_row(payload=payload), instruments=CODES).payload


@pytest.mark.parametrize(("fields", "reason"), [
    ({"instrument": "NIFTY"}, "instrument 'NIFTY' is not one of ours"),
    ({"signal_type": "SELL"}, "signal_type 'SELL'"),
    ({"position": "Long_7"}, "position 'Long_7'"),
    ({"signal_timestamp": None, "payload": None}, "signal_timestamp is empty"),
])
def test_an_unreadable_row_is_unmappable(fields, reason):
    with pytest.raises(Unmappable, match=reason):
        map_signal(legacy_row(**fields), instruments=CODES)


@pytest.mark.parametrize(("signal_type", "value", "expected"), [
    ("EXIT", "all", "ALL"), ("PYRAMID", "long_3", "Long_3"), ("PYRAMID", "ALL", None), ("MARKET_DATA", "x", ""),
])
def test_canonical_position(signal_type, value, expected):
    assert canonical_position(signal_type, value) == expected
