"""Exactly-once under chaos (DESIGN §13): N signals (default 10,000) with 30% duplicate deliveries
spread over 3 web instances, while web, worker and beat processes are SIGKILLed and restarted —
against the fake OpenAlgo in its faithful mode (a separate process) with 5% of placeorder answers
lost and 5% of orders filled in parts, or against the paper broker.

    python -m tests.bench.exactly_once [--signals 10000] [--kill-every 15] [--broker openalgo|paper]
                                        [--lost-answer-rate 0.05] [--partial-fill-rate 0.05]

Checks at the end: every distinct signal is in the inbox exactly once and finished; every broker
order is exactly one order intent's and every intent the broker took has its order (0 duplicate,
0 missing orders); the broker book reconciles with our positions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import psycopg

from tests.bench.common import fresh_database, machine, start_cluster
from tests.cluster import ROOT, SECRET

ENTRY = {"GOLD_MINI": (72000, 71500, 500), "SILVER_MINI": (90000, 89000, 900), "COPPER": (800, 798, 2),
         "BANK_NIFTY": (52000, 51650, 350)}


def plan(total: int) -> dict[str, list[dict]]:
    """Per instrument, cycles of BASE_ENTRY, two bars, EXIT ALL, one second apart."""
    per_instrument = total // len(ENTRY)
    start = datetime.now(timezone.utc) - timedelta(seconds=per_instrument + 600)
    streams = {}
    for code, (price, stop, atr) in ENTRY.items():
        stream = []
        for n in range(per_instrument):
            stamp = (start + timedelta(seconds=n)).isoformat()
            step = n % 4
            if step == 0:
                body = dict(type="BASE_ENTRY", instrument=code, position="Long_1", price=price, stop=stop, lots=1,
                            atr=atr, er=0.9, supertrend=stop)
            elif step in (1, 2):
                body = dict(type="MARKET_DATA", instrument=code, price=price + step * atr / 10, atr=atr,
                            supertrend=stop)
            else:
                body = dict(type="EXIT", instrument=code, position="ALL", price=price + atr / 5, stop=0, lots=0,
                            atr=atr, er=0.5, supertrend=price, reason="SuperTrend")
            stream.append({**body, "timestamp": stamp, "secret": SECRET})
        streams[code] = stream
    return streams


class Sender:
    def __init__(self, cluster, rng: random.Random) -> None:
        self.cluster, self.rng = cluster, rng
        self.posts = self.duplicates = self.retries = 0

    def webs(self) -> list[str]:
        return [p.url for p in self.cluster.procs.values() if p.kind == "web" and p.alive]

    async def deliver(self, client: httpx.AsyncClient, body: dict) -> dict:
        """Like TradingView: resend on 5xx or no answer, until a 2xx arrives."""
        while True:
            urls = self.webs()
            url = self.rng.choice(urls) if urls else None
            self.posts += 1
            try:
                if url is None:
                    raise httpx.ConnectError("no web instance up")
                response = await client.post(url + "/webhook", json=body)
                if response.status_code in (200, 202):
                    return response.json()
                if response.status_code < 500:
                    raise AssertionError(f"{response.status_code} {response.text}")
            except httpx.HTTPError:
                pass
            self.retries += 1
            await asyncio.sleep(0.5)

    async def stream(self, client, bodies: list[dict], fingerprints: set[str], duplicates: list) -> None:
        for body in bodies:
            answer = await self.deliver(client, body)
            fingerprints.add(answer["fingerprint"])
            if self.rng.random() < 0.3:
                self.duplicates += 1
                duplicates.append(asyncio.create_task(self._later(client, body)))

    async def _later(self, client, body) -> None:
        await asyncio.sleep(self.rng.uniform(0, 3))
        await self.deliver(client, body)


async def chaos(cluster, rng: random.Random, every: float, stop: asyncio.Event, log: list) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except asyncio.TimeoutError:
            pass
        victim = rng.choice([p for p in cluster.procs.values() if p.alive])
        os.killpg(victim.popen.pid, signal.SIGKILL)
        victim.popen.wait()
        log.append(f"{time.strftime('%X')} SIGKILL {victim.name}")
        await asyncio.sleep(1)
        restart = {"web": cluster.start_web, "worker": cluster.start_worker, "beat": cluster.start_beat}[victim.kind]
        await asyncio.to_thread(restart, victim.name)


async def run(cluster, streams, kill_every: float, rng) -> tuple[set[str], Sender, list[str], float]:
    sender, fingerprints, duplicates, kills = Sender(cluster, rng), set(), [], []
    stop = asyncio.Event()
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=64)) as client:
        chaos_task = asyncio.create_task(chaos(cluster, rng, kill_every, stop, kills))
        await asyncio.gather(*(sender.stream(client, bodies, fingerprints, duplicates) for bodies in streams.values()))
        await asyncio.gather(*duplicates)
        stop.set()
        await chaos_task
    return fingerprints, sender, kills, time.perf_counter() - started


def settle(url: str, cluster, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            (busy,) = conn.execute(
                "SELECT (SELECT count(*) FROM signals_signallog WHERE status IN ('accepted','processing'))"
                " + (SELECT count(*) FROM positions_orderintent WHERE status IN ('PENDING','SENT','ACCEPTED','UNKNOWN',"
                "'AWAITING'))"
                " + (SELECT count(*) FROM positions_position WHERE status IN ('opening','closing'))"
            ).fetchone()
            if not busy:
                return
            time.sleep(2)
    raise TimeoutError("work did not settle")


def verify(url: str, fingerprints: set[str]) -> dict:
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        rows = dict(q("SELECT fingerprint, status FROM signals_signallog"))
        statuses = dict(q("SELECT status, count(*) FROM signals_signallog GROUP BY 1"))
        (dup_counted,) = q("SELECT coalesce(sum(duplicate_count), 0) FROM signals_signallog")[0]
        (tags_repeated,) = q("SELECT count(*) FROM (SELECT tag FROM positions_paperorder GROUP BY tag "
                             "HAVING count(*) > 1) t")[0]
        (orders_without_intent,) = q("SELECT count(*) FROM positions_paperorder o LEFT JOIN positions_orderintent i "
                                     "ON i.client_order_id = o.tag AND i.status = 'FILLED' WHERE i.id IS NULL")[0]
        (filled_without_order,) = q("SELECT count(*) FROM positions_orderintent i LEFT JOIN positions_paperorder o "
                                    "ON o.tag = i.client_order_id WHERE i.status = 'FILLED' AND o.id IS NULL")[0]
        (orders,) = q("SELECT count(*) FROM positions_paperorder")[0]
    return {
        "distinct_sent": len(fingerprints), "inbox_rows": len(rows), "lost": len(fingerprints - set(rows)),
        "extra": len(set(rows) - fingerprints), "statuses": statuses, "duplicates_counted": int(dup_counted),
        "broker_orders": orders, "duplicate_broker_orders": tags_repeated,
        "broker_orders_without_intent": orders_without_intent, "filled_intents_without_order": filled_without_order,
    }


def verify_openalgo(url: str, fake_url: str) -> dict:
    """Our intents against the fake broker's own record of every order it took (its control view
    carries the ``strategy`` text our adapter sends: ``PM:<client order id>``)."""
    orders = httpx.get(f"{fake_url}/_fake/state", timeout=30).json()["orders"]
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        intents = conn.execute("SELECT client_order_id, broker_order_id, status, filled_quantity "
                               "FROM positions_orderintent").fetchall()
    by_tag: dict[str, int] = {}
    for order in orders:
        by_tag[order["strategy"]] = by_tag.get(order["strategy"], 0) + 1
    broker_ids = {o["orderid"] for o in orders}
    claimed = {broker_id for _cid, broker_id, _status, _filled in intents if broker_id}
    statuses: dict[str, int] = {}
    for _cid, _broker_id, status, _filled in intents:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "broker_orders": len(orders),
        "duplicate_broker_orders": sum(n - 1 for n in by_tag.values() if n > 1),
        "broker_orders_without_intent": len(broker_ids - claimed),
        "intents_claiming_a_missing_order": len(claimed - broker_ids),
        "filled_intents_without_order": sum(1 for _c, b, s, _f in intents if s == "FILLED" and not b),
        "part_filled_orders": sum(1 for o in orders if 0 < int(o["filled_quantity"]) < int(o["quantity"])),
        "intent_statuses": statuses,
    }


class FakeOpenAlgoProcess:
    """The faithful fake as a separate process, as a broker is."""

    def __init__(self, args) -> None:
        argv = [sys.executable, "-m", "tests.fakes.openalgo_server", "--port", "0", "--apikey", "bench-key",
                "--no-sessions", "--seed", str(args.seed), "--lost-answer-rate", str(args.lost_answer_rate),
                "--partial-fill-rate", str(args.partial_fill_rate)]
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the fake OpenAlgo did not start: {line!r}")
        self.url = line.split()[1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--kill-every", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--broker", choices=["openalgo", "paper"], default="openalgo")
    parser.add_argument("--lost-answer-rate", type=float, default=0.05)
    parser.add_argument("--partial-fill-rate", type=float, default=0.05)
    args = parser.parse_args()
    os.environ["SIGNAL_CLAIM_SECONDS"] = "10"
    fake = None
    if args.broker == "openalgo":
        fake = FakeOpenAlgoProcess(args)
        os.environ.update(BROKER="openalgo", OPENALGO_URL=fake.url, OPENALGO_API_KEY="bench-key",
                          MARKET_SESSIONS="off")
    rng = random.Random(args.seed)
    print(f"machine: {machine()}")
    print(f"broker: {args.broker}" + (f" (fake OpenAlgo, faithful, {args.lost_answer_rate:.0%} lost answers, "
                                      f"{args.partial_fill_rate:.0%} partial fills)" if fake else ""))
    url = fresh_database("pm_bench_once")
    cluster = start_cluster(url, webs=3, workers=2, beats=2, web_workers=1)
    try:
        fingerprints, sender, kills, elapsed = asyncio.run(run(cluster, plan(args.signals), args.kill_every, rng))
        print(f"sent {len(fingerprints)} distinct signals + {sender.duplicates} duplicate deliveries in "
              f"{elapsed:.0f}s ({sender.retries} resends after errors); {len(kills)} kills:")
        for line in kills:
            print("   ", line)
        settle(url, cluster)
        recon = subprocess.run([sys.executable, "manage.py", "reconcile_broker", "--json"], cwd=ROOT,
                               env=cluster.env("bench-reconcile"), capture_output=True, text=True, timeout=120)
        report = verify(url, fingerprints)
        if fake is not None:
            report.update(verify_openalgo(url, fake.url))
        report["reconciliation"] = json.loads(recon.stdout)["outcome"] if recon.stdout else recon.stderr[-300:]
        print(json.dumps(report, indent=2))
    finally:
        cluster.stop()
        cluster.redis.shutdown()
        if fake is not None:
            fake.stop()


if __name__ == "__main__":
    main()
