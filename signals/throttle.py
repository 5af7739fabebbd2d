"""Throttling of webhook requests that FAIL authentication, per client address (DESIGN §4).

Authenticated signals are never throttled: behind a tunnel every TradingView alert comes from one
address.  The counter lives in Redis when available (shared by all instances), in-process otherwise;
it is abuse damping, so when Redis is down it fails open rather than refusing traffic.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from core.redis_client import RedisUnavailable, call, key, redis_configured

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}
_local: dict[str, int] = {}
_local_lock = threading.Lock()


def parse_rate(rate: str) -> tuple[int, int]:
    count, period = rate.split("/")
    return int(count), _PERIODS[period]


def client_address(meta: dict) -> str:
    """REMOTE_ADDR, or the address TRUSTED_PROXY_COUNT hops back in X-Forwarded-For."""
    hops = settings.PM_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if hops > 0 and forwarded:
        return forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    return meta.get("REMOTE_ADDR", "unknown")


def record_auth_failure(client: str, *, now: float | None = None) -> int | None:
    """Count a failed authentication; return seconds to wait if the client is over its limit."""
    limit, period = parse_rate(settings.PM_WEBHOOK_AUTH_FAILURE_THROTTLE)
    now = time.time() if now is None else now
    window = int(now // period)
    name = f"authfail:{client}:{window}"
    count = _increment(name, period)
    if count is None or count <= limit:
        return None
    return max(1, int((window + 1) * period - now))


def _increment(name: str, period: int) -> int | None:
    if redis_configured():
        redis_key = key(name)

        def incr(r):
            pipe = r.pipeline()
            pipe.incr(redis_key)
            pipe.expire(redis_key, period + 1)
            return pipe.execute()[0]

        try:
            return int(call(incr))
        except RedisUnavailable:
            return None
    with _local_lock:
        if len(_local) > 10_000:
            _local.clear()
        _local[name] = _local.get(name, 0) + 1
        return _local[name]


def reset_local() -> None:
    with _local_lock:
        _local.clear()
