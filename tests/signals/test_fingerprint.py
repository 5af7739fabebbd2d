"""Signal timestamps and the fingerprint (DESIGN §5, Appendix A)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals.fingerprint import canonical_timestamp, parse_signal_timestamp, signal_fingerprint

IST = "Asia/Kolkata"


def parse(value: str) -> datetime:
    return parse_signal_timestamp(value, default_tz=IST)


def fingerprint(timestamp: datetime, *, signal_type="BASE_ENTRY", position="Long_1", instrument="BANK_NIFTY"):
    return signal_fingerprint(instrument=instrument, signal_type=signal_type, position=position, timestamp=timestamp)


def test_fingerprint_is_sha256_of_the_documented_string():
    expected = hashlib.sha256(b"BANK_NIFTY:BASE_ENTRY:Long_1:2025-11-28T10:30:00+00:00").hexdigest()
    assert fingerprint(parse("2025-11-28T10:30:00Z")) == expected


def test_offset_utc_and_naive_ist_forms_give_the_same_fingerprint():
    forms = ["2025-11-28T10:30:00+05:30", "2025-11-28T05:00:00Z", "2025-11-28T10:30:00"]
    assert len({fingerprint(parse(form)) for form in forms}) == 1


def test_bug_48_naive_and_aware_timestamps_compare_and_hash_without_raising():
    naive, aware = parse("2025-11-28T10:30:00"), parse("2025-11-28T05:00:00Z")
    assert naive == aware and not naive < aware
    assert len({naive, aware}) == 1
    assert fingerprint(naive) == fingerprint(aware)


def test_microseconds_are_ignored():
    assert fingerprint(parse("2025-11-28T05:00:00.999999Z")) == fingerprint(parse("2025-11-28T05:00:00Z"))
    assert fingerprint(parse("2025-11-28T05:00:01Z")) != fingerprint(parse("2025-11-28T05:00:00Z"))


@pytest.mark.parametrize("signal_type", ["MARKET_DATA", "EOD_MONITOR"])
def test_position_part_is_a_dash_for_positionless_types(signal_type):
    ts = parse("2025-11-28T05:00:00Z")
    expected = hashlib.sha256(f"GOLD_MINI:{signal_type}:-:2025-11-28T05:00:00+00:00".encode()).hexdigest()
    assert fingerprint(ts, signal_type=signal_type, position="Long_1", instrument="GOLD_MINI") == expected
    assert fingerprint(ts, signal_type=signal_type, position=None, instrument="GOLD_MINI") == expected


def test_position_and_type_distinguish_signals():
    ts = parse("2025-11-28T05:00:00Z")
    prints = {
        fingerprint(ts),
        fingerprint(ts, position="Long_2"),
        fingerprint(ts, signal_type="EXIT"),
        fingerprint(ts, position=None),
        fingerprint(ts, instrument="GOLD_MINI"),
    }
    assert len(prints) == 5


def test_instrument_and_type_are_upper_cased():
    ts = parse("2025-11-28T05:00:00Z")
    assert fingerprint(ts, instrument="bank_nifty", signal_type="base_entry") == fingerprint(ts)


def test_offset_is_kept_as_given():
    ts = parse("2025-11-28T10:30:00+05:30")
    assert ts.utcoffset() == timedelta(hours=5, minutes=30) and ts.hour == 10


def test_naive_time_is_read_in_the_default_zone():
    ts = parse("2025-11-28 10:30:00.250")
    assert ts.tzinfo == ZoneInfo(IST) and ts.utcoffset() == timedelta(hours=5, minutes=30)
    assert ts.astimezone(UTC) == datetime(2025, 11, 28, 5, 0, 0, 250000, tzinfo=UTC)
    other = parse_signal_timestamp("2025-11-28T10:30:00", default_tz="UTC")
    assert other.astimezone(UTC).hour == 10


@pytest.mark.parametrize(
    "value",
    [
        "", "not a date", "2025-11-28", "20251128T103000", "2025-13-01T00:00:00", "2025-02-30T10:00:00",
        " 2025-11-28T10:30:00", "2025-11-28T10:30:00+05:30 ", "2025-11-28T25:00:00", "2025-11-28T10:30:00+5:30",
        "2025-11-٢٨T10:30:00", None, 1732771800, datetime(2025, 11, 28, tzinfo=UTC),
    ],
)
def test_bad_timestamps_are_refused(value):
    with pytest.raises(ValueError):
        parse(value)


def test_canonical_timestamp_is_utc_whole_seconds():
    ts = datetime(2025, 11, 28, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert canonical_timestamp(ts) == "2025-11-28T05:00:15+00:00"


def test_canonical_timestamp_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        canonical_timestamp(datetime(2025, 11, 28, 10, 30))


@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_the_same_instant_in_any_offset_has_one_fingerprint(moment, offset_minutes):
    shifted = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert parse(shifted.isoformat()) == moment
    assert fingerprint(parse(shifted.isoformat())) == fingerprint(moment)
