"""Reads for the signal log."""

from __future__ import annotations

from django.db.models import QuerySet

from signals.models import SignalLog


def signal_list(*, status: str | None = None, instrument: str | None = None, signal_type: str | None = None
                ) -> QuerySet[SignalLog]:
    qs = SignalLog.objects.order_by("-received_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if instrument:
        qs = qs.filter(instrument_id=instrument)
    if signal_type:
        qs = qs.filter(signal_type=signal_type)
    return qs
