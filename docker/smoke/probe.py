"""HTTP client for docker/smoke.sh.  Standard library only; runs inside the app image on the host
network, so the smoke test needs nothing on the host but Docker.  Every loop has a deadline.

Each subcommand writes its result as one JSON object to stderr (smoke.sh keeps it in its log) and
as shell assignments ``P_<key>=<value>`` to stdout (smoke.sh evals them; no jq needed).

Subcommands:
  wait     URL [--status 200] [--timeout S]      poll until GET URL answers the status
  get      URL [--token T]                       one GET: {"status", "body"}
  send     --url U --secret S ...                TradingView-like sender (see below)
  books    URL --token T                         signal count, open positions, equity (a books fingerprint)
  health   URL                                   one GET /health, flattened (status, leader, checks)
  leader   URL --old ID                          poll /health until another instance leads
  watch    URL --duration S                      /health status transitions with timestamps
  signals  URL --token T --ids FILE|- [--expect N]  wait until the given signals are terminal; ok when
                                                 each is one row, executed (EOD_MONITOR: ignored)

The sender behaves as TradingView does: it gives up on an answer after 3 s and resends on a 5xx or
a timeout (here also on a refused connection, as a proxy in front of TradingView would see it),
until the signal is accepted (202) or reported as a duplicate (200) or its deadline passes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

TERMINAL = {"executed", "blocked", "rejected", "failed", "ignored"}
CA_FILE = os.environ.get("PROBE_CA_FILE")


def _context() -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=CA_FILE) if CA_FILE else None


def request(method: str, url: str, *, body: dict | None = None, token: str | None = None,
            timeout: float = 5.0) -> tuple[int | str, object]:
    """(status, parsed body); status is a string for transport failures (refused, timeout, ...)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Token {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_context()) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (TimeoutError, socket.timeout):
        return "timeout", None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return "timeout", None
        return f"error:{type(reason).__name__}", str(reason)
    except (ConnectionError, OSError) as exc:
        return f"error:{type(exc).__name__}", str(exc)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw[:200].decode(errors="replace")


def now_ms() -> int:
    return int(time.time() * 1000)


def cmd_wait(args) -> dict:
    started = time.monotonic()
    last = None
    while time.monotonic() - started < args.timeout:
        status, body = request("GET", args.url, timeout=5)
        last = {"status": status, "body": body}
        if status == args.status:
            return {"ok": True, "at_ms": now_ms(), "seconds": round(time.monotonic() - started, 2), **last}
        time.sleep(0.25)
    return {"ok": False, "seconds": round(time.monotonic() - started, 2), "last": last}


def cmd_get(args) -> dict:
    status, body = request("GET", args.url, token=args.token, timeout=10)
    return {"status": status, "body": body}


def _signals(args) -> list[dict]:
    """The batch to send: MARKET_DATA bars (or a base entry then an exit) with distinct timestamps
    starting at --start-epoch, one second apart, so every signal has its own fingerprint."""
    start = datetime.fromtimestamp(args.start_epoch, tz=timezone.utc)
    stamp = lambda i: (start + timedelta(seconds=i)).isoformat()  # noqa: E731
    entry = {"type": "BASE_ENTRY", "instrument": args.instrument, "position": "Long_1", "price": 72000,
             "stop": 71500, "lots": 1, "atr": 500, "er": 0.9, "supertrend": 71500, "timestamp": stamp(0)}
    exit_all = {"type": "EXIT", "instrument": args.instrument, "position": "ALL", "price": 72100, "stop": 0,
                "lots": 0, "atr": 500, "er": 0.7, "supertrend": 72150, "reason": "smoke test exit",
                "timestamp": stamp(1)}
    if args.kind == "entry":
        return [entry]
    if args.kind == "exit":
        return [exit_all]
    if args.kind == "trade":
        return [entry, exit_all]
    return [{"type": "MARKET_DATA", "instrument": args.instrument, "price": 800 + (i % 7),
             "atr": 5, "supertrend": 790, "timestamp": stamp(i)} for i in range(args.count)]


def cmd_send(args) -> dict:
    signals = _signals(args)
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    results = []
    first_attempt_failures = 0
    next_at = time.monotonic()
    for number, signal in enumerate(signals, start=1):
        next_at = max(next_at, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        began = time.monotonic()
        attempts, outcomes = 0, []
        final, signal_id = None, None
        while True:
            attempts += 1
            status, body = request("POST", args.url, body={**signal, "secret": args.secret}, timeout=3.0)
            outcomes.append(status)
            if status in (200, 202):
                final, signal_id = status, (body or {}).get("signal_id")
                break
            if isinstance(status, int) and 400 <= status < 500:
                final = status  # a 4xx is an answer: TradingView does not resend it
                break
            if time.monotonic() - began > args.deadline:
                final = "gave_up"
                break
            time.sleep(0.3)  # 5xx, timeout or refused: resend, as TradingView does
        if attempts > 1:
            first_attempt_failures += 1
        _progress(args.progress, number)
        results.append({"timestamp": signal["timestamp"], "type": signal["type"], "final": final,
                        "signal_id": signal_id, "attempts": attempts, "outcomes": outcomes[:10],
                        "seconds": round(time.monotonic() - began, 3)})
    first_5xx = sum(1 for r in results if any(isinstance(o, int) and o >= 500 for o in r["outcomes"][:1]))
    return {
        "sent": len(results),
        "accepted": sum(r["final"] == 202 for r in results),
        "duplicates": sum(r["final"] == 200 for r in results),
        "not_accepted": [r for r in results if r["final"] not in (200, 202)],
        "resent": first_attempt_failures,
        "first_attempt_5xx": first_5xx,
        "first_attempt_transport_errors": sum(1 for r in results if isinstance(r["outcomes"][0], str)),
        "max_seconds": max((r["seconds"] for r in results), default=0),
        "ids": [r["signal_id"] for r in results if r["signal_id"] is not None],
        "results": results,
    }


def _progress(path: str | None, value) -> None:
    """Tell smoke.sh how far we are (it waits on this file instead of sleeping)."""
    if path:
        with open(path + ".tmp", "w") as handle:
            handle.write(f"{value}\n")
        os.replace(path + ".tmp", path)


def cmd_health(args) -> dict:
    status, body = request("GET", args.url, timeout=3)
    body = body if isinstance(body, dict) else {}
    checks = body.get("checks") or {}
    return {"status": status, "leader": body.get("leader"), "instance_id": body.get("instance_id"),
            **{name: (checks.get(name) or {}).get("status") for name in ("database", "redis", "broker")}}


def cmd_books(args) -> dict:
    """A fingerprint of the books through the API: signal count, open positions, equity."""
    base = args.url.rstrip("/")
    _, signals = request("GET", f"{base}/api/signals/", token=args.token, timeout=10)
    _, positions = request("GET", f"{base}/api/positions/?status=open", token=args.token, timeout=10)
    _, portfolio = request("GET", f"{base}/api/portfolio/", token=args.token, timeout=10)
    signals, positions, portfolio = (x if isinstance(x, dict) else {} for x in (signals, positions, portfolio))
    open_positions = positions.get("results") or []
    summary = (f"signals={signals.get('count')} open_positions={positions.get('count')} "
               f"open_lots={sum(p.get('lots') or 0 for p in open_positions)} "
               f"closed_equity={portfolio.get('closed_equity')} equity_high={portfolio.get('equity_high')}")
    return {"summary": summary}


def cmd_leader(args) -> dict:
    """Poll /health until a leader other than --old is reported; at_ms is when it was first seen."""
    deadline = time.monotonic() + args.timeout
    last, polls = None, 0
    while time.monotonic() < deadline:
        status, body = request("GET", args.url, timeout=2)
        polls += 1
        if polls == 1:
            _progress(args.progress, "polling")
        if status == 200 and isinstance(body, dict):
            last = body.get("leader")
            if last and last != args.old:
                return {"ok": True, "leader": last, "at_ms": now_ms(), "polls": polls}
        time.sleep(0.05)
    return {"ok": False, "leader": last, "at_ms": now_ms(), "polls": polls}


def cmd_watch(args) -> dict:
    """Record each change of /health's answer (status code or transport error) with its time."""
    transitions, last = [], object()
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        status, _ = request("GET", args.url, timeout=3)
        if status != last:
            transitions.append({"ms": now_ms(), "status": status})
            last = status
        if args.until_status is not None and status == args.until_status and len(transitions) > 1:
            break
        time.sleep(0.1)
    return {"transitions": transitions}


def cmd_signals(args) -> dict:
    raw = sys.stdin.read() if args.ids == "-" else open(args.ids).read()
    ids = sorted({int(x) for x in raw.split()})
    deadline = time.monotonic() + args.timeout
    statuses: dict[int, dict] = {}
    while True:
        for signal_id in ids:
            if statuses.get(signal_id, {}).get("status") in TERMINAL:
                continue
            status, body = request("GET", f"{args.url.rstrip('/')}/{signal_id}/", token=args.token, timeout=5)
            if status == 200 and isinstance(body, dict):
                statuses[signal_id] = {"status": body.get("status"), "reason": body.get("reason"),
                                       "duplicate_count": body.get("duplicate_count"), "type": body.get("type")}
        pending = [i for i in ids if statuses.get(i, {}).get("status") not in TERMINAL]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_status: dict[str, int] = {}
    for entry in statuses.values():
        by_status[entry["status"]] = by_status.get(entry["status"], 0) + 1
    not_executed = {i: s for i, s in statuses.items() if s["status"] != "executed"}
    # Exactly once: one row per signal sent (the ids are distinct rows), each executed once; types we
    # only log (EOD_MONITOR) are "ignored" by design.
    unexpected = {i: s for i, s in not_executed.items() if not (s["status"] == "ignored" and s["type"] in args.ignored_types)}
    ok = not pending and not unexpected and (args.expect is None or len(ids) == args.expect)
    return {"ok": ok, "ids": len(ids), "by_status": " ".join(f"{k}={v}" for k, v in sorted(by_status.items())),
            "pending": pending, "unexpected": unexpected,
            "duplicate_deliveries": sum((s.get("duplicate_count") or 0) for s in statuses.values())}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("wait")
    p.add_argument("url")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--timeout", type=float, default=120)
    p = sub.add_parser("get")
    p.add_argument("url")
    p.add_argument("--token")
    p = sub.add_parser("send")
    p.add_argument("--url", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--kind", choices=["bars", "trade", "entry", "exit"], default="bars")
    p.add_argument("--instrument", default="COPPER")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--rate", type=float, default=10.0, help="signals per second")
    p.add_argument("--start-epoch", type=int, required=True)
    p.add_argument("--deadline", type=float, default=120.0, help="seconds to keep resending one signal")
    p.add_argument("--progress", help="file to write the number of signals done to")
    p = sub.add_parser("books")
    p.add_argument("url")
    p.add_argument("--token", required=True)
    p = sub.add_parser("health")
    p.add_argument("url")
    p = sub.add_parser("leader")
    p.add_argument("url")
    p.add_argument("--old", required=True)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--progress", help="file written once polling has begun")
    p = sub.add_parser("watch")
    p.add_argument("url")
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--until-status", type=int)
    p = sub.add_parser("signals")
    p.add_argument("url")
    p.add_argument("--token", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--expect", type=int, help="number of distinct signals that must be there")
    p.add_argument("--ignored-types", nargs="*", default=["EOD_MONITOR"])
    args = parser.parse_args()
    handler = {"books": cmd_books, "health": cmd_health, "wait": cmd_wait, "get": cmd_get, "send": cmd_send, "leader": cmd_leader, "watch": cmd_watch,
               "signals": cmd_signals}[args.command]
    result = handler(args)
    json.dump({"command": args.command, **result}, sys.stderr, default=str)
    sys.stderr.write("\n")
    for key, value in result.items():
        if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
            text = " ".join(str(v) for v in value)
        elif isinstance(value, (dict, list)) or value is None:
            text = json.dumps(value, default=str)
        else:
            text = str(value)
        print(f"P_{key}={shlex.quote(text)}")


if __name__ == "__main__":
    main()
