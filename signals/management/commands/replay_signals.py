"""Post a JSON-lines file of TradingView alerts to a running instance (the demo's second command).

Timestamps are moved, by default, to the last ``--window`` minutes before now (keeping order and
relative spacing), so entries in a recorded sample are fresh rather than stale.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from signals.fingerprint import parse_signal_timestamp


class Command(BaseCommand):
    help = "Replay a JSON-lines file of signals against a running instance's webhook."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--url", default="http://127.0.0.1:8000/webhook")
        parser.add_argument("--secret", default=None, help="Default: this installation's webhook secret")
        parser.add_argument("--window", type=float, default=30.0, help="Minutes the rebased signals span")
        parser.add_argument("--keep-timestamps", action="store_true", help="Send the recorded timestamps")

    def handle(self, *args, file: Path, url: str, secret: str | None, window: float, keep_timestamps: bool,
               **options):
        signals = self._load(file)
        if not keep_timestamps:
            self._rebase(signals, window)
        secret = secret or settings.PM_WEBHOOK_SECRET
        failures = 0
        with httpx.Client(timeout=10.0) as client:
            for number, signal in enumerate(signals, start=1):
                try:
                    response = client.post(url, json={**signal, "secret": secret})
                except httpx.HTTPError as exc:
                    raise CommandError(f"line {number}: cannot reach {url}: {exc}") from None
                failures += response.status_code >= 300
                label = f"{signal.get('type')} {signal.get('instrument')} {signal.get('position', '')}".strip()
                self.stdout.write(f"{number:>3} {label:<32} {response.status_code} {response.text[:120]}")
        if failures:
            raise CommandError(f"{failures} of {len(signals)} signals were not accepted")
        self.stdout.write(self.style.SUCCESS(f"Replayed {len(signals)} signals to {url}."))

    def _load(self, file: Path) -> list[dict]:
        if not file.exists():
            raise CommandError(f"{file}: no such file")
        signals = []
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                signal = json.loads(line)
            except ValueError as exc:
                raise CommandError(f"{file}:{number}: not JSON ({exc})") from None
            if not isinstance(signal, dict) or "timestamp" not in signal:
                raise CommandError(f"{file}:{number}: each line must be a JSON object with a timestamp")
            signals.append(signal)
        if not signals:
            raise CommandError(f"{file}: no signals")
        return signals

    def _rebase(self, signals: list[dict], window_minutes: float) -> None:
        try:
            stamps = [parse_signal_timestamp(s["timestamp"], default_tz=settings.PM_SIGNAL_TIMEZONE) for s in signals]
        except ValueError as exc:
            raise CommandError(f"bad timestamp: {exc}") from None
        first, last = min(stamps), max(stamps)
        span = (last - first).total_seconds() or 1.0
        end = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
        start = end - timedelta(minutes=window_minutes)
        for signal, stamp in zip(signals, stamps):
            moved: datetime = start + (end - start) * ((stamp - first).total_seconds() / span)
            signal["timestamp"] = moved.replace(microsecond=0).isoformat()
