"""Shared pieces of the benchmarks: a fresh database, a cluster, load generation and percentiles."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from tests.cluster import ROOT, SECRET, Cluster, RedisServer

ADMIN = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str) -> str:
    """Create (or recreate) a benchmark database, migrate it and initialise a portfolio."""
    with psycopg.connect(ADMIN.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url,
           "REDIS_URL": "redis://127.0.0.1:6379/14", "WEBHOOK_SECRET": SECRET, "DJANGO_SECRET_KEY": "bench"}
    for args in (["migrate", "--noinput", "-v0"], ["init_portfolio", "--capital", "5000000"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return url


def start_cluster(database_url: str, *, webs: int = 2, workers: int = 1, beats: int = 1,
                  web_workers: int = 2, web_threads: int = 8) -> Cluster:
    directory = Path(tempfile.mkdtemp(prefix="pm-bench-"))
    cluster = Cluster(database_url, directory, RedisServer(directory).start())
    for i in range(webs):
        cluster.start_web(f"web{i + 1}", workers=web_workers, threads=web_threads)
    for i in range(workers):
        cluster.start_worker(f"worker{i + 1}", concurrency=8)
    for i in range(beats):
        cluster.start_beat(f"beat{i + 1}")
    return cluster


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"n": len(ordered), "p50": q[49], "p95": q[94], "p99": q[98], "max": ordered[-1]}


def ms(stats: dict) -> str:
    if not stats.get("n"):
        return "n=0"
    return f"n={stats['n']} p50={stats['p50'] * 1000:.1f}ms p95={stats['p95'] * 1000:.1f}ms " \
           f"p99={stats['p99'] * 1000:.1f}ms max={stats['max'] * 1000:.1f}ms"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown cpu")
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"


CAMPAIGN_LEVELS = {"GOLD_MINI": (72000, 500), "SILVER_MINI": (90000, 900), "COPPER": (800, 8),
                   "BANK_NIFTY": (52000, 350)}


class Campaign:
    """A realistic stream, one second apart per instrument, round robin over the instruments: per 10
    signals of each, BASE_ENTRY, bar, PYRAMID, bar, PYRAMID, 4 bars, EXIT ALL (so positions open,
    pyramid, trail and close, and margin is freed for the next cycle; winners and losers alternate,
    so equity does not compound over a long run).  Signal times start ``age``
    seconds ago; run the service with ``MAX_SIGNAL_AGE`` above that."""

    def __init__(self, codes: tuple[str, ...] = ("GOLD_MINI", "SILVER_MINI", "COPPER"), *, age: int = 6 * 86400,
                 secret: str | None = SECRET) -> None:
        self.codes, self.secret, self.sent = codes, secret, 0
        self.start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=age)

    def next(self) -> dict:
        code, n = self.codes[self.sent % len(self.codes)], self.sent // len(self.codes)
        self.sent += 1
        body = campaign_signal(code, n, self.start + timedelta(seconds=n))
        return {**body, "secret": self.secret} if self.secret else body

    def take(self, count: int) -> list[dict]:
        return [self.next() for _ in range(count)]


def campaign_signal(code: str, n: int, stamp: datetime) -> dict:
    price, atr = CAMPAIGN_LEVELS[code]
    step, level = n % 10, price + (n % 10) * atr // 2
    common = {"instrument": code, "timestamp": stamp.isoformat(), "atr": atr}
    if step == 0:
        body = {"type": "BASE_ENTRY", "position": "Long_1", "price": price, "stop": price - 2 * atr, "lots": 1,
                "er": 0.9, "supertrend": price - 2 * atr}
    elif step in (2, 4):
        body = {"type": "PYRAMID", "position": f"Long_{step // 2 + 1}", "price": level, "stop": price - atr,
                "lots": 1, "er": 0.9, "supertrend": price - atr}
    elif step == 9:  # every other cycle loses what the one before won, so equity (and sizing) stays level
        exit_price = level if (n // 10) % 2 == 0 else price - 5 * atr // 2
        body = {"type": "EXIT", "position": "ALL", "price": exit_price, "reason": "SuperTrend", "stop": 0, "lots": 0,
                "er": 0.8, "supertrend": exit_price}
    else:
        body = {"type": "MARKET_DATA", "price": level, "supertrend": price - atr}
    return {**common, **body}


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (gunicorn workers, Celery pool), MiB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024
