"""What a sender feels (DESIGN §13): ingest latency and throughput with the worker executing the same
stream on the same machine, execution throughput, accepted → executed latency, and memory.

    python -m tests.bench.ingest [--requests 1000] [--flat-seconds 20] [--memory-signals 0]

Production mode on loopback: a fresh ``pm_bench`` database, a private Redis, one web instance
(gunicorn, ``--web-workers`` × ``--web-threads``), one Celery worker and one beat, paper broker.
The stream is a realistic campaign over Gold Mini, Silver Mini and Copper (entries, pyramids, bars
trailing stops, exits). Phases:

1. one client at a time, then 8 concurrent clients: ``--requests`` POSTs each, ingest p50/p95/p99
   (202 = row committed) and accepted → executed once the worker has drained them; then paced at
   ``--rate-per-minute`` (default 1,000/min, open loop) for accepted → executed at that rate;
2. flat out (wrk, one process per web instance) against one instance, then against two: signals/s,
   and the worker's drain rate per instrument on the backlog the burst left;
3. ``--memory-signals N``: N more signals by 8 clients; RSS of web, worker and beat (each with its
   children) at rest, after the first 10,000 and at the end.
Prints the machine and the git commit first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from tests.bench.common import (
    Campaign,
    fresh_database,
    git_commit,
    machine,
    ms,
    percentiles,
    start_cluster,
    tree_rss_mib,
)
from tests.bench.pyspy import summarise

FINISHED = "status NOT IN ('accepted', 'processing', 'held')"


def sql(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def last_id(url: str) -> int:
    return sql(url, "SELECT coalesce(max(id), 0) FROM signals_signallog")[0][0]


def wait_drained(url: str, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while True:
        left = sql(url, f"SELECT count(*) FROM signals_signallog WHERE NOT ({FINISHED})")[0][0]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def execution_report(url: str, after_id: int) -> str:
    """Accepted → executed of the signals after ``after_id`` and their outcomes."""
    rows = sql(url, f"SELECT extract(epoch FROM processed_at - received_at), status FROM signals_signallog "
                    f"WHERE id > %s AND {FINISHED}", after_id)
    outcomes: dict[str, int] = {}
    for _, status in rows:
        outcomes[status] = outcomes.get(status, 0) + 1
    return f"{ms(percentiles([float(r[0]) for r in rows]))}  outcomes {outcomes}"


def drain_rates(url: str, after_id: int) -> str:
    """Signals executed per second per instrument, from its first to its last completion in the phase."""
    rows = sql(url, f"SELECT instrument_id, count(*), extract(epoch FROM max(processed_at) - min(processed_at)) "
                    f"FROM signals_signallog WHERE id > %s AND {FINISHED} GROUP BY instrument_id ORDER BY 1", after_id)
    return ", ".join(f"{code} {n / max(float(span), 1e-3):.0f}/s ({n})" for code, n, span in rows)


async def closed_loop(url: str, bodies: list[dict], concurrency: int) -> tuple[list[float], dict[int, int]]:
    """``concurrency`` clients, each posting its next body as soon as the previous one is answered."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    queue = iter(bodies)
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def client_loop() -> None:
            for body in queue:
                started = time.perf_counter()
                try:
                    code = (await client.post(url + "/webhook", json=body)).status_code
                except httpx.HTTPError:
                    code = 0
                latencies.append(time.perf_counter() - started)
                codes[code] = codes.get(code, 0) + 1

        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return latencies, codes


async def paced(url: str, bodies: list[dict], rate_per_s: float) -> tuple[list[float], dict[int, int]]:
    """Open loop: each POST starts on schedule whatever the earlier answers (as alerts arrive)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
        async def one(body: dict) -> None:
            started = time.perf_counter()
            try:
                code = (await client.post(url + "/webhook", json=body)).status_code
            except httpx.HTTPError:
                code = 0
            latencies.append(time.perf_counter() - started)
            codes[code] = codes.get(code, 0) + 1

        begin, tasks = time.perf_counter(), []
        for index, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, begin + index / rate_per_s - time.perf_counter()))
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    return latencies, codes


def wrk_flat_out(urls: list[str], campaign: Campaign, *, connections: int, seconds: float) -> str:
    """wrk (C, one thread per instance) posting pre-built campaign bodies; the load generator costs
    far less CPU than a Python client would, and it shares the two cores with the service."""
    import json

    script = Path(__file__).with_name("webhook.lua")
    runs, files = [], []
    for url in urls:
        handle = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
        handle.write("\n".join(json.dumps(body) for body in campaign.take(int(900 * seconds))) + "\n")
        handle.close()
        files.append(handle.name)
        runs.append(subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script), url],
            env={**os.environ, "BODIES": handle.name}, stdout=subprocess.PIPE, text=True))
    rate, errors, latency = 0.0, 0, []
    for run in runs:
        output = run.communicate(timeout=seconds + 60)[0]
        rate += float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        counts = re.search(r"non-2xx (\d+), errors (\d+)", output)
        errors += int(counts.group(1)) + int(counts.group(2))
        latency.append(" ".join(f"p{q}={v}" for q, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, re.M)))
    for name in files:
        os.unlink(name)
    return f"{rate:.0f} signals/s, errors {errors}, latency {'; '.join(latency)}"


def profiler(cluster, output: str) -> subprocess.Popen:
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "-f", "raw", "-r", "200", "--subprocesses", "-o", output,
                             "-p", str(cluster.procs["web1"].popen.pid)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def memory(cluster, label: str, table: list[tuple[str, dict]]) -> None:
    row = {name: tree_rss_mib(proc.popen.pid) for name, proc in cluster.procs.items()}
    table.append((label, row))
    print(f"  RSS {label}: " + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in row.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="POSTs in each latency phase")
    parser.add_argument("--paced-seconds", type=float, default=60, help="0 skips the paced phase")
    parser.add_argument("--rate-per-minute", type=float, default=1000)
    parser.add_argument("--flat-seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections per web instance")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--memory-signals", type=int, default=0)
    parser.add_argument("--profile", metavar="FILE", help="py-spy the web instance (all its workers) during the "
                                                         "8-client phase; collapsed stacks to FILE, top frames printed")
    args = parser.parse_args()
    os.environ["MAX_SIGNAL_AGE"] = str(8 * 86400)  # the campaign replays the last six days, one second apart

    niceness = os.environ.get("WORKER_NICENESS") or "10 (the default)"
    print(f"machine: {machine()}; commit {git_commit()}; worker niceness {niceness}")
    url = fresh_database("pm_bench")
    cluster = start_cluster(url, webs=1, workers=1, beats=1, web_workers=args.web_workers,
                            web_threads=args.web_threads)
    web = cluster.procs["web1"].url
    campaign, rss = Campaign(), []
    try:
        asyncio.run(closed_loop(web, campaign.take(60), 4))  # warm pools and caches
        wait_drained(url)
        memory(cluster, "at rest", rss)
        for concurrency in (1, 8):
            mark = last_id(url)
            spy = profiler(cluster, args.profile) if args.profile and concurrency == 8 else None
            latencies, codes = asyncio.run(closed_loop(web, campaign.take(args.requests), concurrency))
            if spy:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            left = wait_drained(url)
            print(f"{concurrency} client(s), {args.requests} signals, codes {codes}")
            print(f"  ingest (POST /webhook -> 202):  {ms(percentiles(latencies))}")
            print(f"  accepted -> executed:           {execution_report(url, mark)} (unfinished {left})")
            if spy:
                print("  profile of the web instance, request threads only:\n"
                      + summarise(Path(args.profile), under="handle_request", top=25))
        if args.paced_seconds:
            mark, rate = last_id(url), args.rate_per_minute / 60
            latencies, codes = asyncio.run(paced(web, campaign.take(int(rate * args.paced_seconds)), rate))
            left = wait_drained(url)
            print(f"paced {args.rate_per_minute:.0f}/min for {args.paced_seconds:.0f}s, codes {codes}")
            print(f"  ingest (POST /webhook -> 202):  {ms(percentiles(latencies))}")
            print(f"  accepted -> executed:           {execution_report(url, mark)} (unfinished {left})")
        if args.flat_seconds and shutil.which("wrk"):
            for instances in (1, 2):
                if instances == 2:
                    cluster.start_web("web2", workers=args.web_workers, threads=args.web_threads)
                urls = [p.url for p in cluster.procs.values() if p.kind == "web"]
                mark = last_id(url)
                result = wrk_flat_out(urls, campaign, connections=args.connections, seconds=args.flat_seconds)
                print(f"flat out, {instances} instance(s), wrk {args.connections} connections each, "
                      f"{args.flat_seconds:.0f}s: {result}")
                left = wait_drained(url)
                print(f"  worker drain rate on that backlog: {drain_rates(url, mark)} (unfinished {left})")
        elif args.flat_seconds:
            print("flat out: skipped (install wrk: apt-get install wrk)")
        memory(cluster, "after the phases", rss)
        if args.memory_signals:
            memory_run(cluster, url, campaign, args.memory_signals, rss)
    finally:
        cluster.stop()
        cluster.redis.shutdown()


def memory_run(cluster, url: str, campaign: Campaign, total: int, rss: list) -> None:
    web, sent, chunk = cluster.procs["web1"].url, 0, 10_000
    while sent < total:
        count = min(chunk, total - sent)
        asyncio.run(closed_loop(web, campaign.take(count), 8))
        sent += count
        wait_drained(url)
        memory(cluster, f"after {sent:,} signals", rss)
    if total <= chunk:
        return
    first, last = next(row for label, row in rss if label == f"after {chunk:,} signals"), rss[-1][1]
    growth = ", ".join(f"{name} {100 * (last[name] / first[name] - 1):+.0f}%" for name in last if name in first)
    print(f"  growth from 10,000 to {total:,} signals: {growth}")


if __name__ == "__main__":
    main()
