"""Fault modes and the rate limiter of the fake OpenAlgo (pure; the book holds them under its lock).

Fault modes, set per endpoint with ``set_fault(endpoint, mode, count=1, **params)``.
``accept=True`` on http_500 / success_without_orderid / malformed_body makes the order real
before the bad answer (default: nothing is placed).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from tests.fakes.openalgo_api import Reply, error, ok

FAULT_MODES = frozenset({
    "delay",                   # seconds=<float>: wait, then answer normally
    "http_500",                # 500 {"status":"error"}
    "http_429",                # 429 rate limit, {"retry_after": 60}
    "timeout_after_accept",    # seconds=<float>: act (placeorder: record + fill), wait, then answer
    "reject",                  # message=<str>: 400 {"status":"error"}
    "success_without_orderid", # placeorder: 200 {"status":"success"} with no orderid
    "pending",                 # placeorder: the order stays open and unfilled until fill_pending()
    "rejected_after_accept",   # placeorder: answer with an orderid, the order is "rejected"
    "session_expired",         # 403 invalid api key / broker session
    "malformed_body",          # 200 with a body that is not JSON
})
ACCEPTING = frozenset({"http_500", "success_without_orderid", "malformed_body"})
# app.py's 429 handler (flask-limiter) answers every API path with this body.
RATE_LIMITED = {"status": "error", "message": "Rate limit exceeded. Please slow down your requests.",
                "retry_after": 60}


@dataclass
class Fault:
    mode: str
    remaining: int | None  # None: until cleared
    params: dict = field(default_factory=dict)


def early_fault(mode: str | None, params: dict) -> Reply | None:
    """Faults answered without acting (for placeorder: nothing is placed)."""
    if mode == "http_429":
        return Reply(429, dict(RATE_LIMITED))
    if mode == "session_expired":
        return error(403, "Invalid openalgo apikey")
    if mode == "reject":
        return error(400, params.get("message", "Order rejected by the fake broker"))
    if mode in ACCEPTING and not params.get("accept", False):
        return late_fault(mode)
    return None


def late_fault(mode: str) -> Reply:
    """The bad answer of an accepting fault."""
    if mode == "http_500":
        return error(500, "Failed to place order due to internal error")
    if mode == "malformed_body":
        return Reply(200, b"<html>502 Bad Gateway</html>")
    return ok(message="Order placed")  # success_without_orderid


class RateLimiter:
    """flask-limiter's moving window: at most N hits per second per key; refused hits don't count."""

    def __init__(self) -> None:
        self._hits: dict[str, deque] = {}

    def refuse(self, key: str, per_second: int | None) -> bool:
        if not per_second:
            return False
        hits = self._hits.setdefault(key, deque())
        now = time.monotonic()
        while hits and hits[0] <= now - 1.0:
            hits.popleft()
        if len(hits) >= per_second:
            return True
        hits.append(now)
        return False
