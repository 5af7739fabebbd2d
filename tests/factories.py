"""Plain builders for test rows (no factory library needed)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.utils import timezone

from portfolio.models import Instrument
from positions.models import Position
from signals.models import SignalLog

_counter = itertools.count(1)


def make_position(
    instrument: str = "GOLD_MINI", layer: int = 1, status: str = "open", lots: int = 2, **fields
) -> Position:
    inst = Instrument.objects.get(code=instrument)
    entry = Decimal(fields.pop("price", "72000"))
    futures = inst.contract_kind == "futures"
    values = dict(
        instrument=inst,
        layer=layer,
        label=f"{instrument}_Long_{layer}",
        is_base_position=layer == 1,
        status=status,
        lots=lots,
        quantity=lots * inst.order_quantity_per_lot,
        signal_price=entry,
        entry_price=entry if status in {"open", "closing", "closed"} else None,
        initial_stop=entry - 500,
        current_stop=entry - 500,
        highest_close=entry,
        entry_atr=Decimal("500"),
        expiry=date(2026, 2, 5),
        opened_at=timezone.now() if status != "opening" else None,
        futures_symbol="GOLDM05FEB26FUT" if futures else "",
        strike=None if futures else 52000,
        pe_symbol="" if futures else "BANKNIFTY24FEB2652000PE",
        ce_symbol="" if futures else "BANKNIFTY24FEB2652000CE",
    )
    if status == "closed":
        values.update(exit_price=entry, closed_at=timezone.now(), realized_pnl=Decimal("0"))
    values.update(fields)
    return Position.objects.create(**values)


def make_signal(
    instrument: str = "GOLD_MINI", signal_type: str = "BASE_ENTRY", position: str = "Long_1", status: str = "accepted",
    signal_timestamp: datetime | None = None, **fields
) -> SignalLog:
    ts = signal_timestamp or datetime(2026, 1, 5, 9, 30, tzinfo=dt_timezone.utc) + timedelta(minutes=next(_counter))
    fingerprint = fields.pop("fingerprint", hashlib.sha256(f"{instrument}{signal_type}{position}{ts}".encode()).hexdigest())
    return SignalLog.objects.create(
        fingerprint=fingerprint,
        signal_type=signal_type,
        instrument_id=instrument,
        position=position,
        signal_timestamp=ts,
        received_at=fields.pop("received_at", timezone.now()),
        status=status,
        payload=fields.pop("payload", {"type": signal_type, "instrument": instrument}),
        **fields,
    )
