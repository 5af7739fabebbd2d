"""Startup recovery with 5,000 open positions (DESIGN §13: ≤ 2 s), against PostgreSQL:

    python -m tests.bench.recovery [--positions 5000] [--runs 3]

One live position per instrument layer is a database invariant, so the benchmark creates enough
synthetic MCX-style instruments (6 layers each) and a paper-broker book that matches them, then
times ``recovery_run(trigger="startup")``: lock cleanup, validation, incomplete-work scan and a full
reconciliation.
"""

from __future__ import annotations

import argparse
import itertools
import os
import string
import time
from datetime import date, timedelta
from decimal import Decimal

from tests.bench.common import fresh_database, machine


def _setup_django(url: str) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=url,
                      REDIS_URL="redis://127.0.0.1:6379/14", WEBHOOK_SECRET="bench-secret-0123456789-0123456789",
                      DJANGO_SECRET_KEY="bench", LOG_FORMAT="json")
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)


def _seed(count: int) -> None:
    from django.utils import timezone

    from portfolio.models import Instrument
    from positions.models import PaperPosition, Position

    gold = Instrument.objects.get(code="GOLD_MINI")
    roots = ("BX" + "".join(p) for p in itertools.product(string.ascii_uppercase, repeat=3))
    instruments = []
    for _, root in zip(range((count + 5) // 6), roots):
        clone = Instrument(**{f.name: getattr(gold, f.name) for f in Instrument._meta.concrete_fields})
        clone.code, clone.symbol_root, clone.name = f"BENCH_{root}", root, f"bench {root}"
        instruments.append(clone)
    Instrument.objects.bulk_create(instruments)
    expiry = date.today() + timedelta(days=60)
    positions, book = [], []
    for n, (inst, layer) in enumerate(itertools.product(instruments, range(1, 7))):
        if n == count:
            break
        symbol = f"{inst.symbol_root}{expiry:%d%b%y}FUT".upper()
        price = Decimal(72000 + n)
        positions.append(Position(
            instrument=inst, layer=layer, label=f"{inst.code}_Long_{layer}", is_base_position=layer == 1,
            status="open", lots=2, quantity=2, signal_price=price, entry_price=price, initial_stop=price - 500,
            current_stop=price - 500, highest_close=price, entry_atr=Decimal(500), expiry=expiry,
            futures_symbol=symbol, opened_at=timezone.now(),
        ))
    Position.objects.bulk_create(positions, batch_size=1000)
    totals: dict[str, int] = {}
    for p in positions:
        totals[p.futures_symbol] = totals.get(p.futures_symbol, 0) + p.quantity
    book = [PaperPosition(symbol=s, exchange="MCX", net_quantity=q, average_price=Decimal(72000))
            for s, q in totals.items()]
    PaperPosition.objects.bulk_create(book, batch_size=1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = fresh_database("pm_bench_recovery")
    _setup_django(url)
    _seed(args.positions)
    from recovery.services.recovery import recovery_run

    print(f"machine: {machine()}")
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        run = recovery_run(trigger="startup")
        timings.append(time.perf_counter() - started)
        outcome = run.report.get("reconciliation", {}).get("outcome")
    print(f"startup recovery with {args.positions} open positions: "
          + ", ".join(f"{t:.3f}s" for t in timings)
          + f"  (best {min(timings):.3f}s; reconciliation outcome: {outcome}; warnings: {len(run.warnings)})")


if __name__ == "__main__":
    main()
