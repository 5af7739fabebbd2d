"""Server time of the ops cockpit page on a full book (budget: ≤ 300 ms), against PostgreSQL:

    python -m tests.bench.dashboard [--requests 50] [--closed 10000] [--ledger 50000] [--signals 100000]

Seeds a fresh database with every layer of every instrument open (24 positions), ``--closed`` closed
positions, ``--ledger`` ledger rows (their trading and rollover P&L, deposits and withdrawals, spread
over two years) and ``--signals`` signals (a year of them, a few hundred today), then renders
``/admin/cockpit/`` in-process through Django's full request stack (middleware, session, staff check,
templates) as a logged-in staff user, and prints p50/p95/p99 of the server time, the queries per page,
the time of each refresh fragment, the machine and the git commit.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import time
from datetime import date, timedelta
from decimal import Decimal

from tests.bench.common import fresh_database, machine, percentiles
from tests.cluster import ROOT

INSTRUMENTS = {"BANK_NIFTY": 52000, "GOLD_MINI": 72000, "SILVER_MINI": 90000, "COPPER": 800}


def _setup_django(url: str) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=url,
                      REDIS_URL="redis://127.0.0.1:6379/14", WEBHOOK_SECRET="bench-secret-0123456789-0123456789",
                      DJANGO_SECRET_KEY="bench", LOG_FORMAT="json", ALLOWED_HOSTS="testserver,127.0.0.1")
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)


def _position(inst, layer: int, *, status: str, price: Decimal, expiry: date, **extra):
    from positions.models import Position

    futures = inst.contract_kind == "futures"
    return Position(
        instrument=inst, layer=layer, label=f"{inst.code}_Long_{layer}", is_base_position=layer == 1, status=status,
        lots=2, quantity=2 * inst.order_quantity_per_lot, signal_price=price, entry_price=price,
        initial_stop=price * Decimal("0.99"), current_stop=price * Decimal("0.995"), highest_close=price,
        entry_atr=price / 100, expiry=expiry, futures_symbol=f"{inst.symbol_root}{expiry:%d%b%y}FUT".upper() if futures else "",
        strike=None if futures else int(price), pe_symbol="" if futures else f"BANKNIFTY{expiry:%d%b%y}{int(price)}PE".upper(),
        ce_symbol="" if futures else f"BANKNIFTY{expiry:%d%b%y}{int(price)}CE".upper(), **extra)


def _seed(*, closed: int, ledger: int, signals: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from core.services import instance_register
    from portfolio.equity import apply_ledger_entry
    from portfolio.models import CapitalTransaction, Instrument, PortfolioState
    from positions.models import Position
    from signals.models import SignalLog

    rng = random.Random(15)
    now = timezone.now()
    instruments = {i.code: i for i in Instrument.objects.filter(code__in=INSTRUMENTS)}
    for code, base in INSTRUMENTS.items():
        Instrument.objects.filter(code=code).update(mark_price=Decimal(base) * Decimal("1.02"), mark_at=now)
    expiry = date.today() + timedelta(days=20)
    Position.objects.bulk_create([
        _position(instruments[code], layer, status="open", price=Decimal(base + 50 * layer), expiry=expiry,
                  opened_at=now - timedelta(days=3))
        for code, base in INSTRUMENTS.items() for layer in range(1, 7)])
    history = []
    for n in range(closed):
        code = rng.choice(list(INSTRUMENTS))
        price = Decimal(INSTRUMENTS[code])
        exit_price = price + rng.randint(-300, 600)
        opened = now - timedelta(days=730) + timedelta(minutes=100 * n)
        history.append(_position(instruments[code], rng.randint(1, 6), status="closed", price=price, expiry=expiry,
                                 opened_at=opened, closed_at=opened + timedelta(hours=5), exit_price=exit_price,
                                 exit_reason=rng.choice(["PM_STOP_HIT", "SuperTrend", "Manual Exit"]),
                                 realized_pnl=(exit_price - price) * 2 * instruments[code].point_value))
    history = Position.objects.bulk_create(history, batch_size=2000)

    # The ledger: the opening deposit exists; one trading P&L per closed position, rollover P&L
    # (up to 3 per position), deposits and withdrawals — a consistent balance chain.
    state = PortfolioState.objects.get()
    closed_equity, high = state.closed_equity, state.equity_high
    kinds = (["TRADING_PNL"] * min(closed, ledger // 5) + ["ROLLOVER_PNL"] * min(3 * closed, ledger * 3 // 5))
    kinds += ["DEPOSIT", "WITHDRAW"] * ((ledger - 1 - len(kinds)) // 2)
    rng.shuffle(kinds)
    trading = iter(history)
    rolls = iter([(p, k) for p in history for k in (1, 2, 3)])
    rows = []
    for kind in kinds:
        position, number = None, None
        if kind == "TRADING_PNL":
            position = next(trading)
            amount = position.realized_pnl
        elif kind == "ROLLOVER_PNL":
            position, number = next(rolls)
            amount = Decimal(rng.randint(-20000, 30000))
        else:
            amount = Decimal(rng.randint(10000, 250000)) if kind == "DEPOSIT" else -Decimal(rng.randint(10000, 200000))
        closed_equity, high = apply_ledger_entry(closed_equity=closed_equity, equity_high=high, kind=kind,
                                                 amount=amount)
        rows.append(CapitalTransaction(kind=kind, amount=amount, equity_before=closed_equity - amount,
                                       equity_after=closed_equity, equity_high_after=high, position=position,
                                       rollover_number=number, created_by="bench"))
    CapitalTransaction.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:  # spread the ledger over two years, in id order
        cursor.execute("UPDATE portfolio_capitaltransaction SET created_at = now() - "
                       "((SELECT max(id) FROM portfolio_capitaltransaction) - id) * interval '20 minutes'")
    PortfolioState.objects.update(closed_equity=closed_equity, equity_high=high)

    statuses = ["executed"] * 6 + ["blocked", "rejected", "failed", "ignored"]
    today = max(1, signals // 250)
    logs = []
    for n in range(signals):
        code = list(INSTRUMENTS)[n % 4]
        ago = timedelta(seconds=rng.randint(0, 6 * 3600)) if n >= signals - today else timedelta(days=rng.randint(1, 365))
        at = now - ago
        logs.append(SignalLog(fingerprint=f"bench-{n}", signal_type="MARKET_DATA" if n % 3 else "BASE_ENTRY",
                              instrument_id=code, position="" if n % 3 else "Long_1", signal_timestamp=at,
                              received_at=at, processed_at=at, status=rng.choice(statuses),
                              result={"checks": []}, payload={"type": "MARKET_DATA", "instrument": code}))
    SignalLog.objects.bulk_create(logs, batch_size=5000)
    instance_register(role="web")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return (result.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def _time(client, url: str, n: int) -> list[float]:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--closed", type=int, default=10_000)
    parser.add_argument("--ledger", type=int, default=50_000)
    parser.add_argument("--signals", type=int, default=100_000)
    args = parser.parse_args()
    url = fresh_database("pm_bench_dashboard")
    _setup_django(url)
    started = time.perf_counter()
    _seed(closed=args.closed, ledger=args.ledger, signals=args.signals)
    seeded = time.perf_counter() - started

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from portfolio.models import CapitalTransaction
    from positions.models import Position
    from signals.models import SignalLog

    client = Client()
    client.force_login(get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True))
    _time(client, "/admin/cockpit/", 3)  # warm: templates, pools, caches
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get("/admin/cockpit/")
    page = percentiles(_time(client, "/admin/cockpit/", args.requests))
    sections = {name: statistics.median(_time(client, f"/admin/cockpit/sections/{name}/", 10))
                for name in ("health", "summary", "equity", "positions", "signals")}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"machine: {machine()}, PostgreSQL {server}")
    print(f"git commit: {_git_commit()}")
    print(f"data: {Position.objects.filter(status='open').count()} open positions, "
          f"{Position.objects.filter(status='closed').count()} closed, {CapitalTransaction.objects.count()} ledger rows, "
          f"{SignalLog.objects.count()} signals (seeded in {seeded:.0f} s)")
    print(f"GET /admin/cockpit/ server time: n={page['n']} p50={page['p50'] * 1000:.1f} ms "
          f"p95={page['p95'] * 1000:.1f} ms p99={page['p99'] * 1000:.1f} ms max={page['max'] * 1000:.1f} ms; "
          f"{len(queries)} queries per page")
    print("refresh fragments, median: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sections.items()))


if __name__ == "__main__":
    main()
