"""Execution throughput of one instrument (DESIGN §13: ≥ 200 signals/s per instrument, paper broker;
accepted → executed p95 ≤ 100 ms at 1,000 signals/min).

    python -m tests.bench.executor [--signals 2000] [--instrument GOLD_MINI] [--queries] [--profile out.txt]
    python -m tests.bench.executor --rate 16.7 --seconds 60     # paced, through a real Celery worker

Creates its own database (``pm_bench_exec``) and queues a realistic stream of one instrument (cycles
of BASE_ENTRY, two PYRAMIDs, bars, EXIT ALL) in production mode (PostgreSQL + Redis on loopback,
paper broker).

* Drain (default): the whole stream is queued first, then the executor drains it in this process:
  signals/s.  ``--queries`` also counts SQL statements and Redis commands per signal type (work done
  outside any one signal — the claim of a batch — is shared evenly among the batch's signals).
  ``--profile`` runs the drain under py-spy and writes collapsed stacks.
* Paced (``--rate``): a Celery worker process (threads pool, as in production) executes while this
  process inserts the stream at the given rate and hands the instrument over exactly as ingest does
  (``enqueue_execution`` after commit): signals/s and accepted → executed p50/p95/p99.
Every run prints the machine, its load average and the git commit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.bench.common import CAMPAIGN_LEVELS, campaign_signal, fresh_database, git_commit, machine, ms, percentiles

ENTRY = CAMPAIGN_LEVELS
ROOT = Path(__file__).resolve().parents[2]


def stream(code: str, total: int, *, start: datetime | None = None, bars_only: bool = False) -> list[dict]:
    """The campaign of one instrument (``tests.bench.common.campaign_signal``), one second apart;
    ``bars_only``: MARKET_DATA bars alone, nothing open."""
    price, atr = ENTRY[code]
    start = start or datetime.now(timezone.utc) - timedelta(seconds=total + 60)
    bodies = []
    for n in range(total):
        stamp = start + timedelta(seconds=n)
        if bars_only:
            bodies.append({"type": "MARKET_DATA", "instrument": code, "timestamp": stamp.isoformat(), "atr": atr,
                           "price": price + (n % 10) * atr // 2, "supertrend": price - atr})
        else:
            bodies.append(campaign_signal(code, n, stamp))
    return bodies


def header() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: {machine()}; load average {load}; commit {git_commit()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--instrument", default="GOLD_MINI", choices=sorted(ENTRY))
    parser.add_argument("--bars-only", action="store_true", help="a stream of MARKET_DATA bars alone")
    parser.add_argument("--queries", action="store_true", help="count SQL statements and Redis commands per type")
    parser.add_argument("--profile", help="write py-spy collapsed stacks of the drain here")
    parser.add_argument("--rate", type=float, help="paced mode: signals per second through a Celery worker")
    parser.add_argument("--seconds", type=float, default=60, help="paced mode: how long to feed")
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)  # the measured child
    parser.add_argument("--feed", action="store_true", help=argparse.SUPPRESS)  # the paced producer
    args = parser.parse_args()
    if args.drain:
        drain(args.signals, args.instrument, queries=args.queries, bars_only=args.bars_only)
        return
    if args.feed:
        feed(args.instrument, rate=args.rate, seconds=args.seconds, bars_only=args.bars_only)
        return
    url = fresh_database("pm_bench_exec")
    print(header())
    if args.rate:
        paced(url, args)
        return
    env = _env(url, "redis://127.0.0.1:6379/13")
    child = [sys.executable, "-m", "tests.bench.executor", "--drain", "--signals", str(args.signals),
             "--instrument", args.instrument, *(["--queries"] if args.queries else []),
             *(["--bars-only"] if args.bars_only else [])]
    if args.profile:
        child = [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-f", "raw", "--idle", "-o",
                 args.profile, "-r", "100", "--", *child]
    log = Path(tempfile.mkdtemp(prefix="pm-bench-exec-")) / "drain.log"
    with open(log, "wb") as handle:
        subprocess.run(child, env=env, check=True, stderr=handle)
    print(f"log: {log}")
    if args.profile:
        print(f"profile: {args.profile} (collapsed stacks)")


def _env(url: str, redis_url: str, **extra: str) -> dict:
    # The worker logs one JSON line per signal as in production; the bench sends them to a file.
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "bench", "WEBHOOK_SECRET": "x" * 32, "LOG_FORMAT": "json", **extra}


def _queue(code: str, bodies: list[dict]) -> None:
    from django.utils import timezone as dj_timezone

    from signals.payloads import validate_payload
    from signals.services.inbox import signal_insert

    for body in bodies:
        signal_insert(signal=validate_payload(body, instruments=frozenset(ENTRY), default_tz="Asia/Kolkata"),
                      received_at=dj_timezone.now())


def drain(total: int, code: str, *, queries: bool, bars_only: bool = False) -> None:
    import django

    django.setup()
    from signals.executor import instrument_execute
    from signals.models import SignalLog

    _queue(code, stream(code, total, bars_only=bars_only))
    counter = _Counter() if queries else None
    started = time.perf_counter()
    if counter:
        with counter:
            instrument_execute(instrument=code)
    else:
        instrument_execute(instrument=code)
    elapsed = time.perf_counter() - started
    done = SignalLog.objects.exclude(status__in=["accepted", "processing"]).count()
    statuses = dict(SignalLog.objects.values_list("status").annotate(n=django.db.models.Count("id")))
    print(f"{code}: {done}/{total} signals executed in {elapsed:.2f}s = {done / elapsed:.0f} signals/s; {statuses}")
    if counter:
        counter.report(dict(SignalLog.objects.values_list("pk", "signal_type")))


class _Counter:
    """SQL statements (this thread's connection) and Redis commands, by the signal being worked on
    (the executor binds ``signal_id`` in structlog's context while it works on one signal)."""

    def __init__(self) -> None:
        self.sql: Counter = Counter()
        self.redis: Counter = Counter()
        self.sql_texts: dict[int | None, Counter] = defaultdict(Counter)
        self.seconds: Counter = Counter()

    @staticmethod
    def _current() -> int | None:
        import structlog

        return structlog.contextvars.get_contextvars().get("signal_id")

    def __enter__(self) -> _Counter:
        import redis
        from django.db import connection

        counter = self

        def sql(execute, sql_text, params, many, context):
            current = counter._current()
            counter.sql[current] += 1
            counter.sql_texts[current][" ".join(sql_text.split())[:90]] += 1
            return execute(sql_text, params, many, context)

        self._wrapper = connection.execute_wrapper(sql)
        self._wrapper.__enter__()
        self._original = redis.Redis.execute_command, redis.client.Pipeline.execute

        def command(client, *a, **k):
            counter.redis[counter._current()] += 1
            return counter._original[0](client, *a, **k)

        def pipeline(client, *a, **k):
            counter.redis[counter._current()] += 1
            return counter._original[1](client, *a, **k)

        redis.Redis.execute_command, redis.client.Pipeline.execute = command, pipeline
        import contextlib

        import structlog

        self._bound = structlog.contextvars.bound_contextvars

        @contextlib.contextmanager
        def timed(**kw):
            started = time.perf_counter()
            with counter._bound(**kw):
                yield
            if "signal_id" in kw:
                counter.seconds[kw["signal_id"]] += time.perf_counter() - started

        structlog.contextvars.bound_contextvars = timed
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import redis
        import structlog

        redis.Redis.execute_command, redis.client.Pipeline.execute = self._original
        structlog.contextvars.bound_contextvars = self._bound
        self.seconds[None] = time.perf_counter() - self._started - sum(self.seconds.values())
        self._wrapper.__exit__(*exc)

    def report(self, types: dict[int, str]) -> None:
        handled = [pk for pk in types if pk in self.sql or pk in self.redis]
        shared_sql, shared_redis = self.sql[None] / max(1, len(handled)), self.redis[None] / max(1, len(handled))
        shared_ms = 1000 * self.seconds[None] / max(1, len(handled))
        by_type: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
        for pk in handled:
            by_type[types[pk]].append((self.sql[pk], self.redis[pk], self.seconds[pk]))
        print(f"shared (outside any one signal): {self.sql[None]} SQL, {self.redis[None]} Redis "
              f"= {shared_sql:.2f} SQL + {shared_redis:.2f} Redis + {shared_ms:.2f} ms per signal")
        print("per signal, including its share:  type  n  SQL(mean,min,max)  Redis(mean)  ms(mean)")
        for kind, rows in sorted(by_type.items()):
            sql = [s for s, _, _ in rows]
            print(f"  {kind:12s} {len(rows):5d}  {sum(sql) / len(sql) + shared_sql:6.1f} {min(sql):3d} {max(sql):3d}"
                  f"  {sum(r for _, r, _ in rows) / len(rows) + shared_redis:5.1f}"
                  f"  {1000 * sum(t for _, _, t in rows) / len(rows) + shared_ms:6.2f}")
        total_sql = sum(self.sql.values())
        print(f"all: {total_sql / max(1, len(handled)):.1f} SQL and {sum(self.redis.values()) / max(1, len(handled)):.1f}"
              f" Redis per signal")
        if os.environ.get("BENCH_SQL_DETAIL"):
            sample = {}
            for pk in handled:
                sample.setdefault(types[pk], pk)
            for kind, pk in sorted(sample.items()):
                print(f"--- {kind} #{pk}")
                for text, n in self.sql_texts[pk].most_common():
                    print(f"  {n:3d} {text}")
            print("--- shared")
            for text, n in self.sql_texts[None].most_common(15):
                print(f"  {n:5d} {text}")


def paced(url: str, args) -> None:
    """A Celery worker executes while a producer inserts at ``--rate`` and hands over as ingest does."""
    from tests.cluster import Cluster, RedisServer, wait_until

    directory = Path(tempfile.mkdtemp(prefix="pm-bench-exec-"))
    cluster = Cluster(url, directory, RedisServer(directory).start())
    try:
        cluster.start_worker("worker1", concurrency=8)
        wait_until(lambda: b"ready" in (directory / "worker1.log").read_bytes(), timeout=60, what="worker ready")
        env = {**cluster.env("feeder"), "LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "tests.bench.executor", "--feed", "--instrument", args.instrument,
                        "--rate", str(args.rate), "--seconds", str(args.seconds),
                        *(["--bars-only"] if args.bars_only else [])], env=env, check=True, cwd=ROOT)
        report_paced(url, args.rate)
        print(f"worker log: {directory / 'worker1.log'}")
    finally:
        cluster.stop()
        cluster.redis.shutdown()


def feed(code: str, *, rate: float, seconds: float, bars_only: bool = False) -> None:
    import django

    django.setup()
    from django.utils import timezone as dj_timezone

    from signals.dispatch import enqueue_execution
    from signals.payloads import validate_payload
    from signals.services.inbox import signal_insert

    total = int(rate * seconds)
    bodies = stream(code, total, start=datetime.now(timezone.utc) - timedelta(seconds=total + 60), bars_only=bars_only)
    validated = [validate_payload(b, instruments=frozenset(ENTRY), default_tz="Asia/Kolkata") for b in bodies]
    begin = time.perf_counter()
    for index, signal in enumerate(validated):
        time.sleep(max(0.0, begin + index / rate - time.perf_counter()))
        signal_insert(signal=signal, received_at=dj_timezone.now())  # autocommit: committed here
        enqueue_execution(code)
    print(f"fed {total} signals in {time.perf_counter() - begin:.1f}s")


def report_paced(url: str, rate: float) -> None:
    import psycopg

    from tests.bench.ingest import wait_drained

    left = wait_drained(url, timeout=600)
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        rows = conn.execute("SELECT extract(epoch FROM processed_at - received_at), status, "
                            "extract(epoch FROM processed_at), extract(epoch FROM received_at) "
                            "FROM signals_signallog WHERE processed_at IS NOT NULL").fetchall()
    latencies = [float(r[0]) for r in rows]
    statuses = Counter(r[1] for r in rows)
    span = max(float(r[2]) for r in rows) - min(float(r[3]) for r in rows) if rows else 0
    executed = [float(r[0]) for r in rows if r[1] == "executed"]
    print(f"paced at {rate:.1f}/s: {len(rows)} signals finished {dict(statuses)}, {left} left; span {span:.1f}s\n"
          f"  accepted → executed {ms(percentiles(executed))}\n  accepted → any outcome {ms(percentiles(latencies))}")


if __name__ == "__main__":
    main()
