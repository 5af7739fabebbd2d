"""Ingest and execution benchmark (DESIGN §13), production mode on loopback:

    python -m tests.bench.ingest [--paced-seconds 60] [--flat-seconds 20] [--concurrency 32]

1. Paced: 1,000 signals/min spread over 2 web instances → POST /webhook latency (202, row committed)
   and accepted → executed latency (from the signal rows' received_at / processed_at).
2. Flat out: N concurrent clients against 2 web instances → sustained signals/s and errors.
Prints p50/p95/p99 and throughput; the database is a fresh ``pm_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from tests.bench.common import SignalSource, fresh_database, machine, ms, percentiles, post_flat_out, post_paced
from tests.cluster import SECRET


def execution_latencies(url: str) -> list[float]:
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM processed_at - received_at) FROM signals_signallog "
            "WHERE status = 'executed'"
        ).fetchall()
    return [float(r[0]) for r in rows]


def wait_drained(url: str, timeout: float = 120) -> int:
    import time

    deadline = time.monotonic() + timeout
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            (left,) = conn.execute(
                "SELECT count(*) FROM signals_signallog WHERE status IN ('accepted', 'processing')").fetchone()
            if not left:
                return 0
            time.sleep(0.5)
    return left


def wrk_flat_out(urls: list[str], *, connections: int, seconds: float) -> tuple[float, int]:
    """wrk (C) against every instance at once, each with its own range of signal times."""
    script = Path(__file__).with_name("webhook.lua")
    start = int(time.time()) - 400_000_000
    runs = []
    for index, url in enumerate(urls):
        env = {**os.environ, "SECRET": SECRET, "START": str(start + index * 100_000_000)}
        runs.append(subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script), url],
                                     env=env, stdout=subprocess.PIPE, text=True))
    rate, errors = 0.0, 0
    for run in runs:
        output = run.communicate(timeout=seconds + 60)[0]
        rate += float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        counts = re.search(r"non-2xx (\d+), errors (\d+)", output)
        errors += int(counts.group(1)) + int(counts.group(2))
    return rate, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paced-seconds", type=float, default=60)
    parser.add_argument("--rate-per-minute", type=float, default=1000)
    parser.add_argument("--flat-seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes per web instance")
    args = parser.parse_args()

    from tests.bench.common import start_cluster

    print(f"machine: {machine()}")
    url = fresh_database("pm_bench")
    cluster = start_cluster(url, webs=2, workers=1, beats=1, web_workers=args.web_workers)
    urls = [p.url for p in cluster.procs.values() if p.kind == "web"]
    source = SignalSource()
    try:
        latencies, codes = asyncio.run(post_paced(urls, source, rate_per_s=args.rate_per_minute / 60,
                                                  seconds=args.paced_seconds))
        left = wait_drained(url)
        print(f"paced {args.rate_per_minute:.0f}/min for {args.paced_seconds:.0f}s over 2 web instances: "
              f"codes {codes}")
        print(f"  ingest (POST /webhook -> 202):   {ms(percentiles(latencies))}")
        print(f"  accepted -> executed (paper):    {ms(percentiles(execution_latencies(url)))}  (unfinished: {left})")
        if shutil.which("wrk"):
            rate, errors = wrk_flat_out(urls, connections=args.concurrency, seconds=args.flat_seconds)
            print(f"flat out (wrk, {args.concurrency} connections per instance, {args.flat_seconds:.0f}s): "
                  f"{rate:.0f} signals/s over 2 instances, errors {errors}")
        else:
            sent, codes, elapsed = asyncio.run(post_flat_out(urls, source, concurrency=args.concurrency,
                                                             seconds=args.flat_seconds))
            errors = sum(n for code, n in codes.items() if code not in (200, 202))
            print(f"flat out (python client), {args.concurrency} clients, {elapsed:.1f}s: {sent / elapsed:.0f} "
                  f"signals/s, errors {errors}, codes {codes}")
        left = wait_drained(url, timeout=300)
        print(f"  backlog drained: {'yes' if not left else f'no, {left} left'}")
    finally:
        cluster.stop()
        cluster.redis.shutdown()


if __name__ == "__main__":
    main()
