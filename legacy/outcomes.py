"""What the legacy system did with a signal, read from its tables (plain rules, no I/O).

* status: ``signal_log.processing_status`` (else the ``signal_audit`` outcome), in our vocabulary;
* reason: ``signal_audit.outcome_reason`` (the audit row of the same log id, or of the same
  instrument, type and time: the audit's own fingerprint omits the position, domain-notes §11.4);
* an executed entry's lots, limiter and initial stop: the ``portfolio_positions`` row of that label
  entered at the signal (its natural key is reused, so a later campaign may have overwritten it,
  bug #45; then the audit's ``sizing_calculation`` is used, else the lots are unknown);
* an executed exit's layers, prices and reasons: the rows of the instrument closed between the
  signal and the end of its processing (an hour at most).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from legacy.compare import Outcome, reason_code
from legacy.fingerprints import MappedSignal
from legacy.mapping import IST, aware, label_layer, legacy_limiter

PROCESSING_WINDOW = timedelta(hours=1)
_STATUSES = {"executed": "executed", "processed": "executed", "success": "executed", "completed": "executed",
             "blocked": "blocked", "rejected": "rejected", "error": "failed", "failed": "failed",
             "failure": "failed", "skipped": "skipped", "partial": "partial", "duplicate": "duplicate",
             "ignored": "duplicate"}
_AUDIT = {"PROCESSED": "executed", "REJECTED_VALIDATION": "rejected", "REJECTED_RISK": "blocked",
          "REJECTED_DUPLICATE": "duplicate", "REJECTED_MARKET": "rejected", "REJECTED_MANUAL": "rejected",
          "FAILED_ORDER": "failed", "PARTIAL_FILL": "partial"}


class AuditIndex:
    """signal_audit rows by signal_log id and by (instrument, type, naive time)."""

    def __init__(self, rows: Iterable[Mapping]):
        self.by_log, self.by_key = {}, {}
        for row in rows:
            if row.get("signal_log_id") is not None:
                self.by_log[row["signal_log_id"]] = row
            key = (str(row.get("instrument") or "").upper(), str(row.get("signal_type") or "").upper(),
                   row.get("signal_timestamp"))
            self.by_key.setdefault(key, row)

    def find(self, log_row: Mapping) -> Mapping | None:
        return self.by_log.get(log_row.get("id")) or self.by_key.get(
            (str(log_row.get("instrument") or "").upper(), str(log_row.get("signal_type") or "").upper(),
             log_row.get("signal_timestamp")))


def _status(log_row: Mapping, audit: Mapping | None) -> str:
    text = str(log_row.get("processing_status") or "").strip().lower()
    if text in _STATUSES:
        return _STATUSES[text]
    if audit is not None and audit.get("outcome") in _AUDIT:
        return _AUDIT[audit["outcome"]]
    return text or "unknown"


def _window(signal: MappedSignal, log_row: Mapping, tz: str) -> tuple[datetime, datetime]:
    start = signal.signal_timestamp - timedelta(seconds=1)
    processed = aware(log_row.get("processed_at"), tz)
    end = max(processed or signal.signal_timestamp, signal.signal_timestamp) + PROCESSING_WINDOW
    return start, end


def _in(moment, window: tuple[datetime, datetime], tz: str) -> bool:
    moment = aware(moment, tz)
    return moment is not None and window[0] <= moment <= window[1]


def _label(row: Mapping, instrument: str) -> str | None:
    layer, _problem = label_layer(str(row.get("position_id") or ""), instrument)
    return None if layer is None else f"{instrument}_Long_{layer}"


def _entry(signal: MappedSignal, log_row, audit, positions, tz) -> dict:
    window = _window(signal, log_row, tz)
    label = f"{signal.instrument}_{signal.position}"
    for row in positions:
        if _label(row, signal.instrument) == label and _in(row.get("entry_timestamp"), window, tz):
            stop = row.get("initial_stop")
            return {"lots": row.get("lots"), "limiter": legacy_limiter(row.get("limiter")),
                    "stop": None if stop is None else Decimal(str(stop))}
    sizing = (audit or {}).get("sizing_calculation") or {}
    lots = sizing.get("final_lots", sizing.get("lots"))
    if lots is not None:
        return {"lots": int(lots), "limiter": legacy_limiter(sizing.get("limiter")) if sizing.get("limiter") else None}
    return {"note": f"the legacy row {label} was overwritten by a later campaign (bug #45): lots and stop unknown"}


def _exits(signal: MappedSignal, log_row, positions, tz) -> tuple:
    window = _window(signal, log_row, tz)
    found = []
    for row in positions:
        label = _label(row, signal.instrument)
        if (label is None or str(row.get("instrument") or "").upper() != signal.instrument
                or row.get("status") != "closed" or not _in(row.get("exit_timestamp"), window, tz)):
            continue
        if signal.position != "ALL" and label != f"{signal.instrument}_{signal.position}":
            continue
        price = row.get("exit_price")
        found.append((label, None if price is None else Decimal(str(price)), str(row.get("exit_reason") or "")))
    return tuple(sorted(found))


def legacy_outcome(signal: MappedSignal, log_row: Mapping, *, audits: AuditIndex, positions: list[Mapping],
                   tz: str = IST) -> Outcome:
    audit = audits.find(log_row)
    status = _status(log_row, audit)
    reason = reason_code((audit or {}).get("outcome_reason"))
    note = ""
    if status == "failed" and reason == "position_not_open":
        status, note = "rejected", "the legacy system answered this as an error (HTTP 500, bug #44)"
    if status != "executed":
        return Outcome(status=status, reason=reason, note=note)
    if signal.signal_type in ("BASE_ENTRY", "PYRAMID"):
        return Outcome(status=status, reason=reason, **_entry(signal, log_row, audit, positions, tz))
    if signal.signal_type == "EXIT":
        return Outcome(status=status, reason=reason, exits=_exits(signal, log_row, positions, tz))
    return Outcome(status=status, reason=reason)
