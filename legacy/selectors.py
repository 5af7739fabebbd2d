"""Reads of our own books for the legacy import and the shadow-run comparison."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from legacy.compare import Outcome, SignalComparison, SignalRef, compare_signal
from legacy.fingerprints import REGULAR_TYPES, map_signal
from legacy.mapping import IST, InstrumentSpec, RowError, Unmappable
from legacy.outcomes import AuditIndex, legacy_outcome
from legacy.source import LegacyHistory
from portfolio.models import Instrument
from portfolio.selectors import instrument_params
from positions.models import LIVE_STATUSES, Position
from positions.selectors import trading_calendar
from signals.models import SignalLog

FOUR_PLACES = Decimal("0.0001")


def instrument_specs() -> dict[str, InstrumentSpec]:
    calendars: dict[str, object] = {}
    specs = {}
    for instrument in Instrument.objects.all():
        if instrument.exchange not in calendars:
            calendars[instrument.exchange] = trading_calendar(instrument.exchange)
        specs[instrument.code] = InstrumentSpec(instrument_params(instrument), instrument.lot_size,
                                                calendars[instrument.exchange])
    return specs


def imported_positions() -> dict[str, dict]:
    """legacy_key → our position (id, label, status, lots, stops) for every position we imported."""
    rows = Position.objects.exclude(legacy_key="").values("legacy_key", "id", "label", "status", "lots",
                                                          "current_stop", "initial_stop")
    return {row["legacy_key"]: row for row in rows}


def imported_leg_prices() -> dict[tuple[str, str], Decimal]:
    """(symbol, exchange) → the quantity-weighted entry price of that leg over the imported positions
    still held (what a broker's average price for the contract would be)."""
    totals: dict[tuple[str, str], list[Decimal]] = {}
    rows = (Position.objects.exclude(legacy_key="").filter(status__in=("open", "closing"))
            .values("futures_symbol", "pe_symbol", "ce_symbol", "quantity", "entry_price", "pe_entry_price",
                    "ce_entry_price", "instrument__exchange"))
    for row in rows:
        legs = ([(row["futures_symbol"], row["entry_price"])] if row["futures_symbol"]
                else [(row["pe_symbol"], row["pe_entry_price"]), (row["ce_symbol"], row["ce_entry_price"])])
        for symbol, price in legs:
            total = totals.setdefault((symbol, row["instrument__exchange"]), [Decimal(0), Decimal(0)])
            total[0] += price * row["quantity"]
            total[1] += row["quantity"]
    return {key: (value / quantity).quantize(FOUR_PLACES) for key, (value, quantity) in totals.items()}


def own_positions() -> list[dict]:
    """Positions this system opened itself (any status): the sign that it already trades."""
    return list(Position.objects.filter(legacy_key="").order_by("id").values("id", "label", "status"))


def live_layers() -> dict[tuple[str, int], dict]:
    """(instrument, layer) → our live position holding it."""
    rows = Position.objects.filter(status__in=LIVE_STATUSES).values("instrument_id", "layer", "id", "label", "status")
    return {(row["instrument_id"], row["layer"]): row for row in rows}


def position_ids_by_legacy_key(keys: Iterable[str]) -> dict[str, int]:
    return dict(Position.objects.filter(legacy_key__in=list(keys)).values_list("legacy_key", "id"))


def position_by_id(pk: int) -> Position:
    return Position.objects.get(pk=pk)


def seen_fingerprints(fingerprints: Iterable[str]) -> set[str]:
    return set(SignalLog.objects.filter(fingerprint__in=list(fingerprints)).values_list("fingerprint", flat=True))


def our_outcomes(*, since: datetime, signal_types: Iterable[str]) -> dict[str, tuple[SignalLog, Outcome]]:
    """fingerprint → (signal, its outcome as the comparison reads it) for our signals since ``since``
    (signals we only recorded as seen by the legacy import are not ours and are left out)."""
    signals = list(SignalLog.objects.filter(signal_timestamp__gte=since, signal_type__in=list(signal_types))
                   .exclude(reason="legacy_import").order_by("signal_timestamp", "id"))
    ids = [s.pk for s in signals]
    opened: dict[int, list[Position]] = {}
    closed: dict[int, list[Position]] = {}
    for position in Position.objects.filter(entry_signal_id__in=ids).order_by("layer", "id"):
        opened.setdefault(position.entry_signal_id, []).append(position)
    for position in Position.objects.filter(exit_signal_id__in=ids, status="closed").order_by("layer", "id"):
        closed.setdefault(position.exit_signal_id, []).append(position)
    result = {}
    for signal in signals:
        entries = opened.get(signal.pk, [])
        entry = entries[0] if entries else None
        exits = tuple((p.label, p.exit_price, p.exit_reason) for p in closed.get(signal.pk, []))
        result[signal.fingerprint] = (signal, Outcome(
            status=signal.status, reason=signal.reason,
            lots=entry.lots if entry else None, limiter=entry.limiter if entry else None,
            stop=entry.initial_stop if entry else None, exits=exits,
        ))
    return result


def shadow_comparison(*, history: LegacyHistory, since: datetime, tz: str = IST
                      ) -> tuple[list[SignalComparison], list[RowError]]:
    """Every BASE_ENTRY, PYRAMID and EXIT since ``since`` in either signal log, matched by our
    fingerprint, legacy outcome against ours; plus the legacy rows that could not be read."""
    codes = set(Instrument.objects.values_list("code", flat=True))
    audits, errors = AuditIndex(history.audits), []
    legacy = {}
    for row in history.signals:
        if str(row.get("signal_type") or "").upper() not in REGULAR_TYPES:
            continue
        try:
            mapped = map_signal(row, instruments=codes, tz=tz)
        except Unmappable as exc:
            errors.append(RowError("signal_log", str(row.get("id")), str(exc)))
            continue
        if mapped.fingerprint not in legacy:
            legacy[mapped.fingerprint] = (mapped, legacy_outcome(mapped, row, audits=audits,
                                                                 positions=history.positions, tz=tz))
    ours = our_outcomes(since=since, signal_types=REGULAR_TYPES)
    refs = {}
    for fingerprint, (mapped, _outcome) in legacy.items():
        refs[fingerprint] = SignalRef(fingerprint, mapped.instrument, mapped.signal_type, mapped.position,
                                      mapped.signal_timestamp)
    for fingerprint, (signal, _outcome) in ours.items():
        refs.setdefault(fingerprint, SignalRef(fingerprint, signal.instrument_id, signal.signal_type, signal.position,
                                               signal.signal_timestamp))
    ordered = sorted(refs.values(), key=lambda ref: (ref.timestamp, ref.instrument, ref.position))
    comparisons = [compare_signal(ref=ref, legacy=legacy[ref.fingerprint][1] if ref.fingerprint in legacy else None,
                                  ours=ours[ref.fingerprint][1] if ref.fingerprint in ours else None)
                   for ref in ordered]
    return comparisons, errors
