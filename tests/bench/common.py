"""Shared pieces of the benchmarks: a fresh database, a cluster, load generation and percentiles."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
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
                  web_workers: int = 2) -> Cluster:
    directory = Path(tempfile.mkdtemp(prefix="pm-bench-"))
    cluster = Cluster(database_url, directory, RedisServer(directory).start())
    for i in range(webs):
        cluster.start_web(f"web{i + 1}", workers=web_workers)
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


@dataclass
class SignalSource:
    """MARKET_DATA bars on the four instruments with distinct, fresh timestamps."""

    start: datetime = field(default_factory=lambda: datetime.now(timezone.utc) - timedelta(hours=10))
    counter: int = 0

    def next(self) -> dict:
        self.counter += 1
        code = ("GOLD_MINI", "SILVER_MINI", "COPPER", "BANK_NIFTY")[self.counter % 4]
        base = {"GOLD_MINI": 72000, "SILVER_MINI": 90000, "COPPER": 800, "BANK_NIFTY": 52000}[code]
        stamp = self.start + timedelta(seconds=self.counter)  # fingerprints have second precision
        return {"type": "MARKET_DATA", "instrument": code, "price": base + self.counter % 50,
                "atr": base / 100, "supertrend": base * 0.98, "timestamp": stamp.isoformat(), "secret": SECRET}


async def post_paced(urls: list[str], source: SignalSource, *, rate_per_s: float, seconds: float
                     ) -> tuple[list[float], dict[int, int]]:
    """Open-loop load at a fixed rate: latencies of each POST /webhook and a count of status codes."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=200)) as client:
        async def one(url: str, body: dict) -> None:
            started = time.perf_counter()
            try:
                response = await client.post(url, json=body)
                code = response.status_code
            except httpx.HTTPError:
                code = 0
            latencies.append(time.perf_counter() - started)
            codes[code] = codes.get(code, 0) + 1

        tasks = []
        begin = time.perf_counter()
        total = int(rate_per_s * seconds)
        for i in range(total):
            await asyncio.sleep(max(0.0, begin + i / rate_per_s - time.perf_counter()))
            tasks.append(asyncio.create_task(one(urls[i % len(urls)] + "/webhook", source.next())))
        await asyncio.gather(*tasks)
    return latencies, codes


async def post_flat_out(urls: list[str], source: SignalSource, *, concurrency: int, seconds: float
                        ) -> tuple[int, dict[int, int], float]:
    """Closed-loop load: ``concurrency`` clients posting back to back; returns (sent, codes, elapsed)."""
    codes: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker(index: int) -> int:
            sent = 0
            url = urls[index % len(urls)] + "/webhook"
            while time.perf_counter() < deadline:
                try:
                    code = (await client.post(url, json=source.next())).status_code
                except httpx.HTTPError:
                    code = 0
                codes[code] = codes.get(code, 0) + 1
                sent += 1
            return sent

        begin = time.perf_counter()
        counts = await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return sum(counts), codes, time.perf_counter() - begin


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown cpu")
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"
