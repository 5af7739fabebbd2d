"""Signal timestamps and the one signal fingerprint (DESIGN §5, Appendix A).

Every timestamp is made aware at the door, so aware and naive deliveries of the same signal compare
and hash alike (domain bug #48: mixing them raised TypeError in the duplicate detector).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Extended ISO-8601 date AND time: a bare date or the compact basic form is not a signal time.
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"  # date, time
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"  # optional offset
)

# Types whose fingerprint ignores the position field (they do not address a position).
POSITIONLESS_TYPES = frozenset({"MARKET_DATA", "EOD_MONITOR"})


def parse_signal_timestamp(value: str, *, default_tz: str) -> datetime:
    """Parse an ISO-8601 signal time into an aware datetime.

    An offset (``Z``, ``+05:30``) is kept as given; a naive time is local time in ``default_tz``
    (a zoneinfo name such as ``Asia/Kolkata``).
    """
    if not isinstance(value, str) or not _ISO_DATETIME.fullmatch(value):
        raise ValueError(f"not an ISO-8601 date and time: {value!r}")
    parsed = datetime.fromisoformat(value)  # ValueError for impossible dates such as 2025-02-30
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(default_tz))
    try:
        parsed.astimezone(UTC)  # 9999-12-31T23:59-01:00 is a valid local time past datetime.max in UTC
    except OverflowError:
        raise ValueError(f"is out of range once converted to UTC: {value!r}") from None
    return parsed


def canonical_timestamp(ts: datetime) -> str:
    """UTC, whole seconds, ISO: ``2025-11-28T05:00:00+00:00``."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("a signal timestamp must be timezone-aware")
    return ts.astimezone(UTC).replace(microsecond=0).isoformat()


def signal_fingerprint(*, instrument: str, signal_type: str, position: str | None, timestamp: datetime) -> str:
    """SHA-256 hex of ``INSTRUMENT:TYPE:position:UTC time`` — the one dedup key of a signal.

    Callers pass canonical values (DESIGN Appendix A); instrument and type are upper-cased here as
    that is their canonical form anyway.  The position part is ``-`` when absent and for
    MARKET_DATA / EOD_MONITOR, whatever they carry.
    """
    signal_type = signal_type.upper()
    position_part = "-" if signal_type in POSITIONLESS_TYPES or not position else position
    text = f"{instrument.upper()}:{signal_type}:{position_part}:{canonical_timestamp(timestamp)}"
    return hashlib.sha256(text.encode()).hexdigest()
