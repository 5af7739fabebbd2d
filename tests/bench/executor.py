"""Execution throughput of one instrument (DESIGN §13: ≥ 200 signals/s per instrument, paper broker).

    python -m tests.bench.executor [--signals 2000] [--instrument GOLD_MINI] [--profile out.txt]

Creates its own database (``pm_bench_exec``), queues a realistic stream of one instrument straight into
the inbox (cycles of BASE_ENTRY, two PYRAMIDs, bars, EXIT ALL), then drains it with the executor in
this process (production mode: PostgreSQL + Redis on loopback, paper broker) and prints signals/s.
With ``--profile`` it runs under py-spy and writes the top frames.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from tests.bench.common import fresh_database, machine

ENTRY = {"GOLD_MINI": (72000, 500), "SILVER_MINI": (90000, 900), "COPPER": (800, 8), "BANK_NIFTY": (52000, 350)}


def stream(code: str, total: int) -> list[dict]:
    """Per 10 signals: BASE_ENTRY, bar, PYRAMID, bar, PYRAMID, 4 bars, EXIT ALL — one second apart."""
    price, atr = ENTRY[code]
    start = datetime.now(timezone.utc) - timedelta(seconds=total + 60)
    bodies = []
    for n in range(total):
        stamp, step, level = start + timedelta(seconds=n), n % 10, price + (n % 10) * atr // 2
        common = {"instrument": code, "timestamp": stamp.isoformat(), "atr": atr}
        if step == 0:
            body = {"type": "BASE_ENTRY", "position": "Long_1", "price": price, "stop": price - 2 * atr, "lots": 1,
                    "er": 0.9, "supertrend": price - 2 * atr}
        elif step in (2, 4):
            body = {"type": "PYRAMID", "position": f"Long_{step // 2 + 1}", "price": level, "stop": price - atr,
                    "lots": 1, "er": 0.9, "supertrend": price - atr}
        elif step == 9:
            body = {"type": "EXIT", "position": "ALL", "price": level, "reason": "SuperTrend", "stop": 0, "lots": 0,
                    "er": 0.8, "supertrend": level}
        else:
            body = {"type": "MARKET_DATA", "price": level, "supertrend": price - atr}
        bodies.append({**common, **body})
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--instrument", default="GOLD_MINI", choices=sorted(ENTRY))
    parser.add_argument("--profile", help="write a py-spy top-frames summary here")
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)  # the measured child
    args = parser.parse_args()
    if not args.drain:
        url = fresh_database("pm_bench_exec")
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/13",
               "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_SECRET_KEY": "bench", "WEBHOOK_SECRET": "x" * 32,
               "LOG_LEVEL": "WARNING"}
        child = [sys.executable, "-m", "tests.bench.executor", "--drain", "--signals", str(args.signals),
                 "--instrument", args.instrument]
        if args.profile:
            child = [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-f", "raw", "--idle", "-o",
                     args.profile, "-r", "100", "--", *child]
        print(f"machine: {machine()}")
        subprocess.run(child, env=env, check=True)
        if args.profile:
            print(f"profile: {args.profile} (collapsed stacks)")
        return
    drain(args.signals, args.instrument)


def drain(total: int, code: str) -> None:
    import django

    django.setup()
    from django.utils import timezone as dj_timezone

    from signals.executor import instrument_execute
    from signals.models import SignalLog
    from signals.payloads import validate_payload
    from signals.services.inbox import signal_insert

    instruments = frozenset(ENTRY)
    for body in stream(code, total):
        signal_insert(signal=validate_payload(body, instruments=instruments, default_tz="Asia/Kolkata"),
                      received_at=dj_timezone.now())
    started = time.perf_counter()
    instrument_execute(instrument=code)
    elapsed = time.perf_counter() - started
    done = SignalLog.objects.exclude(status__in=["accepted", "processing"]).count()
    statuses = dict(SignalLog.objects.values_list("status").annotate(n=django.db.models.Count("id")))
    print(f"{code}: {done}/{total} signals executed in {elapsed:.2f}s = {done / elapsed:.0f} signals/s; {statuses}")


if __name__ == "__main__":
    main()
