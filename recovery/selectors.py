"""Reads for the recovery app."""

from __future__ import annotations

from recovery.models import Discrepancy, DiscrepancyStatus


def open_discrepancy_count(*, instrument: str | None = None) -> int:
    qs = Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN)
    if instrument is not None:
        qs = qs.filter(instrument_id=instrument)
    return qs.count()
