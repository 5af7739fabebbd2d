"""Reads for the signal log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from signals.models import SignalLog, SignalStatus


def signals_claimed_live(*, now: datetime) -> QuerySet[SignalLog]:
    """Signals a live worker holds (processing, its claim not yet lapsed; a live worker keeps
    extending it)."""
    return SignalLog.objects.filter(status=SignalStatus.PROCESSING, claim_expires_at__gte=now)


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
