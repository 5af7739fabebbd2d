"""Legacy ``signal_log`` rows → our signal identity (DESIGN Appendix A's fingerprint).

The legacy fingerprint (``sha256("{instrument}:{type}:{position}:{timestamp_iso}")`` over its own
string forms, domain-notes §1.4) is never reused: it hashes the time as the legacy system printed
it, so the same instant hashes differently there and here (ha-notes A2.4).  We recompute ours from
the row's instrument, type and position and from its time:

* the payload's ``timestamp`` text when the row has one, read exactly as our webhook reads it (an
  offset is kept; a naive time is IST), because that text is what a resend of the alert carries —
  and it keeps an offset that the ``TIMESTAMP`` column silently dropped (ha-notes A5.9);
* otherwise the ``signal_timestamp`` column, a naive IST wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from legacy.mapping import IST, Unmappable, aware
from signals.fingerprint import parse_signal_timestamp, signal_fingerprint

REGULAR_TYPES = ("BASE_ENTRY", "PYRAMID", "EXIT")
POSITIONLESS_TYPES = ("MARKET_DATA", "EOD_MONITOR")
_POSITION = re.compile(r"(?i)long_([1-6])")


@dataclass
class MappedSignal:
    legacy_id: int
    fingerprint: str
    signal_type: str
    instrument: str
    position: str
    signal_timestamp: datetime
    received_at: datetime
    payload: dict
    detail: dict
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"legacy_id": self.legacy_id, "fingerprint": self.fingerprint, "type": self.signal_type,
                "instrument": self.instrument, "position": self.position,
                "signal_timestamp": self.signal_timestamp.isoformat(),
                "timestamp_source": self.detail["timestamp_source"],
                "legacy_status": self.detail["processing_status"], "warnings": list(self.warnings)}


def canonical_position(signal_type: str, value: str) -> str | None:
    """Our canonical position for the type (``long_2`` → ``Long_2``), or None when invalid."""
    if signal_type in POSITIONLESS_TYPES:
        return ""
    text = (value or "").strip()
    if text.upper() == "ALL":
        return "ALL" if signal_type == "EXIT" else None
    match = _POSITION.fullmatch(text)
    return f"Long_{match[1]}" if match else None


def map_signal(row: Mapping, *, instruments: Collection[str], tz: str = IST) -> MappedSignal:
    """One legacy ``signal_log`` row → the signal as our inbox would have it."""
    problems, warnings = [], []
    legacy_id = row.get("id")
    code = str(row.get("instrument") or "").strip().upper()
    if code not in instruments:
        problems.append(f"instrument {code!r} is not one of ours")
    signal_type = str(row.get("signal_type") or "").strip().upper()
    if signal_type not in REGULAR_TYPES + POSITIONLESS_TYPES:
        problems.append(f"signal_type {row.get('signal_type')!r} is not one we know")
    position = canonical_position(signal_type, str(row.get("position") or ""))
    if position is None:
        problems.append(f"position {row.get('position')!r} is not Long_1..Long_6 (or ALL for an EXIT)")
    column = aware(row.get("signal_timestamp"), tz)
    payload = row.get("payload") if isinstance(row.get("payload"), dict) else None
    stamp, source = column, "signal_timestamp column (naive IST)"
    text = payload.get("timestamp") if payload else None
    if isinstance(text, str) and text.strip():
        try:
            stamp, source = parse_signal_timestamp(text.strip(), default_tz=tz), "payload timestamp"
        except ValueError:
            warnings.append(f"payload timestamp {text!r} is unreadable: the column is used")
        else:
            if column is not None and stamp != column:
                warnings.append(f"payload timestamp {text!r} is another instant than the column's "
                                f"{column.replace(tzinfo=None).isoformat()} IST (an offset the column dropped, "
                                "ha-notes A5.9): the payload's is the one a resend carries")
    if stamp is None:
        problems.append("signal_timestamp is empty and the payload has no timestamp")
    if problems:
        raise Unmappable(problems)
    fingerprint = signal_fingerprint(instrument=code, signal_type=signal_type, position=position, timestamp=stamp)
    body = {k: v for k, v in (payload or {}).items() if k != "secret"} or {
        "type": signal_type, "instrument": code, "position": position, "timestamp": stamp.isoformat()}
    detail = {"signal_log_id": legacy_id, "legacy_fingerprint": row.get("fingerprint"),
              "processing_status": row.get("processing_status"), "timestamp_source": source}
    received = aware(row.get("processed_at"), tz) or stamp
    return MappedSignal(legacy_id, fingerprint, signal_type, code, position, stamp, received, body, detail, warnings)
